"""A circuit breaker for calls to another layer (Layer 8, Layer 3: `transport.py`).

States:

- **closed**: calls go through. Each failed call (one whose retries are all spent)
  adds to a count of consecutive failures; a success resets it. When the count
  reaches `failure_threshold`, the breaker **opens**.
- **open**: calls are refused at once (no network traffic) for `reset_timeout`
  seconds from the moment it opened.
- **half-open**: after the cool-down, one trial call is let through (others are
  still refused while it runs). Its success **closes** the breaker; its failure
  opens it again for another full cool-down.

Thread-safe; `clock` is injectable so tests need not sleep.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    def __init__(self, failure_threshold: int = 5, reset_timeout: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if reset_timeout < 0:
            raise ValueError("reset_timeout must not be negative")
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_running = False
        self._trial_started = 0.0

    @property
    def state(self) -> str:
        with self._lock:
            return self._current_state()

    def _current_state(self) -> str:
        if self._state == OPEN and self._clock() - self._opened_at >= self.reset_timeout:
            self._state = HALF_OPEN
            self._trial_running = False
        return self._state

    def allow(self) -> bool:
        """May a call go through now? In half-open, only the first caller gets the trial."""
        with self._lock:
            state = self._current_state()
            if state == CLOSED:
                return True
            # A trial that never reported back (its caller died) does not block for ever.
            stale = self._clock() - self._trial_started >= max(self.reset_timeout, 1.0)
            if state == HALF_OPEN and (not self._trial_running or stale):
                self._trial_running = True
                self._trial_started = self._clock()
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self._state = CLOSED
            self._failures = 0
            self._trial_running = False

    def record_failure(self) -> None:
        with self._lock:
            state = self._current_state()
            self._failures += 1
            if state == HALF_OPEN or self._failures >= self.failure_threshold:
                self._state = OPEN
                self._opened_at = self._clock()
                self._trial_running = False

    def retry_in(self) -> float:
        """Seconds until an open breaker lets a trial through (0 when not open)."""
        with self._lock:
            if self._current_state() != OPEN:
                return 0.0
            return max(0.0, self.reset_timeout - (self._clock() - self._opened_at))
