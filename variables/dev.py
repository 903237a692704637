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

# Load agents (suites/12_load_agents.robot): their addresses, comma-separated; empty skips
# that suite. The shared secret stays in the environment variable LOAD_AGENT_SECRET.
LOAD_AGENTS = _os.environ.get("LOAD_AGENTS", "")
# The server under test as the agents reach it; empty starts the embedded mock server on
# AGENT_SERVER_HOST (an address of this machine that the agents reach).
AGENT_TARGET_URI = _os.environ.get("AGENT_TARGET_URI", "")
AGENT_SERVER_HOST = _os.environ.get("AGENT_SERVER_HOST", "127.0.0.1")
AGENT_CONNECTIONS = 5                # per agent
AGENT_RATE = 2000                    # msg/s over all agents
AGENT_MESSAGES = 6000
AGENT_DURATION = "5 s"

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

# Servers that push (suites/13_server_push.robot): each stream connection asks the server
# for STREAM_RATE_PER_CONNECTION messages a second and listens for STREAM_DURATION
STREAM_CONNECTIONS = 10
STREAM_RATE_PER_CONNECTION = 200
STREAM_DURATION = "3 s"
STALENESS_P99 = "100 ms"
HEARTBEAT_INTERVAL = "100 ms"

# Pub/sub fan-out (suites/14_fan_out.robot): one publisher, FANOUT_SUBSCRIBERS subscribers
FANOUT_SUBSCRIBERS = 20
FANOUT_RATE = 50                     # publishes/s: x subscribers = deliveries/s
FANOUT_DURATION = "3 s"
FANOUT_LATENCY_P99 = "100 ms"

# Protocols over WebSocket (suites/18_protocols.robot): request-reply steps of PROTOCOL_RATE
# msg/s for PROTOCOL_DURATION over CONNECTIONS, each protocol's mock server pinging twice a
# second; streams and fan-outs with the figures above
PROTOCOL_RATE = 2000
PROTOCOL_DURATION = "3 s"

# Connection storms (suites/15_connection_storm.robot): STORM_CONNECTIONS opened at
# STORM_RATE a second, open loop; connect latency from each connection's due time
STORM_CONNECTIONS = 300
STORM_RATE = 300                     # connections/s
CONNECT_LATENCY_P95 = "200 ms"
# Churn and reconnect (suites/16_churn_and_reconnect.robot): CHURN_CONNECTIONS under
# CHURN_RATE msg/s for CHURN_DURATION, each living CHURN_LIFETIME..CHURN_MAX_LIFETIME;
# a restart RESTART_AFTER into the step, new connections refused RESTART_DOWN_FOR
CHURN_CONNECTIONS = 20
CHURN_RATE = 200
CHURN_DURATION = "5 s"
CHURN_LIFETIME = "500 ms"
CHURN_MAX_LIFETIME = "1.5 s"
RESTART_AFTER = "1.5 s"
RESTART_DOWN_FOR = "300 ms"
RESTART_DELIVERY_RATIO = 0.8         # what is lost while down and cut by the restart

# Capacity search (suites/17_capacity.robot): the mock server serves CAPACITY_KNOWN msg/s
# (max_message_rate) and the search finds it within 10%: probes of CAPACITY_PROBE_DURATION
# after CAPACITY_WARM_UP, CAPACITY_PAUSE apart, judged by p95 < CAPACITY_P95, within
# CAPACITY_TIME_BUDGET; the generator's own limit is searched for from CAPACITY_GENERATOR_LOW
CAPACITY_KNOWN = 1000
CAPACITY_P95 = "50 ms"
CAPACITY_PROBE_DURATION = "2 s"
CAPACITY_WARM_UP = "0.5 s"
CAPACITY_PAUSE = "1 s"
CAPACITY_TIME_BUDGET = "60 s"
CAPACITY_GENERATOR_LOW = 32000

# The benchmark scenario's capacity line (suites/10_quick_benchmark_validation.robot): a
# short Find Maximum Rate on BENCHMARK_CAPACITY_CONNECTIONS connections from
# BENCHMARK_CAPACITY_LOW to BENCHMARK_CAPACITY_HIGH msg/s, probes of BENCHMARK_CAPACITY_PROBE
# judged by p95 < BENCHMARK_CAPACITY_P95 and delivery >= BENCHMARK_CAPACITY_DELIVERY
BENCHMARK_CAPACITY_CONNECTIONS = 2
BENCHMARK_CAPACITY_LOW = 250
BENCHMARK_CAPACITY_HIGH = 4000
BENCHMARK_CAPACITY_PROBE = "1.5 s"
BENCHMARK_CAPACITY_WARM_UP = "0.5 s"
BENCHMARK_CAPACITY_PAUSE = "0.5 s"
BENCHMARK_CAPACITY_MAX_PROBES = 8
BENCHMARK_CAPACITY_TIME_BUDGET = "40 s"
BENCHMARK_CAPACITY_P95 = "200 ms"
BENCHMARK_CAPACITY_DELIVERY = "99%"

# Scale (suites/19_scale.robot): SCALE_CONNECTIONS opened at SCALE_RATE a second over
# SCALE_PROCESSES worker processes (None: as many as the count needs), held
# SCALE_HOLD with keep-alive pings every SCALE_PING_INTERVAL, each costing the generator
# less than SCALE_MEMORY_PER_CONNECTION (small counts measure noisily: a wide bound);
# a paced step of SCALE_STEP_RATE msg/s for SCALE_STEP_DURATION across all of them, a
# broadcast to every one, and all closed within SCALE_CLOSE_TIMEOUT
SCALE_CONNECTIONS = 1000
SCALE_RATE = 500
SCALE_PROCESSES = 2
SCALE_PING_INTERVAL = "2 s"
SCALE_HOLD = "3 s"
SCALE_CONNECT_P99 = "1 s"
SCALE_MEMORY_PER_CONNECTION = "200 KB"
SCALE_STEP_RATE = 200
SCALE_STEP_DURATION = "5 s"
SCALE_LATENCY_P99 = "500 ms"
SCALE_CLOSE_TIMEOUT = "30 s"
