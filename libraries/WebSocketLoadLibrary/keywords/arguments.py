"""Moved to utils/arguments.py; this name stays until keywords/agents.py and server.py import
from there."""
from ..utils.arguments import ByteSize, Duration, Rate, Ratio

__all__ = ["ByteSize", "Duration", "Rate", "Ratio"]
