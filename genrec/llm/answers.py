"""From a chat model's message to an `LLMResult`: what the call cost and whether the answer
is usable.

Checks tool calls (invalid JSON, unknown names, calls written as text), empty answers, and the
JSON a `response_format` asked for; every problem is an LLMResponseError saying what was wrong.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage

from genrec.llm.errors import LLMResponseError
from genrec.llm.parsing import (
    ResponseFormat,
    message_text,
    parse_structured,
    recover_text_tool_calls,
    tool_names,
)
from genrec.llm.results import LLMResult, ToolCall
from genrec.llm.usage import LLMUsage, estimate_tokens


def usage_of(msg: BaseMessage | None, lc_messages: list[BaseMessage], started: float) -> LLMUsage:
    """What one call cost: the server's token counts when it sent them, else estimates.

    >>> from langchain_core.messages import HumanMessage
    >>> u = usage_of(AIMessage(content="four score"), [HumanMessage("hello there")], 0.0)
    >>> (u.calls, u.prompt_tokens, u.completion_tokens, u.estimated_calls)
    (1, 3, 3, 1)
    """
    usage = LLMUsage(calls=1, seconds=time.perf_counter() - started)
    meta = getattr(msg, "usage_metadata", None) if msg is not None else None
    if meta and (meta.get("input_tokens") or meta.get("output_tokens")):
        usage.prompt_tokens = int(meta.get("input_tokens") or 0)
        usage.completion_tokens = int(meta.get("output_tokens") or 0)
    else:
        usage.estimated_calls = 1
        usage.prompt_tokens = sum(estimate_tokens(message_text(m)) for m in lc_messages)
        text = message_text(msg) if msg is not None else ""
        calls = getattr(msg, "tool_calls", None) or []
        text += "".join(json.dumps(c.get("args", {})) for c in calls)
        usage.completion_tokens = estimate_tokens(text)
    return usage


def _tool_calls(
    name: str, msg: AIMessage, text: str, usage: LLMUsage, tools: Sequence[Any] | None
) -> tuple[list[ToolCall], str, AIMessage]:
    """The answer's tool calls, its text and message (a tool call written as text is read into
    a call), or LLMResponseError for calls that cannot be used."""
    meta = msg.response_metadata or {}
    if msg.invalid_tool_calls:
        bad = [
            {"name": c.get("name"), "args": c.get("args"), "error": c.get("error")}
            for c in msg.invalid_tool_calls
        ]
        names = ", ".join(repr(b["name"]) for b in bad)
        raise LLMResponseError(
            f"{name}: the model sent tool call(s) {names} whose arguments are not valid "
            f"JSON: {str(bad[0]['args'])[:200]!r}",
            raw_text=text,
            invalid_tool_calls=bad,
            usage=usage,
            message=msg,
        )
    calls = [
        ToolCall(c["name"], dict(c.get("args") or {}), c.get("id") or "") for c in msg.tool_calls
    ]
    if not calls and tools:
        recovered = recover_text_tool_calls(text, tool_names(tools))
        if recovered is not None:
            calls, bad = recovered
            if bad:
                raise LLMResponseError(
                    f"{name}: the model wrote a tool call as text that cannot be read: "
                    f"{bad[0]['error']}",
                    raw_text=text,
                    invalid_tool_calls=bad,
                    usage=usage,
                    message=msg,
                )
            text = ""
            msg = AIMessage(
                content="",
                tool_calls=[{"name": c.name, "args": c.arguments, "id": c.id} for c in calls],
                usage_metadata=msg.usage_metadata,
                response_metadata={**meta, "recovered_from_text": True},
            )
    if calls and tools is not None:
        known = tool_names(tools)
        unknown = [c for c in calls if known and c.name not in known]
        if unknown:
            raise LLMResponseError(
                f"{name}: the model called unknown tool {unknown[0].name!r}; "
                f"known tools: {', '.join(known)}",
                raw_text=text,
                invalid_tool_calls=[
                    {"name": c.name, "args": c.arguments, "error": "unknown tool"} for c in unknown
                ],
                usage=usage,
                message=msg,
            )
    return calls, text, msg


def read_answer(
    name: str,
    msg: BaseMessage,
    usage: LLMUsage,
    tools: Sequence[Any] | None = None,
    response_format: ResponseFormat | None = None,
) -> LLMResult:
    """The LLMResult of backend `name`'s answer `msg` (which cost `usage`), or LLMResponseError.

    >>> read_answer("fake", AIMessage(content='{"a": 1}'), LLMUsage(calls=1), None, {}).parsed
    {'a': 1}
    """
    if not isinstance(msg, AIMessage):
        raise LLMResponseError(
            f"{name}: the chat model returned {type(msg).__name__}, not an AIMessage",
            usage=usage,
        )
    text = message_text(msg)
    meta = msg.response_metadata or {}
    finish = meta.get("finish_reason") or meta.get("stop_reason")
    calls, text, msg = _tool_calls(name, msg, text, usage, tools)
    if not calls and not text.strip():
        raise LLMResponseError(
            f"{name}: the model's answer is empty (finish_reason={finish!r})",
            usage=usage,
            message=msg,
        )
    parsed = None
    if response_format is not None and not calls:
        parsed = parse_structured(text, response_format, usage)
    return LLMResult(
        text=text,
        tool_calls=calls,
        usage=usage,
        parsed=parsed,
        finish_reason=finish,
        message=msg,
    )
