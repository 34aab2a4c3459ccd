"""Reusable NumPy arrays, one set per thread.

A fresh 800 KB array (50 tasks × 2,000 iterations of float64) is page-faulted in 4 KB at a
time on first write, and the C allocator hands such blocks back to the kernel when they are
freed; with a dozen of them per assessment that cost about 1 ms of a 2.5 ms budget
(measured). So the Monte Carlo writes into arrays kept here between calls (`array`), and
results NumPy can only return fresh (argsort, random draws) are held until the next call
(`keep`) so their memory stays mapped for the next one. Arrays above `MAX_CACHED_BYTES`
are not kept: for those the work dwarfs the faults, and a worker should not hold hundreds
of megabytes after a large plan.
"""

from __future__ import annotations

import threading

import numpy as np
import numpy.typing as npt

MAX_CACHED_BYTES = 8 << 20

_local = threading.local()


def array(name: str, shape: tuple[int, ...], dtype: npt.DTypeLike = np.float64) -> np.ndarray:
    """An uninitialised array for `name`, reused by the next call in this thread with the same shape."""
    cache: dict[str, np.ndarray] | None = getattr(_local, "arrays", None)
    if cache is None:
        cache = _local.arrays = {}
    found = cache.get(name)
    if found is not None and found.shape == shape and found.dtype == dtype:
        return found
    fresh: np.ndarray = np.empty(shape, dtype)
    if fresh.nbytes <= MAX_CACHED_BYTES:
        cache[name] = fresh
    else:
        cache.pop(name, None)
    return fresh


def keep(name: str, value: np.ndarray) -> np.ndarray:
    """Hold `value` until the next `keep` of `name` in this thread; returns it."""
    kept: dict[str, np.ndarray] | None = getattr(_local, "kept", None)
    if kept is None:
        kept = _local.kept = {}
    if value.nbytes <= MAX_CACHED_BYTES:
        kept[name] = value
    else:
        kept.pop(name, None)
    return value
