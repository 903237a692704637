"""Development figures (the seed's DEV_TEST_CONFIG): a laptop or a 2-core VM, a few minutes.

Select with `--variablefile variables/dev.py`, or let variables/environment.py pick it
(the default when neither CI=true nor ENVIRONMENT=... is set).
"""
import os as _os

ENVIRONMENT = "dev"
QUICK_MODE = _os.environ.get("QUICK_MODE", "false").lower() == "true"

# Where the load goes: empty means the embedded mock server, started per suite.
TARGET_URI = _os.environ.get("TARGET_URI", "")
# Name of the environment variable that holds the bearer token (the token itself never
# passes through Robot variables).
TOKEN_ENV = "TARGET_TOKEN"

# Throughput targets (msg/s)
MAX_MESSAGE_RATE = 2000
SUSTAINED_THROUGHPUT_TARGET = 1000
PEAK_THROUGHPUT_TARGET = 2000
THROUGHPUT_TOLERANCE = 0.95          # throughput must reach this share of its target

# Latency requirements
LATENCY_P50 = "100 ms"
LATENCY_P95 = "500 ms"
LATENCY_P99 = "1 s"
LATENCY_P999 = "2 s"

# Connections and scaling
CONNECTIONS = 10
MAX_CONCURRENT_CONNECTIONS = 50
CONNECTION_SCALING_STEPS = [1, 5, 10, 25, 50]
RATE_PER_CONNECTION = 20             # msg/s per connection in connection scaling
MESSAGE_RATE_SCALING_STEPS = [100, 250, 500, 1000, 2000]
TEST_DURATION_PER_STEP = "3 s"
MAX_MESSAGES_PER_STEP = 5000
MIN_SCALING_EFFICIENCY = 0.9
CONCURRENT_CLIENTS = 5
MESSAGES_PER_CLIENT = 20

# Durations
BURST_MESSAGES = 10000
SUSTAINED_LOAD_TIME = "15 s"
STRESS_TEST_DURATION = "30 s"
MEMORY_TEST_DURATION = "15 s"

# Resources and delivery
MAX_MEMORY_GROWTH = "100 MB"
MIN_DELIVERY_RATIO = 0.95
