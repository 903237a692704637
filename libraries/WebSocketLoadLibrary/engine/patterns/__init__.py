"""The traffic patterns: one module (or package) each, with its driver, its figures and its
declaration (results/patterns.py). Importing this package registers them all; a new pattern
is a new module here, imported below.
"""
from . import closed_loop, multi_reply, open_loop  # noqa: F401
from .fanout import driver, split  # noqa: F401
from .listen_only import driver as listen_driver  # noqa: F401
