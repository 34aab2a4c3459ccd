"""The HTTP transport of Layer 2's clients of the other layers (Layer 8: `app/layer8/client.py`, Layer 3:
`app/layer3/client.py`); each client keeps only its contract.

- one `requests.Session` with a pooled, keep-alive connection adapter;
- a timeout on every call (connect and read);
- retries of transient failures (connection errors, timeouts, 429, 5xx) with exponential backoff and full
  jitter, within an optional `budget` of seconds for the whole call (no retry starts that could not finish in
  it); every call a client makes must be idempotent (its POSTs carry an `Idempotency-Key`);
- a circuit breaker (`breaker.py`) around each call, retries included.

Every failure raises the client's error class (an `IntegrationError`) whose `kind` says what went wrong; a failed
call (not each attempt) that is an integration error counts once in
`layer2_integration_errors_total{system=...}` and is logged at ERROR, an answer such as not found or rejected
at WARNING.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from app.integrations.breaker import CircuitBreaker
from app.metrics import INTEGRATION_ERRORS

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: kinds that mean the other layer is not working (they trip the breaker); the others are answers.
UNAVAILABLE_KINDS = frozenset({"timeout", "connection", "server_error", "malformed", "circuit_open"})


class IntegrationError(Exception):
    """A call to another layer failed: `kind` (timeout, connection, server_error, malformed, circuit_open: the
    layer is unusable; invalid_request and the contract's own, such as rejected or not_found: it answered no),
    the HTTP `status` and `body` when there was an answer."""

    def __init__(self, kind: str, detail: str, *, status: int | None = None, body: Any = None):
        super().__init__(f"{kind}: {detail}")
        self.kind, self.detail, self.status, self.body = kind, detail, status, body

    @property
    def unavailable(self) -> bool:
        return self.kind in UNAVAILABLE_KINDS

    def describe(self) -> dict:
        return {"error": str(self), "kind": self.kind, "status": self.status}


class HttpTransport:
    """Calls to one layer at `base_url`. `system` labels the metric ("layer8"), `name` the log lines
    ("Layer 8"), `error` is the class raised, `log` the client's logger; `refusal` turns an answered 4xx into
    the error to raise (by default `invalid_request`)."""

    def __init__(self, base_url: str, *, system: str, name: str, error: type[IntegrationError],
                 log: logging.Logger, refusal: Callable[[requests.Response], IntegrationError] | None = None,
                 timeout: float, max_attempts: int, backoff_base: float, backoff_max: float,
                 breaker: CircuitBreaker | None = None, pool_size: int = 10, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep, jitter: Callable[[], float] = random.random,
                 clock: Callable[[], float] = time.monotonic):
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.system, self.name, self.error, self.log = system, name, error, log
        self.refusal = refusal or self._invalid_request
        self.timeout, self.max_attempts = timeout, max_attempts
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.breaker = breaker or CircuitBreaker(clock=clock)
        self._sleep, self._jitter = sleep, jitter
        self.session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"Accept": "application/json"})

    def close(self) -> None:
        self.session.close()

    def call(self, operation: str, method: str, path: str, *, budget: float | None = None, expect_body: bool = True,
             **kwargs) -> Any:
        """The JSON body of the answer (None without `expect_body` or for a 204), or raises `self.error`.

        `budget`: seconds the call may take in all, retries included; `kwargs` go to `requests`."""
        if not self.breaker.allow():
            paused = f"{self.name} calls paused for {self.breaker.retry_in():.1f} s after repeated failures"
            raise self.failed(operation, self.error("circuit_open", paused))
        url = self.base_url + path
        error: IntegrationError | None = None
        started = time.monotonic()
        attempts = 0
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                pause = self._backoff(attempt - 1)
                if budget is not None and time.monotonic() - started + pause + self.timeout > budget:
                    break  # another attempt could outlast the budget
                self._sleep(pause)
            attempts = attempt
            try:
                response = self.session.request(method, url, timeout=(self.timeout, self.timeout), **kwargs)
            except requests.Timeout as exc:
                error = self.error("timeout", f"no answer within {self.timeout} s ({type(exc).__name__})")
                continue
            except requests.ConnectionError as exc:
                error = self.error("connection", f"cannot reach {self.base_url} ({type(exc).__name__})")
                continue
            except requests.RequestException as exc:
                error = self.error("connection", f"{type(exc).__name__}: {exc}")
                continue
            if response.status_code in RETRY_STATUSES:
                error = self.error("server_error", f"HTTP {response.status_code}", status=response.status_code,
                                   body=json_or_text(response))
                continue
            return self._answer(operation, response, expect_body)
        assert error is not None
        raise self.failed(operation, self.error(error.kind, f"{error.detail} after {attempts} attempt(s)",
                                                status=error.status, body=error.body))

    def failed(self, operation: str, error: IntegrationError) -> IntegrationError:
        """Count a failed call and tell the breaker; returns the error to raise."""
        counted = error.unavailable or error.kind == "invalid_request"
        if error.unavailable and error.kind != "circuit_open":
            self.breaker.record_failure()
        if counted:
            INTEGRATION_ERRORS.labels(system=self.system, operation=operation, kind=error.kind).inc()
        # ERROR for an integration error (counted above), WARNING for an answer such as not found or rejected.
        self.log.log(logging.ERROR if counted else logging.WARNING, "%s %s failed: %s", self.name, operation, error)
        return error

    def _answer(self, operation: str, response: requests.Response, expect_body: bool) -> Any:
        status = response.status_code
        if status >= 400:
            self.breaker.record_success()  # the layer is up and answering; it refused what was sent
            raise self.failed(operation, self.refusal(response))
        if not expect_body or status == 204:
            self.breaker.record_success()
            return None
        try:
            body = response.json()
        except ValueError:
            raise self.failed(operation, self.error("malformed", f"HTTP {status} with a body that is not JSON",
                                                    status=status)) from None
        self.breaker.record_success()
        return body

    def _invalid_request(self, response: requests.Response) -> IntegrationError:
        return self.error("invalid_request", f"HTTP {response.status_code}", status=response.status_code)

    def _backoff(self, retry: int) -> float:
        """Full jitter: a random delay up to base x 2^(retry-1), capped."""
        return self._jitter() * min(self.backoff_max, self.backoff_base * 2 ** (retry - 1))


class TransportClient:
    """A client of another layer built on `self.transport`: its settings and state read through to it."""

    transport: HttpTransport

    base_url = property(lambda self: self.transport.base_url)
    breaker = property(lambda self: self.transport.breaker)
    session = property(lambda self: self.transport.session)
    timeout = property(lambda self: self.transport.timeout)
    max_attempts = property(lambda self: self.transport.max_attempts)
    backoff_base = property(lambda self: self.transport.backoff_base)
    backoff_max = property(lambda self: self.transport.backoff_max)

    def close(self) -> None:
        self.transport.close()


def json_or_text(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:500]
