"""WebSocketLoadLibrary: load-test WebSocket servers from Robot Framework.

The Robot Framework library class is imported lazily, so that the engine and the mock
server (`python -m WebSocketLoadLibrary.mockserver`) start without importing Robot.
"""
from .version import __version__

__all__ = ["WebSocketLoadLibrary", "__version__"]


def __getattr__(name):
    if name == "WebSocketLoadLibrary":
        from .library import WebSocketLoadLibrary
        return WebSocketLoadLibrary
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
