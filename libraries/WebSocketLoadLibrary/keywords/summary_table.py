"""Moved to reports/summary_table.py; this name stays until keywords/agents.py imports from
there."""
from ..reports.summary_table import column_table

__all__ = ["column_table"]
