"""The library's state for the whole run: the engine, mock servers, client groups, results."""
from __future__ import annotations

from dataclasses import dataclass, field


from ..engine import ConnectionOptions, LoadEngine, LoadResult, MessageTemplate, ScalingResult
from ..engine import ClientPool
from ..errors import UsageError
from ..reports.metrics import LiveCounters
from .registry import Registry
from .result_files import ResultFiles


@dataclass
class ClientGroup:
    """Connections opened together by one `Connect Clients`."""
    pool: ClientPool
    options: ConnectionOptions
    count: int
    alias: str | None = None

    @property
    def open_count(self) -> int:
        return len(self.pool.open_connections)


@dataclass
class LibraryState:
    loop_kind: str = "auto"
    _engine: LoadEngine | None = None
    servers: Registry = field(default_factory=lambda: Registry(
        "mock server", "use Start Mock Server first, or give a URI."))
    clients: Registry = field(default_factory=lambda: Registry(
        "client group", "use Connect Clients first."))
    template: MessageTemplate = field(default_factory=MessageTemplate)
    pacing: dict = field(default_factory=dict)  # LoadPlan fields, from Set Pacing
    last_result: object | None = None
    results: list = field(default_factory=list)
    files: ResultFiles = field(default_factory=ResultFiles)
    live: LiveCounters = field(default_factory=LiveCounters)
    metrics_endpoint: object | None = None
    agents: object | None = None        # AgentFleet, from Connect Load Agents
    agent_step: object | None = None    # the DistributedStep started last

    @property
    def engine(self) -> LoadEngine:
        if self._engine is None:
            self._engine = LoadEngine(self.loop_kind)
        return self._engine

    def remember(self, result) -> None:
        self.last_result = result
        self.results.append(result)

    def server_pid_for(self, uri: str | None) -> int | None:
        """The pid of our running mock server at `uri`, if it is one of ours (its RSS and CPU
        are then sampled during steps)."""
        for server in self.servers:
            if uri and server.uri == uri and server.running:
                return server.pid
        return None

    def result_or_last(self, result, purpose: str):
        """`result` if given, else the last result; a clear failure when there is none
        (`purpose` completes "No load result ...", e.g. "to check latency p95 on")."""
        target = result if result is not None else self.last_result
        if target is None:
            raise UsageError(f"No load result {purpose}: run a load keyword "
                             f"(Send Burst At Rate, Run Sustained Load, ...) first")
        if not isinstance(target, (LoadResult, ScalingResult)):
            raise UsageError(f"result must be what a load keyword returned, got "
                             f"{type(target).__name__}")
        return target

    def close(self) -> None:
        """Everything this library opened, closed: connections first, then servers."""
        if self.metrics_endpoint is not None:
            self.metrics_endpoint.stop()
            self.metrics_endpoint = None
        agents_error = None
        if self.agents is not None:
            try:
                self.agents.close()
            except Exception as error:  # noqa: BLE001 - close the rest first, then tell
                agents_error = error
            self.agents = self.agent_step = None
        for group in self.clients:
            self.clients.remove(group)
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        for server in self.servers:
            server.stop(timeout_s=2)
            self.servers.remove(server)
        if agents_error is not None:
            raise agents_error
