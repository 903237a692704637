"""WebSocketLoadLibrary: the Robot Framework way to load-test WebSocket servers.

The engine (`WebSocketLoadLibrary.engine`) and the mock server
(`WebSocketLoadLibrary.mockserver`) import nothing from Robot Framework.
"""
__version__ = "0.1.0"
