"""Keywords that start, fault and read the embedded mock server."""
from __future__ import annotations

import functools
import inspect
import secrets

from robot.api import logger
from robot.api.deco import keyword
from robot.api.types import Secret

from ..base.component import LibraryComponent
from ..errors import ArgumentError
from ..mockserver import MockServerError, MockServerProcess
from ..mockserver.fault_declarations import COUNT, FAULTS, PER_SECOND, RATIO, SECONDS
from ..utils.arguments import Duration, Rate, Ratio
from ..utils.tokens import reveal


# -- the fault arguments, from the declarations (mockserver/fault_declarations.py) -------
# each kind of fault value as a keyword argument: its type, and its default as
# `Start Mock Server` shows it (`Set Mock Server Faults` takes `<type> | None = None`)
KEYWORD_TYPES = {SECONDS: (Duration, Duration), RATIO: (Ratio, Ratio), COUNT: (int, int),
                 PER_SECOND: (int | Rate, int)}
# Where the keywords have always taken the faults declared before the declarations were
# (arguments go by position too, so they stay there): right after the argument named. The
# other faults follow the keyword's own arguments in the order declared; a new fault needs
# no line here.
START_PLACES = {"response_delay": "max_connections", "drop_ratio": "response_delay",
                "stall": "auth_token", "disconnect_after": "stall",
                "garble_ratio": "disconnect_after"}
SET_PLACES = {"read_stall": "garble_ratio"}
# own arguments that came after the faults were declared: they follow every fault
AFTER_FAULTS = ("protocol", "protocol_options", "processes")
# what a keyword's doc says where it has these words: a table row per fault it takes
# (the line ``| FAULT ROWS |``), and the names of those that last a time or that only
# `Set Mock Server Faults` takes
FAULT_ROWS = "| FAULT ROWS |"


def _fault_doc(doc: str, faults) -> str:
    rows = "\n".join(f"        | ``{fault.name}`` | {fault.words} |" for fault in faults)
    return (doc.replace(f"        {FAULT_ROWS}", rows)
            .replace("TIMED FAULTS", _names(f for f in faults if f.ends))
            .replace("FAULTS NOT AT START", _names(f for f in FAULTS if not f.at_start)))


def _names(faults) -> str:
    names = [f"``{fault.name}``" for fault in faults]
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def _taking_faults(faults, places: dict[str, str], *, optional: bool):
    """The keyword takes `faults` as arguments besides its own (those before its
    ``**faults``): its signature, type hints and doc's `FAULT_ROWS` say so, and it is
    called with its own arguments and every fault by name (None for one not given when
    `optional`, else the fault's default)."""
    def decorate(function):
        own = inspect.signature(function, eval_str=True)
        parameters = [p for p in own.parameters.values() if p.kind is not p.VAR_KEYWORD]
        fault_parameters = {}
        for fault in faults:
            kind, default = KEYWORD_TYPES[fault.kind]
            fault_parameters[fault.name] = inspect.Parameter(
                fault.name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=None if optional else default(fault.default),
                annotation=kind | None if optional else kind)
        last = [p for p in parameters if p.name in AFTER_FAULTS]
        parameters = [p for p in parameters if p.name not in AFTER_FAULTS]
        parameters += [fault_parameters[f.name] for f in faults if f.name not in places]
        for fault in faults:
            if fault.name in places:
                at = [p.name for p in parameters].index(places[fault.name]) + 1
                parameters.insert(at, fault_parameters[fault.name])
        parameters += last
        signature = own.replace(parameters=parameters)
        function.__doc__ = _fault_doc(function.__doc__, faults)
        function.__signature__ = signature
        function.__annotations__ = {p.name: p.annotation for p in parameters[1:]}
        function.__annotations__["return"] = signature.return_annotation
        kinds = {fault.name: fault.kind for fault in faults}

        @functools.wraps(function)
        def with_faults(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            own_arguments = {name: value for name, value in bound.arguments.items()
                             if name not in kinds}
            values = {name: value if value is None else _fault_value(kinds[name], name, value)
                      for name, value in bound.arguments.items() if name in kinds}
            return function(**own_arguments, **values)
        return with_faults
    return decorate


def _fault_value(kind, name: str, value) -> float | int:
    """A fault's number for the server; a rate fault takes a Rate but not ``max``."""
    if isinstance(value, Rate) and value.is_max:
        raise ArgumentError(f"the fault {name} takes a number per second, not max (0 is no limit)")
    return int(value) if kind is COUNT else float(value)


class ServerKeywords(LibraryComponent):

    @keyword
    @_taking_faults([fault for fault in FAULTS if fault.at_start], START_PLACES, optional=False)
    def start_mock_server(self, mode: str = "echo", max_connections: int = 1_000_000,
                          auth_token: Secret | str | None = None,
                          certfile: str | None = None, keyfile: str | None = None,
                          compression: bool = False, id_field: str = "message_id",
                          subprotocols: list[str] | None = None, seed: int | None = None,
                          alias: str | None = None,
                          startup_timeout: Duration = Duration(15),
                          engine: str = "websockets", host: str = "127.0.0.1",
                          replies: int = 1, heartbeat: Duration = Duration(0),
                          welcome: bool = False, protocol: str | None = None,
                          protocol_options: dict | None = None, processes: int = 1,
                          **faults) -> str:
        """Starts the embedded mock WebSocket server in its own process and returns its URI.

        The server binds 127.0.0.1 (or ``host``) on a free port chosen by the operating system, so any
        number of servers (one per pabot process, say) run side by side without port
        conflicts. It becomes the current server: `Connect Clients` without a URI and the
        other server keywords use it. It is stopped by `Stop Mock Server`, and in any case
        when the run ends or this process dies.

        | =Argument= | =Meaning= |
        | ``mode`` | ``echo``: the reply is the message; ``ack``: a small JSON reply with the message id and the server's time |
        | ``max_connections`` | connections beyond this are closed with code 1013 (try again later); default a million. A count that one process cannot hold (see `Open Connections At Rate`) has the server run more processes on its port, each holding up to this many |
        | ``auth_token`` | require ``Authorization: Bearer <token>``; without it the handshake gets HTTP 401. Pass a Robot ``Secret``; the token is never logged |
        | ``certfile``, ``keyfile`` | serve ``wss://`` with this certificate (PEM) |
        | ``compression`` | offer permessage-deflate |
        | ``id_field`` | the JSON field that carries the message id in ``ack`` mode |
        | ``seed`` | seed of the random drops and garbles, for repeatable runs |
        | ``host`` | the address to bind, 127.0.0.1 by default; another local address (say, the one load agents on other machines reach) exposes the server there |
        | ``engine`` | ``websockets`` (default) or ``picows``: a server several times faster (over 200k msg/s here), for generator benchmarks where the server must not be the limit; it offers no compression or subprotocols and does not count failed handshakes |
        | ``replies`` | replies per message: in ``ack`` mode that many acks (``"status":"partial"``, part 1 of N, ..., then ``"done"``), in ``echo`` mode that many copies; 1 (default) keeps the single reply |
        | ``heartbeat`` | push ``{"type":"heartbeat","ts":...}`` to every connection this often, e.g. ``200 ms``; 0 (default) is off |
        | ``welcome`` | push ``{"type":"welcome","connection":N}`` to each connection right after its handshake |
        | FAULT ROWS |
        | ``protocol`` | the protocol the server speaks over WebSocket: ``socketio``, ``stomp``, ``graphql-ws`` or ``mqtt`` (default: plain messages). Requests are answered with the protocol's reply (ack, receipt, result, PUBACK) under every fault; subscriptions, publishes and streams are the push protocol's commands in the protocol's framing |
        | ``protocol_options`` | the server side's options, a dictionary: Socket.IO ``ping_interval_s`` and ``ping_timeout_s`` (the server pings that often and closes a client that does not answer in time, counted in ``keepalive_timeouts``) |
        | ``processes`` | processes serving the port from the start (SO_REUSEPORT: the kernel spreads new connections over them), one server to every keyword: stats summed, faults in all, a publish delivered to the subscribers of all. One (default) is enough for most runs: `Connect Clients` and `Open Connections At Rate` add as many as their count needs |

        The rows after ``welcome`` (but ``protocol`` and ``protocol_options``) are faults, each off at 0 (the default); one that lasts a
        time (TIMED FAULTS) counts it from the start. `Set Mock Server Faults` changes them
        while the server runs, and FAULTS NOT AT START too.

        The server counts ``handshakes_accepted``, ``handshakes_refused_401``, ``_429`` and
        ``_503``, ``handshakes_delayed``, ``handshakes_hung``, ``restarts``,
        ``closes_by_restart`` and ``closes_by_close_after`` (see `Get Mock Server Stats`).

        Besides echoing or acking, the server speaks a small JSON push protocol: a message
        starting with ``{"op":`` is a command -- ``subscribe``, ``unsubscribe``,
        ``publish`` (delivered to the topic's other subscribers) and ``stream`` /
        ``stop_stream`` (numbered messages pushed at a rate). See the README section
        "The mock server's push protocol"; `Set Mock Server Options` changes ``replies``,
        ``heartbeat`` and ``welcome`` while it runs.

        Example:
        | ${uri}= | Start Mock Server | mode=ack | response_delay=20 ms |
        | Connect Clients | ${uri} | count=10 |
        | ${uri}= | Start Mock Server | mode=ack | replies=3 | heartbeat=500 ms | welcome=True |
        """
        server = MockServerProcess(
            mode=mode, max_connections=max_connections, auth_token=reveal(auth_token),
            certfile=certfile, keyfile=keyfile, seed=seed, compression=compression,
            id_field=id_field, subprotocols=subprotocols,
            startup_timeout_s=float(startup_timeout), engine=engine, host=host,
            replies=replies, heartbeat=float(heartbeat), welcome=welcome,
            protocol=protocol, protocol_options=protocol_options, processes=processes,
            **faults)
        uri = server.start()
        self.state.servers.register(server, alias)
        logger.info(f"Mock server ({mode}{', ' + protocol if protocol else ''}) listening at "
                    f"{uri}, pid{'s ' + ', '.join(map(str, server.pids)) if processes > 1 else ' ' + str(server.pid)}"
                    f"{', bearer token required' if auth_token else ''}.")
        return uri

    @keyword
    def create_random_token(self, length: int = 32) -> Secret:
        """Returns a random bearer token as a Robot ``Secret`` (never shown in logs), for a
        mock server started with ``auth_token`` and the clients that connect to it.

        Example:
        | ${token}= | Create Random Token |
        | ${uri}= | Start Mock Server | auth_token=${token} |
        | Connect Clients | ${uri} | token=${token} |
        """
        return Secret(secrets.token_urlsafe(length)[:length])

    @keyword
    def stop_mock_server(self, alias: str | None = None) -> dict:
        """Stops the current mock server (or the one named by ``alias``) and returns its
        final counters. Does nothing, with a log line, when no server is running, so it is
        safe in any teardown."""
        servers = self.state.servers
        if not servers:
            logger.info("No mock server to stop.")
            return {}
        server = servers.get(alias)
        stats = {}
        if server.running:
            try:
                stats = server.stats()
            except Exception as error:  # a wedged server still gets stopped below
                logger.warn(f"Could not read the mock server's final counters: {error}")
        code = server.stop()
        logger.info(f"Mock server at {server.uri} stopped (exit code {code}).")
        servers.remove(server)
        return stats

    @keyword
    def stop_all_mock_servers(self) -> None:
        """Stops every mock server this library started."""
        while self.state.servers:
            self.stop_mock_server()

    @keyword
    def switch_mock_server(self, alias: str) -> str:
        """Makes the server started with ``alias`` current and returns its URI."""
        return self.state.servers.switch(alias).uri

    @keyword
    @_taking_faults(FAULTS, SET_PLACES, optional=True)
    def set_mock_server_faults(self, **faults) -> dict:
        """Changes the current mock server's faults while it runs; returns all its faults.

        Only the faults given change; the others keep their values; ``0`` turns one off
        (`Clear Mock Server Faults` turns them all off). Works across processes (pabot)
        because it goes through the server's control endpoint.

        | =Argument= | =Meaning= |
        | FAULT ROWS |

        A fault that lasts a time (TIMED FAULTS) starts now. `Start Mock Server` takes the
        same faults but FAULTS NOT AT START. `Restart Mock Server Connections` closes every
        connection at once.

        Example:
        | Set Mock Server Faults | response_delay=250 ms | drop_ratio=2% |
        | Set Mock Server Faults | stall=1.5 s |
        | Set Mock Server Faults | slow_subscriber_delay=300 ms | sequence_gap_every=100 |
        | Set Mock Server Faults | refuse_for=2 s | max_handshake_rate=100/s |
        | Set Mock Server Faults | max_message_rate=500/s |
        """
        given = {name: value for name, value in faults.items() if value is not None}
        reply = self._server().set_faults(**given)
        logger.info(f"Mock server faults set: {given}; now {reply.get('faults', reply)}")
        return reply.get("faults", reply)

    @keyword
    def set_mock_server_options(self, replies: int | None = None,
                                heartbeat: Duration | None = None,
                                welcome: bool | None = None) -> dict:
        """Changes the current mock server's push protocol options while it runs; returns
        all of them.

        Only the options given change. ``replies`` applies to the open connections at once,
        ``heartbeat`` (``0`` is off) starts counting within 0.1 s, ``welcome`` applies to
        connections opened from now on. The arguments mean what they mean for
        `Start Mock Server`.

        Example:
        | Set Mock Server Options | replies=3 |
        | Set Mock Server Options | heartbeat=200 ms | welcome=True |
        """
        options = {name: value for name, value in (
            ("replies", replies),
            ("heartbeat_interval", None if heartbeat is None else float(heartbeat)),
            ("welcome", welcome)) if value is not None}
        now = self._server().set_options(**options)
        logger.info(f"Mock server options set: {options}; now {now}")
        return now

    @keyword
    def restart_mock_server_connections(self, after: Duration = Duration(0),
                                        down_for: Duration = Duration(0)) -> int:
        """Closes every client connection of the current mock server at once, as a restart
        does, with code 1012 (service restart); the server keeps accepting new ones.

        With ``after`` the server does it itself that long from now, so the keyword returns
        at once and a load step started next sees the restart in its middle. With
        ``down_for`` new handshakes get HTTP 503 that long from the restart on, as from a
        server still coming back (the ``refuse_for`` fault). Returns the number of
        connections open as the server answers. Counted in the stats as ``restarts`` and
        ``closes_by_restart``.

        Example:
        | Restart Mock Server Connections |
        | Restart Mock Server Connections | after=1 s | down_for=300 ms |
        | Run Sustained Load | rate=200/s | duration=3 s |
        """
        open_now = self._server().restart(after=float(after), down_for=float(down_for))
        logger.info(f"Mock server restart {'in ' + str(float(after)) + ' s' if after else 'done'}"
                    f"{f', refusing new connections {float(down_for):g} s' if down_for else ''}; "
                    f"{open_now} connection(s) open as it answered.")
        return open_now

    @keyword
    def clear_mock_server_faults(self) -> None:
        """Turns every fault of the current mock server off."""
        self._server().clear_faults()

    @keyword
    def get_mock_server_stats(self) -> dict:
        """Returns the current mock server's counters as a dictionary.

        Keys include ``connections_open``, ``connections_total``, ``connections_refused``,
        ``auth_failures``, ``messages_received``, ``messages_sent``, ``messages_dropped``,
        ``messages_garbled``, ``errors`` and the current ``faults``; for the push protocol
        ``pushes_sent``, ``deliveries_sent``, ``deliveries_dropped``, ``invalid_commands``,
        ``topics`` (per topic ``subscribers``, ``published``, ``delivered``, ``dropped``,
        ``unheard``) and the current ``options``; for the connection lifecycle
        ``handshakes_accepted``, ``handshakes_refused_401``, ``handshakes_refused_429``,
        ``handshakes_refused_503``, ``handshakes_delayed``, ``handshakes_hung``,
        ``restarts``, ``closes_by_restart`` and ``closes_by_close_after``.

        Example:
        | ${stats}= | Get Mock Server Stats |
        | Should Be Equal As Integers | ${stats}[messages_received] | 100 |
        """
        stats = self._server().stats()
        logger.info(f"Mock server stats: {stats}")
        return stats

    @keyword
    def reset_mock_server_stats(self) -> None:
        """Sets the current mock server's counters back to zero."""
        self._server().control.reset_stats()

    def _server(self) -> MockServerProcess:
        server = self.state.servers.current  # raises with a clear message when none
        if not server.running:
            raise MockServerError(f"the mock server at {server.uri} is not running "
                                  f"(exit code {server.process.poll()})")
        return server

