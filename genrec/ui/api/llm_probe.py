"""Whether the configured LLM answers: the circuit breaker's state, and a cached probe of the LLM
server (GET {base_url}/models) that /healthz and /readyz report.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool

if TYPE_CHECKING:
    from genrec.llm import LLMBackend


def llm_health(llm: LLMBackend | None) -> tuple[str, float | None]:
    """("none" | "up" | "degraded" | "down", seconds until the next try when down)."""
    if not _chat(llm):
        return "none", None
    breaker = getattr(llm, "breaker", None)
    if breaker is None:
        return "up", None
    st = breaker.status()
    return st.state, (st.retry_in if st.state == "down" else None)


class LLMProbe:
    """Whether the configured LLM server answers GET {base_url}/models, asked at most once per
    `every` seconds (callers meanwhile get the last answer; one probe at a time).

    Only servers reached over HTTP are probed (the `openai` backend and a vLLM child); `state`
    is None for the others.
    """

    def __init__(self, llm: LLMBackend | None, *, timeout: float, every: float) -> None:
        self.base_url: str | None = getattr(llm, "base_url", None) if _chat(llm) else None
        self.api_key = str(getattr(llm, "api_key", "") or "EMPTY")
        self.timeout = timeout
        self.every = every
        self._last: tuple[float, str | None] | None = None  # (when, None if up else why not)
        self._lock = asyncio.Lock()

    def _ask(self) -> str | None:
        from genrec.llm import LLMError, LLMUnavailableError
        from genrec.llm.openai_backend import list_models

        assert self.base_url is not None
        try:
            list_models(self.base_url, api_key=self.api_key, timeout=self.timeout)
        except LLMUnavailableError as exc:
            if exc.timed_out:
                return f"{self.base_url} did not answer within {self.timeout:g} s"
            return f"nothing answers at {self.base_url}"
        except LLMError as exc:
            status = getattr(exc, "status", None)
            return f"{self.base_url}/models answered " + (f"HTTP {status}" if status else
                                                          "something that is not a model list")
        return None

    async def state(self, answered_since: float | None = None) -> tuple[bool, str] | None:
        """(answers, why not), or None when there is no server to ask. `answered_since` (monotonic
        time of the last successful LLM call) makes a cached "down" older than it stale."""
        if not self.base_url:
            return None
        async with self._lock:
            stale = self._last is not None and self._last[1] is not None and (
                answered_since is not None and answered_since > self._last[0])
            if self._last is None or stale or time.monotonic() - self._last[0] >= self.every:
                self._last = (time.monotonic(), await run_in_threadpool(self._ask))
            why = self._last[1]
        return why is None, why or ""


def _chat(llm: LLMBackend | None) -> bool:
    return llm is not None and getattr(llm, "chat_model", None) is not None


__all__ = ["LLMProbe", "llm_health"]
