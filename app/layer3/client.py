"""HTTP client of Layer 3, the validation layer (contract: docs/layer3-contract.md).

Built like the Layer 8 client (`app/layer8/client.py`): one pooled keep-alive session, a
timeout on every call (`LAYER3_TIMEOUT_SECONDS`), retries of connection errors, timeouts,
429 and 5xx with exponential backoff and full jitter (the validation POST is idempotent: it
carries an `Idempotency-Key`, the plan version), and a circuit breaker around each call.
An answer that is not the contract's (`planning.validation.check_answer`) is a failure too.
Every failure raises a `Layer3Error`; a failed call counts once in
`layer2_integration_errors_total{system="layer3"}`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from app.layer8.breaker import CircuitBreaker
from app.metrics import INTEGRATION_ERRORS
from planning.validation import AnswerError, check_answer

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class Layer3Error(Exception):
    """A Layer 3 call failed. `kind`: timeout, connection, server_error, malformed, circuit_open, invalid_request."""

    def __init__(self, kind: str, detail: str, *, status: int | None = None):
        super().__init__(f"{kind}: {detail}")
        self.kind, self.detail, self.status = kind, detail, status


class Layer3Client:
    def __init__(self, base_url: str, *, timeout: float = 5.0, max_attempts: int = 3, backoff_base: float = 0.2,
                 backoff_max: float = 2.0, breaker: CircuitBreaker | None = None, pool_size: int = 10,
                 sleep: Callable[[float], None] = time.sleep, jitter: Callable[[], float] = random.random,
                 clock: Callable[[], float] = time.monotonic):
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.timeout, self.max_attempts = timeout, max_attempts
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.breaker = breaker or CircuitBreaker(clock=clock)
        self._sleep, self._jitter = sleep, jitter
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"Accept": "application/json"})

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Layer3Client | None:
        """The client the configuration asks for, or None when LAYER3_BASE_URL is unset."""
        if not config.get("LAYER3_BASE_URL"):
            return None
        return cls(config["LAYER3_BASE_URL"], timeout=config.get("LAYER3_TIMEOUT_SECONDS", 5.0))

    def close(self) -> None:
        self.session.close()

    def validate(self, request: dict, *, budget: float | None = None) -> dict:
        """Layer 3's verdict on a plan version (`planning.validation.validation_request`), checked and normalised.

        `budget`: seconds the call may take in all, retries included (no retry starts that could not finish in
        it), so the validate stage keeps its time limit whatever Layer 3 does."""
        reference = request["reference"]
        body = self._call("validate", "POST", "/api/v1/validations", json=request,
                          headers={"Idempotency-Key": reference}, budget=budget)
        try:
            return check_answer(body, reference=reference)
        except AnswerError as error:
            raise self._failed("validate", Layer3Error("malformed", str(error))) from None

    def health(self) -> dict:
        body = self._call("health", "GET", "/health")
        if not isinstance(body, dict):
            raise self._failed("health", Layer3Error("malformed", "health answer is not an object"))
        return body

    # -- transport -----------------------------------------------------------------

    def _failed(self, operation: str, error: Layer3Error) -> Layer3Error:
        if error.kind not in ("circuit_open", "invalid_request"):
            self.breaker.record_failure()
        INTEGRATION_ERRORS.labels(system="layer3", operation=operation, kind=error.kind).inc()
        log.error("Layer 3 %s failed: %s", operation, error)
        return error

    def _call(self, operation: str, method: str, path: str, *, budget: float | None = None, **kwargs) -> Any:
        if not self.breaker.allow():
            raise self._failed(operation, Layer3Error(
                "circuit_open", f"Layer 3 calls paused for {self.breaker.retry_in():.1f} s after repeated failures"))
        error: Layer3Error | None = None
        started = time.monotonic()
        attempts = 0
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                pause = self._jitter() * min(self.backoff_max, self.backoff_base * 2 ** (attempt - 2))
                if budget is not None and time.monotonic() - started + pause + self.timeout > budget:
                    break  # another attempt could outlast the budget
                self._sleep(pause)
            attempts = attempt
            try:
                response = self.session.request(method, self.base_url + path, timeout=(self.timeout, self.timeout),
                                                **kwargs)
            except requests.Timeout as exc:
                error = Layer3Error("timeout", f"no answer within {self.timeout} s ({type(exc).__name__})")
                continue
            except requests.RequestException as exc:
                error = Layer3Error("connection", f"cannot reach {self.base_url} ({type(exc).__name__})")
                continue
            if response.status_code in RETRY_STATUSES:
                error = Layer3Error("server_error", f"HTTP {response.status_code}", status=response.status_code)
                continue
            if response.status_code >= 400:
                self.breaker.record_success()  # Layer 3 is up; it refused what was sent
                raise self._failed(operation, Layer3Error("invalid_request", f"HTTP {response.status_code}",
                                                          status=response.status_code))
            try:
                body = response.json()
            except ValueError:
                raise self._failed(operation, Layer3Error(
                    "malformed", f"HTTP {response.status_code} with a body that is not JSON")) from None
            self.breaker.record_success()
            return body
        assert error is not None
        raise self._failed(operation, Layer3Error(error.kind, f"{error.detail} after {attempts} attempt(s)",
                                                  status=error.status))
