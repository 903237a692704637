"""Talks to a running mock server's control endpoint (stats, faults) over a WebSocket."""
from __future__ import annotations

import orjson
from websockets.sync.client import connect

from ..errors import RunError


class ControlError(RunError):
    pass


class MockServerControl:
    """A short-lived synchronous client of `/_control`; safe to use from any process."""

    def __init__(self, control_uri: str, timeout_s: float = 5.0, ssl_context=None):
        self.control_uri = control_uri
        self.timeout_s = timeout_s
        self.ssl_context = ssl_context

    def request(self, op: str, **fields) -> dict:
        try:
            with connect(self.control_uri, open_timeout=self.timeout_s,
                         close_timeout=self.timeout_s, ssl=self.ssl_context, proxy=None,
                         compression=None) as ws:
                ws.send(orjson.dumps({"op": op, **fields}).decode())
                answer = orjson.loads(ws.recv(timeout=self.timeout_s))
        except (OSError, TimeoutError) as error:
            raise ControlError(f"mock server control at {self._where()} did not answer: "
                               f"{error}") from None
        except Exception as error:  # websockets' own handshake and protocol errors
            raise ControlError(f"mock server control at {self._where()} failed: {error}") from None
        if not answer.get("ok"):
            raise ControlError(f"mock server refused {op}: {answer.get('error')}")
        return answer

    def _where(self) -> str:
        return self.control_uri.split("?", 1)[0]

    def stats(self) -> dict:
        answer = self.request("stats")
        return {**answer["stats"], "faults": answer["faults"], "options": answer["options"],
                "topics": answer["topics"]}

    def set_faults(self, **faults) -> dict:
        return self.request("set_faults", faults=faults)["faults"]

    def clear_faults(self) -> dict:
        return self.request("clear_faults")["faults"]

    def set_options(self, **options) -> dict:
        """The push protocol's server options (replies, heartbeat_interval, welcome)."""
        return self.request("set_options", options=options)["options"]

    def restart(self, after: float = 0.0, down_for: float = 0.0) -> int:
        """Close every client connection (1012), now or `after` seconds from now; with
        `down_for`, refuse new ones with 503 that long from the restart. Returns how many
        connections are open as it answers (before a restart `after` a while)."""
        return self.request("restart", after=after, down_for=down_for)["connections"]

    def reset_stats(self) -> dict:
        return self.request("reset_stats")["stats"]
