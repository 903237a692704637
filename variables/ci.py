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
