"""Keywords that start, fault and read the embedded mock server."""
from __future__ import annotations

import secrets

from robot.api import logger
from robot.api.deco import keyword
from robot.api.types import Secret

from ..mockserver import MockServerError, MockServerProcess
from ..errors import ArgumentError
from .arguments import Duration, Rate, Ratio
from .component import LibraryComponent
from .tokens import reveal


class ServerKeywords(LibraryComponent):

    @keyword
    def start_mock_server(self, mode: str = "echo", max_connections: int = 1000,
                          response_delay: Duration = Duration(0), drop_ratio: Ratio = Ratio(0),
                          auth_token: Secret | str | None = None, stall: Duration = Duration(0),
                          disconnect_after: int = 0, garble_ratio: Ratio = Ratio(0),
                          certfile: str | None = None, keyfile: str | None = None,
                          compression: bool = False, id_field: str = "message_id",
                          subprotocols: list[str] | None = None, seed: int | None = None,
                          alias: str | None = None,
                          startup_timeout: Duration = Duration(15),
                          engine: str = "websockets", host: str = "127.0.0.1",
                          replies: int = 1, heartbeat: Duration = Duration(0),
                          welcome: bool = False, handshake_delay: Duration = Duration(0),
                          refuse_for: Duration = Duration(0),
                          hang_handshakes: Duration = Duration(0),
                          close_after: Duration = Duration(0),
                          max_handshake_rate: int | Rate = 0,
                          max_message_rate: int | Rate = 0) -> str:
        """Starts the embedded mock WebSocket server in its own process and returns its URI.

        The server binds 127.0.0.1 (or ``host``) on a free port chosen by the operating system, so any
        number of servers (one per pabot process, say) run side by side without port
        conflicts. It becomes the current server: `Connect Clients` without a URI and the
        other server keywords use it. It is stopped by `Stop Mock Server`, and in any case
        when the run ends or this process dies.

        | =Argument= | =Meaning= |
        | ``mode`` | ``echo``: the reply is the message; ``ack``: a small JSON reply with the message id and the server's time |
        | ``max_connections`` | connections beyond this are closed with code 1013 (try again later) |
        | ``response_delay`` | time added before every reply, e.g. ``50 ms`` |
        | ``drop_ratio`` | share of messages that get no reply, ``0.01`` or ``1%`` |
        | ``auth_token`` | require ``Authorization: Bearer <token>``; without it the handshake gets HTTP 401. Pass a Robot ``Secret``; the token is never logged |
        | ``stall`` | no reply leaves for this long from now (replies queue up, then all go) |
        | ``disconnect_after`` | close each connection with code 1011 after it has sent this many replies (0: never) |
        | ``garble_ratio`` | share of replies replaced by text that is not the message |
        | ``certfile``, ``keyfile`` | serve ``wss://`` with this certificate (PEM) |
        | ``compression`` | offer permessage-deflate |
        | ``id_field`` | the JSON field that carries the message id in ``ack`` mode |
        | ``seed`` | seed of the random drops and garbles, for repeatable runs |
        | ``host`` | the address to bind, 127.0.0.1 by default; another local address (say, the one load agents on other machines reach) exposes the server there |
        | ``engine`` | ``websockets`` (default) or ``picows``: a server several times faster (over 200k msg/s here), for generator benchmarks where the server must not be the limit; it offers no compression or subprotocols and does not count failed handshakes |
        | ``replies`` | replies per message: in ``ack`` mode that many acks (``"status":"partial"``, part 1 of N, ..., then ``"done"``), in ``echo`` mode that many copies; 1 (default) keeps the single reply |
        | ``heartbeat`` | push ``{"type":"heartbeat","ts":...}`` to every connection this often, e.g. ``200 ms``; 0 (default) is off |
        | ``welcome`` | push ``{"type":"welcome","connection":N}`` to each connection right after its handshake |
        | ``handshake_delay`` | answer every opening handshake this late, e.g. ``500 ms`` (other connections go on meanwhile); ``websockets`` engine only |
        | ``refuse_for`` | refuse every new handshake with HTTP 503 for this long from start |
        | ``hang_handshakes`` | for this long from start, accept TCP and never answer the handshake: the client's open timeout fires (the server drops it after its own 10 s); ``websockets`` engine only |
        | ``close_after`` | close each connection with code 1001 this long after its handshake |
        | ``max_handshake_rate`` | handshakes per second accepted (a bucket of one second's worth); those beyond get HTTP 429; 0 (default): no limit |
        | ``max_message_rate`` | the server serves at most this many messages per second, all connections together: one queue in front of the handler, each reply leaving at its slot, so beyond it latency grows without bound and nothing is dropped; 0 (default): no limit |

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
            certfile=certfile, keyfile=keyfile, response_delay=float(response_delay),
            stall=float(stall), drop_ratio=float(drop_ratio), disconnect_after=disconnect_after,
            garble_ratio=float(garble_ratio), seed=seed, compression=compression,
            id_field=id_field, subprotocols=subprotocols,
            startup_timeout_s=float(startup_timeout), engine=engine, host=host,
            replies=replies, heartbeat=float(heartbeat), welcome=welcome,
            handshake_delay=float(handshake_delay), refuse_for=float(refuse_for),
            hang_handshakes=float(hang_handshakes), close_after=float(close_after),
            max_handshake_rate=_per_second("max_handshake_rate", max_handshake_rate),
            max_message_rate=_per_second("max_message_rate", max_message_rate))
        uri = server.start()
        self.state.servers.register(server, alias)
        logger.info(f"Mock server ({mode}) listening at {uri}, pid {server.pid}"
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
    def set_mock_server_faults(self, response_delay: Duration | None = None,
                               stall: Duration | None = None, drop_ratio: Ratio | None = None,
                               disconnect_after: int | None = None,
                               garble_ratio: Ratio | None = None,
                               read_stall: Duration | None = None,
                               slow_subscriber_delay: Duration | None = None,
                               sequence_gap_every: int | None = None,
                               handshake_delay: Duration | None = None,
                               refuse_for: Duration | None = None,
                               hang_handshakes: Duration | None = None,
                               close_after: Duration | None = None,
                               max_handshake_rate: int | Rate | None = None,
                               max_message_rate: int | Rate | None = None) -> dict:
        """Changes the current mock server's faults while it runs; returns all its faults.

        Only the faults given change; the others keep their values. ``stall`` and
        ``read_stall`` start now and last the given time: during a ``stall`` no reply
        leaves; during a ``read_stall`` the server reads nothing, so the clients' sends back
        up through TCP. Works across processes (pabot) because it goes through the server's
        control endpoint.

        For the push protocol: ``response_delay``, ``stall`` and ``drop_ratio`` act on
        deliveries to subscribers and stream messages too (a dropped stream message is a
        gap in its ``seq``); ``slow_subscriber_delay`` delays the deliveries to one
        subscriber, the connection subscribed the longest; ``sequence_gap_every=N`` skips
        every Nth stream ``seq`` (0: off).

        For the connection lifecycle and capacity, as for `Start Mock Server`:
        ``handshake_delay``, ``refuse_for`` and ``hang_handshakes`` (both start now),
        ``close_after`` (for connections opened from now on), ``max_handshake_rate`` and
        ``max_message_rate`` (``0`` is off). `Restart Mock Server Connections` closes every
        connection at once. The ``picows`` engine refuses ``handshake_delay`` and
        ``hang_handshakes`` with a message naming the ``websockets`` engine.

        Example:
        | Set Mock Server Faults | response_delay=250 ms | drop_ratio=2% |
        | Set Mock Server Faults | stall=1.5 s |
        | Set Mock Server Faults | slow_subscriber_delay=300 ms | sequence_gap_every=100 |
        | Set Mock Server Faults | refuse_for=2 s | max_handshake_rate=100/s |
        | Set Mock Server Faults | max_message_rate=500/s |
        """
        faults = {name: value for name, value in (
            ("response_delay", response_delay), ("stall", stall), ("drop_ratio", drop_ratio),
            ("disconnect_after", disconnect_after), ("garble_ratio", garble_ratio),
            ("read_stall", read_stall), ("slow_subscriber_delay", slow_subscriber_delay),
            ("sequence_gap_every", sequence_gap_every), ("handshake_delay", handshake_delay),
            ("refuse_for", refuse_for), ("hang_handshakes", hang_handshakes),
            ("close_after", close_after),
            ("max_handshake_rate", max_handshake_rate),
            ("max_message_rate", max_message_rate)) if value is not None}
        reply = self._server().set_faults(**{k: _per_second(k, v) for k, v in faults.items()})
        logger.info(f"Mock server faults set: {faults}; now {reply.get('faults', reply)}")
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



def _per_second(name: str, value) -> float:
    """A fault's number; a rate fault takes a Rate but not ``max`` (0 is off)."""
    if isinstance(value, Rate) and value.is_max:
        raise ArgumentError(f"the fault {name} takes a number per second, not max (0 is no limit)")
    return float(value)
