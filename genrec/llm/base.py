"""The LLM backend interface: `LLMBackend`, one object per backend with typed results and errors.

Every backend wraps a LangChain chat model; `invoke` / `stream` add error translation, usage
accounting, tool-call checks and JSON-schema structured output on top, the same way for all.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    BaseMessageChunk,
    SystemMessage,
    message_chunk_to_message,
)
from langchain_core.runnables import Runnable

from genrec.llm.answers import read_answer, usage_of
from genrec.llm.breaker import CircuitBreaker, admit, record_outcome
from genrec.llm.errors import LLMCapabilityError, LLMError, LLMResponseError, LLMUnavailableError
from genrec.llm.parsing import (
    MessagesInput,
    ResponseFormat,
    json_instruction,
    message_text,
    to_messages,
)
from genrec.llm.results import LLMChoice, LLMResult, LLMStream
from genrec.llm.usage import LLMUsage, charge_meters

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
        breaker: the CircuitBreaker (`breaker.status().state`: up | degraded | down).
        choice: how `get_llm` chose it: an LLMChoice (kind, model, reason, notice for the UI).
    """

    #: whether the chat model takes a call's `timeout` and `max_tokens` as keywords
    takes_call_options: bool = False

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
        self.breaker = CircuitBreaker()
        self._map_error = map_error
        self._lock = threading.Lock()
        self._closers: list[Callable[[], None]] = []
        self.choice: LLMChoice | None = None  # set by get_llm

    def __repr__(self) -> str:
        return (f"LLMBackend({self.name!r}, tools={self.supports_tools}, "
                f"structured={self.supports_structured})")

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
        args = (messages, tools, tool_choice, response_format, timeout, max_tokens, on_delta)
        try:
            return self._invoke_once(*args)
        except LLMResponseError as exc:
            if not self._drop_structured(exc, response_format):
                raise
            return self._invoke_once(*args)

    def stream(
        self,
        messages: MessagesInput | str,
        *,
        response_format: ResponseFormat | None = None,
        timeout: float | None = None,
        max_tokens: int | None = None,
    ) -> LLMStream:
        """Text deltas of one answer, as the backend produces them; usage is charged at the end.

        With `response_format` the model is asked for JSON exactly as `invoke` asks (the server's
        JSON-schema mode, or an instruction), the deltas are the raw JSON text (decode a field as
        it comes with `JsonFieldStream`), and `stream.result.parsed` holds the validated object
        once the stream has ended.

        >>> from genrec.llm import JsonFieldStream, fake_backend
        >>> llm = fake_backend([{"text": "Try Alien.", "rationales": []}])
        >>> stream = llm.stream("hi", response_format={"type": "object"})
        >>> field = JsonFieldStream("text")
        >>> "".join(field.feed(delta) for delta in stream)
        'Try Alien.'
        >>> stream.result.parsed
        {'text': 'Try Alien.', 'rationales': []}

        Raises the same errors as `invoke` while iterating, possibly after some deltas were
        yielded (a schema mismatch only after the last one).
        """
        return LLMStream(self._stream_items(messages, response_format, timeout, max_tokens))

    # -- one attempt --------------------------------------------------------------------------

    def _invoke_once(
        self, messages: MessagesInput | str, tools: Sequence[Any] | None, tool_choice: str | None,
        response_format: ResponseFormat | None, timeout: float | None, max_tokens: int | None,
        on_delta: Callable[[str], None] | None,
    ) -> LLMResult:
        model, lc_messages, kwargs = self._prepare(
            messages, tools, tool_choice, response_format, timeout, max_tokens
        )
        started = time.perf_counter()
        with self._failures_charged(lc_messages, started):
            if on_delta is None:
                msg = model.invoke(lc_messages, **kwargs)
            else:
                last: BaseMessageChunk | None = None
                for chunk in model.stream(lc_messages, **kwargs):
                    last = chunk if last is None else last + chunk
                    text = message_text(chunk)
                    if text:
                        on_delta(text)
                msg = message_chunk_to_message(last) if last is not None else AIMessage(content="")
        return self._finish(msg, lc_messages, tools, response_format, started)

    def _stream_items(
        self,
        messages: MessagesInput | str,
        response_format: ResponseFormat | None,
        timeout: float | None,
        max_tokens: int | None,
        retry: bool = True,
    ) -> Iterator[str | LLMResult]:
        """Text deltas, then the LLMResult (a server that rejects the schema: asked again)."""
        model, lc_messages, kwargs = self._prepare(
            messages, None, None, response_format, timeout, max_tokens
        )
        started = time.perf_counter()
        last: AIMessageChunk | None = None
        try:
            with self._failures_charged(lc_messages, started):
                for chunk in model.stream(lc_messages, **kwargs):
                    last = chunk if last is None else last + chunk
                    text = message_text(chunk)
                    if text:
                        yield text
        except LLMResponseError as exc:
            if not (retry and last is None and self._drop_structured(exc, response_format)):
                raise
            yield from self._stream_items(messages, response_format, timeout, max_tokens, False)
            return
        yield self._stream_result(last, lc_messages, response_format, started)

    def _stream_result(
        self,
        last: AIMessageChunk | None,
        lc_messages: list[BaseMessage],
        response_format: ResponseFormat | None,
        started: float,
    ) -> LLMResult:
        if last is None or not message_text(last):
            usage = usage_of(last, lc_messages, started)
            self._charge(usage)
            raise LLMResponseError(f"{self.name}: the streamed answer is empty", usage=usage)
        msg = message_chunk_to_message(last)
        return self._finish(msg, lc_messages, None, response_format, started)

    # -- hooks for backends -------------------------------------------------------------------

    def _call_kwargs(self, timeout: float | None, max_tokens: int | None) -> dict[str, Any]:
        """Per-call options for the chat model: `timeout` and `max_tokens` when the backend
        `takes_call_options`, none otherwise."""
        kwargs: dict[str, Any] = {}
        if not self.takes_call_options:
            return kwargs
        if timeout is not None:
            kwargs["timeout"] = timeout
        if max_tokens is not None:
            kwargs["max_tokens"] = max_tokens
        return kwargs

    def _structured_kwargs(self, response_format: ResponseFormat) -> dict[str, Any]:
        """Options that make the server constrain output to the schema (native backends)."""
        return {}

    def _drop_structured(
        self, exc: LLMResponseError, response_format: ResponseFormat | None
    ) -> bool:
        """Whether `exc` says the server cannot do JSON-schema output; if so, stop asking it to
        (`supports_structured = False`) so the call is made again with an instruction."""
        return False

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
            record_outcome(self.breaker, exc)
            raise
        except AssertionError:
            raise
        except Exception as exc:  # noqa: BLE001 - every provider error becomes an LLMError
            err = self._translate(exc)
            self._charge_failure(err, lc_messages, started)
            record_outcome(self.breaker, err)
            raise err from exc

    def _before_call(self) -> None:
        """Run before each call the breaker admits (the openai backend resolves its model)."""

    def _gate(self, timeout: float | None) -> float | None:
        timeout = admit(self.name, self.breaker, timeout)
        self._before_call()
        return timeout

    def _prepare(
        self,
        messages: MessagesInput | str,
        tools: Sequence[Any] | None,
        tool_choice: str | None,
        response_format: ResponseFormat | None,
        timeout: float | None,
        max_tokens: int | None,
    ) -> tuple[Runnable[LanguageModelInput, Any], list[BaseMessage], dict[str, Any]]:
        if self.chat_model is None:
            raise LLMCapabilityError(
                f"the {self.name!r} backend has no language model; use templated text instead"
            )
        lc_messages = to_messages(messages)
        timeout = self._gate(timeout if timeout is not None else self.timeout)
        # the output is a message, or a message chunk when streamed
        model: Runnable[LanguageModelInput, Any] = self.chat_model
        if tools is not None:
            if not self.supports_tools:
                raise LLMCapabilityError(
                    f"the {self.name!r} backend has no native tool calling; use the guided policy"
                )
            if tools:
                bind_kwargs: dict[str, Any] = {}
                if tool_choice is not None:
                    bind_kwargs["tool_choice"] = tool_choice
                model = self.chat_model.bind_tools(list(tools), **bind_kwargs)
        kwargs = self._call_kwargs(
            timeout, max_tokens if max_tokens is not None else self.max_tokens
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
            return LLMUnavailableError(f"{self.name}: {type(exc).__name__}: {exc}",
                                       timed_out=isinstance(exc, TimeoutError))
        return LLMResponseError(f"{self.name}: the model call failed: {type(exc).__name__}: {exc}")

    def _charge(self, usage: LLMUsage) -> None:
        with self._lock:
            self.usage.add(usage)
        charge_meters(usage)

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
        usage = usage_of(msg, lc_messages, started)
        self._charge(usage)
        self.breaker.success()
        return read_answer(self.name, msg, usage, tools, response_format)
