"""The load engine: pure asyncio, no Robot Framework imports.

This module is the engine's public boundary: the keyword library, the load agents, the
reports and the command line import the names below and nothing deeper. Inside, one package
per question (docs/architecture.md has the map):

    results/    the figures of a step, as plain data that saves, loads and merges
    plan/       what a step sends: the plan, message templates, patterns, each kind's spec
    pacing/     when each message is due, and how late the pacer was
    step/       one step: the driver interface, the book, the correlator, the registry
                of traffic patterns
    patterns/   one module (or package) per traffic pattern: its driver and its figures
    protocols/  what is spoken over WebSocket (Socket.IO, ...): codecs without I/O
    transport/  connections: options, pools, writers, connect outcomes, opening messages,
                the protocol's sessions at work
    lifecycle/  connection storms, churn, reconnects and their figures
    capacity/   the capacity search: a loop over ordinary steps and their verdicts
    runtime/    the background event loop, precise sleeps, psutil sampling, memory, the
                host's limits
    facade.py, spread.py, workers.py   the synchronous face, groups spread over worker
                processes when one process cannot hold them, steps over workers

Importing the engine imports every traffic pattern and every result section, so each has
registered itself before a plan is run or a saved result is read.
"""
from . import patterns  # noqa: F401 - every traffic pattern registers itself
from .capacity.search import (CONNECTIONS_UNIT, GENERATOR_LIMIT, LOW_MISSED, MET, RATE_UNIT,
                              SUBSCRIBERS_UNIT, CapacityResult, CapacityTargets,
                              ConnectionsProbe, SearchSettings, amount, find_capacity)
from .errors import ConnectError, EngineError, PlanError, StepTimeout
from .facade import RunningStep
from .lifecycle.arrivals import ArrivalPlan
from .lifecycle.churn import ChurnPolicy
from .lifecycle.connect_figures import ConnectFigures
from .lifecycle.reconnect import ReconnectPolicy
from .pacing.schedule import MAX_RUN, OpenLoopSchedule
from .patterns.fanout.figures import FanoutFigures
from .patterns.listen_only.figures import StreamFigures
from .plan.load_plan import (WAKE_INTERVAL_PER_RATE, WAKE_INTERVAL_S, LoadPlan, plan_from_dict,
                             plan_to_dict)
from .plan.messages import MessageTemplate, TemplateError
from .plan.specs import SUBSCRIBERS, FanoutSpec, MultiReplySpec, StreamSpec
from .protocols import (PROTOCOLS, Protocol, ProtocolOptionError, ProtocolRefused,
                        ServerSession, protocol_from_dict, protocol_named)
from .protocols.figures import ProtocolFigures
from .results.histogram import LatencyHistogram
from .results.connection_memory import ConnectionMemory
from .results.push_counts import PushCounts
from .results.result import LoadResult, format_latency_ms
from .results.scaling import ScalingResult
from .results.sections import SECTIONS, ResultSection, UnknownSectionKind
from .results.verdict import applied_so_far
from .runtime.background import LOOP_KINDS, loop_kind_named
from .runtime.memory import release_freed_memory
from .runtime.host_limits import HostLimitError, HostLimits
from .runtime.resources import ProcessSampler
from .spread import LoadEngine, SpreadPool
from .results.patterns import PATTERNS, TrafficPattern, Words, pattern_of
from .transport.connect_outcome import PHASES
from .transport.connections import ConnectionOptions, SecretText
from .transport.opening import OpeningMessages
from .transport.pool import ClientPool
from .transport.protocol_session import ProtocolError
from .workers import plan_shares, run_step_in_workers

__all__ = [
    "CONNECTIONS_UNIT", "GENERATOR_LIMIT", "LOOP_KINDS", "LOW_MISSED", "MAX_RUN", "MET", "PATTERNS", "PHASES",
    "PROTOCOLS", "RATE_UNIT", "SECTIONS", "SUBSCRIBERS", "SUBSCRIBERS_UNIT", "WAKE_INTERVAL_PER_RATE",
    "WAKE_INTERVAL_S", "ArrivalPlan", "CapacityResult", "CapacityTargets", "ChurnPolicy",
    "ClientPool", "ConnectError", "ConnectFigures", "ConnectionMemory", "HostLimitError",
    "HostLimits", "SpreadPool", "ConnectionOptions", "ConnectionsProbe",
    "EngineError", "FanoutFigures", "FanoutSpec", "LatencyHistogram", "LoadEngine", "LoadPlan",
    "LoadResult", "MessageTemplate", "MultiReplySpec", "OpeningMessages", "OpenLoopSchedule",
    "PlanError", "ProcessSampler", "Protocol", "ProtocolError", "ProtocolFigures",
    "ProtocolOptionError", "ProtocolRefused", "PushCounts", "ReconnectPolicy", "ResultSection",
    "RunningStep", "ScalingResult", "SearchSettings", "SecretText", "ServerSession",
    "StepTimeout",
    "StreamFigures", "StreamSpec", "TemplateError", "TrafficPattern", "UnknownSectionKind", "Words",
    "amount", "applied_so_far", "find_capacity", "format_latency_ms", "loop_kind_named", "pattern_of", "plan_from_dict",
    "plan_shares", "plan_to_dict", "protocol_from_dict", "protocol_named", "release_freed_memory", "run_step_in_workers",
]
