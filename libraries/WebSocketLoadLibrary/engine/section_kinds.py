"""Every section kind, imported once so that saved results find their classes."""
from .push_counts import PushCounts

__all__ = ["PushCounts"]
