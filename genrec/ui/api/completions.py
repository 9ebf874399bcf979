"""The OpenAI chat-completion shapes genrec answers in: the model name (which backend answered),
genrec's extra part, usage, and the server-sent-event stream of one turn.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from genrec.agent import Reply
from genrec.ui.api.errors import AgentFailure
from genrec.ui.api.schemas import MODEL_ID, GenrecExtra, Usage
from genrec.ui.api.warnings import public_warnings


def answered_by(backend: str) -> str:
    """The `model` of a completion: genrec and the LLM backend that answered.

    >>> answered_by("none"), answered_by("openai:Qwen/Qwen2.5-7B-Instruct")
    ('genrec/none', 'genrec/openai:Qwen/Qwen2.5-7B-Instruct')
    """
    return f"{MODEL_ID}/{backend or 'none'}"


def extra_of(reply: Reply, client_id: str) -> GenrecExtra:
    """genrec's own part of a completion: the session, the picks, the question, trace, warnings."""
    return GenrecExtra(
        session_id=client_id,
        recommendations=[r.model_dump(mode="json") for r in reply.recommendations],
        question=reply.question,
        suggested_answers=list(getattr(reply, "suggested_answers", []) or []),
        trace=[t.model_dump(mode="json") for t in reply.trace],
        warnings=public_warnings(reply.warnings),
        backend=reply.backend,
    )


def usage_of(reply: Reply) -> Usage:
    """The token counts of a turn, as OpenAI's usage."""
    p, c = int(reply.prompt_tokens or 0), int(reply.completion_tokens or 0)
    return Usage(prompt_tokens=p, completion_tokens=c, total_tokens=p + c)


def _sse(obj: dict[str, Any]) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"




async def completion_chunks(
    parts: AsyncIterator[str | Reply],
    client_id: str,
    cid: str,
    created: int,
    model: str,
    include_usage: bool,
) -> AsyncIterator[str]:
    """SSE in the OpenAI chunk format from a turn's stream (`parts`: text deltas, then the Reply):
    role, content deltas, a final chunk with `genrec`, [DONE]."""

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: object) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _sse(
            {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [choice],
                **extra,
            }
        )

    yield chunk({"role": "assistant", "content": ""})
    sent = ""
    reply = None
    try:
        async for part in parts:
            if isinstance(part, str):
                if part:
                    sent += part
                    yield chunk({"content": part})
            else:
                reply = part
    except AgentFailure as exc:
        yield _sse({"error": {"message": f"the recommender failed: {exc}", "type": "agent_error",
                              "code": 503}})
        yield "data: [DONE]\n\n"
        return
    if reply is None:
        yield _sse({"error": {"message": "the recommender ended the turn without a reply",
                              "type": "agent_error", "code": 503}})
        yield "data: [DONE]\n\n"
        return
    extra = extra_of(reply, client_id)
    if reply.text.startswith(sent):
        if len(reply.text) > len(sent):
            yield chunk({"content": reply.text[len(sent):]})
    else:  # the streamed text failed the check: the client replaces what it showed
        extra.replace_text = reply.text
    yield chunk({}, "stop", genrec=extra.model_dump(mode="json"))
    if include_usage:
        yield _sse(
            {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": usage_of(reply).model_dump(),
            }
        )
    yield "data: [DONE]\n\n"


__all__ = ["answered_by", "completion_chunks", "extra_of", "usage_of"]
