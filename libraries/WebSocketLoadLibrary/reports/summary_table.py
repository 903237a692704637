"""HTML summary tables of results, for log.html: the keywords log them with `html=True`
(base/step_report.py). Plain Python, like the rest of reports/."""
from __future__ import annotations

from html import escape

from ..engine import RATE_UNIT, CapacityResult, LoadResult, ScalingResult
from ..engine import pattern_of
from ..engine import format_latency_ms
from .formatting import format_bytes

_STYLE = ("border-collapse:collapse;font-family:monospace;font-size:12px;margin:4px 0")
_CELL = "border:1px solid #ccc;padding:2px 8px;text-align:right"
_HEAD = "border:1px solid #ccc;padding:2px 8px;background:#eee;text-align:left"


def _rate(value) -> str:
    return "max" if value is None else f"{value:,.1f}"


def _ms(value) -> str:
    return format_latency_ms(value)


def _resource(result: LoadResult, side: str, key: str) -> str:
    part = result.resources.get(side, {})
    if key not in part:
        return "-"
    value = part[key]
    return format_bytes(value) if key.endswith("bytes") else f"{value:.0f}%"


def _resources(result: LoadResult, side: str) -> str:
    return " / ".join(_resource(result, side, key)
                      for key in ("cpu_percent_mean", "rss_peak_bytes", "rss_growth_bytes"))


def result_rows(result: LoadResult) -> list[tuple[str, str]]:
    latency = {float(p): result.latency_ms(p) for p in (50, 90, 95, 99, 99.9)}
    service = result.service_time.percentiles_us((50, 99))
    applied = "yes" if result.load_applied else "NO: " + "; ".join(result.not_applied_reasons)
    return [
        ("step", result.name or "-"),
        ("load applied", applied),
        ("target rate (msg/s)", _rate(result.target_rate)),
        ("achieved send rate (msg/s)", _rate(result.achieved_send_rate)),
        ("achieved receive rate (msg/s)", _rate(result.achieved_receive_rate)),
        ("connections", f"{result.connections:,}"),
        ("planned / sent / received", f"{result.planned_messages:,} / {result.sent:,} / "
                                      f"{result.received:,}"),
        ("lost / unmatched / invalid / send errors",
         f"{result.lost:,} / {result.unmatched:,} / {result.invalid_replies:,} / "
         f"{result.send_errors:,}"),
        ("delivery ratio", f"{result.delivery_ratio:.6f}"),
        ("latency p50 / p90 / p95 (ms)", " / ".join(_ms(latency[p]) for p in (50, 90, 95))),
        ("latency p99 / p99.9 / max (ms)", f"{_ms(latency[99.0])} / {_ms(latency[99.9])} / "
                                           f"{_ms(result.latency.max_us() / 1000)}"),
        ("latency measured from", result.latency_basis),
        ("service time p50 / p99 (ms)", f"{_ms(service[50.0] / 1000)} / {_ms(service[99.0] / 1000)}"),
        ("generator lag p99 / max / final (ms)", f"{_ms(result.lag.percentile_us(99) / 1000)} / "
                                                 f"{_ms(result.max_lag_s * 1000)} / "
                                                 f"{_ms(result.final_lag_s * 1000)}"),
        ("sent late / longest stretch behind", _late(result)),
        ("duration (s)", f"{result.duration_s:.2f}"),
        ("generator CPU / RSS peak / growth", _resources(result, "generator")),
        ("server CPU / RSS peak / growth", _resources(result, "server")),
    ] + [row for part in result.sections.values() for row in part.rows()] + [
        (f"errors: {error}", f"{count:,}") for error, count in result.errors.items()]


def _late(result: LoadResult) -> str:
    pattern = pattern_of(result.mode)
    if not pattern.paced:
        return f"- ({pattern.title}: no schedule)"
    share = result.late_messages / result.attempted if result.attempted else 0.0
    return (f"{result.late_messages:,} ({share:.1%}) more than "
            f"{result.late_bound_s * 1000:.0f} ms late / {result.longest_late_s:.2f} s")


def result_table(result: LoadResult) -> str:
    rows = "".join(f'<tr><th style="{_HEAD}">{escape(k)}</th><td style="{_CELL}">{escape(v)}</td></tr>'
                   for k, v in result_rows(result))
    return f'<table style="{_STYLE}">{rows}</table>'


SCALING_COLUMNS = ("step", "connections", "target msg/s", "achieved send msg/s",
                   "received msg/s", "efficiency", "sent", "lost", "p50 ms", "p95 ms",
                   "p99 ms", "max lag ms", "applied")


def column_table(columns, rows, caption: str) -> str:
    """A captioned table with a header row; cells and caption are escaped here."""
    head = "".join(f'<th style="{_HEAD}">{escape(c)}</th>' for c in columns)
    body = "".join("<tr>" + "".join(f'<td style="{_CELL}">{escape(str(c))}</td>' for c in row)
                   + "</tr>" for row in rows)
    return (f'<table style="{_STYLE}"><caption style="text-align:left">{escape(caption)}'
            f'</caption><tr>{head}</tr>{body}</table>')


def scaling_table(scaling: ScalingResult) -> str:
    body = []
    for step, efficiency in zip(scaling.steps, scaling.efficiencies):
        p = {float(q): step.latency_ms(q) for q in (50, 95, 99)}
        cells = (step.name, f"{step.connections:,}", _rate(step.target_rate),
                 _rate(step.achieved_send_rate), _rate(step.achieved_receive_rate),
                 f"{efficiency:.3f}", f"{step.sent:,}", f"{step.lost:,}", _ms(p[50.0]),
                 _ms(p[95.0]), _ms(p[99.0]), _ms(step.max_lag_s * 1000),
                 "yes" if step.load_applied else "NO")
        body.append(cells)
    return column_table(SCALING_COLUMNS, body,
                        f"{scaling.kind} scaling {scaling.name}: efficiency "
                        f"{scaling.efficiency:.3f} (worst step), peak "
                        f"{scaling.peak_throughput:,.1f} msg/s")


AGENT_COLUMNS = ("agent", "address", "connections", "target msg/s", "achieved send msg/s",
                 "received msg/s", "sent", "received", "lost", "p50 ms", "p95 ms", "p99 ms",
                 "max lag ms", "clock offset ms", "start skew ms", "applied")


def agents_table(result: LoadResult) -> str:
    """One row per load agent of a step run on agents, under the merged result's table."""
    body = []
    for agent, part in zip(result.agents, result.agent_results()):
        p = {float(q): part.latency_ms(q) for q in (50, 95, 99)}
        cells = (agent["name"], agent["uri"], f"{part.connections:,}", _rate(part.target_rate),
                 _rate(part.achieved_send_rate), _rate(part.achieved_receive_rate),
                 f"{part.sent:,}", f"{part.received:,}", f"{part.lost:,}", _ms(p[50.0]),
                 _ms(p[95.0]), _ms(p[99.0]), _ms(part.max_lag_s * 1000),
                 f"{agent['clock_offset_ms']:+,.3f} ± {agent['clock_uncertainty_ms']:,.3f}",
                 f"{agent['start_skew_ms']:+,.3f}",
                 "yes" if part.load_applied else "NO: " + "; ".join(part.not_applied_reasons))
        body.append(cells)
    return column_table(AGENT_COLUMNS, body,
                        f"{result.name} on {len(result.agents)} load agent(s); merged above: "
                        f"counters summed, percentiles from the merged histograms. Latency is "
                        f"measured on each agent's own clock; clock offsets only place the "
                        f"agents' timelines")


PROBE_COLUMNS = ("#", "target msg/s", "achieved send msg/s", "received msg/s", "sent", "lost",
                 "delivery", "p50 ms", "p95 ms", "p99 ms", "verdict")


def capacity_table(found: CapacityResult) -> str:
    """One row per probe in the order run, the verdict of each; the outcome as caption."""
    rows = []
    for number, step in enumerate(found.steps, 1):
        probe = found.probe(step)
        verdict = probe.outcome + (": " + "; ".join(probe.reasons) if probe.reasons else "")
        first = ((f"{probe.rate:,.0f}",) if found.unit == RATE_UNIT else
                 (f"{probe.rate:,.0f}", f"{step.target_rate or 0:,.1f}"))
        rows.append((number, *first, f"{step.achieved_send_rate:,.1f}",
                     f"{step.achieved_receive_rate:,.1f}", f"{step.sent:,}", f"{step.lost:,}",
                     f"{step.delivery_ratio:.4%}",
                     *(format_latency_ms(step.latency_ms(p)) for p in (50, 95, 99)), verdict))
    targets = found.targets.describe() if found.targets else "-"
    columns = (PROBE_COLUMNS if found.unit == RATE_UNIT else
               ("#", found.unit, "target msg/s") + PROBE_COLUMNS[2:])
    return column_table(columns, rows,
                        f"{found.name}: targets {targets}; stopped on {found.stop_reason}; "
                        f"{found.message}; probes {found.probes_s:.1f} s + pauses "
                        f"{found.pauses_s:.1f} s = {found.total_s:.1f} s")
