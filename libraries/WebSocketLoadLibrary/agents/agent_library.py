"""What a load agent serves as a Robot Framework remote library: its share of the load.

The controller (the `Connect Load Agents` keywords) calls these; a person rarely does. Each
call is quick: a step starts in the background (at an agreed moment on this agent's clock)
and the controller polls `get_agent_step` until the result is there, so a slow or dead agent
never holds a request open and every wait on the controller has a timeout.

Each controller works in its own session (its own connections and steps), so controllers
that share agents -- pabot processes of one run, say -- never touch each other's
connections; their steps share the machine like any two processes. A session that nobody
has touched for SESSION_IDLE_S, with no step running, is closed (its controller is gone).

What each keyword takes and answers is messages.py's: each reads its request there and
builds its reply there (the controller's side reads and builds them there too).
"""
from __future__ import annotations

import dataclasses
import itertools
import os
import platform
import secrets
import socket
import threading
import time

from ..version import __version__
from ..engine import ConnectionOptions, EngineError, LoadEngine, LoadPlan, MessageTemplate
from ..engine import release_freed_memory
from ..reports.metrics import step_snapshot
from .messages import CancelStep, CloseConnections, CloseSession, GetClock, GetInfo, GetStep, \
    OpenConnections, OpenSession, StartStep

MAX_START_DELAY_S = 60.0
KEPT_STEPS = 8
SESSION_IDLE_S = 600.0


class _AgentStep:
    def __init__(self, step_id: int, plan: LoadPlan, start_at: float):
        self.id, self.plan, self.start_at = step_id, plan, start_at
        self.state = "waiting"          # waiting -> running -> done | failed | cancelled
        self.running = None
        self.result: dict | None = None
        self.error: str | None = None
        self.cancelled = threading.Event()

    @property
    def active(self) -> bool:
        return self.state in ("waiting", "running")

    def status(self, open_connections: int | None = None) -> str:
        """The GetStep reply: progress while running, live figures once started (the final
        ones when over), the result when done."""
        running = self.running
        return GetStep.reply(
            self.id, self.state, self.plan.name,
            progress=running.progress() if running is not None and self.state == "running"
            else None,
            live=step_snapshot(running.step, open_connections) if running is not None else None,
            result=self.result, error=self.error)


class _Session:
    def __init__(self, controller: str):
        self.id = secrets.token_hex(8)
        self.controller = controller
        self.pool = None
        self.steps: dict[int, _AgentStep] = {}
        self.touched = time.monotonic()

    @property
    def open_count(self) -> int:
        return len(self.pool.open_connections) if self.pool is not None else 0

    def busy(self) -> _AgentStep | None:
        return next((s for s in self.steps.values() if s.active), None)


class LoadAgentLibrary:
    """Serves one agent's share of distributed load steps (see the README's "Load agents")."""

    def __init__(self, name: str | None = None, loop: str = "uvloop"):
        self._name = name or socket.gethostname()
        self._engine = LoadEngine(loop)
        self._sessions: dict[str, _Session] = {}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    # -- keywords ----------------------------------------------------------------------
    def get_agent_info(self) -> str:
        """Who this agent is, and its wall clock (for the controller's offset estimate)."""
        with self._lock:
            connections = sum(s.open_count for s in self._sessions.values())
            sessions = len(self._sessions)
        return GetInfo.reply(
            name=self._name, version=__version__, host=socket.gethostname(), pid=os.getpid(),
            cpus=os.cpu_count(), python=platform.python_version(), time=time.time(),
            connections=connections, sessions=sessions)

    def get_agent_clock(self) -> str:
        """This agent's wall clock, as a decimal string of epoch seconds."""
        return GetClock.reply(time.time())

    def open_agent_session(self, controller: str = "") -> str:
        """A new session for one controller; returns its id."""
        request = OpenSession.read(controller)
        with self._lock:
            self._expire_idle()
            session = _Session(request.controller)
            self._sessions[session.id] = session
            return OpenSession.reply(session.id)

    def close_agent_session(self, session_id: str) -> int:
        """Cancels the session's steps, closes its connections; returns how many were open."""
        with self._lock:
            session = self._sessions.pop(str(session_id), None)
            return CloseSession.reply(self._close(session) if session is not None else 0)

    def open_agent_connections(self, session_id: str, request_json: str) -> int:
        """Opens connections for the session as messages.OpenConnections says (closing any
        it had open); returns how many are open. Its ``token_env`` names an environment
        variable of this agent that holds the bearer token."""
        session = self._session(session_id)
        request = OpenConnections.read(request_json)
        with self._lock:
            self._refuse_while_running(session, "open connections")
            options = _with_token_from_env(request.options, request.token_env)
            self._close_pool(session)
            session.pool = self._engine.connect(options, count=request.count)
            return OpenConnections.reply(session.open_count)

    def close_agent_connections(self, session_id: str) -> int:
        """Closes the session's connections (cancelling a running step); returns how many
        were open."""
        session = self._session(session_id)
        with self._lock:
            return CloseConnections.reply(self._close(session))

    def start_agent_step(self, session_id: str, request_json: str) -> int:
        """Starts a load step (messages.StartStep) on the session's connections at its
        ``start_at`` (epoch seconds on this agent's clock; now if that has passed) and
        returns its id at once."""
        session = self._session(session_id)
        request = StartStep.read(request_json)
        with self._lock:
            if session.pool is None:
                raise EngineError(f"agent {self._name} has no connections for this "
                                  f"controller: open them first")
            self._refuse_while_running(session, "start another step")
            plan, template, start_at = request.plan, request.template, request.start_at
            delay = start_at - time.time()
            if delay > MAX_START_DELAY_S:
                raise EngineError(f"start time is {delay:.1f} s away on agent {self._name}'s "
                                  f"clock, more than {MAX_START_DELAY_S:g} s")
            step = _AgentStep(next(self._ids), plan, start_at)
            session.steps[step.id] = step
            for old in sorted(session.steps)[:-KEPT_STEPS]:
                del session.steps[old]
            threading.Thread(target=self._run, args=(session, step, template, request.timeout_s),
                             name=f"agent-step-{step.id}", daemon=True).start()
            return StartStep.reply(step.id)

    def get_agent_step(self, session_id: str, step_id: int) -> str:
        """The state of a step (waiting, running, done, failed, cancelled), its progress,
        its live figures for the controller's metrics endpoint, and once done its result
        with encoded histograms, as JSON."""
        session = self._session(session_id)
        step = self._step(session_id, GetStep.read(step_id).step_id)
        with self._lock:
            return step.status(session.open_count)

    def cancel_agent_step(self, session_id: str, step_id: int) -> str:
        """Cancels a step that is waiting or running; returns its state."""
        step = self._step(session_id, CancelStep.read(step_id).step_id)
        with self._lock:
            self._cancel(step)
            return CancelStep.reply(step.state)

    # -- plumbing ----------------------------------------------------------------------
    def _session(self, session_id: str) -> _Session:
        with self._lock:
            session = self._sessions.get(str(session_id))
            if session is None:
                raise EngineError(f"agent {self._name} has no session {session_id}: it was "
                                  f"closed, expired after {SESSION_IDLE_S:g} s idle, or the "
                                  f"agent restarted; use Connect Load Agents again")
            session.touched = time.monotonic()
            return session

    def _step(self, session_id: str, step_id: int) -> _AgentStep:
        session = self._session(session_id)
        step = session.steps.get(int(step_id))
        if step is None:
            raise EngineError(f"agent {self._name} has no step {step_id}")
        return step

    def _run(self, session: _Session, step: _AgentStep, template: MessageTemplate,
             timeout_s: float) -> None:
        if step.cancelled.wait(max(0.0, step.start_at - time.time())):
            return
        try:
            with self._lock:
                if step.cancelled.is_set():
                    return
                step.running = self._engine.start_step(session.pool, step.plan, template,
                                                       timeout_s=timeout_s)
                step.state = "running"
            result = step.running.wait()
            step.result = result.to_dict()
            step.state = "done"
        except BaseException as error:  # noqa: BLE001 - reported to the controller
            if not step.cancelled.is_set():
                step.error = f"{type(error).__name__}: {error}"
                step.state = "failed"
        finally:
            session.touched = time.monotonic()
            release_freed_memory()

    def _cancel(self, step: _AgentStep) -> None:
        if step.active:
            step.cancelled.set()
            if step.running is not None:
                step.running.cancel()
            step.state = "cancelled"

    def _refuse_while_running(self, session: _Session, what: str) -> None:
        busy = session.busy()
        if busy is not None:
            raise EngineError(f"agent {self._name} cannot {what}: step {busy.id} "
                              f"({busy.plan.name}) is {busy.state}")

    def _close_pool(self, session: _Session) -> None:
        if session.pool is not None:
            pool, session.pool = session.pool, None
            self._engine.disconnect(pool)

    def _close(self, session: _Session) -> int:
        for step in session.steps.values():
            self._cancel(step)
        count = session.open_count
        self._close_pool(session)
        return count

    def _expire_idle(self) -> None:
        now = time.monotonic()
        for session in list(self._sessions.values()):
            if now - session.touched > SESSION_IDLE_S and session.busy() is None:
                del self._sessions[session.id]
                self._close(session)

    def _shutdown(self) -> None:
        with self._lock:
            for session in self._sessions.values():
                for step in session.steps.values():
                    self._cancel(step)
        self._engine.close()


def _with_token_from_env(options: ConnectionOptions, token_env: str | None) -> ConnectionOptions:
    if not token_env:
        return options
    token = os.environ.get(token_env)
    if not token:
        raise EngineError(f"environment variable {token_env} (the bearer token) is not "
                          f"set on this agent")
    return dataclasses.replace(options, token=token)
