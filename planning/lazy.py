"""Package exports imported on first use (PEP 562).

A package's `__init__` that imports all its modules makes every process that touches
one small module (the API needs `Risk`, not the Monte Carlo) pay for NumPy too.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, where: dict[str, str]) -> Callable[[str], object]:
    """A module `__getattr__` that imports `name` from `package + where[name]` when first asked."""

    def __getattr__(name: str) -> object:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(where[name], package), name)

    return __getattr__
