"""Errors the engine raises; each message says what happened and what to do about it."""


class EngineError(RuntimeError):
    """Base of the engine's errors."""


class ConnectError(EngineError):
    """A connection could not be opened (refused, bad URI, TLS, auth, timeout)."""


class StepTimeout(EngineError):
    """A load step or another wait did not finish within its timeout."""


class PlanError(EngineError, ValueError):
    """A load plan that cannot be run as given (zero rate, no connections, ...)."""
