"""Named open things (servers, client groups), one of them current -- like Robot's
ConnectionCache, but an entry can be closed and forgotten on its own."""
from __future__ import annotations

from ..errors import UsageError


class NothingOpenError(UsageError):
    """A keyword needs a server or client group that was never opened."""


class Registry:
    def __init__(self, what: str, hint: str):
        self.what, self.hint = what, hint
        self._items: dict[str, object] = {}
        self._current: str | None = None
        self._counter = 0

    def register(self, item, alias: str | None = None) -> str:
        self._counter += 1
        key = alias or f"{self.what} {self._counter}"
        self._items[key] = item
        self._current = key
        return key

    @property
    def current(self):
        if self._current is None:
            raise NothingOpenError(f"No {self.what} is open: {self.hint}")
        return self._items[self._current]

    def get(self, alias: str | None = None):
        if alias is None:
            return self.current
        try:
            return self._items[alias]
        except KeyError:
            known = ", ".join(self._items) or "none"
            raise NothingOpenError(f"No {self.what} named {alias!r}; open: {known}") from None

    def switch(self, alias: str):
        item = self.get(alias)
        self._current = alias
        return item

    def remove(self, item) -> None:
        for key, value in list(self._items.items()):
            if value is item:
                del self._items[key]
        if self._current not in self._items:
            self._current = next(reversed(self._items), None)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self):
        return iter(list(self._items.values()))
