"""The errors WebSocketLoadLibrary raises on purpose: one family, each message written for
the person running the load test.

The keyword library shows a member of the family as a plain failure -- its message, no Python
class name -- and keeps where it came from (the traceback and the low-level error behind it)
in the log at DEBUG level. Any other exception is a bug of the library and Robot Framework
shows it as one, named, with its traceback. So: raise a member of the family for what the
user can act on, never a bare ValueError or RuntimeError.

No Robot Framework import here: the engine, the agents and the mock server raise these too.
"""


class WebSocketLoadError(Exception):
    """Base of every error the library raises on purpose."""
    ROBOT_SUPPRESS_NAME = True


class UsageError(WebSocketLoadError, ValueError):
    """What the user asked for cannot be done as given: an argument, a plan, a template, a
    file, or a keyword run before what it needs. A ValueError too, as it was before."""


class ArgumentError(UsageError):
    """A keyword argument that is not one of the accepted forms (``2x/s``, ``200 xs``)."""


class RunError(WebSocketLoadError, RuntimeError):
    """Something a load test needs failed while it ran: a connection, a step that did not
    finish in time, a load agent, the mock server."""


class CheckFailed(WebSocketLoadError, AssertionError):
    """A check of the measured figures failed: the server under test (or the load that was
    meant to reach it) fell short. An AssertionError, so Python callers and Robot alike read
    it as a test failure, not as a fault of the tool."""
