"""Memory per connection, and the host's limits a large open was checked against: a result
section of `Open Connections At Rate` (and of `Connect Clients` when it spreads).

Per side -- the generator, the mock server -- every process of the side together: its RSS
growth over the open divided by the connections opened (what one more connection costs the
machine), and for the generator its heap's growth per connection too (what the connections
hold, the allocator's kept pages apart; runtime/footprint.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .sections import ResultSection

KB = 1000                # decimal, as the keywords' sizes are (10 KB = 10,000 bytes)


def _per(growth: int | None, connections: int) -> float | None:
    if growth is None or connections <= 0:
        return None
    return max(0.0, growth / connections)


@dataclass
class ConnectionMemory(ResultSection):
    kind = "memory"
    connections: int = 0                 # connections opened (and held) over the measure
    generator_processes: int = 1
    generator_rss_growth_bytes: int | None = None
    generator_heap_growth_bytes: int | None = None
    server_processes: int = 0            # 0: the server is not ours, not measured
    server_rss_growth_bytes: int | None = None
    source_addresses: int = 0            # 0: the system's choice
    host: dict = field(default_factory=dict)   # runtime/host_limits.py HostLimits.as_dict

    @property
    def generator_bytes_per_connection(self) -> float | None:
        return _per(self.generator_rss_growth_bytes, self.connections)

    @property
    def generator_heap_bytes_per_connection(self) -> float | None:
        return _per(self.generator_heap_growth_bytes, self.connections)

    @property
    def server_bytes_per_connection(self) -> float | None:
        return _per(self.server_rss_growth_bytes, self.connections)

    def per_connection(self, side: str = "generator") -> float | None:
        return {"generator": self.generator_bytes_per_connection,
                "heap": self.generator_heap_bytes_per_connection,
                "server": self.server_bytes_per_connection}[side]

    @classmethod
    def merged(cls, sections: list["ConnectionMemory"]) -> "ConnectionMemory":
        def total(name):
            values = [getattr(s, name) for s in sections]
            return None if any(v is None for v in values) else sum(values)
        first = sections[0]
        return cls(connections=sum(s.connections for s in sections),
                   generator_processes=sum(s.generator_processes for s in sections),
                   generator_rss_growth_bytes=total("generator_rss_growth_bytes"),
                   generator_heap_growth_bytes=total("generator_heap_growth_bytes"),
                   server_processes=first.server_processes,
                   server_rss_growth_bytes=first.server_rss_growth_bytes,
                   source_addresses=max(s.source_addresses for s in sections),
                   host=dict(first.host))

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict) -> "ConnectionMemory":
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})

    def summary(self) -> dict:
        def kb(value):
            return None if value is None else round(value / KB, 2)
        return {"memory_connections": self.connections,
                "memory_generator_kb_per_connection": kb(self.generator_bytes_per_connection),
                "memory_generator_heap_kb_per_connection":
                    kb(self.generator_heap_bytes_per_connection),
                "memory_server_kb_per_connection": kb(self.server_bytes_per_connection),
                "memory_generator_processes": self.generator_processes,
                "memory_server_processes": self.server_processes}

    def rows(self) -> list[tuple[str, str]]:
        def kb(value):
            return "not measured" if value is None else f"{value / KB:,.2f} KB"
        rows = [("memory per connection (generator)",
                 f"{kb(self.generator_bytes_per_connection)} RSS, "
                 f"{kb(self.generator_heap_bytes_per_connection)} heap, over "
                 f"{self.connections:,} connections in {self.generator_processes} process(es)")]
        if self.server_processes:
            rows.append(("memory per connection (mock server)",
                         f"{kb(self.server_bytes_per_connection)} RSS in "
                         f"{self.server_processes} process(es)"))
        if self.host:
            host = self.host
            rows.append(("host limits", f"open files {host.get('open_files_soft'):,} (hard "
                         f"{host.get('open_files_hard'):,}) per process, ephemeral ports "
                         f"{host.get('ephemeral_ports')}, somaxconn {host.get('somaxconn')}, "
                         f"SYN backlog {host.get('syn_backlog')}, {host.get('cpus')} CPUs; "
                         f"{self.source_addresses or 'default'} source address(es)"))
        return rows

    higher_is_worse = {"memory_generator_kb_per_connection": "generator memory per connection",
                       "memory_server_kb_per_connection": "mock server memory per connection"}
