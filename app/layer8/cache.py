"""A small thread-safe cache whose entries expire `ttl` seconds after they were stored."""

from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class TTLCache:
    """Least recently stored entries go first when `max_entries` is reached; ttl 0 disables caching."""

    def __init__(self, ttl: float, max_entries: int = 256, clock: Callable[[], float] = time.monotonic):
        if ttl < 0:
            raise ValueError("ttl must not be negative")
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()

    def get(self, key: Hashable) -> Any | None:
        """A copy of the stored value, or None when absent or expired (callers may change what they get)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            stored_at, value = entry
            if self._clock() - stored_at >= self.ttl:
                del self._entries[key]
                return None
            return copy.deepcopy(value)

    def set(self, key: Hashable, value: Any) -> None:
        if self.ttl == 0:
            return
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = (self._clock(), copy.deepcopy(value))
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
