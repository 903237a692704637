"""The mock WebSocket server: run as `python -m WebSocketLoadLibrary.mockserver`."""
from .control import ControlError, MockServerControl
from .faults import FAULT_NAMES, FAULTS, FaultError, Faults
from .process import MockServerError, MockServerProcess

__all__ = ["ControlError", "FAULT_NAMES", "FAULTS", "FaultError", "Faults", "MockServerControl",
           "MockServerError", "MockServerProcess"]
