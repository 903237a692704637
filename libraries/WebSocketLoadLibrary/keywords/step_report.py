"""Moved to base/step_report.py; this name stays until keywords/agents.py imports from there."""
from ..base.step_report import PROGRESS_EVERY_S, ProgressPrinter, describe_plan, report_step

__all__ = ["PROGRESS_EVERY_S", "ProgressPrinter", "describe_plan", "report_step"]
