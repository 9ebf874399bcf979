"""Real streaming: `JsonFieldStream` decoding one JSON field as it comes, and structured streaming
(`stream(..., response_format=...)`) through the fake backend and the vLLM-like test server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from openai_test_server import Reply
from pydantic import BaseModel, Field

from genrec.llm import (
    JsonFieldStream,
    LLMResponseError,
    LLMResult,
    LLMStream,
    LLMUnavailableError,
    fake_backend,
    meter,
)


class Writer(BaseModel):
    """The shape of the agent's writer call."""

    text: str = ""
    rationales: list[dict] = Field(default_factory=list)


TRICKY = 'Line one\nSay "hi" \\ back /slash\t\u00e9 \U0001f3ac \u2014 done'
DOCS = [
    json.dumps({"text": TRICKY, "rationales": []}),
    json.dumps({"rationales": [{"text": "nested, not me", "item_id": 1}], "text": TRICKY}),
    json.dumps({"a": {"text": "x"}, "b": [1, "}", "\\"], "n": None, "t": 2.5, "text": TRICKY}),
    "Sure! ```json\n" + json.dumps({"text": TRICKY}, ensure_ascii=False) + "\n```",
    '{ "text" : "' + "plain" + '" , "more": true }',
    r'{"text": "a\/b\b\f\r\t\"\\ \u00E9\uD83C\uDFAC"}',
]


def _feed_all(stream: JsonFieldStream, chunks: list[str]) -> list[str]:
    return [stream.feed(c) for c in chunks]


def _splits(text: str) -> Iterator[list[str]]:
    """Every two-piece split, and every fixed chunk size from 1 to 7."""
    for i in range(len(text) + 1):
        yield [text[:i], text[i:]]
    for size in range(1, 8):
        yield [text[i : i + size] for i in range(0, len(text), size)]


@pytest.mark.parametrize("doc", DOCS)
def test_json_field_stream_matches_json_loads_for_every_split(doc):
    start = doc.find("{")
    expected = json.JSONDecoder().raw_decode(doc[start:])[0]["text"]
    for chunks in _splits(doc):
        s = JsonFieldStream("text")
        out = "".join(_feed_all(s, chunks))
        assert out == expected == s.value, chunks
        assert s.found and s.done


def test_escapes_split_inside_a_chunk_boundary():
    s = JsonFieldStream("text")
    chunks = ['{"text": "a\\', "nb\\u00", "e9\\ud83c", '\\udfac\\"', 'x"}']
    assert _feed_all(s, chunks) == ["a", "\nb", "é", '🎬"', "x"]
    assert s.value == 'a\nbé🎬"x' and s.done


def test_lone_surrogate_and_invalid_escape_are_kept_like_the_text():
    s = JsonFieldStream("text")
    assert s.feed('{"text": "\\ud83c!\\q"}') == "\ud83c!q"


def test_escaped_key_names_the_field():
    s = JsonFieldStream("text")
    assert s.feed('{"te\\u0078t": "hi", "text": "second"}') == "hi"
    assert s.done and s.value == "hi"  # the first occurrence is streamed


def test_missing_field_gives_nothing():
    s = JsonFieldStream("text")
    assert _feed_all(s, ['{"rationales": [{"text": "no"}],', ' "intro": "x"}']) == ["", ""]
    assert not s.found and not s.done and s.value == ""
    # after the object has closed nothing more is read, even another object
    assert s.feed(' {"text": "late"}') == ""
    assert s.value == ""


def test_field_that_is_not_a_string_gives_nothing():
    s = JsonFieldStream("text")
    assert s.feed('{"text": null, "other": "x"}') == ""
    assert not s.found and not s.done


def test_no_json_at_all():
    s = JsonFieldStream("text")
    assert s.feed("I would suggest Alien (1979).") == ""
    assert not s.found


def test_closed_field_returns_nothing_more():
    s = JsonFieldStream("text")
    assert s.feed('{"text": "done"') == "done"
    assert s.done
    assert s.feed(', "rationales": [], "text": "again"}') == ""
    assert s.value == "done"


# ---------------------------------------------------------------------------------------------
# structured streaming through the fake backend

WRITER_REPLY = {"text": TRICKY, "rationales": [{"item_id": 1, "rationale": 'a "tense" pick'}]}


def test_fake_streams_structured_output_in_chunks():
    backend = fake_backend([WRITER_REPLY], chunk_chars=3)
    field = JsonFieldStream("text")
    with meter() as usage:
        stream = backend.stream("write", response_format=Writer)
        assert isinstance(stream, LLMStream) and stream.result is None
        pieces = []
        for delta in stream:
            assert len(delta) <= 3
            pieces.append(field.feed(delta))
    assert "".join(pieces) == TRICKY and sum(1 for p in pieces if p) > 5
    assert stream.result is not None and stream.result.parsed == Writer(**WRITER_REPLY)
    assert stream.result.text == json.dumps(WRITER_REPLY)
    assert usage.calls == 1 and backend.usage.calls == 1  # charged once, when the stream ended
    request = backend.chat_model.last_request
    assert request.response_format["json_schema"]["name"] == "Writer"


def test_fake_structured_stream_by_instruction_and_yield_from():
    backend = fake_backend([WRITER_REPLY], supports_structured=False)

    def relay() -> Iterator[str]:
        result = yield from backend.stream("write", response_format=Writer)
        assert isinstance(result, LLMResult) and result.parsed.text == TRICKY

    assert "".join(relay()) == json.dumps(WRITER_REPLY)
    request = backend.chat_model.last_request
    assert request.response_format is None and "JSON schema" in request.messages[0].content


def test_fake_structured_stream_that_does_not_match_fails_at_the_end():
    backend = fake_backend([{"text": 3}])
    stream = backend.stream("write", response_format=Writer)
    got: list[str] = []
    with pytest.raises(LLMResponseError, match="does not match Writer: text") as err:
        for delta in stream:
            got.append(delta)
    assert "".join(got) == '{"text": 3}' and err.value.usage.calls == 1
    assert backend.usage.calls == 1 and stream.result is None


def test_fake_invoke_on_delta_streams_structured_output():
    backend = fake_backend([WRITER_REPLY], chunk_chars=2)
    field = JsonFieldStream("text")
    pieces: list[str] = []
    res = backend.invoke(
        "write", response_format=Writer, on_delta=lambda d: pieces.append(field.feed(d))
    )
    assert "".join(pieces) == TRICKY and res.parsed == Writer(**WRITER_REPLY)


def test_unavailable_before_the_first_delta():
    backend = fake_backend([LLMUnavailableError("server down")])
    with pytest.raises(LLMUnavailableError, match="server down"):
        list(backend.stream("write", response_format=Writer))
    assert backend.usage.calls == 1


# ---------------------------------------------------------------------------------------------
# structured streaming through the vLLM-like HTTP server


def test_openai_streams_structured_output(backend, srv):
    srv.enqueue(Reply.json(WRITER_REPLY, chunk_chars=3))
    field = JsonFieldStream("text")
    with meter() as usage:
        stream = backend.stream("write", response_format=Writer)
        pieces = [field.feed(delta) for delta in stream]
    assert "".join(pieces) == TRICKY and sum(1 for p in pieces if p) > 5
    assert stream.result.parsed == Writer(**WRITER_REPLY)
    body = srv.chat_requests[-1]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "Writer"
    assert usage.calls == 1 and usage.estimated_calls == 0 and usage.completion_tokens > 0


def test_openai_stream_falls_back_when_the_server_rejects_json_schema(backend, srv):
    srv.enqueue(
        Reply.fail(400, "response_format json_schema is not supported"),
        Reply.json(WRITER_REPLY),
    )
    stream = backend.stream("write", response_format=Writer)
    assert "".join(stream) == json.dumps(WRITER_REPLY)
    assert stream.result.parsed == Writer(**WRITER_REPLY)
    retry = srv.chat_requests[-1]
    assert "response_format" not in retry and "JSON schema" in retry["messages"][0]["content"]
    assert backend.supports_structured is False
    assert backend.usage.calls == 2  # the refused attempt is counted too


def test_openai_structured_stream_errors_are_translated(backend, srv):
    srv.enqueue(Reply(text='{"text": "par', stream_error="engine died", stream_error_code=500))
    field = JsonFieldStream("text")
    with pytest.raises(LLMUnavailableError, match="failed mid-answer: engine died"):
        for delta in backend.stream("write", response_format=Writer):
            field.feed(delta)
    assert field.value == "par" and not field.done
    srv.enqueue(Reply.fail(400, "bad sampling parameter"))
    with pytest.raises(LLMResponseError, match="HTTP 400: bad sampling parameter"):
        list(backend.stream("write", response_format=Writer))
