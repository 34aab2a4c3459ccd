"""HTTP client of Layer 3, the validation layer (contract: docs/layer3-contract.md).

The transport is the one every client of another layer uses (`app/integrations/transport.py`): a pooled
keep-alive session, a timeout on every call (`LAYER3_TIMEOUT_SECONDS`), retries of connection errors, timeouts,
429 and 5xx with exponential backoff and full jitter within the call's budget (the validation POST is
idempotent: it carries an `Idempotency-Key`, the plan version), and a circuit breaker around each call.
A 4xx is `invalid_request`; an answer that is not the contract's (`planning.validation.check_answer`) is a
failure too. Every failure raises a `Layer3Error`; a failed call counts once in
`layer2_integration_errors_total{system="layer3"}` and is logged at ERROR.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from app.integrations.breaker import CircuitBreaker
from app.integrations.transport import HttpTransport, IntegrationError, TransportClient
from planning.validation import AnswerError, check_answer

log = logging.getLogger(__name__)


class Layer3Error(IntegrationError):
    """A Layer 3 call failed. `kind`: timeout, connection, server_error, malformed, circuit_open, invalid_request."""


class Layer3Client(TransportClient):
    def __init__(self, base_url: str, *, timeout: float = 5.0, max_attempts: int = 3, backoff_base: float = 0.2,
                 backoff_max: float = 2.0, breaker: CircuitBreaker | None = None, pool_size: int = 10,
                 sleep: Callable[[float], None] = time.sleep, jitter: Callable[[], float] = random.random,
                 clock: Callable[[], float] = time.monotonic):
        self.transport = HttpTransport(
            base_url, system="layer3", name="Layer 3", error=Layer3Error, log=log,  # a 4xx: invalid_request
            timeout=timeout, max_attempts=max_attempts, backoff_base=backoff_base, backoff_max=backoff_max,
            breaker=breaker, pool_size=pool_size, sleep=sleep, jitter=jitter, clock=clock)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Layer3Client | None:
        """The client the configuration asks for, or None when LAYER3_BASE_URL is unset."""
        if not config.get("LAYER3_BASE_URL"):
            return None
        return cls(config["LAYER3_BASE_URL"], timeout=config.get("LAYER3_TIMEOUT_SECONDS", 5.0))

    def validate(self, request: dict, *, budget: float | None = None) -> dict:
        """Layer 3's verdict on a plan version (`planning.validation.validation_request`), checked and normalised.

        `budget`: seconds the call may take in all, retries included (no retry starts that could not finish in
        it), so the validate stage keeps its time limit whatever Layer 3 does."""
        reference = request["reference"]
        body = self.transport.call("validate", "POST", "/api/v1/validations", json=request,
                                   headers={"Idempotency-Key": reference}, budget=budget)
        try:
            return check_answer(body, reference=reference)
        except AnswerError as error:
            raise self.transport.failed("validate", Layer3Error("malformed", str(error))) from None

    def health(self) -> dict:
        body = self.transport.call("health", "GET", "/health")
        if not isinstance(body, dict):
            raise self.transport.failed("health", Layer3Error("malformed", "health answer is not an object"))
        return body
