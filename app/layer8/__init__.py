"""The Layer 8 resource manager, seen from Layer 2: client, circuit breaker, availability cache."""

from __future__ import annotations

from flask import Flask

from app.integrations.breaker import CircuitBreaker
from app.layer8.cache import TTLCache
from app.layer8.client import Layer8Client, Layer8Error

EXTENSION_KEY = "layer8_client"

__all__ = ["CircuitBreaker", "Layer8Client", "Layer8Error", "TTLCache", "layer8_client_for"]


def layer8_client_for(app: Flask) -> Layer8Client | None:
    """The app's one client (its breaker and cache are shared by the process), made on first use;
    None when LAYER8_BASE_URL is unset."""
    if EXTENSION_KEY not in app.extensions:
        app.extensions[EXTENSION_KEY] = Layer8Client.from_config(app.config)
    return app.extensions[EXTENSION_KEY]
