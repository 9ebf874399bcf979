"""What LLM calls cost: the `LLMUsage` record and `meter()`, which counts the calls made in a block.

Backends charge every call (failed ones too) to their own usage and to every open meter.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class LLMUsage:
    """What LLM calls cost: number of calls, prompt and completion tokens, seconds spent waiting.

    `estimated_calls` counts calls whose token numbers were estimated (about 4 characters a token)
    because the server sent no usage.

    >>> total = LLMUsage(calls=1, prompt_tokens=10) + LLMUsage(calls=1, completion_tokens=5)
    >>> (total.calls, total.total_tokens)
    (2, 15)
    """

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    estimated_calls: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: LLMUsage) -> None:
        """Add another usage into this one (in place)."""
        self.calls += other.calls
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.seconds += other.seconds
        self.estimated_calls += other.estimated_calls

    def __add__(self, other: LLMUsage) -> LLMUsage:
        out = LLMUsage()
        out.add(self)
        out.add(other)
        return out

    def as_dict(self) -> dict[str, float | int]:
        return {
            "calls": self.calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "seconds": round(self.seconds, 4),
            "estimated_calls": self.estimated_calls,
        }


_METERS: contextvars.ContextVar[tuple[LLMUsage, ...]] = contextvars.ContextVar(
    "genrec_llm_meters", default=()
)


@contextlib.contextmanager
def meter() -> Iterator[LLMUsage]:
    """Count every LLM call made inside the block in this thread / async task (any backend).

    >>> with meter() as usage:
    ...     pass  # backend.invoke(...) calls here add to `usage`
    >>> usage.calls
    0
    """
    usage = LLMUsage()
    token = _METERS.set(_METERS.get() + (usage,))
    try:
        yield usage
    finally:
        _METERS.reset(token)


def charge_meters(usage: LLMUsage) -> None:
    """Add `usage` to every meter open in this thread / async task (nested meters all count).

    >>> with meter() as outer, meter() as inner:
    ...     charge_meters(LLMUsage(calls=1))
    >>> (outer.calls, inner.calls)
    (1, 1)
    """
    for m in _METERS.get():
        m.add(usage)


def estimate_tokens(text: str) -> int:
    """Rough token count (about 4 characters a token) when a server reports no usage.

    >>> estimate_tokens("twelve chars"), estimate_tokens("")
    (3, 0)
    """
    return max(1, (len(text) + 3) // 4) if text else 0
