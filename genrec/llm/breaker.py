"""The LLM's health as callers see it: a circuit breaker and a per-turn time budget.

After consecutive outages (a timeout counts as all of them) the breaker opens and calls fail at
once for a cool-down; then one trial call decides. `time_budget` caps one turn's LLM seconds.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from genrec.llm.errors import LLMCapabilityError, LLMError, LLMUnavailableError

LLMHealth = Literal["up", "degraded", "down"]


@dataclass(frozen=True)
class BreakerStatus:
    """What /healthz reports: `state` up|degraded|down, failures in a row, seconds until a retry."""

    state: LLMHealth
    failures: int
    retry_in: float
    last_error: str


class CircuitBreaker:
    """Closed (calls go through) -> open after `threshold` outages in a row (calls refused for
    `cooldown` seconds) -> half-open (one trial call; success closes it, failure reopens it).

    >>> b = CircuitBreaker(threshold=2, cooldown=60)
    >>> b.failure("timeout", expensive=True); b.allow(), b.status().state
    (False, 'down')
    >>> b.success(); b.allow(), b.status().state
    (True, 'up')
    """

    def __init__(self, *, threshold: int = 3, cooldown: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False
        self._last_error = ""
        self.last_success: float | None = None
        """When a call last succeeded (the breaker's clock), or None."""

    def allow(self) -> bool:
        """True when a call may go out now (closed, or the one trial call after the cool-down)."""
        with self._lock:
            if self._opened_at is None:
                return True
            if self._clock() - self._opened_at < self.cooldown or self._trial:
                return False
            self._trial = True
            return True

    def success(self) -> None:
        with self._lock:
            self._failures, self._opened_at, self._trial, self._last_error = 0, None, False, ""
            self.last_success = self._clock()

    def failure(self, error: str, *, expensive: bool = False) -> None:
        """An outage; `expensive` (a timeout: the caller already waited) opens the breaker now."""
        with self._lock:
            self._failures += self.threshold if expensive else 1
            self._last_error = error[:200]
            if self._failures >= self.threshold or self._trial:
                self._opened_at = self._clock()
                self._trial = False

    def status(self) -> BreakerStatus:
        with self._lock:
            failures = min(self._failures, self.threshold)
            if self._opened_at is not None:
                left = max(0.0, self.cooldown - (self._clock() - self._opened_at))
                return BreakerStatus("down", failures, round(left, 1), self._last_error)
            state: LLMHealth = "degraded" if self._failures else "up"
            return BreakerStatus(state, failures, 0.0, self._last_error)


_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "genrec_llm_deadline", default=None)


@contextlib.contextmanager
def time_budget(seconds: float | None) -> Iterator[None]:
    """Every LLM call inside the block (this thread / task) shares `seconds` of waiting: each
    call's timeout is cut to what is left, and a call with nothing left fails at once.

    >>> with time_budget(5.0):
    ...     0 < remaining() <= 5.0
    True
    >>> remaining() is None
    True
    """
    if seconds is None:
        yield
        return
    token = _DEADLINE.set(time.monotonic() + float(seconds))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def remaining() -> float | None:
    """Seconds left in the current `time_budget` (None outside one)."""
    deadline = _DEADLINE.get()
    return None if deadline is None else deadline - time.monotonic()


def admit(name: str, breaker: CircuitBreaker, timeout: float | None) -> float | None:
    """A call's timeout cut to the turn's `time_budget`; LLMUnavailableError (no time spent)
    when the budget is spent or the breaker is open."""
    left = remaining()
    if left is not None:
        if left <= 0.05:
            raise LLMUnavailableError(f"{name}: this turn's LLM time budget is spent")
        timeout = left if timeout is None else min(timeout, left)
    if not breaker.allow():
        st = breaker.status()
        raise LLMUnavailableError(
            f"{name}: skipped, the LLM failed {st.failures} time(s) in a row "
            f"({st.last_error or 'outage'}); next try in {st.retry_in:g} s")
    return timeout


def record_outcome(breaker: CircuitBreaker, err: LLMError) -> None:
    """An outage counts against the LLM (a timeout opens the breaker); any answer shows it is up."""
    if isinstance(err, LLMUnavailableError):
        breaker.failure(str(err), expensive=err.timed_out)
    elif not isinstance(err, LLMCapabilityError):
        breaker.success()
