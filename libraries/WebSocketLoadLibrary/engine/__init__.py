"""The load engine: pure asyncio, no Robot Framework imports.

Connections (websockets), an open-loop pacer, correlation of replies by id, HdrHistogram
latency from the intended send time, delivery accounting and psutil sampling, behind a
synchronous facade (`LoadEngine`) that runs everything on one background event loop.
"""
from .transport.connections import ConnectionOptions, SecretText
from .errors import ConnectError, EngineError, PlanError, StepTimeout
from .facade import LoadEngine, RunningStep
from .results.histogram import LatencyHistogram
from .plan.messages import MessageTemplate, TemplateError
from .results.result import LoadResult
from .results.scaling import ScalingResult
from .pacing.schedule import OpenLoopSchedule
from .plan.load_plan import LoadPlan
from .workers import run_step_in_workers

__all__ = ["ConnectError", "ConnectionOptions", "EngineError", "LatencyHistogram", "LoadEngine",
           "LoadPlan", "LoadResult", "MessageTemplate", "OpenLoopSchedule", "PlanError",
           "RunningStep", "ScalingResult", "SecretText", "StepTimeout", "TemplateError",
           "run_step_in_workers"]
