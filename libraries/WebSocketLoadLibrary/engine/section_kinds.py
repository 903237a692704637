"""Every section kind, imported once so that saved results find their classes."""
from .push_counts import PushCounts
from .stream_figures import StreamFigures

__all__ = ["PushCounts", "StreamFigures"]
