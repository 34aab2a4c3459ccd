"""HTTP client of the Layer 8 resource manager (contract: docs/layer8-contract.md).

The transport is the one every client of another layer uses (`app/integrations/transport.py`): a pooled
keep-alive session, a timeout on every call (`LAYER8_TIMEOUT_SECONDS`, connect and read), retries of
connection errors, timeouts, 429 and 5xx with exponential backoff and full jitter (POSTs too: every one is
idempotent, allocation requests carry an `Idempotency-Key`, confirming twice is harmless), and a circuit
breaker around each call, retries included. This client adds the contract: a 404 is `not_found`, a 409
`rejected` (answers, logged at WARNING and not counted), availability answers cached for
`LAYER8_CACHE_TTL_SECONDS`.

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

from app.integrations.breaker import CircuitBreaker
from app.integrations.transport import HttpTransport, IntegrationError, TransportClient, json_or_text
from app.layer8.cache import TTLCache

log = logging.getLogger(__name__)


class Layer8Error(IntegrationError):
    """A Layer 8 call failed. `kind`: timeout, connection, server_error, malformed, circuit_open
    (Layer 8 unusable), or rejected, not_found, invalid_request (Layer 8 answered no)."""


class Layer8Client(TransportClient):
    def __init__(self, base_url: str, *, timeout: float = 2.0, cache_ttl: float = 60.0, max_attempts: int = 3,
                 backoff_base: float = 0.1, backoff_max: float = 2.0, breaker: CircuitBreaker | None = None,
                 pool_size: int = 10, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep, jitter: Callable[[], float] = random.random,
                 clock: Callable[[], float] = time.monotonic):
        self.transport = HttpTransport(
            base_url, system="layer8", name="Layer 8", error=Layer8Error, log=log, refusal=_refusal,
            timeout=timeout, max_attempts=max_attempts, backoff_base=backoff_base, backoff_max=backoff_max,
            breaker=breaker, pool_size=pool_size, session=session, sleep=sleep, jitter=jitter, clock=clock)
        self.cache = TTLCache(cache_ttl, clock=clock)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Layer8Client | None:
        """The client the app's configuration asks for, or None when LAYER8_BASE_URL is unset."""
        if not config.get("LAYER8_BASE_URL"):
            return None
        return cls(config["LAYER8_BASE_URL"], timeout=config.get("LAYER8_TIMEOUT_SECONDS", 2.0),
                   cache_ttl=config.get("LAYER8_CACHE_TTL_SECONDS", 60.0))

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

    # -- the contract's checks -------------------------------------------------------

    def _call(self, operation: str, method: str, path: str, **kwargs) -> Any:
        return self.transport.call(operation, method, path, **kwargs)

    def _failed(self, operation: str, error: Layer8Error) -> Layer8Error:
        return self.transport.failed(operation, error)

    def _expect_allocation(self, operation: str, body: Any) -> None:
        if not isinstance(body, dict) or not body.get("id") or "status" not in body:
            raise self._failed(operation, Layer8Error("malformed", "the answer is not an allocation"))


def _refusal(response: requests.Response) -> Layer8Error:
    """An answered 4xx: 404 is `not_found`, 409 `rejected` (lack of capacity), any other `invalid_request`."""
    status = response.status_code
    body = json_or_text(response)
    detail = body.get("detail") if isinstance(body, dict) else None
    kind = {404: "not_found", 409: "rejected"}.get(status, "invalid_request")
    return Layer8Error(kind, detail or f"HTTP {status}", status=status, body=body)
