"""The load engine: pure asyncio, no Robot Framework imports.

Connections (websockets), an open-loop pacer, correlation of replies by id, HdrHistogram
latency from the intended send time, delivery accounting and psutil sampling, behind a
synchronous facade (`LoadEngine`) that runs everything on one background event loop.
"""
from .connections import ConnectionOptions, SecretText
from .errors import ConnectError, EngineError, PlanError, StepTimeout
from .facade import LoadEngine, RunningStep
from .histogram import LatencyHistogram
from .messages import MessageTemplate, TemplateError
from .result import LoadResult
from .scaling import ScalingResult
from .schedule import OpenLoopSchedule
from .plan import LoadPlan
from .workers import run_step_in_workers

__all__ = ["ConnectError", "ConnectionOptions", "EngineError", "LatencyHistogram", "LoadEngine",
           "LoadPlan", "LoadResult", "MessageTemplate", "OpenLoopSchedule", "PlanError",
           "RunningStep", "ScalingResult", "SecretText", "StepTimeout", "TemplateError",
           "run_step_in_workers"]
