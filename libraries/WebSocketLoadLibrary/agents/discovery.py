"""Load agents found by name: ``dns:NAME:PORT`` stands for every agent behind a DNS name.

A Kubernetes headless Service answers its name with one A (or AAAA) record per ready pod, so
``dns:websocketload-agents:8270`` names every agent pod of the Service, however many there
are now. The name is resolved through the system resolver (getaddrinfo: /etc/resolv.conf
with its search domains, /etc/hosts as nsswitch.conf says), every A and AAAA record kept;
each address is an agent at ``http://ADDRESS:PORT`` (``dns:https://NAME:PORT``: over TLS,
its certificate checked against NAME, the name every pod of the Service shares).

The waiting rule (`find_agents`): look up every name, run the signed handshake with each
address that has not answered yet (client.AgentClient.hello), and look again every
LOOK_EVERY_S until

- every address listed as such (``http://...``) has answered, and
- the names have yielded at least ``expected`` agents that answered (without ``expected``:
  each name resolves, and every address behind it answered),

or ``wait`` has passed: then the connect fails, naming the agents that answered, each
address that did not and why, and what each name resolved to at the last look. An agent
that answered and whose address has left its name since (its pod went away) is let go.
Every agent that answered is used, more than ``expected`` too.
"""
from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from .client import AgentClient, AgentError, normalise_uri

DNS_PREFIX = "dns:"
LOOK_EVERY_S = 1.0
MAX_PARALLEL_HELLOS = 32


@dataclass(frozen=True)
class DnsName:
    """``dns:NAME:PORT`` (or ``dns:https://NAME:PORT``): the agents behind a name."""
    text: str
    host: str
    port: int
    scheme: str = "http"

    def __str__(self) -> str:
        return self.text

    @classmethod
    def parse(cls, text: str) -> "DnsName":
        rest = text[len(DNS_PREFIX):]
        scheme = "http"
        if "://" in rest:
            scheme, rest = rest.split("://", 1)
        parts = urlsplit(f"{scheme}://{rest}")
        try:
            port = parts.port
        except ValueError:
            port = None
        if scheme not in ("http", "https") or not parts.hostname or port is None \
                or parts.path.strip("/") or ":" in parts.hostname or parts.username:
            raise AgentError(f"not a DNS name of load agents: {text!r} (expected dns:NAME:PORT, "
                             f"e.g. dns:websocketload-agents.loadtest.svc:8270, or "
                             f"dns:https://NAME:PORT for agents serving TLS)")
        return cls(text, parts.hostname, port, scheme)

    def resolve(self) -> tuple[list[str], str | None]:
        """The agents' addresses behind the name now, as URIs (IPv4 first, each once), and
        why there are none when the lookup failed."""
        try:
            found = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
        except socket.gaierror as error:
            return [], f"{self.host} does not resolve ({error.strerror or error})"
        except (OSError, UnicodeError) as error:
            return [], f"{self.host} cannot be looked up ({error})"
        addresses = sorted({(family != socket.AF_INET, address[0])
                            for family, _, _, _, address in found})
        return [self.uri(address) for _, address in addresses], None

    def uri(self, address: str) -> str:
        host = f"[{address}]" if ":" in address else address
        return f"{self.scheme}://{host}:{self.port}"

    def still_behind(self, uri: str) -> bool:
        """Whether `uri` is still one of the name's addresses; True when the lookup fails
        (a resolver that does not answer says nothing about the agent)."""
        uris, problem = self.resolve()
        return problem is not None or uri in uris


def is_dns(text: str) -> bool:
    return str(text).strip().startswith(DNS_PREFIX)


def find_agents(addresses: list[str], secret: str, timeout_s: float = 10.0,
                ca_file: str | None = None, expected: int | None = None,
                wait_s: float = 0.0, log=None) -> list[AgentClient]:
    """The agents at `addresses` (``http(s)://host:port`` or ``dns:NAME:PORT``), each
    connected (a session open), by the waiting rule of this module; AgentError naming what
    was found when they do not all come within `wait_s`."""
    return _Search(addresses, secret, timeout_s, ca_file, expected, wait_s, log).run()


class _Search:
    def __init__(self, addresses, secret, timeout_s, ca_file, expected, wait_s, log):
        self.names = [DnsName.parse(a.strip()) for a in addresses if is_dns(a)]
        self.listed = [normalise_uri(a) for a in addresses if not is_dns(a)]
        duplicates = sorted({u for u in self.listed if self.listed.count(u) > 1}
                            | {n.text for n in self.names if self.names.count(n) > 1})
        if duplicates:
            raise AgentError(f"load agent listed twice: {', '.join(duplicates)}")
        if expected is not None and not self.names:
            raise AgentError("expected counts the load agents found by dns: names: give one, "
                             "e.g. dns:websocketload-agents.loadtest.svc:8270")
        if expected is not None and expected < 1:
            raise AgentError(f"expected must be at least 1, got {expected}")
        self.secret, self.timeout_s, self.ca_file = secret, timeout_s, ca_file
        self.expected, self.wait_s, self.log = expected, max(0.0, wait_s), log
        self.answered: dict[str, AgentClient] = {}     # uri: connected agent
        self.why_not: dict[str, str] = {}              # uri: why it has not answered
        self.found_by: dict[str, DnsName] = {}         # uri: the name it is behind
        self.looked: dict[DnsName, tuple[list[str], str | None]] = {}
        self.wanted: list[str] = []

    def run(self) -> list[AgentClient]:
        deadline = time.monotonic() + self.wait_s
        try:
            while True:
                wanted = self._look()
                self._let_go([uri for uri in self.answered if uri not in wanted])
                left = max(0.5, deadline - time.monotonic())
                self._hello([uri for uri in wanted if uri not in self.answered], left)
                if self._complete():
                    break
                if time.monotonic() >= deadline:
                    raise AgentError(self._report())
                time.sleep(min(LOOK_EVERY_S, max(0.0, deadline - time.monotonic())))
        except BaseException:
            self._let_go(list(self.answered))
            raise
        behind = {uri for uris, _ in self.looked.values() for uri in uris}
        unanswered = sorted(behind - set(self.answered))
        if unanswered and self.log is not None:
            self.log(f"{len(unanswered)} address(es) behind "
                     f"{', '.join(map(str, self.names))} did not answer and are left out: "
                     + "; ".join(f"{uri}: {self.why_not.get(uri, 'not tried')}"
                                 for uri in unanswered))
        return ([self.answered[uri] for uri in self.listed]
                + [self.answered[uri] for name in self.names
                   for uri in self.looked[name][0] if uri in self.answered
                   and uri not in self.listed])

    def _look(self) -> list[str]:
        """Every address wanted now: the listed ones, then each name's."""
        wanted = self.wanted = list(self.listed)
        for name in self.names:
            uris, problem = name.resolve()
            self.looked[name] = (uris, problem)
            for uri in uris:
                if uri not in wanted:
                    wanted.append(uri)
                    self.found_by.setdefault(uri, name)
        return wanted

    def _hello(self, uris: list[str], left_s: float) -> None:
        if not uris:
            return
        timeout_s = min(self.timeout_s, left_s)

        def hello(uri: str) -> AgentClient:
            name = self.found_by.get(uri) if uri not in self.listed else None
            agent = AgentClient(uri, self.secret, timeout_s, ca_file=self.ca_file,
                                tls_name=name.host if name and name.scheme == "https" else None,
                                found_by=name)
            agent.hello()
            agent.timeout_s = self.timeout_s
            return agent
        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_HELLOS, len(uris))) as pool:
            futures = {uri: pool.submit(hello, uri) for uri in uris}
        for uri, future in futures.items():
            error = future.exception()
            if error is None:
                self.answered[uri] = future.result()
                self.why_not.pop(uri, None)
            else:
                self.why_not[uri] = str(error) if isinstance(error, AgentError) \
                    else f"{type(error).__name__}: {error}"

    def _let_go(self, uris: list[str]) -> None:
        for uri in uris:
            agent = self.answered.pop(uri)
            try:
                agent.goodbye()
            except AgentError:
                pass

    def _found(self) -> int:
        return sum(1 for uri in self.answered if uri not in self.listed)

    def _complete(self) -> bool:
        if any(uri not in self.answered for uri in self.listed):
            return False
        if self.expected is not None:
            return self._found() >= self.expected
        return all(uris and all(uri in self.answered for uri in uris)
                   for uris, _ in self.looked.values())

    def _report(self) -> str:
        waited = f"within {self.wait_s:g} s" if self.wait_s else "at the first look"
        found = self._found()
        if self.expected is not None:
            head = (f"{found} of {self.expected} expected load agents behind "
                    f"{', '.join(map(str, self.names))} answered {waited}")
        else:
            head = f"not every load agent answered {waited}"
        parts = [head]
        if self.answered:
            parts.append("answered: " + ", ".join(agent.label for agent in
                                                   self.answered.values()))
        missing = [uri for uri in self.wanted if uri not in self.answered]
        if missing:
            parts.append("did not answer: " + "; ".join(
                _with_uri(uri, self.why_not.get(uri, "not tried")) for uri in missing))
        for name, (uris, problem) in self.looked.items():
            if problem:
                parts.append(f"{name} at the last look: {problem}")
            else:
                hosts = ", ".join(urlsplit(uri).hostname for uri in uris)
                parts.append(f"{name} had {len(uris)} address(es) at the last look"
                             + (f": {hosts}" if uris else ""))
        return "; ".join(parts)


def _with_uri(uri: str, why: str) -> str:
    """An agent's error names its address already; anything else gets it in front."""
    return why if uri in why else f"{uri}: {why}"
