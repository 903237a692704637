"""Production figures (the seed's full HIGH_VOLUME_CONFIG): rates up to 10,000 msg/s, 500
connections, p50 50 ms / p95 200 ms / p99 500 ms, delivery 0.999, memory growth 200 MB.
Select with `--variablefile variables/production.py`, or ENVIRONMENT=production."""
import os as _os

import runpy as _runpy
from pathlib import Path as _Path

# names as in dev; the figures are set below
globals().update({_k: _v for _k, _v in _runpy.run_path(str(_Path(__file__).with_name("dev.py"))).items()
                  if _k.isupper()})

ENVIRONMENT = "production"
QUICK_MODE = _os.environ.get("QUICK_MODE", "false").lower() == "true"

MAX_MESSAGE_RATE = 10000
SUSTAINED_THROUGHPUT_TARGET = 5000
PEAK_THROUGHPUT_TARGET = 10000

LATENCY_P50 = "50 ms"
LATENCY_P95 = "200 ms"
LATENCY_P99 = "500 ms"
LATENCY_P999 = "1 s"

CONNECTIONS = 50
MAX_CONCURRENT_CONNECTIONS = 500
CONNECTION_SCALING_STEPS = [1, 10, 50, 100, 250, 500]
RATE_PER_CONNECTION = 20
MESSAGE_RATE_SCALING_STEPS = [100, 500, 1000, 2500, 5000, 7500, 10000]
TEST_DURATION_PER_STEP = "30 s"
MAX_MESSAGES_PER_STEP = 300000
MIN_SCALING_EFFICIENCY = 0.95

BURST_MESSAGES = 600000
SUSTAINED_LOAD_TIME = "300 s"
STRESS_TEST_DURATION = "300 s"
MEMORY_TEST_DURATION = "300 s"

MAX_MEMORY_GROWTH = "200 MB"
MIN_DELIVERY_RATIO = 0.999

STREAM_CONNECTIONS = 100
STREAM_RATE_PER_CONNECTION = 1000
STREAM_DURATION = "60 s"
STALENESS_P99 = "50 ms"
FANOUT_SUBSCRIBERS = 1000
FANOUT_RATE = 100
FANOUT_DURATION = "60 s"
FANOUT_LATENCY_P99 = "100 ms"

STORM_CONNECTIONS = 10000
STORM_RATE = 2000
CONNECT_LATENCY_P95 = "100 ms"
CHURN_CONNECTIONS = 500
CHURN_RATE = 1000
CHURN_DURATION = "60 s"
CHURN_LIFETIME = "5 s"
CHURN_MAX_LIFETIME = "15 s"
RESTART_AFTER = "20 s"
RESTART_DOWN_FOR = "1 s"
RESTART_DELIVERY_RATIO = 0.95

# Capacity search (suites/17_capacity.robot): the mock server serves CAPACITY_KNOWN msg/s
# (max_message_rate) and the search finds it within 10%: probes of CAPACITY_PROBE_DURATION
# after CAPACITY_WARM_UP, CAPACITY_PAUSE apart, judged by p95 < CAPACITY_P95, within
# CAPACITY_TIME_BUDGET; the generator's own limit is searched for from CAPACITY_GENERATOR_LOW
CAPACITY_KNOWN = 5000
CAPACITY_P95 = "100 ms"
CAPACITY_PROBE_DURATION = "5 s"
CAPACITY_WARM_UP = "2 s"
CAPACITY_PAUSE = "2 s"
CAPACITY_TIME_BUDGET = "3 min"
CAPACITY_GENERATOR_LOW = 32000
