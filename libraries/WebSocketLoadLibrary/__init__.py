"""WebSocketLoadLibrary: load-test WebSocket servers from Robot Framework.

The Robot Framework library class is imported lazily, so that the engine and the mock
server (`python -m WebSocketLoadLibrary.mockserver`) start without importing Robot.
"""
__version__ = "0.2.0"


def __getattr__(name):
    if name == "WebSocketLoadLibrary":
        from .library import WebSocketLoadLibrary
        return WebSocketLoadLibrary
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
