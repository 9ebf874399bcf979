"""A scripted chat model for tests: canned replies in, a record of every request out.

Works like any LangChain chat model (invoke, stream, bind_tools, with_structured_output).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.tool import invalid_tool_call, tool_call
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, PrivateAttr

from genrec.llm.base import LLMBackend
from genrec.llm.parsing import (
    ResponseFormat,
    message_text,
    openai_response_format,
    parse_structured,
)
from genrec.llm.usage import LLMUsage

DEFAULT_REPLY = "(fake LLM: no scripted reply)"


@dataclass
class FakeRequest:
    """One request the fake model got: the messages, the bound tools (OpenAI dicts), the
    tool_choice, the response_format body (structured output) and every other keyword."""

    messages: list[BaseMessage]
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: object = None
    response_format: dict[str, Any] | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def tool_names(self) -> list[str]:
        return [t["function"]["name"] for t in self.tools if "function" in t]

    @property
    def last_user_text(self) -> str:
        for m in reversed(self.messages):
            if m.type == "human":
                return message_text(m)
        return ""


def _is_tool_call(obj: object) -> bool:
    return isinstance(obj, dict) and "name" in obj and ("args" in obj or "arguments" in obj)


def _to_message(reply: object, request: FakeRequest) -> AIMessage:
    """A queued reply as an AIMessage (see FakeLLM for the accepted forms)."""
    if callable(reply) and not isinstance(reply, (BaseModel, type)):
        reply = reply(request)
    if isinstance(reply, BaseException):
        raise reply
    if isinstance(reply, AIMessage):
        return reply
    if isinstance(reply, str):
        return AIMessage(content=reply)
    if isinstance(reply, BaseModel):
        return AIMessage(content=reply.model_dump_json())
    calls: list[Any] | None = None
    content = ""
    if _is_tool_call(reply):
        calls = [reply]
    elif isinstance(reply, list) and reply and all(_is_tool_call(c) for c in reply):
        calls = reply
    elif isinstance(reply, dict) and "tool_calls" in reply:
        calls = list(reply["tool_calls"])
        content = str(reply.get("content") or "")
    if calls is None:
        if isinstance(reply, (dict, list)):
            return AIMessage(content=json.dumps(reply))
        raise TypeError(f"FakeLLM cannot reply with {type(reply).__name__}: {reply!r}")
    good, bad = [], []
    for c in calls:
        args = c.get("args", c.get("arguments", {}))
        cid = c.get("id") or f"call_{uuid.uuid4().hex[:12]}"
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except ValueError as exc:
                bad.append(invalid_tool_call(name=c["name"], args=args, id=cid, error=str(exc)))
                continue
        if not isinstance(args, dict):
            bad.append(
                invalid_tool_call(
                    name=c["name"], args=json.dumps(args), id=cid, error="not an object"
                )
            )
            continue
        good.append(tool_call(name=c["name"], args=args, id=cid))
    return AIMessage(content=content, tool_calls=good, invalid_tool_calls=bad)


def _words(text: str) -> int:
    return len(text.split())


class FakeLLM(BaseChatModel):
    """A scripted chat model: `enqueue` replies, read `requests` afterwards.

    Replies, one per call, in order:
      - "text": a plain answer;
      - {"name": "search_items", "args": {...}}: one tool call (a list of these: parallel calls);
        string args that are not valid JSON make an *invalid* tool call (for repair tests);
      - {"tool_calls": [...], "content": "text"}: tool calls with text;
      - a pydantic instance, or any other dict/list: its JSON as the text (structured output);
      - an AIMessage: as is;
      - an exception instance: raised by the call (e.g. LLMUnavailableError("down"));
      - a callable(FakeRequest) returning any of the above (replies that depend on the request).
    When the queue is empty the model answers `default` ("(fake LLM: no scripted reply)"), or
    "{}" when the request asked for structured output, and never crashes; `strict=True` raises
    AssertionError instead, to catch tests that make more calls than they scripted.
    Token usage is counted in words, so it is deterministic. Streaming sends the reply word by
    word (" b" after "a"), or in pieces of `chunk_chars` characters when that is set (to test
    deltas that split JSON escapes); tool calls come with the last piece.

    >>> llm = FakeLLM()
    >>> llm.enqueue(["Hi there", {"name": "search_items", "args": {"query": "noir"}}])
    >>> llm.invoke("hello").content
    'Hi there'
    >>> llm.bind_tools([]).invoke("films").tool_calls[0]["args"]
    {'query': 'noir'}
    >>> llm.invoke("again").content
    '(fake LLM: no scripted reply)'
    >>> len(llm.requests)
    3
    """

    default: str = DEFAULT_REPLY
    strict: bool = False
    chunk_chars: int = 0
    _queue: deque = PrivateAttr(default_factory=deque)
    _requests: list = PrivateAttr(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, replies: Iterable[object] = (), **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.enqueue(replies)

    @property
    def _llm_type(self) -> str:
        return "genrec-fake"

    # -- script -------------------------------------------------------------------------------

    def enqueue(self, replies: Iterable[object] | str | dict) -> None:
        """Append replies to the script (a single str or dict counts as one reply)."""
        if isinstance(replies, (str, dict, BaseModel, AIMessage, BaseException)):
            replies = [replies]
        with self._lock:
            self._queue.extend(replies)

    @property
    def pending(self) -> int:
        """Replies still queued."""
        return len(self._queue)

    @property
    def requests(self) -> list[FakeRequest]:
        """Every request so far, oldest first."""
        return list(self._requests)

    @property
    def last_request(self) -> FakeRequest | None:
        return self._requests[-1] if self._requests else None

    def reset(self) -> None:
        """Forget the script and the recorded requests."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()

    # -- LangChain ----------------------------------------------------------------------------

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: object = None, **kwargs: object
    ) -> Runnable:
        formatted = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def with_structured_output(
        self, schema: ResponseFormat, *, include_raw: bool = False, **kwargs: object
    ) -> Runnable:
        """Asks for JSON (recorded as response_format) and parses the reply's JSON, or the
        first tool call's arguments, into `schema`."""

        def parse(msg: AIMessage) -> BaseModel | dict[str, Any]:
            if msg.tool_calls:
                text = json.dumps(msg.tool_calls[0]["args"])
            else:
                text = message_text(msg)
            parsed = parse_structured(text, schema, LLMUsage())
            return {"raw": msg, "parsed": parsed, "parsing_error": None} if include_raw else parsed

        return self.bind(response_format=openai_response_format(schema)) | RunnableLambda(parse)

    def _next(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> AIMessage:
        kw: dict[str, Any] = dict(kwargs)
        request = FakeRequest(
            messages=list(messages),
            tools=list(kw.pop("tools", None) or []),
            tool_choice=kw.pop("tool_choice", None),
            response_format=kw.pop("response_format", None),
            kwargs=kw,
        )
        with self._lock:
            self._requests.append(request)
            reply = self._queue.popleft() if self._queue else _EMPTY
        if reply is _EMPTY:
            if self.strict:
                raise AssertionError(
                    f"FakeLLM got request #{len(self._requests)} but its script is empty"
                )
            reply = "{}" if request.response_format else self.default
        msg = _to_message(reply, request)
        prompt = sum(_words(message_text(m)) for m in messages)
        out_words = _words(message_text(msg)) + sum(
            _words(json.dumps(c["args"])) for c in msg.tool_calls
        )
        return msg.model_copy(
            update={
                "usage_metadata": {
                    "input_tokens": prompt,
                    "output_tokens": out_words,
                    "total_tokens": prompt + out_words,
                },
                "response_metadata": {
                    "finish_reason": "tool_calls" if msg.tool_calls else "stop",
                    "model_name": "fake",
                },
            }
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: object,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next(messages, kwargs))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: object,
    ) -> Iterator[ChatGenerationChunk]:
        msg = self._next(messages, kwargs)
        text = message_text(msg)
        pieces = _pieces(text, self.chunk_chars) or [""]
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            chunk = AIMessageChunk(
                content=piece,
                tool_call_chunks=(
                    [
                        {
                            "name": c["name"],
                            "args": json.dumps(c["args"]),
                            "id": c["id"],
                            "index": j,
                        }
                        for j, c in enumerate(msg.tool_calls)
                    ]
                    if last
                    else []
                ),
                usage_metadata=msg.usage_metadata if last else None,
                response_metadata=msg.response_metadata if last else {},
            )
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=ChatGenerationChunk(message=chunk))
            yield ChatGenerationChunk(message=chunk)


def _pieces(text: str, chunk_chars: int) -> list[str]:
    """Streamed deltas that join back to `text`: words, or `chunk_chars`-sized pieces.

    >>> _pieces("a b c", 0), _pieces('{"t": "x"}', 4)
    (['a', ' b', ' c'], ['{"t"', ': "x', '"}'])
    """
    if chunk_chars > 0:
        return [text[i : i + chunk_chars] for i in range(0, len(text), chunk_chars)]
    return _split_keep_spaces(text)


def _split_keep_spaces(text: str) -> list[str]:
    """'a b c' -> ['a', ' b', ' c'] (word-sized deltas that join back to the text)."""
    out: list[str] = []
    for i, word in enumerate(text.split(" ")):
        out.append(word if i == 0 else " " + word)
    return [p for p in out if p] if text else []


_EMPTY = object()


def fake_backend(
    replies: Iterable[Any] = (),
    *,
    supports_tools: bool = True,
    supports_structured: bool = True,
    strict: bool = False,
    default: str = DEFAULT_REPLY,
    chunk_chars: int = 0,
) -> LLMBackend:
    """A backend around a fresh FakeLLM (`backend.chat_model`), for tests of agent logic.

    supports_tools=False makes it behave like the embedded model (guided policy; tools rejected).
    `backend.stream(...)` and `invoke(..., on_delta=...)` get the scripted reply in pieces (words,
    or `chunk_chars` characters each).

    >>> llm = fake_backend(['{"text": "Hi there"}'], chunk_chars=5)
    >>> list(llm.stream("hi"))
    ['{"tex', 't": "', 'Hi th', 'ere"}']
    """
    model = FakeLLM(replies, strict=strict, default=default, chunk_chars=chunk_chars)
    backend = _FakeBackend(
        "fake", model, supports_tools=supports_tools, supports_structured=supports_structured
    )
    return backend


class _FakeBackend(LLMBackend):
    def _structured_kwargs(self, response_format: ResponseFormat) -> dict[str, Any]:
        return {"response_format": openai_response_format(response_format)}


FakeReply = str | dict | list | BaseModel | AIMessage | BaseException | Callable[[FakeRequest], Any]
