"""Every section kind, imported once so that saved results find their classes."""
from .capacity_result import CapacityProbe
from .connect_figures import ConnectFigures
from .fanout_figures import FanoutFigures
from .lifecycle import LifecycleFigures
from .multi_reply import MultiReplyFigures
from .push_counts import PushCounts
from .stream_figures import StreamFigures

__all__ = ["CapacityProbe", "ConnectFigures", "FanoutFigures", "LifecycleFigures", "MultiReplyFigures",
           "PushCounts", "StreamFigures"]
