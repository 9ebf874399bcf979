"""What one model call returns: `LLMResult` (text, tool calls, usage, parsed JSON), `ToolCall`,
and `LLMStream` (text deltas as they come, then the `LLMResult`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.messages import AIMessage
from pydantic import BaseModel

from genrec.llm.usage import LLMUsage


@dataclass(frozen=True)
class ToolCall:
    """One tool call the model asked for; `arguments` is already decoded JSON (not validated)."""

    name: str
    arguments: dict[str, Any]
    id: str = ""


@dataclass
class LLMResult:
    """One model answer.

    text: the assistant text ("" when the model only called tools).
    tool_calls: valid tool calls, in order.
    usage: what this call cost (calls == 1).
    parsed: with `response_format`: the pydantic instance (a model class was given) or dict.
    finish_reason: "stop", "length", "tool_calls" ... when the backend knows it.
    message: the AIMessage, to append to the history before ToolMessages in a tool loop.
    """

    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: LLMUsage = field(default_factory=LLMUsage)
    parsed: BaseModel | dict[str, Any] | None = None
    finish_reason: str | None = None
    message: AIMessage | None = None


class LLMStream(Iterator[str]):
    """The text deltas of one streamed answer, in order; `result` once the stream has ended.

    Iterate it like any iterator of str. When the last delta has been read, `result` holds the
    whole answer as an LLMResult (text, usage, and `parsed` when a response_format was asked
    for); `result = yield from stream` gives it to a generator too. Errors (LLMError) are raised
    by the iteration, possibly after some deltas.
    """

    def __init__(self, items: Iterator[str | LLMResult]) -> None:
        self._items = items  # text deltas, then one LLMResult
        self.result: LLMResult | None = None

    def __iter__(self) -> LLMStream:
        return self

    def __next__(self) -> str:
        if self.result is None:
            item = next(self._items)
            if isinstance(item, str):
                return item
            self.result = item
        raise StopIteration(self.result)

    def close(self) -> None:
        """Stop reading the answer (closes the HTTP stream); nothing is charged after this."""
        close = getattr(self._items, "close", None)
        if close is not None:
            close()


Kind = Literal["openai", "vllm", "local", "none", "fake"]


@dataclass(frozen=True)
class LLMChoice:
    """What `get_llm` chose and why.

    kind: "openai" (a server that answered), "vllm" (started here), "local", "none" or "fake".
    model: the model id ("" for none). reason: one line saying why. notice: one calm line the UI
    shows (None when there is nothing to say). base_url: the endpoint (openai, vllm).
    probe_seconds: time spent deciding (the endpoint probe, GPU check).

    >>> LLMChoice("openai", "Qwen/Qwen2.5-7B-Instruct", base_url="http://h:8000/v1").spec
    'openai:Qwen/Qwen2.5-7B-Instruct'
    """

    kind: Kind
    model: str = ""
    reason: str = ""
    notice: str | None = None
    base_url: str = ""
    probe_seconds: float = 0.0

    @property
    def spec(self) -> str:
        """The `get_llm` spec this choice stands for: "openai:MODEL", "vllm:MODEL", "none"."""
        return (
            f"{self.kind}:{self.model}"
            if self.model and self.kind in ("openai", "vllm")
            else self.kind
        )

    def line(self) -> str:
        """One line for a terminal: the backend, then why."""
        what = {"openai": f"{self.model} at {self.base_url}", "vllm": f"vLLM serving {self.model}",
                "none": "none (rule-based answers)"}.get(self.kind, self.spec)
        return f"{what} — {self.reason}" if self.reason else what
