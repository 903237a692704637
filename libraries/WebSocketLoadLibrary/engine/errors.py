"""Errors the engine raises; each message says what happened and what to do about it.

They belong to the library's one error family (`WebSocketLoadLibrary.errors`), so the
keyword library shows them as plain failures and keeps their cause at DEBUG level.
"""
from ..errors import RunError, UsageError


class EngineError(RunError):
    """Base of the engine's errors."""


class ConnectError(EngineError):
    """A connection could not be opened (refused, bad URI, TLS, auth, timeout)."""


class StepTimeout(EngineError):
    """A load step or another wait did not finish within its timeout."""


class PlanError(EngineError, UsageError):
    """A load plan that cannot be run as given (zero rate, no connections, ...)."""
