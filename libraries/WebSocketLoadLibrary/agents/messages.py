"""Every message between a controller and its load agents, in one place: how each request is
built and read, how each reply is built and read, and what is checked on the way in.

The transport is Robot Framework's remote library interface (XML-RPC, every request signed:
signing.py): the controller runs one of the agent's keywords, and the keyword's return value
is the reply. XML-RPC has no None and no integers past 2**31, so anything richer than a
number or a word travels as JSON text. A JSON message is an object with two fields beside its
own: ``"message"`` (its name) and ``"format"`` (FORMAT), so a message read as the wrong kind,
or written by a build with another format, is refused by name instead of half understood.

    request            keyword                  arguments                       reply
    GetInfo            get_agent_info           -                               JSON "agent info"
    GetClock           get_agent_clock          -                               epoch seconds, text
    OpenSession        open_agent_session       who the controller is           session id
    CloseSession       close_agent_session      session id                      connections closed
    OpenConnections    open_agent_connections   session id, JSON                connections open
    CloseConnections   close_agent_connections  session id                      connections closed
    StartStep          start_agent_step         session id, JSON                step id
    GetStep            get_agent_step           session id, step id             JSON "step status"
    CancelStep         cancel_agent_step        session id, step id             the step's state

The controller sends ``request.args()`` to ``request.keyword`` (the session id first when
``request.in_session``) and reads the answer with ``request.read_reply(value)``; the agent
reads its arguments with ``Request.read(...)`` and answers with ``Request.reply(...)``. A
message that is not what this module says raises MessageError naming the message and the
field; the controller adds the agent's name (client.AgentClient.request).

Plans travel as the engine's own `plan_to_dict` (which its worker processes use too), inside
a StartStep message. The controller and its agents run the same library version (GetInfo's
reply is checked first, by OtherVersion): plans and results carry the engine's fields, which
change between versions.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import ClassVar

from ..version import __version__
from ..engine import protocol_from_dict
from ..engine import (ConnectionOptions, EngineError, LoadPlan, MessageTemplate,
                      OpeningMessages, plan_from_dict, plan_to_dict)

FORMAT = 1    # bump when a message gains, loses or changes a field
STEP_STATES = ("waiting", "running", "done", "failed", "cancelled")
_ENVELOPE = ("message", "format")


class MessageError(EngineError):
    """A message between a controller and an agent that is not what messages.py says."""


class OtherVersion(MessageError):
    """The agent runs another version of the library than the controller."""

    def __init__(self, version: str | None, name: str | None = None):
        super().__init__(f"runs WebSocketLoadLibrary {version or '(unknown version)'}, this "
                         f"controller {__version__}: install the same version on the agent "
                         f"and the controller")
        self.version, self.name = version, name


# -- JSON messages ----------------------------------------------------------------------
def dump(name: str, body: dict) -> str:
    """A JSON message: the body's fields with the message's name and FORMAT."""
    return json.dumps({"message": name, "format": FORMAT, **body}, default=str)


def load(name: str, text, required: tuple, optional: tuple = ()) -> dict:
    """The body of a JSON message `name` (the envelope taken off), checked: JSON text of an
    object, this message, this format, every required field and no unknown one."""
    if not isinstance(text, str):
        raise MessageError(f"{name!r} message: expected JSON text, got "
                           f"{type(text).__name__}")
    try:
        data = json.loads(text)
    except ValueError as error:
        raise MessageError(f"{name!r} message is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise MessageError(f"{name!r} message: expected a JSON object, got "
                           f"{type(data).__name__}")
    if data.get("message") != name:
        raise MessageError(f"expected a {name!r} message, got "
                           f"{data.get('message', 'one without a name')!r}")
    if data.get("format") != FORMAT:
        raise MessageError(f"{name!r} message in format {data.get('format')!r}, this side reads "
                           f"format {FORMAT}: install the same WebSocketLoadLibrary version on "
                           f"the controller and the agents")
    body = {key: value for key, value in data.items() if key not in _ENVELOPE}
    _check_fields(name, body, required, optional)
    return body


def _check_fields(name: str, body: dict, required, optional=()) -> None:
    missing = [key for key in required if key not in body]
    unknown = sorted(set(body) - set(required) - set(optional))
    if missing:
        raise MessageError(f"{name!r} message lacks field(s) {', '.join(missing)}")
    if unknown:
        raise MessageError(f"{name!r} message has unknown field(s) {', '.join(unknown)}")


def _object(name: str, what: str, value) -> dict:
    if not isinstance(value, dict):
        raise MessageError(f"{name!r} message: {what} must be a JSON object, got "
                           f"{type(value).__name__}")
    return value


def _whole(name: str, what: str, value, least: int = 0) -> int:
    """A whole number of at least `least` (XML-RPC ints, JSON numbers, digits as text)."""
    try:
        number = int(value)
        exact = not isinstance(value, bool) and number == float(value)
    except (TypeError, ValueError, OverflowError):
        exact = False
    if not exact or number < least:
        raise MessageError(f"{name!r}: {what} must be a whole number of at least {least}, "
                           f"got {value!r}")
    return number


def _seconds(name: str, what: str, value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number):
        raise MessageError(f"{name!r}: {what} must be a number of seconds, got {value!r}")
    return number


def _text(name: str, what: str, value, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value):
        raise MessageError(f"{name!r}: {what} must be {'' if empty else 'non-empty '}text, got "
                           f"{value!r}")
    return value


def _built(name: str, what: str, make, data: dict):
    """`make(**data)`, an unknown or missing field named as this message's fault."""
    try:
        return make(**data)
    except TypeError as error:
        raise MessageError(f"{name!r} message: {what} does not fit this version: "
                           f"{error}") from None


# -- the requests -------------------------------------------------------------------------
class Request:
    """One kind of call of an agent's keyword: `args()` on the controller, `read()` on the
    agent, `reply()` on the agent, `read_reply()` on the controller."""
    keyword: ClassVar[str]
    in_session: ClassVar[bool] = True   # the session id goes first

    def args(self) -> tuple:
        return ()

    @classmethod
    def read_reply(cls, value):
        raise NotImplementedError


class _CountReply:
    """Replies with a number of connections."""

    @staticmethod
    def reply(count: int) -> int:
        return int(count)

    @classmethod
    def read_reply(cls, value) -> int:
        return _whole(cls.keyword, "the number of connections", value)


@dataclass
class GetInfo(Request):
    """Who the agent is, its version and wall clock, what it holds now."""
    keyword: ClassVar[str] = "get_agent_info"
    in_session: ClassVar[bool] = False
    NAME: ClassVar[str] = "agent info"
    FIELDS: ClassVar[tuple] = ("name", "version", "host", "pid", "cpus", "python", "time",
                               "connections", "sessions")

    @classmethod
    def reply(cls, **info) -> str:
        _check_fields(cls.NAME, info, cls.FIELDS)
        return dump(cls.NAME, info)

    @classmethod
    def read_reply(cls, value) -> dict:
        """The agent's info; OtherVersion first when its version is not ours (whatever its
        format: an older agent's reply may have none)."""
        try:
            data = json.loads(value) if isinstance(value, str) else None
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("version") != __version__:
            version, name = data.get("version"), data.get("name")
            raise OtherVersion(version if isinstance(version, str) else None,
                               name if isinstance(name, str) else None)
        info = load(cls.NAME, value, cls.FIELDS)
        _text(cls.NAME, "name", info["name"], empty=True)
        for key in ("connections", "sessions"):
            _whole(cls.NAME, key, info[key])
        _seconds(cls.NAME, "time", info["time"])
        return info


@dataclass
class GetClock(Request):
    """The agent's wall clock, for the controller's offset estimate."""
    keyword: ClassVar[str] = "get_agent_clock"
    in_session: ClassVar[bool] = False

    @staticmethod
    def reply(now: float) -> str:
        return repr(float(now))   # a double: XML-RPC's would do, text keeps every digit

    @classmethod
    def read_reply(cls, value) -> float:
        return _seconds(cls.keyword, "the agent's clock", value)


@dataclass
class OpenSession(Request):
    """A new session for one controller: its own connections and steps on the agent."""
    controller: str = ""
    keyword: ClassVar[str] = "open_agent_session"
    in_session: ClassVar[bool] = False

    def args(self) -> tuple:
        return (self.controller,)

    @classmethod
    def read(cls, controller="") -> "OpenSession":
        return cls(str(controller))

    @staticmethod
    def reply(session_id: str) -> str:
        return session_id

    @classmethod
    def read_reply(cls, value) -> str:
        return _text(cls.keyword, "the session id", value)


@dataclass
class CloseSession(_CountReply, Request):
    """Ends the session: its steps cancelled, its connections closed."""
    keyword: ClassVar[str] = "close_agent_session"


@dataclass
class OpenConnections(_CountReply, Request):
    """Open `count` connections for the session, replacing any it had. The bearer token is
    either in the message (`options.token`) or in the agent's environment variable
    `token_env`, which the agent reads (the token then never travels)."""
    options: ConnectionOptions
    count: int
    token_env: str | None = None
    keyword: ClassVar[str] = "open_agent_connections"
    NAME: ClassVar[str] = "open connections"

    def args(self) -> tuple:
        data = {f.name: getattr(self.options, f.name)
                for f in dataclasses.fields(self.options)}
        opening = data.pop("opening")
        if opening is not None:
            data["opening"] = {"messages": opening.messages, "timeout_s": opening.timeout_s,
                               "reply_pattern": None if opening.reply_pattern is None
                               else opening.reply_pattern.text}
        protocol = data.pop("protocol")
        data["protocol"] = protocol.to_dict() if protocol is not None else None
        token = data.pop("token")
        if token is not None and not self.token_env:
            data["token"] = token.reveal() if hasattr(token, "reveal") else str(token)
        return (dump(self.NAME, {"options": data, "count": self.count,
                                 "token_env": self.token_env or None}),)

    @classmethod
    def read(cls, text) -> "OpenConnections":
        body = load(cls.NAME, text, ("options", "count", "token_env"))
        data = dict(_object(cls.NAME, "options", body["options"]))
        if data.get("opening") is not None:
            opening = _object(cls.NAME, "options.opening", data["opening"])
            data["opening"] = _built(cls.NAME, "options.opening", OpeningMessages, opening)
        if data.get("protocol") is not None:
            protocol = _object(cls.NAME, "options.protocol", data["protocol"])
            data["protocol"] = _built(cls.NAME, "options.protocol", protocol_from_dict,
                                      protocol)
        options = _built(cls.NAME, "options", ConnectionOptions, data)
        token_env = body["token_env"]
        if token_env is not None:
            _text(cls.NAME, "token_env", token_env)
        return cls(options, _whole(cls.NAME, "count", body["count"], least=1), token_env)


@dataclass
class CloseConnections(_CountReply, Request):
    """Closes the session's connections (cancelling a running step)."""
    keyword: ClassVar[str] = "close_agent_connections"


@dataclass
class StartStep(Request):
    """Start `plan` on the session's connections at `start_at` (epoch seconds on the agent's
    clock), bounded by `timeout_s`; the agent answers at once with the step's id."""
    plan: LoadPlan
    template: MessageTemplate
    start_at: float
    timeout_s: float
    keyword: ClassVar[str] = "start_agent_step"
    NAME: ClassVar[str] = "start step"
    TEMPLATE_FIELDS: ClassVar[tuple] = ("template", "payload_size", "id_field", "id_pattern",
                                        "binary", "push_pattern")

    def args(self) -> tuple:
        template = self.template
        return (dump(self.NAME, {
            "plan": plan_to_dict(self.plan),
            "template": {"template": template.text, "payload_size": template.payload_size,
                         "id_field": template.id_field, "id_pattern": template.id_pattern,
                         "binary": template.binary,
                         "push_pattern": None if template.push is None else template.push.text},
            "start_at": self.start_at, "timeout_s": self.timeout_s}),)

    @classmethod
    def read(cls, text) -> "StartStep":
        body = load(cls.NAME, text, ("plan", "template", "start_at", "timeout_s"))
        template = _object(cls.NAME, "template", body["template"])
        _check_fields(f"{cls.NAME}: template", template, cls.TEMPLATE_FIELDS)
        plan = _built(cls.NAME, "plan", lambda **data: plan_from_dict(data),
                      _object(cls.NAME, "plan", body["plan"]))
        return cls(plan, _built(cls.NAME, "template", MessageTemplate, template),
                   _seconds(cls.NAME, "start_at", body["start_at"]),
                   _seconds(cls.NAME, "timeout_s", body["timeout_s"]))

    @staticmethod
    def reply(step_id: int) -> int:
        return int(step_id)

    @classmethod
    def read_reply(cls, value) -> int:
        return _whole(cls.keyword, "the step id", value, least=1)


@dataclass
class GetStep(Request):
    """The state of a step, its progress, its live figures for the controller's metrics
    endpoint, and once done its result (LoadResult.to_dict, encoded histograms)."""
    step_id: int
    keyword: ClassVar[str] = "get_agent_step"
    NAME: ClassVar[str] = "step status"
    FIELDS: ClassVar[tuple] = ("id", "state", "name")
    OPTIONAL: ClassVar[tuple] = ("progress", "live", "result", "error")

    def args(self) -> tuple:
        return (self.step_id,)

    @classmethod
    def read(cls, step_id) -> "GetStep":
        return cls(_whole(cls.keyword, "the step id", step_id, least=1))

    @classmethod
    def reply(cls, step_id: int, state: str, name: str, **optional) -> str:
        status = {"id": step_id, "state": state, "name": name,
                  **{key: value for key, value in optional.items() if value is not None}}
        _check_fields(cls.NAME, status, cls.FIELDS, cls.OPTIONAL)
        return dump(cls.NAME, status)

    @classmethod
    def read_reply(cls, value) -> dict:
        status = load(cls.NAME, value, cls.FIELDS, cls.OPTIONAL)
        state = status["state"]
        if state not in STEP_STATES:
            raise MessageError(f"{cls.NAME!r}: state {state!r} is none of "
                               f"{', '.join(STEP_STATES)}")
        if state == "done":
            _object(cls.NAME, "result", status.get("result"))
        for key in ("progress", "live"):
            if key in status:
                _object(cls.NAME, key, status[key])
        return status


@dataclass
class CancelStep(Request):
    """Cancels a step that is waiting or running; the reply is its state after."""
    step_id: int
    keyword: ClassVar[str] = "cancel_agent_step"

    def args(self) -> tuple:
        return (self.step_id,)

    @classmethod
    def read(cls, step_id) -> "CancelStep":
        return cls(_whole(cls.keyword, "the step id", step_id, least=1))

    @staticmethod
    def reply(state: str) -> str:
        return state

    @classmethod
    def read_reply(cls, value) -> str:
        if value not in STEP_STATES:
            raise MessageError(f"{cls.keyword!r}: state {value!r} is none of "
                               f"{', '.join(STEP_STATES)}")
        return value


REQUESTS = (GetInfo, GetClock, OpenSession, CloseSession, OpenConnections, CloseConnections,
            StartStep, GetStep, CancelStep)
