"""The errors every LLM backend raises: one base (`LLMError`) the agent catches, four kinds
below it.

Unavailable (try later / templated text), response (unusable answer), capability, unknown name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage

from genrec.llm.usage import LLMUsage


class LLMError(RuntimeError):
    """Base of every error an LLM backend raises; the agent catches this one type."""


class LLMUnavailableError(LLMError):
    """The model could not be reached in time: server down, connection refused, timeout, 5xx.

    `timed_out` is True when the caller already waited the whole timeout (a hanging server).
    """

    def __init__(self, msg: str, *, timed_out: bool = False) -> None:
        super().__init__(msg)
        self.timed_out = timed_out


class LLMResponseError(LLMError):
    """The model answered, but the answer is unusable: an error status, a body that is not a chat
    completion, malformed or unknown tool calls, JSON that does not match the requested schema.

    Attributes: `status` (HTTP status when the server sent one), `raw_text` (the model's text, if
    any), `invalid_tool_calls` (dicts with name/args/error, for a repair prompt), `usage` (what the
    failed call cost), `message` (the AIMessage when one was decoded).
    """

    def __init__(
        self,
        msg: str,
        *,
        status: int | None = None,
        raw_text: str = "",
        invalid_tool_calls: Sequence[Mapping[str, Any]] = (),
        usage: LLMUsage | None = None,
        message: AIMessage | None = None,
    ) -> None:
        super().__init__(msg)
        self.status = status
        self.raw_text = raw_text
        self.invalid_tool_calls = [dict(c) for c in invalid_tool_calls]
        self.usage = usage or LLMUsage()
        self.message = message


class LLMCapabilityError(LLMError, ValueError):
    """The caller asked a backend for something it cannot do (tools on a model without tools)."""


class UnknownLLMError(LLMError, KeyError):
    """`get_llm` got a backend name it does not know.

    >>> str(UnknownLLMError("unknown LLM backend 'x'"))  # not quoted, unlike a KeyError
    "unknown LLM backend 'x'"
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
