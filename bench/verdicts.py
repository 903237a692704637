"""The not-applied rule on the cases it exists for: figures, not a pass/fail.

    .venv/bin/python bench/verdicts.py

Four steps against a real mock server on 127.0.0.1: a rate no generator reaches (10M msg/s),
the generator's own loop stalled 1.5 s of a 3 s step, the server not reading for 1 s (TCP
backpressure), and a healthy short step. Each line: the verdict, the achieved rate, the late
messages, the longest stretch behind, the final lag, whose doing, and the reasons. The tests
(tests/acceptance/test_measurement.py, tests/engine/results/test_verdict.py) assert the outcomes; this prints the
figures behind them on this machine.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "libraries"))

from WebSocketLoadLibrary.engine import (ConnectionOptions, LoadEngine, LoadPlan,  # noqa: E402
                                         MessageTemplate)
from WebSocketLoadLibrary.mockserver import MockServerProcess  # noqa: E402


def show(label: str, result) -> None:
    share = result.late_messages / max(1, result.sent)
    print(f"{label}: applied {result.load_applied}, achieved {result.achieved_send_rate:,.0f} "
          f"msg/s, late {result.late_messages:,} of {result.sent:,} ({share:.1%}), longest "
          f"stretch behind {result.longest_late_s:.2f} s, final lag "
          f"{result.final_lag_s * 1000:.0f} ms, generator saturated "
          f"{result.generator_saturated}")
    for reason in result.not_applied_reasons:
        print(f"    {reason}")


def main() -> int:
    server = MockServerProcess(compression=False, seed=1)
    server.start()
    engine = LoadEngine()
    try:
        pool = engine.connect(ConnectionOptions(server.uri), count=2)
        show("unreachable rate, 100,000 at 10M msg/s",
             engine.run_step(pool, LoadPlan(rate=10_000_000, messages=100_000,
                                            reply_timeout_s=120), server_pid=server.pid))
        engine.disconnect(pool)

        pool = engine.connect(ConnectionOptions(server.uri), count=4)
        running = engine.start_step(pool, LoadPlan(rate=1000, messages=3000),
                                    server_pid=server.pid)
        time.sleep(0.5)
        engine.loop.loop.call_soon_threadsafe(time.sleep, 1.5)
        show("generator stalled 1.5 s of a 3 s step at 1000/s", running.wait())
        engine.disconnect(pool)

        pool = engine.connect(ConnectionOptions(server.uri), count=1)
        running = engine.start_step(pool, LoadPlan(rate=5000, messages=10_000),
                                    template=MessageTemplate(payload_size=4000), timeout_s=60)
        time.sleep(0.5)
        server.set_faults(read_stall=1.0)
        show("server not reading for 1 s, 10,000 x 4 kB at 5000/s", running.wait())
        engine.disconnect(pool)

        pool = engine.connect(ConnectionOptions(server.uri), count=1)
        show("healthy, 50 at 50/s", engine.run_step(pool, LoadPlan(rate=50, messages=50),
                                                    server_pid=server.pid))
        engine.disconnect(pool)
    finally:
        engine.close()
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
