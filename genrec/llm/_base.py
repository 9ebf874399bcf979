"""The LLM backend interface: one object per backend, typed results, usage meters, clear errors.

Every backend wraps a LangChain chat model; `LLMBackend.invoke/stream` add error translation, usage
accounting, tool-call checks and JSON-schema structured output on top, the same way for all of them.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    SystemMessage,
    convert_to_messages,
    message_chunk_to_message,
)
from pydantic import BaseModel, ValidationError

# ---------------------------------------------------------------------------------------------
# errors


class LLMError(RuntimeError):
    """Base of every error an LLM backend raises; the agent catches this one type."""


class LLMUnavailableError(LLMError):
    """The model could not be reached in time: server down, connection refused, timeout, 5xx."""


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
    """`get_llm` got a backend name it does not know."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


# ---------------------------------------------------------------------------------------------
# results and usage


@dataclass
class LLMUsage:
    """What LLM calls cost: number of calls, prompt and completion tokens, seconds spent waiting.

    `estimated_calls` counts calls whose token numbers were estimated (about 4 characters a token)
    because the server sent no usage.
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
    parsed: Any = None
    finish_reason: str | None = None
    message: AIMessage | None = None


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


# ---------------------------------------------------------------------------------------------
# helpers shared by the backends

MessagesInput = Sequence[BaseMessage | Mapping[str, Any] | tuple[str, str] | str]
ResponseFormat = type[BaseModel] | Mapping[str, Any]


def to_messages(messages: MessagesInput | str) -> list[BaseMessage]:
    """LangChain messages from messages, {"role", "content"} dicts, (role, text) pairs or a str."""
    if isinstance(messages, str):
        messages = [messages]
    try:
        return convert_to_messages(list(messages))
    except Exception as exc:  # noqa: BLE001 - a caller bug, said clearly
        raise ValueError(f"could not read the chat messages: {exc}") from exc


def schema_of(response_format: ResponseFormat) -> tuple[str, dict[str, Any]]:
    """(name, JSON schema) of a pydantic model class or a JSON-schema dict."""
    if isinstance(response_format, type) and issubclass(response_format, BaseModel):
        return response_format.__name__, response_format.model_json_schema()
    schema = dict(response_format)
    if schema.get("type") == "json_schema" and "json_schema" in schema:  # an OpenAI response_format
        inner = schema["json_schema"]
        return str(inner.get("name", "response")), dict(inner.get("schema", {}))
    name = re.sub(r"[^A-Za-z0-9_-]", "_", str(schema.get("title", "response")))[:64] or "response"
    return name, schema


def openai_response_format(response_format: ResponseFormat) -> dict[str, Any]:
    """The OpenAI/vLLM `response_format` body for a JSON schema (not strict, as vLLM accepts)."""
    name, schema = schema_of(response_format)
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}


def json_instruction(response_format: ResponseFormat) -> str:
    """A system instruction asking for JSON matching the schema (for models without guided JSON)."""
    _, schema = schema_of(response_format)
    return (
        "Answer with one JSON object only, no other text, matching this JSON schema:\n"
        + json.dumps(schema, separators=(",", ":"))
    )


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


def extract_json(text: str) -> Any:
    """The JSON value in `text`: the whole text, a ```json fence, or the first {...} object in it.

    Raises ValueError when there is none.
    """
    candidates = [text.strip()]
    candidates += [m.group(1).strip() for m in _FENCE.finditer(text)]
    start = text.find("{")
    if start >= 0:
        candidates.append(text[start:])
    decoder = json.JSONDecoder()
    for cand in candidates:
        if not cand:
            continue
        try:
            return json.loads(cand)
        except ValueError:
            pass
        if cand.startswith("{"):
            try:
                value, _ = decoder.raw_decode(cand)
                return value
            except ValueError:
                pass
    raise ValueError("no JSON object in the model's text")


def parse_structured(text: str, response_format: ResponseFormat, usage: LLMUsage) -> Any:
    """Decode and validate the model's JSON; LLMResponseError saying what was wrong otherwise."""
    preview = text if len(text) <= 200 else text[:200] + "..."
    try:
        value = extract_json(text)
    except ValueError:
        raise LLMResponseError(
            f"the model was asked for JSON but wrote {preview!r}", raw_text=text, usage=usage
        ) from None
    if isinstance(response_format, type) and issubclass(response_format, BaseModel):
        try:
            return response_format.model_validate(value)
        except ValidationError as exc:
            errors = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
                for e in exc.errors()[:5]
            )
            raise LLMResponseError(
                f"the model's JSON does not match {response_format.__name__}: {errors}",
                raw_text=text,
                usage=usage,
            ) from None
    if not isinstance(value, dict):
        raise LLMResponseError(
            f"the model's JSON is a {type(value).__name__}, not an object: {preview!r}",
            raw_text=text,
            usage=usage,
        )
    return value


_CALL_MARKERS = ("<tool_call>", "[TOOL_CALLS]", "<|python_tag|>")
_HERMES_CALL = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)


def recover_text_tool_calls(
    text: str, known: Sequence[str]
) -> tuple[list[ToolCall], list[dict[str, Any]]] | None:
    """Tool calls a model wrote as plain text instead of native calls, or None if there are none.

    This happens when vLLM runs without the model's --tool-call-parser, or its parser misses:
    Hermes/Qwen `<tool_call>{"name", "arguments"}</tool_call>`, Mistral `[TOOL_CALLS] [...]`,
    Llama `<|python_tag|>{"name", "parameters"}`, or a bare JSON object naming a known tool.
    Returns (calls, unreadable): unreadable entries (name/args/error) only when a tool-call marker
    was present, so ordinary JSON text is never mistaken for a call.
    """
    body = text.strip()
    marked = any(m in body for m in _CALL_MARKERS)
    if not marked and not body.startswith(("{", "[")):
        return None
    if "<tool_call>" in body:
        payloads = _HERMES_CALL.findall(body)
    else:
        for m in _CALL_MARKERS:
            body = body.replace(m, "")
        payloads = [body.strip()]
    calls: list[ToolCall] = []
    bad: list[dict[str, Any]] = []
    for payload in payloads:
        try:
            value = json.loads(payload)
        except ValueError as exc:
            if marked:
                bad.append({"name": None, "args": payload, "error": f"not valid JSON ({exc})"})
            continue
        for item in value if isinstance(value, list) else [value]:
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str) or name not in known:
                if marked:
                    bad.append(
                        {"name": name, "args": json.dumps(item), "error": "no known tool name"}
                    )
                continue
            args = item.get("arguments", item.get("parameters", {}))
            if isinstance(args, str):
                try:
                    args = json.loads(args)
                except ValueError:
                    args = None
            if not isinstance(args, dict):
                bad.append(
                    {"name": name, "args": str(args), "error": "arguments are not an object"}
                )
                continue
            calls.append(ToolCall(name, args, f"text-call-{len(calls)}"))
    if not calls and not bad:
        return None
    return calls, bad


def estimate_tokens(text: str) -> int:
    """Rough token count (about 4 characters a token) when a server reports no usage."""
    return max(1, (len(text) + 3) // 4) if text else 0


def _message_text(msg: BaseMessage) -> str:
    content = msg.content
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "".join(parts)


def _tool_names(tools: Sequence[Any]) -> list[str]:
    from langchain_core.utils.function_calling import convert_to_openai_tool

    names = []
    for tool in tools:
        try:
            names.append(convert_to_openai_tool(tool)["function"]["name"])
        except Exception:  # noqa: BLE001 - a tool we cannot name is not checked
            continue
    return names


# ---------------------------------------------------------------------------------------------
# the backend


ErrorMapper = Callable[[BaseException], LLMError | None]


class LLMBackend:
    """A chat model plus what genrec needs around it: capabilities, usage, uniform errors.

    Get one from `get_llm(spec, settings)`; call it with messages as LangChain messages or
    {"role", "content"} dicts.

    >>> from genrec.llm import fake_backend
    >>> llm = fake_backend(["Hello!", {"name": "search_items", "args": {"query": "space"}}])
    >>> llm.invoke([{"role": "user", "content": "hi"}]).text
    'Hello!'
    >>> llm.invoke("find space films", tools=[]).tool_calls[0].name
    'search_items'
    >>> llm.usage.calls
    2

    Attributes:
        name: "openai:MODEL", "local:MODEL", "none" or "fake".
        chat_model: the LangChain BaseChatModel (None for `none`), usable directly too.
        supports_tools: native tool calling (else use the guided policy).
        supports_structured: the server constrains output to a JSON schema; when False,
            `response_format` still works by instruction + parsing, just less reliably.
        usage: everything this backend has spent since it was made (thread-safe).
    """

    def __init__(
        self,
        name: str,
        chat_model: BaseChatModel | None,
        *,
        supports_tools: bool,
        supports_structured: bool,
        map_error: ErrorMapper | None = None,
        max_tokens: int | None = None,
        timeout: float | None = None,
    ) -> None:
        self.name = name
        self.chat_model = chat_model
        self.supports_tools = supports_tools
        self.supports_structured = supports_structured
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.usage = LLMUsage()
        self._map_error = map_error
        self._lock = threading.Lock()
        self._closers: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        return (
            f"LLMBackend({self.name!r}, tools={self.supports_tools}, "
            f"structured={self.supports_structured})"
        )

    # -- lifecycle ----------------------------------------------------------------------------

    def on_close(self, fn: Callable[[], None]) -> None:
        """Run `fn` when the backend is closed (e.g. stop a vLLM server genrec started)."""
        self._closers.append(fn)

    def close(self) -> None:
        """Release what the backend holds (a child vLLM server); safe to call twice."""
        closers, self._closers = self._closers, []
        for fn in reversed(closers):
            fn()

    def __enter__(self) -> LLMBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- calls --------------------------------------------------------------------------------

    def invoke(
        self,
        messages: MessagesInput | str,
        *,
        tools: Sequence[Any] | None = None,
        tool_choice: str | None = None,
        response_format: ResponseFormat | None = None,
        timeout: float | None = None,
        max_tokens: int | None = None,
        on_delta: Callable[[str], None] | None = None,
    ) -> LLMResult:
        """One model call.

        Args:
            messages: the conversation (LangChain messages, role/content dicts, or a str).
            tools: LangChain tools, pydantic classes, functions or OpenAI tool dicts; the answer
                may then hold `tool_calls`. Needs `supports_tools`.
            tool_choice: "auto" (default), "required", "none" or a tool name.
            response_format: a pydantic model class or JSON schema; the answer's `parsed` holds
                the validated object.
            timeout: seconds for this call (default: settings.llm_timeout).
            max_tokens: most tokens to write (default: settings.llm_max_tokens).
            on_delta: when given, the answer is streamed and each text delta is passed to it as
                it arrives (tool calls are reassembled from the streamed deltas).

        Raises:
            LLMUnavailableError: the model could not be reached in time.
            LLMResponseError: the answer is unusable (see its `invalid_tool_calls`, `raw_text`).
            LLMCapabilityError: tools asked of a backend without tool calling, or no model.
        """
        model, lc_messages, kwargs = self._prepare(
            messages, tools, tool_choice, response_format, timeout, max_tokens
        )
        started = time.perf_counter()
        with self._failures_charged(lc_messages, started):
            if on_delta is None:
                msg = model.invoke(lc_messages, **kwargs)
            else:
                last: Any = None
                for chunk in model.stream(lc_messages, **kwargs):
                    last = chunk if last is None else last + chunk
                    text = _message_text(chunk)
                    if text:
                        on_delta(text)
                msg = message_chunk_to_message(last) if last is not None else AIMessage(content="")
        return self._finish(msg, lc_messages, tools, response_format, started)

    async def ainvoke(
        self,
        messages: MessagesInput | str,
        *,
        tools: Sequence[Any] | None = None,
        tool_choice: str | None = None,
        response_format: ResponseFormat | None = None,
        timeout: float | None = None,
        max_tokens: int | None = None,
        on_delta: Callable[[str], None] | None = None,
    ) -> LLMResult:
        """Async `invoke` (same arguments, result and errors)."""
        model, lc_messages, kwargs = self._prepare(
            messages, tools, tool_choice, response_format, timeout, max_tokens
        )
        started = time.perf_counter()
        with self._failures_charged(lc_messages, started):
            if on_delta is None:
                msg = await model.ainvoke(lc_messages, **kwargs)
            else:
                last: Any = None
                async for chunk in model.astream(lc_messages, **kwargs):
                    last = chunk if last is None else last + chunk
                    text = _message_text(chunk)
                    if text:
                        on_delta(text)
                msg = message_chunk_to_message(last) if last is not None else AIMessage(content="")
        return self._finish(msg, lc_messages, tools, response_format, started)

    def stream(
        self,
        messages: MessagesInput | str,
        *,
        timeout: float | None = None,
        max_tokens: int | None = None,
    ) -> Iterator[str]:
        """Text deltas of one answer, as they come; usage is charged when the stream ends.

        Raises the same errors as `invoke`, possibly after some deltas were yielded.
        """
        model, lc_messages, kwargs = self._prepare(messages, None, None, None, timeout, max_tokens)
        started = time.perf_counter()
        last: AIMessageChunk | None = None
        wrote = False
        with self._failures_charged(lc_messages, started):
            for chunk in model.stream(lc_messages, **kwargs):
                last = chunk if last is None else last + chunk
                text = _message_text(chunk)
                if text:
                    wrote = True
                    yield text
        usage = self._usage_of(last, lc_messages, started)
        self._charge(usage)
        if not wrote:
            raise LLMResponseError(f"{self.name}: the streamed answer is empty", usage=usage)

    async def astream(
        self,
        messages: MessagesInput | str,
        *,
        timeout: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[str]:
        """Async `stream`."""
        model, lc_messages, kwargs = self._prepare(messages, None, None, None, timeout, max_tokens)
        started = time.perf_counter()
        last: AIMessageChunk | None = None
        wrote = False
        with self._failures_charged(lc_messages, started):
            async for chunk in model.astream(lc_messages, **kwargs):
                last = chunk if last is None else last + chunk
                text = _message_text(chunk)
                if text:
                    wrote = True
                    yield text
        usage = self._usage_of(last, lc_messages, started)
        self._charge(usage)
        if not wrote:
            raise LLMResponseError(f"{self.name}: the streamed answer is empty", usage=usage)

    # -- internals ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _failures_charged(self, lc_messages: list[Any], started: float) -> Iterator[None]:
        """Charge a failed call to the usage meter and raise it as an LLMError.

        A test's own AssertionError (FakeLLM strict=True) passes through undisguised.
        """
        try:
            yield
        except LLMError as exc:
            self._charge_failure(exc, lc_messages, started)
            raise
        except AssertionError:
            raise
        except Exception as exc:  # noqa: BLE001 - every provider error becomes an LLMError
            err = self._translate(exc)
            self._charge_failure(err, lc_messages, started)
            raise err from exc

    def _call_kwargs(self, timeout: float | None, max_tokens: int | None) -> dict[str, Any]:
        """Per-call options understood by this backend's chat model (overridden per backend)."""
        return {}

    def _structured_kwargs(self, response_format: ResponseFormat) -> dict[str, Any]:
        """Options that make the server constrain output to the schema (native backends)."""
        return {}

    def _prepare(
        self,
        messages: MessagesInput | str,
        tools: Sequence[Any] | None,
        tool_choice: str | None,
        response_format: ResponseFormat | None,
        timeout: float | None,
        max_tokens: int | None,
    ) -> tuple[Any, list[BaseMessage], dict[str, Any]]:
        if self.chat_model is None:
            raise LLMCapabilityError(
                f"the {self.name!r} backend has no language model; use templated text instead"
            )
        lc_messages = to_messages(messages)
        model: Any = self.chat_model
        if tools is not None:
            if not self.supports_tools:
                raise LLMCapabilityError(
                    f"the {self.name!r} backend has no native tool calling; use the guided policy"
                )
            if tools:
                bind_kwargs: dict[str, Any] = {}
                if tool_choice is not None:
                    bind_kwargs["tool_choice"] = tool_choice
                model = model.bind_tools(list(tools), **bind_kwargs)
        kwargs = self._call_kwargs(
            timeout if timeout is not None else self.timeout,
            max_tokens if max_tokens is not None else self.max_tokens,
        )
        if response_format is not None:
            if self.supports_structured:
                kwargs.update(self._structured_kwargs(response_format))
            else:
                lc_messages = [SystemMessage(json_instruction(response_format)), *lc_messages]
        return model, lc_messages, kwargs

    def _translate(self, exc: BaseException) -> LLMError:
        if self._map_error is not None:
            mapped = self._map_error(exc)
            if mapped is not None:
                return mapped
        if isinstance(exc, (TimeoutError, ConnectionError)):
            return LLMUnavailableError(f"{self.name}: {type(exc).__name__}: {exc}")
        return LLMResponseError(f"{self.name}: the model call failed: {type(exc).__name__}: {exc}")

    def _usage_of(
        self, msg: BaseMessage | None, lc_messages: list[BaseMessage], started: float
    ) -> LLMUsage:
        usage = LLMUsage(calls=1, seconds=time.perf_counter() - started)
        meta = getattr(msg, "usage_metadata", None) if msg is not None else None
        if meta and (meta.get("input_tokens") or meta.get("output_tokens")):
            usage.prompt_tokens = int(meta.get("input_tokens") or 0)
            usage.completion_tokens = int(meta.get("output_tokens") or 0)
        else:
            usage.estimated_calls = 1
            usage.prompt_tokens = sum(estimate_tokens(_message_text(m)) for m in lc_messages)
            text = _message_text(msg) if msg is not None else ""
            calls = getattr(msg, "tool_calls", None) or []
            text += "".join(json.dumps(c.get("args", {})) for c in calls)
            usage.completion_tokens = estimate_tokens(text)
        return usage

    def _charge(self, usage: LLMUsage) -> None:
        with self._lock:
            self.usage.add(usage)
        for m in _METERS.get():
            m.add(usage)

    def _charge_failure(
        self, err: LLMError, lc_messages: list[BaseMessage], started: float
    ) -> None:
        if isinstance(err, LLMCapabilityError):
            return
        usage = LLMUsage(calls=1, seconds=time.perf_counter() - started)
        if isinstance(err, LLMResponseError) and err.usage.calls:
            usage = err.usage
        self._charge(usage)
        if isinstance(err, LLMResponseError):
            err.usage = usage

    def _finish(
        self,
        msg: BaseMessage,
        lc_messages: list[BaseMessage],
        tools: Sequence[Any] | None,
        response_format: ResponseFormat | None,
        started: float,
    ) -> LLMResult:
        usage = self._usage_of(msg, lc_messages, started)
        self._charge(usage)
        if not isinstance(msg, AIMessage):
            raise LLMResponseError(
                f"{self.name}: the chat model returned {type(msg).__name__}, not an AIMessage",
                usage=usage,
            )
        text = _message_text(msg)
        meta = msg.response_metadata or {}
        finish = meta.get("finish_reason") or meta.get("stop_reason")
        if msg.invalid_tool_calls:
            bad = [
                {"name": c.get("name"), "args": c.get("args"), "error": c.get("error")}
                for c in msg.invalid_tool_calls
            ]
            names = ", ".join(repr(b["name"]) for b in bad)
            raise LLMResponseError(
                f"{self.name}: the model sent tool call(s) {names} whose arguments are not valid "
                f"JSON: {str(bad[0]['args'])[:200]!r}",
                raw_text=text,
                invalid_tool_calls=bad,
                usage=usage,
                message=msg,
            )
        calls = [
            ToolCall(c["name"], dict(c.get("args") or {}), c.get("id") or "")
            for c in msg.tool_calls
        ]
        if not calls and tools:
            recovered = recover_text_tool_calls(text, _tool_names(tools))
            if recovered is not None:
                calls, bad = recovered
                if bad:
                    raise LLMResponseError(
                        f"{self.name}: the model wrote a tool call as text that cannot be read: "
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
            known = _tool_names(tools)
            unknown = [c for c in calls if known and c.name not in known]
            if unknown:
                raise LLMResponseError(
                    f"{self.name}: the model called unknown tool {unknown[0].name!r}; "
                    f"known tools: {', '.join(known)}",
                    raw_text=text,
                    invalid_tool_calls=[
                        {"name": c.name, "args": c.arguments, "error": "unknown tool"}
                        for c in unknown
                    ],
                    usage=usage,
                    message=msg,
                )
        if not calls and not text.strip():
            raise LLMResponseError(
                f"{self.name}: the model's answer is empty (finish_reason={finish!r})",
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
