"""HTTP client of the Layer 8 resource manager (contract: docs/layer8-contract.md).

- one `requests.Session` with a pooled, keep-alive connection adapter;
- a timeout on every call (`LAYER8_TIMEOUT_SECONDS`, connect and read);
- retries of transient failures (connection errors, timeouts, 5xx, 429) with exponential
  backoff and full jitter; POSTs are retried too because every one is idempotent
  (allocation requests carry an `Idempotency-Key`, confirming twice is harmless);
- a circuit breaker (`breaker.py`) around each call, retries included;
- availability answers cached for `LAYER8_CACHE_TTL_SECONDS`.

Every failure raises a `Layer8Error` whose `kind` says what went wrong, and a failed
call (not each attempt) counts once in `layer2_integration_errors_total`.
A confirmation only counts when Layer 8's answer says `confirmed`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from app.layer8.breaker import CircuitBreaker
from app.layer8.cache import TTLCache
from app.metrics import INTEGRATION_ERRORS

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: kinds that mean Layer 8 is not working (they trip the breaker); the others are answers.
UNAVAILABLE_KINDS = frozenset({"timeout", "connection", "server_error", "malformed", "circuit_open"})


class Layer8Error(Exception):
    """A Layer 8 call failed. `kind`: timeout, connection, server_error, malformed, circuit_open
    (Layer 8 unusable), or rejected, not_found, invalid_request (Layer 8 answered no)."""

    def __init__(self, kind: str, detail: str, *, status: int | None = None, body: Any = None):
        super().__init__(f"{kind}: {detail}")
        self.kind, self.detail, self.status, self.body = kind, detail, status, body

    @property
    def unavailable(self) -> bool:
        return self.kind in UNAVAILABLE_KINDS

    def describe(self) -> dict:
        return {"error": str(self), "kind": self.kind, "status": self.status}


class Layer8Client:
    def __init__(self, base_url: str, *, timeout: float = 2.0, cache_ttl: float = 60.0, max_attempts: int = 3,
                 backoff_base: float = 0.1, backoff_max: float = 2.0, breaker: CircuitBreaker | None = None,
                 pool_size: int = 10, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep, jitter: Callable[[], float] = random.random,
                 clock: Callable[[], float] = time.monotonic):
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.breaker = breaker or CircuitBreaker(clock=clock)
        self.cache = TTLCache(cache_ttl, clock=clock)
        self._sleep = sleep
        self._jitter = jitter
        self.session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"Accept": "application/json"})

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Layer8Client | None:
        """The client the app's configuration asks for, or None when LAYER8_BASE_URL is unset."""
        if not config.get("LAYER8_BASE_URL"):
            return None
        return cls(config["LAYER8_BASE_URL"], timeout=config.get("LAYER8_TIMEOUT_SECONDS", 2.0),
                   cache_ttl=config.get("LAYER8_CACHE_TTL_SECONDS", 60.0))

    def close(self) -> None:
        self.session.close()

    # -- the contract --------------------------------------------------------------

    def availability(self, types: Iterable[str] | None, start: date, end: date) -> dict:
        """Pools of `types` (and pools that may stand in for them) with their free units per period.

        `types` None or empty asks for every pool. The answer carries `cached` (from this client's
        cache) and `fetched_at` (when Layer 8 gave it).
        """
        wanted = tuple(sorted(set(types))) if types else None  # no types: every pool
        key = (wanted, start.isoformat(), end.isoformat())
        cached = self.cache.get(key)
        if cached is not None:
            cached["cached"] = True
            return cached
        params = {"from": start.isoformat(), "to": end.isoformat()}
        if wanted is not None:
            params["types"] = ",".join(wanted)
        body = self._call("availability", "GET", "/api/v1/resources/availability", params=params)
        if not isinstance(body, dict) or not isinstance(body.get("resources"), list):
            raise self._failed("availability", Layer8Error("malformed", "availability answer has no `resources` list"))
        body["fetched_at"] = datetime.now(UTC).isoformat()
        self.cache.set(key, body)
        return {**body, "cached": False}

    def request_allocation(self, *, resource: str, units: int, start: date, end: date, reference: str,
                           idempotency_key: str) -> dict:
        """Ask Layer 8 to hold `units` of `resource` from `start` to `end` (inclusive); the hold expires
        unless confirmed. The same `idempotency_key` always names the same hold."""
        payload = {"resource": resource, "units": units, "from": start.isoformat(), "to": end.isoformat(),
                   "reference": reference}
        body = self._call("request_allocation", "POST", "/api/v1/allocations", json=payload,
                          headers={"Idempotency-Key": idempotency_key})
        self._expect_allocation("request_allocation", body)
        self.cache.clear()  # availability changed
        return body

    def confirm(self, allocation_id: str) -> dict:
        """Confirm a hold; returns the allocation only if Layer 8 says it is `confirmed`."""
        body = self._call("confirm", "POST", f"/api/v1/allocations/{allocation_id}/confirm")
        self._expect_allocation("confirm", body)
        if body.get("status") != "confirmed":
            raise self._failed("confirm", Layer8Error(
                "malformed", f"confirmation of {allocation_id} answered status {body.get('status')!r}"))
        return body

    def release(self, allocation_id: str) -> None:
        """Give a hold or an allocation back; one Layer 8 no longer knows counts as released."""
        try:
            self._call("release", "DELETE", f"/api/v1/allocations/{allocation_id}", expect_body=False)
        except Layer8Error as error:
            if error.kind != "not_found":
                raise
        self.cache.clear()

    def get_allocation(self, allocation_id: str) -> dict:
        body = self._call("get_allocation", "GET", f"/api/v1/allocations/{allocation_id}")
        self._expect_allocation("get_allocation", body)
        return body

    def health(self) -> dict:
        body = self._call("health", "GET", "/health")
        if not isinstance(body, dict):
            raise self._failed("health", Layer8Error("malformed", "health answer is not an object"))
        return body

    # -- transport -----------------------------------------------------------------

    def _expect_allocation(self, operation: str, body: Any) -> None:
        if not isinstance(body, dict) or not body.get("id") or "status" not in body:
            raise self._failed(operation, Layer8Error("malformed", "the answer is not an allocation"))

    def _failed(self, operation: str, error: Layer8Error) -> Layer8Error:
        """Count a failed call and tell the breaker; returns the error to raise."""
        if error.unavailable:
            if error.kind != "circuit_open":
                self.breaker.record_failure()
            INTEGRATION_ERRORS.labels(system="layer8", operation=operation, kind=error.kind).inc()
        elif error.kind == "invalid_request":
            INTEGRATION_ERRORS.labels(system="layer8", operation=operation, kind=error.kind).inc()
        # ERROR for an integration error (counted above), WARNING for an answer such as not found or rejected.
        counted = error.unavailable or error.kind == "invalid_request"
        log.log(logging.ERROR if counted else logging.WARNING, "Layer 8 %s failed: %s", operation, error)
        return error

    def _call(self, operation: str, method: str, path: str, *, expect_body: bool = True, **kwargs) -> Any:
        if not self.breaker.allow():
            raise self._failed(operation, Layer8Error(
                "circuit_open", f"Layer 8 calls paused for {self.breaker.retry_in():.1f} s after repeated failures"))
        url = self.base_url + path
        error: Layer8Error | None = None
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                self._sleep(self._backoff(attempt - 1))
            try:
                response = self.session.request(method, url, timeout=(self.timeout, self.timeout), **kwargs)
            except requests.Timeout as exc:
                error = Layer8Error("timeout", f"no answer within {self.timeout} s ({type(exc).__name__})")
                continue
            except requests.ConnectionError as exc:
                error = Layer8Error("connection", f"cannot reach {self.base_url} ({type(exc).__name__})")
                continue
            except requests.RequestException as exc:
                error = Layer8Error("connection", f"{type(exc).__name__}: {exc}")
                continue
            if response.status_code in RETRY_STATUSES:
                error = Layer8Error("server_error", f"HTTP {response.status_code}", status=response.status_code,
                                    body=_json_or_text(response))
                continue
            return self._answer(operation, response, expect_body)
        assert error is not None
        raise self._failed(operation, Layer8Error(error.kind, f"{error.detail} after {self.max_attempts} attempt(s)",
                                                  status=error.status, body=error.body))

    def _answer(self, operation: str, response: requests.Response, expect_body: bool) -> Any:
        status = response.status_code
        if status >= 400:
            body = _json_or_text(response)
            detail = body.get("detail") if isinstance(body, dict) else None
            kind = {404: "not_found", 409: "rejected"}.get(status, "invalid_request")
            self.breaker.record_success()  # Layer 8 is up and answering
            raise self._failed(operation, Layer8Error(kind, detail or f"HTTP {status}", status=status, body=body))
        if not expect_body or status == 204:
            self.breaker.record_success()
            return None
        try:
            body = response.json()
        except ValueError:
            raise self._failed(operation, Layer8Error("malformed", f"HTTP {status} with a body that is not JSON",
                                                      status=status)) from None
        self.breaker.record_success()
        return body

    def _backoff(self, retry: int) -> float:
        """Full jitter: a random delay up to base x 2^(retry-1), capped."""
        return self._jitter() * min(self.backoff_max, self.backoff_base * 2 ** (retry - 1))


def _json_or_text(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:500]
