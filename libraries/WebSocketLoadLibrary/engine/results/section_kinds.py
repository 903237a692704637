"""Every section kind, imported once so that saved results find their classes."""
from ..capacity.result import CapacityProbe
from ..lifecycle.connect_figures import ConnectFigures
from ..patterns.fanout.figures import FanoutFigures
from ..lifecycle.figures import LifecycleFigures
from ..patterns.multi_reply import MultiReplyFigures
from .push_counts import PushCounts
from ..patterns.listen_only.figures import StreamFigures

__all__ = ["CapacityProbe", "ConnectFigures", "FanoutFigures", "LifecycleFigures", "MultiReplyFigures",
           "PushCounts", "StreamFigures"]
