"""The controller: one load step over several agents, one merged result.

    fleet = AgentFleet.connect(["http://10.0.0.5:8270", "http://10.0.0.6:8270"], secret)
    fleet.open_connections(ConnectionOptions("ws://10.0.0.9:8765"), count_per_agent=50)
    result = fleet.start_step(LoadPlan(rate=20_000, duration_s=60)).wait()

The step starts at one moment: the controller picks a start time on its own clock, shortly
ahead, and gives each agent that moment on the agent's clock (through the measured clock
offset), so the agents' schedules line up to within the offsets' uncertainty. Each agent
measures latency on its own clock; the merge sums counters and merges histograms, and puts
each agent's timeline on the controller's clock. An agent that dies or fails mid-step is
named; the others' results are still collected and merged, and that merged result is marked
not applied (part of the planned load is missing).
"""
from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ..engine import ConnectionOptions, LoadEngine, LoadPlan, LoadResult, MessageTemplate
from ..engine import ProcessSampler
from ..engine import FanoutSpec
from ..engine import plan_shares
from .client import AgentClient, AgentError
from .discovery import find_agents
from .messages import CancelStep, CloseConnections, GetStep, OpenConnections, StartStep

POLL_INTERVAL_S = 0.5
LIVE_MAX_AGE_S = 1.0       # live figures older than this are polled afresh on a scrape
LIVE_POLL_TIMEOUT_S = 2.0
UNANSWERED_POLLS_ALLOWED = 3   # a saturated agent may miss a poll; a dead one refuses at once
MIN_START_LEAD_S = 0.25
FANOUT_IDS = 10 ** 15   # fan-out ids on agents start here (engines count up from 1)


class AgentStepFailed(AgentError):
    """Some agents failed a step; `result` merges the others'."""

    def __init__(self, message: str, result: LoadResult | None, failures: dict):
        super().__init__(message)
        self.result, self.failures = result, failures


class AgentFleet:
    """The agents of one controller, all answering and accepting the secret."""

    def __init__(self, agents: list[AgentClient]):
        if not agents:
            raise AgentError("no load agents given: name at least one, e.g. "
                             "http://10.0.0.5:8270")
        _one_name_each(agents)
        self.agents = agents
        self.connections: dict[str, int] = {}
        self.options: ConnectionOptions | None = None

    @classmethod
    def connect(cls, uris, secret: str, timeout_s: float = 10.0,
                ca_file: str | None = None) -> "AgentFleet":
        """`ca_file`: the CA that signed the certificates of https:// agents."""
        agents = [AgentClient(uri, secret, timeout_s, ca_file=ca_file) for uri in uris]
        uris_seen = [a.uri for a in agents]
        duplicates = sorted({u for u in uris_seen if uris_seen.count(u) > 1})
        if duplicates:
            raise AgentError(f"load agent listed twice: {', '.join(duplicates)}")
        fleet = cls(agents)
        try:
            fleet._each(lambda agent: agent.hello(), "connect")
            _one_name_each(agents)
        except AgentError:
            _goodbye(agents)   # the agents that did answer drop the session at once
            raise
        return fleet

    @classmethod
    def find(cls, addresses, secret: str, timeout_s: float = 10.0, ca_file: str | None = None,
             expected: int | None = None, wait_s: float = 0.0, log=None) -> "AgentFleet":
        """The agents at `addresses`, ``dns:NAME:PORT`` names among them, by the waiting
        rule of discovery.py: at least `expected` agents behind the names (or every address
        behind them), every listed one, within `wait_s`."""
        agents = find_agents(addresses, secret, timeout_s, ca_file, expected, wait_s, log)
        try:
            return cls(agents)
        except AgentError:
            _goodbye(agents)
            raise

    # -- on every agent at once ---------------------------------------------------------
    def _each(self, action, what: str, agents: list[AgentClient] | None = None) -> list:
        """`action(agent)` on every agent (or each of `agents`) in parallel; AgentError naming
        every agent that failed (all are tried)."""
        agents = self.agents if agents is None else agents
        if not agents:
            return []
        with ThreadPoolExecutor(max_workers=len(agents)) as pool:
            futures = [pool.submit(action, agent) for agent in agents]
        results, failures = [], []
        for agent, future in zip(agents, futures):
            error = future.exception()
            if error is None:
                results.append(future.result())
            else:
                failures.append(str(error) if isinstance(error, AgentError)
                                else f"load agent {agent.label}: {type(error).__name__}: {error}")
        if failures:
            raise AgentError(f"{len(failures)} of {len(agents)} load agents could not "
                             f"{what}: " + "; ".join(failures))
        return results

    def open_connections(self, options: ConnectionOptions, count_per_agent: int,
                         token_env: str | None = None, only: list[str] | None = None) -> int:
        """Each agent (or each named in `only`) opens `count_per_agent` connections to the
        server under test; `token_env` names an environment variable on the agents that
        holds the token."""
        if count_per_agent < 1:
            raise AgentError(f"count must be at least 1, got {count_per_agent}")
        request = OpenConnections(options, count_per_agent, token_env)
        timeout_s = options.open_timeout_s * (2 + count_per_agent / 100) + 10
        agents = self.named(only) if only else self.agents

        def open_on(agent: AgentClient) -> int:
            return agent.request(request, timeout_s=timeout_s)
        counts = self._each(open_on, f"connect to {options.uri}", agents)
        if not only:
            self.connections = {}
        self.connections.update({agent.name: count for agent, count in zip(agents, counts)})
        self.options = options
        return sum(counts)

    def named(self, names: list[str]) -> list[AgentClient]:
        """The agents of these names (as in the agents table), in that order."""
        by_name = {agent.name: agent for agent in self.agents}
        unknown = [name for name in names if name not in by_name]
        if unknown:
            raise AgentError(f"no load agent named {', '.join(map(repr, unknown))}; the agents: "
                             f"{', '.join(by_name)}")
        return [by_name[name] for name in names]

    def reachable(self) -> list[AgentClient]:
        """The agents not lost in a step: a lost one would only hold a teardown up."""
        return [agent for agent in self.agents if agent.lost is None]

    def close_connections(self) -> int:
        counts = self._each(lambda agent: agent.request(CloseConnections(), timeout_s=30),
                            "disconnect", self.reachable())
        self.connections = {}
        return sum(counts)

    def close(self) -> int:
        """Ends this controller's sessions on every agent (steps cancelled, connections
        closed); returns how many connections were open."""
        counts = self._each(lambda agent: agent.goodbye(), "end the session",
                            self.reachable())
        self.connections = {}
        return sum(counts)

    def refresh_clocks(self) -> None:
        def measure(agent: AgentClient) -> None:
            agent.clock = agent.measure_clock()
        self._each(measure, "tell their clock")

    def start_step(self, plan: LoadPlan, template: MessageTemplate | None = None,
                   start_lead_s: float | None = None, timeout_s: float | None = None,
                   server_pid: int | None = None) -> "DistributedStep":
        """Starts `plan`, split evenly over the agents (rate / n, messages / n), on all at
        one moment; returns at once."""
        if not self.connections:
            raise AgentError("the load agents have no connections: use Connect Clients On "
                             "Agents first")
        return self._start(plan, list(zip(self.agents, _shares(plan, self.agents))), template,
                           start_lead_s, timeout_s, server_pid)

    def start_fanout(self, plan: LoadPlan, publishers: list[str], subscribers: list[str],
                     template: MessageTemplate | None = None, start_lead_s: float | None = None,
                     timeout_s: float | None = None,
                     server_pid: int | None = None) -> "DistributedStep":
        """A fan-out with the publishers on some agents and the subscribers on others
        (engine/fanout_split.py): the publishers split `plan` (its rate and messages) with
        id ranges of their own; each subscriber agent books all their schedules and counts
        the deliveries on its connections; one merged result."""
        overlap = set(publishers) & set(subscribers)
        if overlap:
            raise AgentError(f"an agent either publishes or subscribes, not both: "
                             f"{', '.join(sorted(overlap))}")
        writers, readers = self.named(publishers), self.named(subscribers)
        if not writers or not readers:
            raise AgentError("a fan-out on agents needs at least one publishing and one "
                             "subscribing agent")
        idle = [agent.name for agent in writers + readers if not self.connections.get(agent.name)]
        if idle:
            raise AgentError(f"load agents without connections: {', '.join(idle)}: use "
                             f"Connect Clients On Agents first")
        # ids far above any the agents' engines hand out, and fresh for each fan-out
        first = FANOUT_IDS + secrets.randbelow(1 << 20) * (1 << 24)
        pairs, schedules = [], []
        for agent, share in zip(writers, _shares(plan, writers)):
            count = share.planned_messages
            pairs.append((agent, dataclasses.replace(
                share, first_id=first, fanout=FanoutSpec(role="publish"))))
            schedules.append([first, share.rate, count])
            first += count
        seconds = max(count / rate for _, rate, count in schedules)
        for agent in readers:
            pairs.append((agent, LoadPlan(
                duration_s=seconds, reply_timeout_s=plan.reply_timeout_s,
                name=f"{plan.name or 'fan-out'} on {agent.name}",
                fanout=FanoutSpec(plan.fanout.expected_receivers if plan.fanout else None,
                                  role="subscribe", publishes=schedules))))
        return self._start(plan, pairs, template, start_lead_s, timeout_s, server_pid)

    def _start(self, plan: LoadPlan, pairs: list, template: MessageTemplate | None,
               start_lead_s: float | None, timeout_s: float | None,
               server_pid: int | None) -> "DistributedStep":
        """Start each (agent, plan) pair at one moment; returns at once."""
        template = template or MessageTemplate()
        self.refresh_clocks()
        worst_trip = max(agent.clock.round_trip_s for agent in self.agents)
        lead = start_lead_s if start_lead_s is not None else max(MIN_START_LEAD_S, 4 * worst_trip)
        if timeout_s is None:
            timeout_s = max(LoadEngine.default_timeout_s(share) for _, share in pairs) + lead
        start_at = time.time() + lead

        def start_on(pair) -> int:
            agent, share = pair
            if share.listen is not None:
                # staleness on the agent's clock: the server's offset from the controller
                # (the user's) less the agent's own
                share = dataclasses.replace(share, listen=dataclasses.replace(
                    share.listen, clock_offset_s=share.listen.clock_offset_s
                    - agent.clock.offset_s))
            return agent.request(StartStep(share, template, start_at + agent.clock.offset_s,
                                           timeout_s))
        with ThreadPoolExecutor(max_workers=len(pairs)) as pool:
            futures = [pool.submit(start_on, pair) for pair in pairs]
        step_ids, failures = {}, {}
        for (agent, _), future in zip(pairs, futures):
            if future.exception() is None:
                step_ids[agent.name] = future.result()
            else:
                failures[agent.name] = str(future.exception())
        step = DistributedStep(self, plan, start_at, timeout_s + 10, step_ids, server_pid)
        if failures:
            step.cancel()
            raise AgentError(f"the step did not start on {len(failures)} of "
                             f"{len(pairs)} load agents: " + "; ".join(failures.values()))
        return step


class DistributedStep:
    """A step running on the agents: `progress()`, then `wait()` for the merged result."""

    def __init__(self, fleet: AgentFleet, plan: LoadPlan, start_at: float, timeout_s: float,
                 step_ids: dict, server_pid: int | None = None):
        self.fleet, self.plan, self.start_at = fleet, plan, start_at
        self.timeout_s, self.step_ids = timeout_s, step_ids
        self.statuses: dict[str, dict] = {}
        self.failures: dict[str, str] = {}
        self._server = _server_sampler(server_pid)
        self._latest: dict[str, tuple[float, dict]] = {}   # name: (polled at, status)
        self._latest_lock = threading.Lock()
        self.finished = False   # wait() has returned

    def __repr__(self) -> str:
        rate = "max" if self.plan.rate is None else f"{self.plan.rate:g}/s"
        return (f"DistributedStep(name={self.plan.name!r}, rate={rate}, "
                f"agents={', '.join(self.step_ids)})")

    def progress(self) -> dict:
        totals = {"sent": 0, "received": 0, "lost": 0}
        for status in self.statuses.values():
            source = status.get("progress") or status.get("result") or {}
            for key in totals:
                totals[key] += int(source.get(key, 0) or 0)
        totals["elapsed_s"] = max(0.0, time.time() - self.start_at)
        totals["agents_done"] = sum(1 for s in self.statuses.values() if s.get("state") == "done")
        totals["agents"] = len(self.step_ids)
        return totals

    def live(self, refresh: bool = True, max_age_s: float = LIVE_MAX_AGE_S,
             timeout_s: float = LIVE_POLL_TIMEOUT_S) -> dict[str, dict]:
        """Each agent's live figures as last reported (reports/metrics.py step_snapshot), by
        agent name. `wait()` polls every agent often; when nobody has for `max_age_s` (the
        step was started and not yet waited for), `refresh` polls the agents still running
        now, in parallel, each within `timeout_s`: an agent that does not answer keeps its
        last figures."""
        now = time.monotonic()
        with self._latest_lock:
            latest = dict(self._latest)
        stale = [agent for agent in self.fleet.agents if agent.name in self.step_ids
                 and (agent.name not in latest or now - latest[agent.name][0] > max_age_s)
                 and latest.get(agent.name, (0, {}))[1].get("state") not in _OVER]
        if refresh and stale and not self.finished:
            with ThreadPoolExecutor(max_workers=len(stale)) as pool:
                for agent in stale:
                    pool.submit(self._poll_live, agent, timeout_s)
            with self._latest_lock:
                latest = dict(self._latest)
        return {name: status["live"] for name, (_, status) in latest.items()
                if status.get("live")}

    def _poll_live(self, agent: AgentClient, timeout_s: float) -> None:
        polled_at = time.monotonic()
        try:
            self._note(agent.name, polled_at, _poll(agent, self.step_ids[agent.name], timeout_s))
        except AgentError:
            pass

    def _note(self, name: str, polled_at: float, status: dict) -> None:
        with self._latest_lock:
            if name not in self._latest or self._latest[name][0] <= polled_at:
                self._latest[name] = (polled_at, status)

    def cancel(self) -> None:
        for agent in self.fleet.agents:
            if agent.name in self.step_ids:
                try:
                    agent.request(CancelStep(self.step_ids[agent.name]), timeout_s=5)
                except AgentError:
                    pass

    def wait(self, on_progress=None, poll_interval_s: float = POLL_INTERVAL_S) -> LoadResult:
        """Polls every agent until each is done, failed or gone; the merged result. Raises
        AgentStepFailed (with the survivors' merged result) if any agent failed."""
        deadline = time.monotonic() + self.timeout_s
        pending = {a.name: a for a in self.fleet.agents if a.name in self.step_ids}
        unanswered = dict.fromkeys(pending, 0)
        with ThreadPoolExecutor(max_workers=len(pending) or 1) as pool:
            while pending:
                if time.monotonic() > deadline:
                    for name in pending:
                        self.failures[name] = (f"load agent {pending[name].label} did not finish "
                                               f"within {self.timeout_s:g} s")
                    self.cancel()
                    break
                self._sample_server()
                polled_at = time.monotonic()
                polls = {name: pool.submit(_poll, agent, self.step_ids[name])
                         for name, agent in pending.items()}
                for name, future in polls.items():
                    agent = pending[name]
                    error = future.exception()
                    if isinstance(error, AgentError) and error.transient:
                        unanswered[name] += 1
                        gone = _left_its_name(agent)
                        if gone:
                            error = AgentError(f"{error}; {gone}")
                        elif unanswered[name] <= UNANSWERED_POLLS_ALLOWED:
                            continue
                    if error is not None:
                        self.failures[name] = (f"{error} - lost mid-step"
                                               if isinstance(error, AgentError) else str(error))
                        if isinstance(error, AgentError):
                            agent.lost = self.failures[name]
                        del pending[name]
                        continue
                    unanswered[name] = 0
                    status = future.result()
                    self.statuses[name] = status
                    self._note(name, polled_at, status)
                    if status["state"] == "done":
                        del pending[name]
                    elif status["state"] in ("failed", "cancelled"):
                        self.failures[name] = (f"load agent {agent.label}: step "
                                               f"{status['state']}: "
                                               f"{status.get('error', 'cancelled on the agent')}")
                        del pending[name]
                if pending:
                    if on_progress is not None:
                        on_progress(self.progress())
                    time.sleep(poll_interval_s)
        self._sample_server()
        self.finished = True
        result = self._merged()
        if self.failures:
            names = ", ".join(self.failures)
            raise AgentStepFailed(
                f"Load step '{self.plan.name}' failed on {len(self.failures)} of "
                f"{len(self.step_ids)} load agents ({names}): " + "; ".join(self.failures.values())
                + (f". The results of the other agents ({', '.join(p['name'] for p in result.agents)}) "
                   f"are kept in the merged result, marked not applied." if result else
                   ". No agent finished the step."), result, dict(self.failures))
        return result

    # -- merging ------------------------------------------------------------------------
    def _merged(self) -> LoadResult | None:
        parts, agents = [], []
        for agent in self.fleet.agents:
            status = self.statuses.get(agent.name, {})
            if agent.name in self.failures or status.get("state") != "done":
                continue
            part = LoadResult.from_dict(status["result"])
            part.name = agent.name
            # the agent stamped its start on its own clock: put it on the controller's
            part.started_at -= agent.clock.offset_s
            parts.append(part)
            agents.append({
                "name": agent.name, "uri": agent.uri,
                "clock_offset_ms": round(agent.clock.offset_s * 1000, 3),
                "clock_uncertainty_ms": round(agent.clock.uncertainty_s * 1000, 3),
                "start_skew_ms": round((part.started_at - self.start_at) * 1000, 3),
                "connections": part.connections, "result": part.to_dict(),
                # its figures for the live metrics at the end (reports/metrics.py)
                "live": status.get("live")})
        if not parts:
            return None
        merged = LoadResult.merge(parts, name=self.plan.name or "agents")
        merged.rate_tolerance = self.plan.rate_tolerance
        merged.agents = agents
        merged.resources = _resources(parts, self._server)
        for name, why in self.failures.items():
            merged.load_applied = False
            merged.not_applied_reasons.append(f"agent {name} failed: {why}")
        return merged

    def _sample_server(self) -> None:
        if self._server is not None:
            self._server.sample(time.time() - self.start_at)


_OVER = ("done", "failed", "cancelled")


def _one_name_each(agents: list[AgentClient]) -> None:
    """Results, tables and metrics tell agents apart by name: two of one name would merge."""
    names = [agent.name for agent in agents]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise AgentError("load agents that call themselves by one name: " + "; ".join(
            f"{name}: {', '.join(a.uri for a in agents if a.name == name)}" for name in twice)
            + " (give each agent its own --name)")


def _goodbye(agents: list[AgentClient]) -> None:
    for agent in agents:
        try:
            agent.goodbye()
        except AgentError:
            pass


def _left_its_name(agent: AgentClient) -> str | None:
    """Why an agent found behind a DNS name that did not answer is gone for good: its
    address has left the name (a headless Service drops a pod that is going away)."""
    name = agent.found_by
    if name is None or name.still_behind(agent.uri):
        return None
    return f"its address is no longer behind {name} (its pod is gone?)"


def _poll(agent: AgentClient, step_id: int, timeout_s: float = 10) -> dict:
    return agent.request(GetStep(step_id), timeout_s=timeout_s)


def _shares(plan: LoadPlan, agents: list[AgentClient]) -> list[LoadPlan]:
    """The plan split as for worker processes, each share named after its agent."""
    return [dataclasses.replace(share, name=f"{plan.name or 'step'} on {agent.name}")
            for share, agent in zip(plan_shares(plan, len(agents)), agents)]


def _server_sampler(pid: int | None) -> ProcessSampler | None:
    if not pid:
        return None
    try:
        return ProcessSampler(pid)
    except Exception:  # noqa: BLE001 - the server is gone: no server figures, no failure
        return None


def _resources(parts: list[LoadResult], server: ProcessSampler | None) -> dict:
    """Each agent's own samples, the agent whose memory grew most as "generator" (what a
    memory assertion checks), and the server as sampled by the controller when it is a
    mock server of this controller's."""
    resources: dict = {"parts": [dict(p.resources, agent=p.name) for p in parts]}
    grown = [(p.resources.get("generator", {}).get("rss_growth_bytes", -1), p) for p in parts]
    growth, worst = max(grown, key=lambda g: g[0])
    if growth >= 0:
        resources["generator"] = dict(worst.resources["generator"], agent=worst.name)
    if server is not None and server.samples:
        resources["server"] = server.summary()
    return resources
