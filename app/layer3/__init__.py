"""Layer 3, the validation layer, seen from Layer 2: its client (docs/layer3-contract.md)."""

from __future__ import annotations

from flask import Flask

from app.layer3.client import Layer3Client, Layer3Error

EXTENSION_KEY = "layer3_client"

__all__ = ["Layer3Client", "Layer3Error", "layer3_client_for"]


def layer3_client_for(app: Flask) -> Layer3Client | None:
    """The app's one client (its breaker shared by the process), made on first use; None when LAYER3_BASE_URL
    is unset."""
    if EXTENSION_KEY not in app.extensions:
        app.extensions[EXTENSION_KEY] = Layer3Client.from_config(app.config)
    return app.extensions[EXTENSION_KEY]
