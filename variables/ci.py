"""CI figures (the seed's CI_TEST_CONFIG): conservative, the whole run within 5 minutes on
a 2-core machine. Select with `--variablefile variables/ci.py`, or CI=true."""
import os as _os

import runpy as _runpy
from pathlib import Path as _Path

# the dev figures, tightened below
globals().update({_k: _v for _k, _v in _runpy.run_path(str(_Path(__file__).with_name("dev.py"))).items()
                  if _k.isupper()})

ENVIRONMENT = "ci"
QUICK_MODE = _os.environ.get("QUICK_MODE", "false").lower() == "true"

MAX_MESSAGE_RATE = 500
SUSTAINED_THROUGHPUT_TARGET = 200
PEAK_THROUGHPUT_TARGET = 500

CONNECTIONS = 5
MAX_CONCURRENT_CONNECTIONS = 10
CONNECTION_SCALING_STEPS = [1, 2, 5, 10]
RATE_PER_CONNECTION = 20
MESSAGE_RATE_SCALING_STEPS = [100, 250, 500]
TEST_DURATION_PER_STEP = "2 s"
MAX_MESSAGES_PER_STEP = 1000
CONCURRENT_CLIENTS = 5
MESSAGES_PER_CLIENT = 20

BURST_MESSAGES = 2000
SUSTAINED_LOAD_TIME = "20 s"
STRESS_TEST_DURATION = "10 s"
MEMORY_TEST_DURATION = "10 s"

STREAM_CONNECTIONS = 5
STREAM_RATE_PER_CONNECTION = 100
STREAM_DURATION = "2 s"
FANOUT_SUBSCRIBERS = 10
FANOUT_RATE = 20
FANOUT_DURATION = "2 s"
PROTOCOL_RATE = 500
PROTOCOL_DURATION = "2 s"

CONNECT_LATENCY_P95 = "500 ms"
STORM_CONNECTIONS = 100
STORM_RATE = 200
CHURN_CONNECTIONS = 10
CHURN_RATE = 100
CHURN_DURATION = "4 s"

# Capacity search (suites/17_capacity.robot): the mock server serves CAPACITY_KNOWN msg/s
# (max_message_rate) and the search finds it within 10%: probes of CAPACITY_PROBE_DURATION
# after CAPACITY_WARM_UP, CAPACITY_PAUSE apart, judged by p95 < CAPACITY_P95, within
# CAPACITY_TIME_BUDGET; the generator's own limit is searched for from CAPACITY_GENERATOR_LOW
CAPACITY_KNOWN = 400
CAPACITY_P95 = "50 ms"
CAPACITY_PROBE_DURATION = "1.5 s"
CAPACITY_WARM_UP = "0.5 s"
CAPACITY_PAUSE = "0.5 s"
CAPACITY_TIME_BUDGET = "40 s"
CAPACITY_GENERATOR_LOW = 32000

# The benchmark scenario's capacity line (suites/10_quick_benchmark_validation.robot): CI
# figures, the whole search under ~20 s
BENCHMARK_CAPACITY_CONNECTIONS = 2
BENCHMARK_CAPACITY_LOW = 200
BENCHMARK_CAPACITY_HIGH = 1600
BENCHMARK_CAPACITY_PROBE = "1 s"
BENCHMARK_CAPACITY_WARM_UP = "0.3 s"
BENCHMARK_CAPACITY_PAUSE = "0.3 s"
BENCHMARK_CAPACITY_MAX_PROBES = 8
BENCHMARK_CAPACITY_TIME_BUDGET = "20 s"
BENCHMARK_CAPACITY_P95 = "200 ms"
BENCHMARK_CAPACITY_DELIVERY = "99%"

SCALE_CONNECTIONS = 300
SCALE_RATE = 300
SCALE_PROCESSES = 2
SCALE_HOLD = "2.5 s"
SCALE_STEP_RATE = 100
SCALE_STEP_DURATION = "3 s"
