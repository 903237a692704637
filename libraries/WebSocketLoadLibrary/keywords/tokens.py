"""Moved to utils/tokens.py; this name stays until keywords/agents.py and server.py import
from there."""
from ..utils.tokens import reveal

__all__ = ["reveal"]
