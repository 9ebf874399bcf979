"""Reading what models write: messages in, JSON out (whole or streamed), tool calls from text.

Pure functions shared by every backend: message conversion, JSON schemas for structured output,
JSON extraction and validation, tool calls written as text, and `JsonFieldStream`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import BaseMessage, convert_to_messages
from pydantic import BaseModel, ValidationError

from genrec.llm.errors import LLMResponseError
from genrec.llm.results import ToolCall
from genrec.llm.usage import LLMUsage

MessagesInput = Sequence[BaseMessage | Mapping[str, Any] | tuple[str, str] | str]
ResponseFormat = type[BaseModel] | Mapping[str, Any]

# ---------------------------------------------------------------------------------------------
# messages


def to_messages(messages: MessagesInput | str) -> list[BaseMessage]:
    """LangChain messages from messages, {"role", "content"} dicts, (role, text) pairs or a str.

    >>> [m.type for m in to_messages([("system", "be brief"), {"role": "user", "content": "hi"}])]
    ['system', 'human']
    """
    items: list[Any] = [messages] if isinstance(messages, str) else list(messages)
    try:
        return convert_to_messages(items)
    except Exception as exc:  # noqa: BLE001 - a caller bug, said clearly
        raise ValueError(f"could not read the chat messages: {exc}") from exc


def message_text(msg: BaseMessage) -> str:
    """The text of a message: its str content, or the text blocks of a list content, joined."""
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


def tool_names(tools: Sequence[Any]) -> list[str]:
    """The function names of LangChain tools, pydantic classes, functions or OpenAI tool dicts."""
    from langchain_core.utils.function_calling import convert_to_openai_tool

    names = []
    for tool in tools:
        try:
            names.append(convert_to_openai_tool(tool)["function"]["name"])
        except Exception:  # noqa: BLE001 - a tool we cannot name is not checked
            continue
    return names


# ---------------------------------------------------------------------------------------------
# structured output


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


def extract_json(text: str) -> object:
    """The JSON value in `text`: the whole text, a ```json fence, or the first {...} object in it.

    Raises ValueError when there is none.

    >>> extract_json('Sure: {"a": 1} hope that helps')
    {'a': 1}
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


def parse_structured(
    text: str, response_format: ResponseFormat, usage: LLMUsage
) -> BaseModel | dict[str, Any]:
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


# ---------------------------------------------------------------------------------------------
# one string field of a JSON object, decoded as it streams in

_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class JsonFieldStream:
    r"""Decode one top-level string field of a JSON object while the JSON's raw text streams in.

    Feed the model's text deltas in order; `feed` returns the characters of the field's value
    that the new chunk completed (escapes such as \n, \", \\ and \uXXXX decoded, even when split
    across chunks; surrogate pairs joined). Text before the first "{" (a preamble, a ```json
    fence) is skipped, other fields are skipped whatever they hold (nested "text" keys do not
    count), and once the field's string has closed every later `feed` returns "".

    >>> s = JsonFieldStream("text")
    >>> s.feed('Sure! {"rationales": [{"text": "no"}], "te')
    ''
    >>> s.feed('xt": "Hello\\')
    'Hello'
    >>> s.feed('nworld \\u00e')
    '\nworld '
    >>> s.feed('9", "more": 1}')
    'é'
    >>> s.value, s.done
    ('Hello\nworld é', True)
    """

    def __init__(self, field: str) -> None:
        self.field = field
        self._out: list[str] = []
        self._stack: list[str] = []  # open { and [ of the JSON, once it started
        self._ended = False  # the top-level object closed
        self._expect = "key"  # at depth 1: key, colon, value or comma
        self._key: str | None = None  # the depth-1 key whose value comes next
        self._string: str | None = None  # inside a string: "key", "field" or "other"
        self._raw: list[str] = []  # raw text of the key being read
        self._escape: str | None = None  # "" after a backslash, then the \u hex digits
        self._high: str | None = None  # a high surrogate waiting for its low half
        self.found = False  # the field's string value has started
        self.done = False  # the field's string value has closed

    @property
    def value(self) -> str:
        """The field's text decoded so far (all of it once `done`)."""
        return "".join(self._out)

    def feed(self, chunk: str) -> str:
        """The field's newly decoded characters in `chunk` ("" when there are none)."""
        if self.done or self._ended:
            return ""
        start = len(self._out)
        for ch in chunk:
            if self._string is not None:
                self._string_char(ch)
            else:
                self._structure_char(ch)
            if self.done or self._ended:
                break
        return "".join(self._out[start:])

    def _structure_char(self, ch: str) -> None:
        if not self._stack:
            if ch == "{":
                self._stack.append("{")
            return
        top = len(self._stack) == 1
        if ch == '"':
            if top and self._expect == "key":
                self._string = "key"
                self._raw = []
            elif top and self._expect == "value" and self._key == self.field:
                self._string = "field"
                self.found = True
            else:
                self._string = "other"
            if top and self._expect == "value":
                self._expect = "comma"
        elif ch in "{[":
            if top and self._expect == "value":
                self._expect = "comma"
            self._stack.append(ch)
        elif ch in "}]":
            self._stack.pop()
            self._ended = not self._stack
        elif top and ch == ":":
            self._expect = "value"
        elif top and ch == ",":
            self._expect = "key"
        elif top and self._expect == "value" and not ch.isspace():
            self._expect = "comma"  # a number, true, false or null

    def _string_char(self, ch: str) -> None:
        if self._string != "field":  # only find where the string ends; keys decoded at the end
            if self._escape is not None:
                self._escape = None
            elif ch == "\\":
                self._escape = ""
            elif ch == '"':
                if self._string == "key":
                    self._key = _decode_key("".join(self._raw))
                    self._expect = "colon"
                self._string = None
                return
            if self._string == "key":
                self._raw.append(ch)
            return
        if self._escape is None:
            if ch == "\\":
                self._escape = ""
            elif ch == '"':
                self._emit(None)
                self._string = None
                self.done = True
            else:
                self._emit(ch)
        elif self._escape == "":
            if ch == "u":
                self._escape = "u"
            else:
                self._escape = None
                self._emit(_ESCAPES.get(ch, ch))
        else:
            self._escape += ch
            if len(self._escape) == 5:
                digits, self._escape = self._escape[1:], None
                try:
                    code = int(digits, 16)
                except ValueError:
                    self._emit("\\u" + digits)  # not JSON; keep the text as written
                    return
                if 0xD800 <= code < 0xDC00:
                    self._emit(None)
                    self._high = chr(code)
                elif 0xDC00 <= code < 0xE000 and self._high is not None:
                    pair = (ord(self._high) - 0xD800) * 0x400 + (code - 0xDC00) + 0x10000
                    self._high = None
                    self._out.append(chr(pair))
                else:
                    self._emit(chr(code))

    def _emit(self, text: str | None) -> None:
        if self._high is not None:  # a lone high surrogate stays, as json.loads keeps it
            self._out.append(self._high)
            self._high = None
        if text:
            self._out.append(text)


def _decode_key(raw: str) -> str:
    try:
        return str(json.loads(f'"{raw}"'))
    except ValueError:
        return raw


# ---------------------------------------------------------------------------------------------
# tool calls written as text

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
