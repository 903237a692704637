"""What the live metrics read from the library's state besides the step's counters: the open
connections of each pool and agent, and the state of the running step so far and of the last
step (its load applied, its share of messages sent late), so that a dashboard has something
to show from the first second of the first step."""
from __future__ import annotations

from ..engine import applied_so_far

LOCAL = "local"   # the `agent` label of steps run by this process
SENT, SEND_ERRORS, LATE = "messages_sent_total", "send_errors_total", "late_messages_total"


def step_state(running: list[tuple[dict, float | None]], state) -> dict:
    """{"running": ..., "last": ...}, each {"load_applied": 0/1, "late_share": 0..1}:
    `running` the running step's figures (FIGURES by name) on each generator with the
    plan's rate where known, added up; the last from the library's last result."""
    found = {}
    if running:
        sent = sum(figures.get(SENT, 0.0) for figures, _ in running)
        errors = sum(figures.get(SEND_ERRORS, 0.0) for figures, _ in running)
        late = sum(figures.get(LATE, 0.0) for figures, _ in running)
        rate = sum(rate for _, rate in running if rate) or None
        found["running"] = {"load_applied": int(applied_so_far(int(sent), int(errors),
                                                               int(late), rate)),
                            "late_share": late / (sent + errors) if sent + errors else 0.0}
    result = getattr(state, "last_result", None)
    if result is not None:
        steps = getattr(result, "steps", None) or [result]
        late = sum(getattr(step, "late_messages", 0) for step in steps)
        attempted = sum(getattr(step, "attempted", 0) for step in steps)
        found["last"] = {"load_applied": int(bool(result.load_applied)),
                         "late_share": late / attempted if attempted else 0.0}
    return found


def open_connections(state) -> list[tuple[str, str, int]]:
    """(agent, pool, open connections): this process's pools (a client group's alias, else
    its place in the engine's list) and each load agent's connections."""
    if state is None:
        return []
    rows = []
    engine = getattr(state, "_engine", None)
    if engine is not None:
        aliases = {id(group.pool): group.alias for group in getattr(state, "clients", ())}
        for number, pool in enumerate(list(engine.pools), 1):
            rows.append((LOCAL, aliases.get(id(pool)) or str(number),
                         len(pool.open_connections)))
    fleet = getattr(state, "agents", None)
    if fleet is not None:
        step = getattr(state, "agent_step", None)
        live = step.live(refresh=False) if step is not None and not step.finished else {}
        for agent in fleet.agents:
            count = (live.get(agent.name) or {}).get("open_connections")
            rows.append((agent.name, "agents", int(count if count is not None
                                                   else fleet.connections.get(agent.name, 0))))
    return rows
