"""What this host lets a generator open, read before a large open and checked against it.

Four limits stop a large open, each blindly if nobody looks first:

- the open-file limit (RLIMIT_NOFILE): every connection is a descriptor in the process that
  holds it. The soft limit is raised to the hard one (`raise_open_file_limit`); past the
  hard one the connections go to more processes (workers.py), or the open fails here.
- the ephemeral port range: toward one server address and port, each local (source)
  address has `high - low + 1` ports; more connections need more source addresses
  (ConnectionOptions.source_addresses; automatic toward loopback: 127.0.0.2, 127.0.0.3, ...).
- somaxconn and the SYN backlog: the listen queues of a server on this host; a burst of
  arrivals beyond them is dropped by the kernel (SYN cookies take over the SYN queue).

`check` fails at once, naming the limit, its value, what the open needs and how to raise
it; `HostLimits.as_dict()` is what goes into the result.
"""
from __future__ import annotations

import ipaddress
import math
import os
import resource
import socket
from dataclasses import dataclass

from ..errors import EngineError

RESERVED_FILES = 256      # descriptors a process needs besides its connections
PORT_SHARE = 0.9          # of a source address's ports, the share a run takes (TIME_WAIT, others)
# toward loopback the engine takes source addresses itself, one for every tenth of a range:
# connect() searches a source address's ports for a free one, and slows as they fill (36,000
# connections at 1,500/s here: TCP connect p99 11.7 s from 2 addresses, 92 ms from 8)
LOOPBACK_PORT_SHARE = 0.1
QUEUE_STALL_S = 0.1       # a listen queue must hold this long's arrivals (a server's hiccup)


class HostLimitError(EngineError):
    """The host cannot serve the open asked for; the message says which limit and how to
    raise it."""


def _read_int(path: str, default: int | None = None) -> int | None:
    try:
        with open(path) as file:
            return int(file.read().split()[0])
    except (OSError, ValueError, IndexError):
        return default


def _port_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as file:
            low, high = (int(part) for part in file.read().split()[:2])
            return low, high
    except (OSError, ValueError):
        return 32768, 60999   # Linux's default


@dataclass
class HostLimits:
    open_files_soft: int
    open_files_hard: int
    port_low: int
    port_high: int
    somaxconn: int | None
    syn_backlog: int | None
    syncookies: int | None
    cpus: int

    @classmethod
    def read(cls) -> "HostLimits":
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        low, high = _port_range()
        infinite = resource.RLIM_INFINITY
        return cls(open_files_soft=soft if soft != infinite else 1 << 30,
                   open_files_hard=hard if hard != infinite else 1 << 30,
                   port_low=low, port_high=high,
                   somaxconn=_read_int("/proc/sys/net/core/somaxconn"),
                   syn_backlog=_read_int("/proc/sys/net/ipv4/tcp_max_syn_backlog"),
                   syncookies=_read_int("/proc/sys/net/ipv4/tcp_syncookies"),
                   cpus=os.cpu_count() or 1)

    @property
    def ports_per_source(self) -> int:
        return max(0, self.port_high - self.port_low + 1)

    @property
    def connections_per_process(self) -> int:
        """Connections one process can hold with its soft limit as it is now."""
        return max(1, self.open_files_soft - RESERVED_FILES)

    def sources_needed(self, count: int, share: float = PORT_SHARE) -> int:
        return max(1, math.ceil(count / max(1, int(self.ports_per_source * share))))

    def as_dict(self) -> dict:
        return {"open_files_soft": self.open_files_soft, "open_files_hard": self.open_files_hard,
                "ephemeral_ports": f"{self.port_low}-{self.port_high}",
                "ports_per_source": self.ports_per_source, "somaxconn": self.somaxconn,
                "syn_backlog": self.syn_backlog, "syncookies": self.syncookies,
                "cpus": self.cpus}


def processes_for(count: int, limits: HostLimits) -> int:
    """How many processes `count` connections need with the open-file limit as it is (the
    soft limit raised first), with 5% headroom for reconnects and churn."""
    return max(1, math.ceil(count * 1.05 / limits.connections_per_process))


def is_loopback(host: str | None) -> bool:
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return host == "localhost"


def loopback_sources(count: int) -> list[str]:
    """`count` loopback source addresses, 127.0.0.2 on (127.0.0.1 is left to the rest);
    none where the host has only 127.0.0.1 (macOS: check() then names the port limit)."""
    addresses = [f"127.{2 + i >> 16 & 255}.{2 + i >> 8 & 255}.{2 + i & 255}"
                 for i in range(count)]
    probe = socket.socket()
    try:
        probe.bind((addresses[-1], 0))
    except OSError:
        return []
    finally:
        probe.close()
    return addresses


def check(limits: HostLimits, count: int, rate: float | None, processes: int,
          sources: int, server_here: bool, server_processes: int = 1,
          listen_backlog: int = 4096) -> None:
    """Fail now, naming the limit, when this host cannot serve `count` connections at
    `rate` per second held by `processes` processes from `sources` source addresses (the
    listen queues only when the server is on this host, in `server_processes` processes)."""
    per_process = math.ceil(count / max(1, processes))
    if per_process + RESERVED_FILES > limits.open_files_soft:
        raise HostLimitError(
            f"the open-file limit (RLIMIT_NOFILE) is {limits.open_files_soft:,} per process "
            f"(hard limit {limits.open_files_hard:,}): {count:,} connections over {processes} "
            f"process(es) need {per_process + RESERVED_FILES:,} each ({per_process:,} "
            f"connections + {RESERVED_FILES} for the rest). Raise it: `ulimit -n "
            f"{per_process + RESERVED_FILES}` in the shell that starts the run (up to the hard "
            f"limit; the hard limit in /etc/security/limits.conf, systemd's LimitNOFILE= or "
            f"`docker run --ulimit nofile=N:N`), or hold fewer connections per process")
    usable = int(limits.ports_per_source * PORT_SHARE) * max(1, sources)
    if count > usable:
        raise HostLimitError(
            f"the ephemeral port range is {limits.port_low}-{limits.port_high} "
            f"({limits.ports_per_source:,} ports per source address toward one server address "
            f"and port): {count:,} connections from {sources} source address(es) need "
            f"{limits.sources_needed(count)} source addresses (source_addresses=10.0.0.5,"
            f"10.0.0.6,... on a host that has them), or a wider range: `sysctl -w "
            f"net.ipv4.ip_local_port_range=\"1024 65535\"`")
    if not server_here or not rate:
        return
    burst = math.ceil(rate * QUEUE_STALL_S)
    queue = min(listen_backlog, limits.somaxconn or listen_backlog) * max(1, server_processes)
    if burst > queue:
        raise HostLimitError(
            f"somaxconn is {limits.somaxconn:,}: the server's listen queue holds "
            f"{queue:,} connections waiting to be accepted, and {rate:,.0f} arrivals a second "
            f"bring {burst:,} in {QUEUE_STALL_S * 1000:.0f} ms of a server's hiccup. Raise "
            f"it: `sysctl -w net.core.somaxconn={burst}`, or open at a lower rate")
    if not limits.syncookies and limits.syn_backlog is not None and burst > limits.syn_backlog:
        raise HostLimitError(
            f"the SYN backlog (net.ipv4.tcp_max_syn_backlog) is {limits.syn_backlog:,} with "
            f"SYN cookies off: {rate:,.0f} arrivals a second bring {burst:,} half-open "
            f"connections in {QUEUE_STALL_S * 1000:.0f} ms. Raise it: `sysctl -w "
            f"net.ipv4.tcp_max_syn_backlog={burst}` (or net.ipv4.tcp_syncookies=1)")
