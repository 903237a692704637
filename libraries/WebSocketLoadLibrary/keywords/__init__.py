"""Robot Framework keyword components: one class per area (server, connections, load, streams,
fan-out, lifecycle, capacity, assertions, metrics, reporting, agents), which drive the engine,
the mock server and the load agents. What they stand on is beside them: base/ (the component
base class, the library's state, running and reporting a step) and utils/ (argument types,
tokens)."""
