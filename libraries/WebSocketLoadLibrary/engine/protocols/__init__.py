"""Protocols over WebSocket: one module each, a codec without I/O (base.py says what one is).

`protocol_named(name, **options)` makes the protocol a pool speaks; `PROTOCOLS` lists them by
name. A new protocol is a module here with a `Protocol` subclass, named below.
"""
from __future__ import annotations

from .base import (NOTHING, Protocol, ProtocolOptionError, ProtocolRefused, ServerSession,
                   Session)
from .graphql_ws import GraphQLWS
from .mqtt import Mqtt
from .socketio import SocketIO
from .stomp import Stomp

PROTOCOLS: dict[str, type[Protocol]] = {p.name: p for p in (Protocol, SocketIO, Stomp,
                                                            GraphQLWS, Mqtt)}


def protocol_named(name: str | None, **options) -> Protocol:
    """The protocol `name` (None or "plain": plain messages) with its options checked."""
    key = (name or "plain").strip().lower().replace("_", "").replace(".", "")
    aliases = {"socketio": "socketio", "plain": "plain", "none": "plain", "websocket": "plain",
               "graphql": "graphql-ws", "graphqlws": "graphql-ws",
               "graphql-transport-ws": "graphql-ws", "graphqltransportws": "graphql-ws"}
    cls = PROTOCOLS.get(aliases.get(key, key))
    if cls is None:
        raise ProtocolOptionError(f"unknown protocol {name!r}; known: "
                                  f"{', '.join(sorted(PROTOCOLS))}")
    return cls(**options)


def protocol_from_dict(name: str, options: dict | None = None) -> Protocol:
    """`Protocol.to_dict` undone (a load agent's connections)."""
    return protocol_named(name, **(options or {}))


__all__ = ["NOTHING", "PROTOCOLS", "Protocol", "ProtocolOptionError", "ProtocolRefused",
           "ServerSession", "Session", "protocol_from_dict", "protocol_named"]
