"""Robot Framework keyword components, one per area (server, connections, load, assertions,
reporting). Only this layer imports Robot Framework; it drives the engine and the mock server."""
