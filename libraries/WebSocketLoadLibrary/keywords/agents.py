"""Keywords of the controller: one load step spread over load agents on other machines."""
from __future__ import annotations

import re

from robot.api import logger
from robot.api.deco import keyword
from robot.api.types import Secret

from ..agents.client import AgentError
from ..agents.controller import AgentFleet, AgentStepFailed, DistributedStep
from ..agents.discovery import is_dns
from ..agents.signing import DEFAULT_SECRET_ENV, check_secret, secret_from_env, secret_from_file
from ..engine import LoadPlan, LoadResult
from ..engine import FanoutSpec
from ..engine import release_freed_memory
from ..engine import OpeningMessages
from ..base.component import LibraryComponent
from ..base.step_report import PROGRESS_EVERY_S, ProgressPrinter, describe_plan, report_step
from ..errors import CheckFailed, UsageError
from ..reports.summary_table import column_table
from ..utils.arguments import ByteSize, Duration, Rate, Ratio
from ..utils.tokens import reveal
from .connections import connection_options
from .streams import listen_plan


class AgentStepError(CheckFailed):
    """Load agents failed during a step; the others' result is kept."""


class AgentKeywords(LibraryComponent):

    @keyword
    def connect_load_agents(self, *agent_uris: str, secret: Secret | None = None,
                            secret_env: str = DEFAULT_SECRET_ENV,
                            timeout: Duration = Duration(10),
                            ca_file: str | None = None, expected: int | None = None,
                            wait: Duration = Duration(0),
                            secret_file: str | None = None) -> int:
        """Connects to load agents on other machines and returns how many answered.

        An agent is ``python -m WebSocketLoadLibrary agent`` running on a machine that
        generates part of the load (see the README, "Load agents"). Give each agent's
        address, ``http://host:port``, as its own argument or several in one argument
        separated by commas or spaces (handy with ``--variable AGENTS:http://a:8270,http://b:8270``).

        Every request to an agent is signed with a shared secret, which never crosses the
        network: give it as a Robot ``Secret`` (``VAR ${secret: Secret} %{LOAD_AGENT_SECRET}``),
        as a file holding it (``secret_file``, e.g. a mounted Kubernetes Secret), or leave it
        in the environment variable named by ``secret_env`` (default
        ``LOAD_AGENT_SECRET``). An agent started with another secret refuses every request.

        An agent started with ``--tls-cert`` and ``--tls-key`` serves TLS: give its address
        as ``https://host:port`` (a name or IP address its certificate names) and, unless a
        CA the system trusts signed its certificate, that CA's certificate (PEM) as
        ``ca_file``. Requests are then encrypted too, and signed as ever. The keyword fails
        saying so when the certificate is not trusted (naming ``ca_file``), when an
        ``https://`` address reaches a plain agent, or an ``http://`` one a TLS agent.

        *Agents found by DNS.* ``dns:NAME:PORT`` stands for every agent behind a DNS name:
        every A and AAAA record of NAME, looked up through this machine's resolver (its
        ``/etc/resolv.conf`` search domains included), is an agent at ``http://ADDRESS:PORT``
        (``dns:https://NAME:PORT``: over TLS, each agent's certificate checked against NAME).
        A Kubernetes headless Service answers its name with one record per ready pod, so
        ``dns:websocketload-agents.loadtest.svc:8270`` names every agent pod of the
        Service (see the README, "Agents on Kubernetes").

        *The waiting rule.* ``expected`` is how many agents the ``dns:`` names must yield
        (all names together) and ``wait`` how long to wait for them (default ``0``: one
        look). The keyword looks up the names, runs the signed handshake with every address
        that has not answered yet and looks again every second, until at least ``expected``
        agents behind the names have answered (without ``expected``: until every address
        behind each name has answered) and every address given as ``http(s)://`` has
        answered too. Every agent that answered by then is used, more than ``expected`` too;
        an address that left its name meanwhile (its pod went away) is let go. When
        ``wait`` has passed first, the keyword fails naming the agents that answered, every
        address that did not and why, and what each name resolved to at the last look.
        Addresses behind a name that did not answer when enough others had are left out,
        with a warning. A pod that disappears during a step fails that step naming the
        agent (at once when its address has left the name, else after the unanswered polls
        allowed to any agent), with the other agents' results saved; the next `Connect Load
        Agents` finds its replacement. ``wait`` applies to ``http(s)://`` addresses too: an
        agent still starting is tried again until then.

        Each agent must answer within ``timeout`` and run this library's own version; the
        keyword fails naming every agent that could not be reached, refused the secret or
        runs another version (plans and results change between versions). Agents are told
        apart by the name they give (``--name``, by default their host name): two agents of
        one name fail the keyword. It also measures
        each agent's clock against this machine's (the round trip with least delay, as NTP
        does) and logs a table of the agents with their offsets. Clocks need not be in sync:
        latency is measured on each agent's own clock; offsets only line up the agents' start
        and their timelines in the charts.

        Stray connections to an agent's port cannot keep a controller out: the agent gives a
        request one of its ``--request-threads`` threads (default 16) only once the request
        has arrived whole, and drops a client that has not sent all of it within
        ``--request-timeout`` (default 10 s). What a request then runs on the agent has no
        such limit.

        Example:
        | Connect Load Agents | http://10.0.0.5:8270 | http://10.0.0.6:8270 |
        | Connect Load Agents | ${AGENTS} | secret=${agent_secret} |
        | Connect Load Agents | https://loadgen-1.lan:8270 | ca_file=${CURDIR}/agents-ca.pem |
        | Connect Load Agents | dns:websocketload-agents.loadtest.svc:8270 | expected=10 | wait=2 min |
        | Connect Load Agents | dns:websocketload-agents:8270 | expected=${N} | wait=2 min | secret_file=/var/run/secrets/websocketload/secret |
        """
        uris = [uri for text in agent_uris for uri in re.split(r"[,\s]+", str(text)) if uri]
        if not uris:
            raise UsageError("no load agents given: name at least one, e.g. "
                             "Connect Load Agents    http://10.0.0.5:8270")
        if secret is not None and secret_file:
            raise UsageError("give either secret or secret_file, not both")
        shared = (check_secret(reveal(secret), "the secret argument") if secret is not None
                  else secret_from_file(secret_file) if secret_file
                  else secret_from_env(secret_env))
        self._forget_agents()
        if expected is not None or float(wait) > 0 or any(map(is_dns, uris)):
            fleet = AgentFleet.find(uris, shared, float(timeout), ca_file or None, expected,
                                    float(wait), log=logger.warn)
        else:
            fleet = AgentFleet.connect(uris, shared, float(timeout), ca_file or None)
        self.state.agents = fleet
        logger.info(_agents_html(fleet), html=True)
        self.console(f"[INFO] {len(fleet.agents)} load agent(s): " + ", ".join(
            f"{a.name} (offset {a.clock.offset_s * 1000:+.1f} ms)" for a in fleet.agents))
        return len(fleet.agents)

    @keyword
    def connect_clients_on_agents(self, uri: str | None = None, count: int = 1,
                                  token: Secret | None = None, token_env: str | None = None,
                                  headers: dict | None = None,
                                  subprotocols: list[str] | None = None,
                                  ca_file: str | None = None, insecure: bool = False,
                                  compression: bool = False,
                                  open_timeout: Duration = Duration(10),
                                  ping_interval: Duration | None = Duration(20),
                                  max_message_size: ByteSize = ByteSize(1 << 20),
                                  transport: str = "auto",
                                  opening_messages: list[str] | str | None = None,
                                  opening_reply: str | None = None,
                                  opening_timeout: Duration = Duration(5),
                                  agents: list[str] | None = None, protocol: str | None = None,
                                  source_addresses: list[str] | str | None = None,
                                  **protocol_options) -> int:
        """Has every load agent open ``count`` connections to ``uri``; returns how many are
        open in all (``count`` x agents).

        ``uri`` is the server under test as the *agents* reach it (without it, the current
        mock server's URI, which only agents on this machine can reach). The other
        arguments are those of `Connect Clients`, except the token: ``token_env`` names an
        environment variable *on the agents* (the token then never leaves their machines);
        a ``token`` given as a Secret is sent to the agents inside the signed request, in
        clear text on the wire unless the agents use TLS (``https://``, see `Connect Load
        Agents`).
        ``ca_file`` is a path on the agents' machines. ``opening_messages`` (with
        ``$connection``, the connection's number on its agent), ``opening_reply`` and
        ``opening_timeout`` are said by each connection after its handshake, as in `Connect
        Clients`.

        ``protocol`` and further named arguments (the protocol's options) are as in
        `Connect Clients`: each agent's connections speak it.

        ``source_addresses`` (addresses of the *agents'* machines) are as in `Connect
        Clients`; an agent asked for more connections than one of its processes can hold
        spreads them over worker processes of its own, and toward loopback over source
        addresses 127.0.0.2, ..., as `Open Connections At Rate` does.

        ``agents`` names the agents to open them on (as in the agents table): the others
        keep theirs -- subscribers on some agents and publishers on others, say, for
        `Publish At Rate On Agents`. Without it, every agent.

        Connections replace any the agents had open. The keyword fails naming every agent
        that could not connect, with the reason.

        Example:
        | Connect Clients On Agents | ws://10.0.0.9:8765/ws | count=50 | token_env=API_TOKEN |
        """
        if count < 1:
            raise UsageError(f"count must be at least 1, got {count}")
        if token is not None and token_env:
            raise UsageError("give either token or token_env, not both")
        fleet = self._fleet()
        if uri is None:
            uri = self.state.servers.current.uri
        options = connection_options(uri, reveal(token), headers, subprotocols, ca_file,
                                     insecure, compression, open_timeout, ping_interval,
                                     max_message_size, transport, protocol, protocol_options,
                                     source_addresses)
        if opening_messages:
            options.opening = OpeningMessages(opening_messages, opening_reply,
                                              float(opening_timeout))
        total = fleet.open_connections(options, count, token_env, only=agents or None)
        logger.info(f"{total} connection(s) open to {uri} from {len(fleet.agents)} load "
                    f"agent(s): " + ", ".join(f"{n} {c}" for n, c in fleet.connections.items()))
        return total

    @keyword
    def start_load_on_agents(self, rate: Rate, messages: int | None = None,
                             duration: Duration | None = None, window: int = 16,
                             reply_timeout: Duration = Duration(5),
                             rate_tolerance: Ratio = Ratio(0.05), name: str | None = None,
                             timeout: Duration | None = None,
                             start_delay: Duration | None = None) -> DistributedStep:
        """Starts one load step on every load agent at the same moment and returns at once;
        `Wait For Load On Agents` collects the merged result.

        The step is that of `Send Burst At Rate` (``messages``) or `Run Sustained Load`
        (``duration``), split evenly: each agent sends ``rate`` / agents (a paced, open-loop
        rate) or runs a closed loop at ``max``, and ``messages`` / agents. All agents start
        at one moment, ``start_delay`` from now (by default four times the slowest round
        trip to an agent, at least 250 ms), placed on each agent's clock through its
        measured offset. ``timeout`` bounds the whole step, as in `Send Burst At Rate`.

        Example:
        | ${step}= | Start Load On Agents | 20k/s | duration=60 s |
        | Log | the step runs while this suite does other things |
        | Wait For Load On Agents | ${step} |
        """
        plan = _plan(rate, messages, duration, window, reply_timeout, rate_tolerance, name,
                     self.state.pacing)
        fleet = self._fleet()
        target = fleet.options.uri if fleet.options is not None else None
        step = fleet.start_step(
            plan, self.state.template, float(start_delay) if start_delay is not None else None,
            float(timeout) if timeout is not None else None, self.state.server_pid_for(target))
        self.state.agent_step = step
        self.console(f"[INFO] {plan.name}: {describe_plan(plan)} on {len(step.step_ids)} load "
                     f"agent(s), {sum(fleet.connections.values())} connection(s)")
        return step

    @keyword
    def wait_for_load_on_agents(self, step: DistributedStep | None = None,
                                fail_on_disconnect: bool = True) -> LoadResult:
        """Waits until every agent has finished the step (the last one started, or
        ``step``) and returns one merged result, on which every assertion keyword works.

        The merged result sums the agents' counters and rates and merges their
        HdrHistograms, so its percentiles are those of every message, never an average of
        the agents' percentiles. The log shows the merged table, a table with one row per
        agent (its figures, clock offset and start skew) and charts (merged timeline,
        replies per second per agent, latency by percentile merged and per agent). The
        result is saved and becomes the last result, like any load keyword's.

        If an agent dies, stops answering or fails the step, the keyword still waits for
        the others, saves and remembers their merged result (marked *not applied*, since
        part of the load is missing), then fails naming the agent and why. Connections the
        server closed during the step fail it unless ``fail_on_disconnect=False``, as in
        `Send Burst At Rate`.
        """
        step = step or self.state.agent_step
        if step is None:
            raise AgentError("no load step on the agents to wait for: use Start Load On "
                             "Agents first")
        printer = ProgressPrinter(self.console, step.plan.name, step.plan.planned_messages)
        try:
            result = step.wait(on_progress=printer,
                               poll_interval_s=min(0.5, PROGRESS_EVERY_S / 4))
            failure = None
        except AgentStepFailed as error:
            result, failure = error.result, error
        except BaseException:  # a Robot timeout or Ctrl+C: the agents stop too
            step.cancel()
            raise
        finally:
            if self.state.agent_step is step:
                self.state.agent_step = None
            release_freed_memory()
        if result is not None:
            report_step(self, result, step.plan.name,
                        fail_on_disconnect=fail_on_disconnect and failure is None)
        if failure is not None:
            self.console(f"[FAIL] {failure}")
            raise AgentStepError(str(failure)) from failure
        return result

    @keyword
    def run_load_on_agents(self, rate: Rate, messages: int | None = None,
                           duration: Duration | None = None, window: int = 16,
                           reply_timeout: Duration = Duration(5),
                           rate_tolerance: Ratio = Ratio(0.05), name: str | None = None,
                           timeout: Duration | None = None,
                           start_delay: Duration | None = None,
                           fail_on_disconnect: bool = True) -> LoadResult:
        """`Start Load On Agents`, then `Wait For Load On Agents`: one step on every agent,
        one merged result.

        Example:
        | Connect Load Agents | ${AGENTS} |
        | Connect Clients On Agents | ws://10.0.0.9:8765/ws | count=50 |
        | Run Load On Agents | 20k/s | duration=60 s |
        | Latency P99 Should Be Below | 50 ms |
        | Delivery Ratio Should Be At Least | 0.999 |
        """
        step = self.start_load_on_agents(rate, messages, duration, window, reply_timeout,
                                         rate_tolerance, name, timeout, start_delay)
        return self.wait_for_load_on_agents(step, fail_on_disconnect)

    @keyword
    def listen_for_messages_on_agents(self, duration: Duration | None = None,
                                      count: int | None = None,
                                      sequence_field: str | None = None,
                                      timestamp_field: str | None = None,
                                      timestamp_unit: str = "s", clock_offset: str = "0 s",
                                      timeout: Duration | None = None,
                                      name: str | None = None,
                                      fail_on_disconnect: bool = True) -> LoadResult:
        """`Listen For Messages` on every load agent's connections at one moment, for
        ``duration`` (or until each agent has ``count`` / agents messages); returns one
        merged result: the streams' figures summed and their staleness and gap histograms
        merged, so percentiles are those of every message.

        ``clock_offset`` is the server's clock minus *this* machine's; each agent's own
        measured offset is taken off it (see `Connect Load Agents`), so staleness is
        measured on the server's clock everywhere.

        Example:
        | Connect Clients On Agents | ws://10.0.0.9:8765/feed | count=500 | opening_messages={"op":"subscribe","topic":"prices"} | opening_reply=op == subscribed |
        | Listen For Messages On Agents | 30 s | sequence_field=seq | timestamp_field=ts |
        | Staleness P99 Should Be Below | 100 ms |
        """
        plan = listen_plan(duration, count, sequence_field, timestamp_field, timestamp_unit,
                           clock_offset, name)
        fleet = self._fleet()
        target = fleet.options.uri if fleet.options is not None else None
        step = fleet.start_step(plan, self.state.template, None,
                                float(timeout) if timeout is not None else None,
                                self.state.server_pid_for(target))
        self.state.agent_step = step
        self.console(f"[INFO] {plan.name}: {describe_plan(plan)} on {len(step.step_ids)} load "
                     f"agent(s), {sum(fleet.connections.values())} connection(s)")
        return self.wait_for_load_on_agents(step, fail_on_disconnect)

    @keyword
    def publish_at_rate_on_agents(self, rate: Rate, publishers: list[str],
                                  subscribers: list[str], duration: Duration | None = None,
                                  messages: int | None = None,
                                  expected_receivers: int | None = None,
                                  delivery_timeout: Duration = Duration(5),
                                  rate_tolerance: Ratio = Ratio(0.05),
                                  timeout: Duration | None = None, name: str | None = None,
                                  fail_on_disconnect: bool = True) -> LoadResult:
        """`Publish At Rate` with the publishers on some load agents and the subscribers on
        others; one merged result, one pass or fail.

        ``publishers`` and ``subscribers`` name agents (as in the agents table), each with
        its connections opened by `Connect Clients On Agents` ``agents=...`` (the
        subscribers with their subscription as opening messages). The publishing agents
        share ``rate`` and ``messages`` and each take an id range of their own; every
        subscribing agent knows their schedules, so it books each publish itself and counts
        its deliveries, expecting each publish on each of its connections (or
        ``expected_receivers`` per agent). All start at one moment. A delivery's latency
        runs from the publish's intended time on the subscribing agent's clock: the clock
        offsets and start skews in the agents table bound its accuracy (on one machine,
        well under a millisecond; across machines, their measured uncertainty).

        Example:
        | Connect Clients On Agents | ${URI} | count=500 | agents=${{['agent-2', 'agent-3']}} | opening_messages={"op":"subscribe","topic":"room"} | opening_reply=op == subscribed |
        | Connect Clients On Agents | ${URI} | count=5 | agents=${{['agent-1']}} |
        | Set Message Template | {"op":"publish","topic":"room","message_id":$message_id,"send_time":$send_time} |
        | Publish At Rate On Agents | 100/s | publishers=${{['agent-1']}} | subscribers=${{['agent-2', 'agent-3']}} | duration=30 s |
        | Delivery Ratio Should Be At Least | 99.9% |
        """
        if rate.per_second is None:
            raise UsageError("publishing is paced: give a rate such as 100/s, not max")
        if (messages is None) == (duration is None):
            raise UsageError("give either messages or duration (not both)")
        plan = LoadPlan(rate=rate.per_second, messages=messages,
                        duration_s=None if duration is None else float(duration),
                        reply_timeout_s=float(delivery_timeout),
                        rate_tolerance=float(rate_tolerance),
                        fanout=FanoutSpec(expected_receivers, role="publish"),
                        name=name or f"fan-out at {rate} on agents", **self.state.pacing)
        fleet = self._fleet()
        target = fleet.options.uri if fleet.options is not None else None
        step = fleet.start_fanout(plan, list(publishers), list(subscribers),
                                  self.state.template, None,
                                  float(timeout) if timeout is not None else None,
                                  self.state.server_pid_for(target))
        self.state.agent_step = step
        self.console(f"[INFO] {plan.name}: {describe_plan(plan)} from "
                     f"{', '.join(publishers)} to the subscribers on {', '.join(subscribers)}")
        return self.wait_for_load_on_agents(step, fail_on_disconnect)

    @keyword
    def disconnect_clients_on_agents(self) -> int:
        """Has every load agent close its connections (cancelling a running step); returns
        how many were open. Does nothing without agents."""
        if self.state.agents is None:
            logger.info("No load agents connected.")
            return 0
        return self.state.agents.close_connections()

    @keyword
    def disconnect_load_agents(self) -> None:
        """Ends this run's sessions on the load agents (a running step cancelled, connections
        to the server under test closed) and forgets the agents; the agent processes keep
        running for the next suite. Safe in any teardown: an agent that cannot be reached
        is reported as a warning."""
        self._forget_agents()

    # -- plumbing ------------------------------------------------------------------------
    def _fleet(self) -> AgentFleet:
        if self.state.agents is None:
            raise AgentError("no load agents connected: use Connect Load Agents first")
        return self.state.agents

    def _forget_agents(self) -> None:
        fleet, self.state.agents = self.state.agents, None
        if fleet is None:
            return
        try:
            fleet.close()
        except AgentError as error:
            logger.warn(f"Disconnecting load agents: {error}")
        finally:
            self.state.agent_step = None


def _plan(rate, messages, duration, window, reply_timeout, rate_tolerance, name,
          pacing: dict) -> LoadPlan:
    if (messages is None) == (duration is None):
        raise UsageError("give either messages or duration (not both)")
    default = (f"agents burst {messages:,} at {rate}" if messages is not None
               else f"agents sustained {rate} for {duration}")
    return LoadPlan(rate=rate.per_second, messages=messages,
                    duration_s=float(duration) if duration is not None else None,
                    window=window, reply_timeout_s=float(reply_timeout),
                    rate_tolerance=float(rate_tolerance), name=name or default, **pacing)


def _agents_html(fleet: AgentFleet) -> str:
    found = any(agent.found_by is not None for agent in fleet.agents)
    rows = [(agent.name, agent.uri,
             *((str(agent.found_by or "listed"),) if found else ()),
             agent.info.get("version", "?"), agent.info.get("host", "?"),
             agent.info.get("cpus", "?"),
             f"{agent.clock.offset_s * 1000:+,.3f} ± {agent.clock.uncertainty_s * 1000:,.3f}",
             f"{agent.clock.round_trip_s * 1000:,.3f}") for agent in fleet.agents]
    return column_table(("agent", "address", *(("found by",) if found else ()), "version",
                         "host", "cpus", "clock offset ms", "round trip ms"), rows,
                        "load agents")
