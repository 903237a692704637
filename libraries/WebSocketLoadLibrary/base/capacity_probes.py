"""How the capacity keywords (keywords/capacity.py) run their probes. Each probe is an
ordinary paced step, run and reported as any load keyword's (step_report.py), except that
it is not remembered as the last result and lost connections do not fail it: the search
judges it. A runner takes (rate, duration_s, name) and returns the probe's result; a step
for the engine's ConnectionsProbe takes the pool of the probe's new connections first."""
from __future__ import annotations

from ..engine import SUBSCRIBERS, FanoutSpec, LoadPlan
from ..engine import release_freed_memory
from ..errors import UsageError
from .state import ClientGroup
from .step_report import PROGRESS_EVERY_S, ProgressPrinter, describe_plan, report_step, run_step


def probe_plan(state, rate: float, duration_s: float, name: str, reply_timeout_s: float,
               rate_tolerance: float, **more) -> LoadPlan:
    """One probe's step at `rate` for `duration_s`, with the pacing of `Set Pacing`."""
    return LoadPlan(rate=rate, duration_s=duration_s, reply_timeout_s=reply_timeout_s,
                    rate_tolerance=rate_tolerance, name=name, **more, **state.pacing)


def current_clients_runner(component, reply_timeout_s: float, rate_tolerance: float):
    """Probes on the current client group's connections."""
    state = component.state
    group = state.clients.current

    def run(rate: float, duration_s: float, name: str):
        plan = probe_plan(state, rate, duration_s, name, reply_timeout_s, rate_tolerance)
        return run_step(component, group, plan, None, remember=False, fail_on_disconnect=False)
    return run


def agents_runner(component, reply_timeout_s: float, rate_tolerance: float):
    """Probes on the load agents' connections, the rate split among them."""
    state = component.state
    fleet = state.agents
    if fleet is None:
        raise UsageError("on_agents=True needs load agents: use Connect Load Agents and "
                         "Connect Clients On Agents first")
    target = fleet.options.uri if fleet.options is not None else None

    def run(rate: float, duration_s: float, name: str):
        plan = probe_plan(state, rate, duration_s, name, reply_timeout_s, rate_tolerance)
        component.console(f"[INFO] {name}: {describe_plan(plan)} on the load agents")
        step = fleet.start_step(plan, state.template, None, None,
                                state.server_pid_for(target))
        printer = ProgressPrinter(component.console, name, plan.planned_messages)
        try:
            result = step.wait(on_progress=printer,
                               poll_interval_s=min(0.5, PROGRESS_EVERY_S / 4))
        except BaseException:
            step.cancel()
            raise
        finally:
            release_freed_memory()
        report_step(component, result, name, remember=False, fail_on_disconnect=False)
        return result
    return run


def connections_step(component, options, reply_timeout_s: float, rate_tolerance: float):
    """A probe of `Find Maximum Connections`: a step on the probe's new connections."""
    def step(pool, rate: float, duration_s: float, probe_name: str):
        plan = probe_plan(component.state, rate, duration_s, probe_name, reply_timeout_s,
                          rate_tolerance)
        group = ClientGroup(pool, options, len(pool.connections))
        return run_step(component, group, plan, None, remember=False, fail_on_disconnect=False)
    return step


def subscribers_step(component, writers: ClientGroup, options, delivery_timeout_s: float,
                     rate_tolerance: float):
    """A probe of `Find Maximum Subscribers`: the `writers` group publishes, the probe's new
    connections subscribe."""
    def step(pool, rate: float, duration_s: float, probe_name: str):
        plan = probe_plan(component.state, rate, duration_s, probe_name, delivery_timeout_s,
                          rate_tolerance, fanout=FanoutSpec())
        audience = ClientGroup(pool, options, len(pool.connections))
        return run_step(component, writers, plan, None, remember=False,
                        fail_on_disconnect=False, roles={SUBSCRIBERS: audience})
    return step
