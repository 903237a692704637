"""Keywords that open and close groups of client connections, and set what they send."""
from __future__ import annotations

from robot.api import logger
from robot.api.deco import keyword
from robot.api.types import Secret

from ..base.component import LibraryComponent
from ..base.state import ClientGroup
from ..engine import ConnectionOptions, MessageTemplate
from ..engine import OpeningMessages, protocol_named
from ..errors import UsageError
from ..utils.arguments import ByteSize, Duration
from ..utils.tokens import token_from


def connection_options(uri: str, token, headers: dict | None, subprotocols: list | None,
                       ca_file: str | None, insecure: bool, compression: bool,
                       open_timeout: Duration, ping_interval: Duration | None,
                       max_message_size: ByteSize, transport: str,
                       protocol: str | None = None,
                       protocol_options: dict | None = None,
                       source_addresses: list | str | None = None) -> ConnectionOptions:
    """ConnectionOptions from the keyword arguments that `Connect Clients` and `Connect
    Clients On Agents` share."""
    return ConnectionOptions(
        uri, headers=dict(headers or {}), token=token, subprotocols=list(subprotocols or []),
        ca_file=ca_file, insecure=insecure, compression=compression,
        open_timeout_s=float(open_timeout),
        ping_interval_s=None if ping_interval is None else float(ping_interval),
        max_size=int(max_message_size), transport=transport,
        protocol=spoken(protocol, protocol_options), source_addresses=source_addresses)


def held_by_our_server(state, uri: str, count: int) -> list[int] | None:
    """When `uri` is a mock server this library started, have it run enough processes for
    `count` connections (MockServerProcess.hold) and return their pids; else None."""
    for server in state.servers:
        if server.running and server.uri == uri:
            server.hold(count)
            return server.pids
    return None


def spoken(protocol: str | None, options: dict | None):
    """The protocol a keyword's ``protocol`` and further named arguments ask for, or None
    for plain messages; a named argument without a protocol is a typo, named as one."""
    options = {name: str(value.value) if isinstance(value, Secret) else value
               for name, value in (options or {}).items()}
    if protocol in (None, "", "plain") and not options:
        return None
    if protocol in (None, "", "plain"):
        raise UsageError(f"unknown argument(s) {', '.join(sorted(options))}: protocol options "
                         f"need protocol=socketio, stomp, graphql-ws or mqtt")
    return protocol_named(protocol, **options)


class ConnectionKeywords(LibraryComponent):

    @keyword
    def connect_clients(self, uri: str | None = None, count: int = 1,
                        token: Secret | str | None = None, headers: dict | None = None,
                        subprotocols: list[str] | None = None, ca_file: str | None = None,
                        insecure: bool = False, compression: bool = False,
                        open_timeout: Duration = Duration(10),
                        ping_interval: Duration | None = Duration(20),
                        max_message_size: ByteSize = ByteSize(1 << 20),
                        token_env: str | None = None, alias: str | None = None,
                        transport: str = "auto", opening_messages: list[str] | str | None = None,
                        opening_reply: str | None = None,
                        opening_timeout: Duration = Duration(5), protocol: str | None = None,
                        source_addresses: list[str] | str | None = None,
                        processes: int | None = None, **protocol_options) -> int:
        """Opens ``count`` WebSocket connections to ``uri`` and returns how many are open.

        The connections form one client group, which becomes current: the load keywords
        send on it, spreading messages evenly over its connections. Without ``uri``
        the current mock server's URI is used. Connections open at most 100 at a time; the
        keyword fails, closing any that did open, when one cannot be opened, with the reason
        (refused, HTTP 401 with the token missing or rejected, untrusted certificate, ...).

        | =Argument= | =Meaning= |
        | ``token`` | bearer token sent as ``Authorization: Bearer ...``. Give a Robot ``Secret`` (``VAR ${token: Secret} %{API_TOKEN}``); its value is never written to log.html, output.xml or the console |
        | ``token_env`` | instead of ``token``: the name of an environment variable holding it |
        | ``headers`` | extra HTTP headers of the handshake, a dictionary |
        | ``subprotocols`` | subprotocols to offer, a list |
        | ``ca_file`` | PEM file of the CA that signed a ``wss://`` server's certificate |
        | ``insecure`` | do not verify a ``wss://`` server's certificate (self-signed test servers) |
        | ``compression`` | negotiate permessage-deflate; it costs about 25% throughput and memory, so it is off by default |
        | ``open_timeout`` | time allowed for each handshake |
        | ``ping_interval`` | keepalive pings; ``None`` turns them off |
        | ``max_message_size`` | largest message accepted, e.g. ``1 MB`` |
        | ``alias`` | a name for this group, for `Switch Clients` and `Disconnect Clients` |
        | ``transport`` | ``auto`` (default): picows (a C WebSocket implementation, several times faster) unless ``compression`` or ``subprotocols`` need websockets; or ``picows`` / ``websockets`` explicitly |
        | ``opening_messages`` | a message, or a list of them, that each connection sends right after its handshake (join a room, subscribe, authenticate); ``$connection`` in them becomes the connection's number (0, 1, ...) |
        | ``opening_reply`` | after each opening message, wait for a message matching this before the next one and before the connection counts as open: ``field == value`` (``op == subscribed``) or a regular expression |
        | ``opening_timeout`` | how long each of those waits may take (default 5 s); the keyword fails naming the connection, the message and what arrived instead |
        | ``protocol`` | the protocol spoken over WebSocket: ``socketio``, ``stomp``, ``graphql-ws`` or ``mqtt`` (default: plain messages). Its handshake is a connect phase of its own, its keep-alives are answered the moment they arrive, requests are framed as the protocol's (the message template is their payload) and their replies (acks, receipts, results, PUBACKs) matched by id; the README's "Protocols" section has an example of each |
        | ``source_addresses`` | local addresses the connections come from, in turn: each gives its own ~28,000 ephemeral ports toward one server address and port (``10.0.0.5,10.0.0.6``, or a list). Toward loopback the library takes 127.0.0.2, 127.0.0.3, ... itself, one for every 2,800 connections (connect() slows as an address's ports fill) |
        | ``processes`` | worker processes that hold the connections; by default as many as the count needs (one for most counts: see the README, "Scale") |
        | ``**protocol_options`` | the protocol's own options as further named arguments: Socket.IO ``path``, ``namespace``, ``auth`` (JSON), ``event``; STOMP ``host``, ``login``, ``passcode``, ``heart_beat``, ``destination``, ``subscribe``; GraphQL ``connection_init`` (JSON), ``query``, ``subscription``; MQTT ``client_id``, ``keep_alive``, ``username``, ``password``, ``qos``, ``topic``, ``subscribe``, ``opening_publish`` (a payload each connection publishes at QoS 1 to ``topic`` once connected and subscribed, ``$connection`` its number; the handshake ends at its PUBACK, and a reconnect publishes it again: MQTT's opening message, since ``opening_messages`` go as text, e.g. ``subscribe=wsload/stream`` ``opening_publish={"op":"stream","rate":100,"duration":30}`` asks the mock server for a stream). A password, passcode, auth or init payload may be a ``Secret`` and is never shown. An unknown option fails naming it and the protocol's options |

        Messages that arrive before an opening message's reply (a welcome, a heartbeat)
        are passed over. A connection that reconnects says its opening messages again.

        Examples:
        | Connect Clients | ${TARGET_URI} | count=20 |
        | Connect Clients | count=100 | alias=subscribers | opening_messages={"op":"subscribe","topic":"prices"} | opening_reply=op == subscribed |
        | VAR | ${token: Secret} | %{API_TOKEN} |
        | Connect Clients | wss://staging.example.com/ws | count=5 | token=${token} | ca_file=ca.pem |
        | Connect Clients | ws://chat.example.com | count=50 | protocol=socketio | event=echo | auth={"token":"t"} |
        | Connect Clients | ws://rabbit.example.com:15674/ws | protocol=stomp | login=guest | passcode=${pass} |
        """
        if uri is None:
            uri = self.state.servers.current.uri
        if count < 1:
            raise UsageError(f"count must be at least 1, got {count}")
        options = connection_options(uri, token_from(token, token_env), headers, subprotocols,
                                     ca_file, insecure, compression, open_timeout,
                                     ping_interval, max_message_size, transport, protocol,
                                     protocol_options, source_addresses)
        if opening_messages:
            options.opening = OpeningMessages(opening_messages, opening_reply,
                                              float(opening_timeout))
        elif opening_reply:
            raise UsageError("opening_reply needs opening_messages: the reply to what?")
        held_by_our_server(self.state, options.uri, count)
        pool = self.state.engine.connect(options, count=count, processes=processes)
        group = ClientGroup(pool, options, count, alias)
        self.state.clients.register(group, alias)
        said = f", each after {options.opening.describe()}" if options.opening else ""
        if options.protocol is not None:
            said += f", speaking {options.protocol.describe()}"
        logger.info(f"{count} client connection(s) open to {options.uri}"
                    f"{' with a bearer token' if options.token else ''}{said}.")
        return group.open_count

    @keyword
    def disconnect_clients(self, alias: str | None = None) -> None:
        """Closes the current client group (or the one named ``alias``).

        Safe in any teardown: does nothing when no clients are connected.
        """
        clients = self.state.clients
        if not clients:
            logger.info("No clients to disconnect.")
            return
        group = clients.get(alias)
        clients.remove(group)
        self.state.engine.disconnect(group.pool)
        logger.info(f"{group.count} client connection(s) to {group.options.uri} closed.")

    @keyword
    def disconnect_all_clients(self) -> None:
        """Closes every client group this library opened. Safe in any teardown."""
        while self.state.clients:
            self.disconnect_clients()

    @keyword
    def switch_clients(self, alias: str) -> None:
        """Makes the client group opened with ``alias`` current."""
        self.state.clients.switch(alias)

    @keyword
    def get_open_connection_count(self, alias: str | None = None) -> int:
        """Returns how many connections of the current (or named) group are still open."""
        return self.state.clients.get(alias).open_count

    @keyword
    def set_message_template(self, template: str | None = None, payload_size: int = 32,
                             id_field: str = "message_id", id_pattern: str | None = None,
                             binary: bool = False, push_pattern: str | None = None) -> None:
        """Sets what the load keywords send, for a server with its own protocol.

        ``template`` is the message text with placeholders ``$message_id`` (a unique
        integer), ``$send_time`` (epoch seconds), ``$payload`` (``payload_size`` characters)
        and ``$connection`` (the connection's number). Replies are matched to messages by
        the id found in the JSON field ``id_field`` (dotted for nested fields, e.g.
        ``data.id``) or by the first group of the regular expression ``id_pattern``.
        ``binary`` sends binary frames. Without arguments it restores the default JSON
        message ``{"message_id": ..., "send_time": ..., "payload": ...}``.

        Not every message that arrives is a reply. A message is a *push* -- counted per
        connection and per second in the result, never against delivery -- when it is JSON
        without the id field (a heartbeat, a welcome, a notification), or when it matches
        ``push_pattern``: either ``field == value`` (``type == heartbeat``, dotted fields
        for nested objects, ``!=`` for the opposite) or a regular expression searched in
        the message (``^PING``). A message that cannot be parsed is an *invalid reply*.

        Examples:
        | Set Message Template | {"kind": "echo", "data": {"id": $message_id, "body": "$payload"}} | id_field=data.id |
        | Set Message Template | push_pattern=type == heartbeat |
        """
        self.state.template = MessageTemplate(template, payload_size=payload_size,
                                              id_field=id_field, id_pattern=id_pattern,
                                              binary=binary, push_pattern=push_pattern)
        sample = self.state.template.render(1)
        logger.info(f"Message template set; message 1 looks like: {sample[:200]!r}")
