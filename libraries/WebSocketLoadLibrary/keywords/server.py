"""Keywords that start, fault and read the embedded mock server."""
from __future__ import annotations

import secrets

from robot.api import logger
from robot.api.deco import keyword
from robot.api.types import Secret

from ..mockserver import MockServerError, MockServerProcess
from .arguments import Duration, Ratio
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
                          welcome: bool = False) -> str:
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
            replies=replies, heartbeat=float(heartbeat), welcome=welcome)
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
                               sequence_gap_every: int | None = None) -> dict:
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

        Example:
        | Set Mock Server Faults | response_delay=250 ms | drop_ratio=2% |
        | Set Mock Server Faults | stall=1.5 s |
        | Set Mock Server Faults | slow_subscriber_delay=300 ms | sequence_gap_every=100 |
        """
        faults = {name: value for name, value in (
            ("response_delay", response_delay), ("stall", stall), ("drop_ratio", drop_ratio),
            ("disconnect_after", disconnect_after), ("garble_ratio", garble_ratio),
            ("read_stall", read_stall), ("slow_subscriber_delay", slow_subscriber_delay),
            ("sequence_gap_every", sequence_gap_every)) if value is not None}
        reply = self._server().set_faults(**{k: float(v) for k, v in faults.items()})
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
        ``unheard``) and the current ``options``.

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

