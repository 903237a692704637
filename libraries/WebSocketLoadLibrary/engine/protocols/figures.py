"""What the protocol layer did during a step (transport/protocol_session.py counts it): a
result section, present when the connections speak a protocol of their own."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..results.sections import ResultSection


@dataclass
class ProtocolFigures(ResultSection):
    kind = "protocol"
    protocol: str = ""
    handshakes: int = 0              # protocol handshakes done (reconnects, storms)
    keepalives_answered: int = 0     # server pings answered at once
    control_messages: int = 0        # the protocol's own messages, never replies or pushes
    heartbeats_sent: int = 0         # what the client sent on its own to stay alive

    @classmethod
    def of(cls, protocol: str, before: tuple, after: tuple) -> "ProtocolFigures":
        handshakes, answered, control, heartbeats = (b - a for a, b in zip(before, after))
        return cls(protocol, handshakes, answered, control, heartbeats)

    @classmethod
    def merged(cls, sections: list["ProtocolFigures"]) -> "ProtocolFigures":
        names = {s.protocol for s in sections}
        return cls(names.pop() if len(names) == 1 else "mixed",
                   sum(s.handshakes for s in sections),
                   sum(s.keepalives_answered for s in sections),
                   sum(s.control_messages for s in sections),
                   sum(s.heartbeats_sent for s in sections))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ProtocolFigures":
        return cls(**data)

    def summary(self) -> dict:
        return {"protocol_keepalives_answered": self.keepalives_answered,
                "protocol_control_messages": self.control_messages,
                "protocol_heartbeats_sent": self.heartbeats_sent,
                "protocol_handshakes": self.handshakes}

    def rows(self) -> list[tuple[str, str]]:
        return [(f"protocol ({self.protocol}): keep-alives answered / own messages",
                 f"{self.keepalives_answered:,} / {self.control_messages:,}"),
                ("protocol heartbeats sent / handshakes during the step",
                 f"{self.heartbeats_sent:,} / {self.handshakes:,}")]
