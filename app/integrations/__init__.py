"""What Layer 2's clients of the other layers share: one HTTP transport and its circuit breaker."""

from __future__ import annotations

from app.integrations.breaker import CircuitBreaker
from app.integrations.transport import HttpTransport, IntegrationError, TransportClient

__all__ = ["CircuitBreaker", "HttpTransport", "IntegrationError", "TransportClient"]
