"""Moved to base/component.py; this name stays until keywords/agents.py and server.py import
from there."""
from ..base.component import LibraryComponent

__all__ = ["LibraryComponent"]
