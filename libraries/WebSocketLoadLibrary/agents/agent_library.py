"""What a load agent serves as a Robot Framework remote library: its share of the load.

The controller (the `Connect Load Agents` keywords) calls these; a person rarely does. Each
call is quick: a step starts in the background (at an agreed moment on this agent's clock)
and the controller polls `Get Agent Step` until the result is there, so a slow or dead agent
never holds a request open and every wait on the controller has a timeout.

Arguments and results travel as JSON text: XML-RPC has no None and no integers past 2**31,
and a result carries byte counts and encoded histograms.
"""
from __future__ import annotations

import itertools
import json
import os
import platform
import socket
import threading
import time

from .. import __version__
from ..engine import ConnectionOptions, EngineError, LoadEngine, LoadPlan, MessageTemplate
from ..engine.memory import release_freed_memory

MAX_START_DELAY_S = 60.0
KEPT_STEPS = 8


class _AgentStep:
    def __init__(self, step_id: int, plan: LoadPlan, start_at: float):
        self.id, self.plan, self.start_at = step_id, plan, start_at
        self.state = "waiting"          # waiting -> running -> done | failed | cancelled
        self.running = None
        self.result: dict | None = None
        self.error: str | None = None
        self.cancelled = threading.Event()

    def status(self) -> dict:
        status = {"id": self.id, "state": self.state, "name": self.plan.name}
        if self.running is not None and self.state == "running":
            status["progress"] = self.running.progress()
        if self.result is not None:
            status["result"] = self.result
        if self.error is not None:
            status["error"] = self.error
        return status


class LoadAgentLibrary:
    """Serves one agent's share of distributed load steps (see the README's "Load agents")."""

    def __init__(self, name: str | None = None, loop: str = "uvloop"):
        self._name = name or socket.gethostname()
        self._engine = LoadEngine(loop)
        self._pool = None
        self._options: ConnectionOptions | None = None
        self._steps: dict[int, _AgentStep] = {}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    # -- keywords ----------------------------------------------------------------------
    def get_agent_info(self) -> str:
        """Who this agent is, and its wall clock (for the controller's offset estimate)."""
        return json.dumps({
            "name": self._name, "version": __version__, "host": socket.gethostname(),
            "pid": os.getpid(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "time": time.time(), "connections": self._open_count(),
        })

    def get_agent_clock(self) -> str:
        """This agent's wall clock, as a decimal string of epoch seconds."""
        return repr(time.time())

    def open_agent_connections(self, options_json: str, count: int) -> int:
        """Opens ``count`` connections (closing any this agent had open); returns how many
        are open. ``options_json`` holds ConnectionOptions fields; ``token_env`` names an
        environment variable of the agent that holds the bearer token."""
        with self._lock:
            self._refuse_while_running("open connections")
            options = _options(json.loads(options_json))
            self._close_pool()
            self._pool = self._engine.connect(options, count=int(count))
            self._options = options
            return self._open_count()

    def close_agent_connections(self) -> int:
        """Closes this agent's connections (cancelling a running step); returns how many
        were open."""
        with self._lock:
            for step in self._steps.values():
                self._cancel(step)
            count = self._open_count()
            self._close_pool()
            return count

    def start_agent_step(self, plan_json: str, template_json: str, start_at: float,
                         timeout_s: float) -> int:
        """Starts a load step on this agent's connections at ``start_at`` (epoch seconds on
        this agent's clock; now if that has passed) and returns its id at once."""
        with self._lock:
            if self._pool is None:
                raise EngineError(f"agent {self._name} has no connections: open them first")
            self._refuse_while_running("start another step")
            plan = LoadPlan(**json.loads(plan_json))
            template = MessageTemplate(**json.loads(template_json))
            delay = float(start_at) - time.time()
            if delay > MAX_START_DELAY_S:
                raise EngineError(f"start time is {delay:.1f} s away on agent {self._name}'s "
                                  f"clock, more than {MAX_START_DELAY_S:g} s")
            step = _AgentStep(next(self._ids), plan, float(start_at))
            self._steps[step.id] = step
            for old in sorted(self._steps)[:-KEPT_STEPS]:
                del self._steps[old]
            threading.Thread(target=self._run, args=(step, template, float(timeout_s)),
                             name=f"agent-step-{step.id}", daemon=True).start()
            return step.id

    def get_agent_step(self, step_id: int) -> str:
        """The state of a step (waiting, running, done, failed, cancelled), its progress,
        and once done its result with encoded histograms, as JSON."""
        with self._lock:
            step = self._steps.get(int(step_id))
            if step is None:
                raise EngineError(f"agent {self._name} has no step {step_id}")
            return json.dumps(step.status(), default=str)

    def cancel_agent_step(self, step_id: int) -> str:
        """Cancels a step that is waiting or running; returns its state."""
        with self._lock:
            step = self._steps.get(int(step_id))
            if step is None:
                raise EngineError(f"agent {self._name} has no step {step_id}")
            self._cancel(step)
            return step.state

    # -- plumbing ----------------------------------------------------------------------
    def _run(self, step: _AgentStep, template: MessageTemplate, timeout_s: float) -> None:
        if step.cancelled.wait(max(0.0, step.start_at - time.time())):
            return
        try:
            with self._lock:
                if step.cancelled.is_set():
                    return
                step.running = self._engine.start_step(self._pool, step.plan, template,
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
            release_freed_memory()

    def _cancel(self, step: _AgentStep) -> None:
        if step.state in ("waiting", "running"):
            step.cancelled.set()
            if step.running is not None:
                step.running.cancel()
            step.state = "cancelled"

    def _refuse_while_running(self, what: str) -> None:
        busy = [s for s in self._steps.values() if s.state in ("waiting", "running")]
        if busy:
            raise EngineError(f"agent {self._name} cannot {what}: step {busy[0].id} "
                              f"({busy[0].plan.name}) is {busy[0].state}")

    def _open_count(self) -> int:
        return len(self._pool.open_connections) if self._pool is not None else 0

    def _close_pool(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            self._engine.disconnect(pool)

    def _shutdown(self) -> None:
        with self._lock:
            for step in self._steps.values():
                self._cancel(step)
        self._engine.close()


def _options(data: dict) -> ConnectionOptions:
    token_env = data.pop("token_env", None)
    if token_env:
        token = os.environ.get(token_env)
        if not token:
            raise EngineError(f"environment variable {token_env} (the bearer token) is not "
                              f"set on this agent")
        data["token"] = token
    return ConnectionOptions(**data)
