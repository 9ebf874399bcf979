"""The openai backend against a real HTTP server that answers like vLLM (openai_test_server.py)."""

from __future__ import annotations

import json
import socket

import pytest
from langchain_core.messages import ToolMessage
from openai_test_server import OpenAITestServer, Reply, embed_text
from pydantic import BaseModel

from genrec.llm import (
    LLMResponseError,
    LLMUnavailableError,
    get_llm,
    list_models,
    meter,
)

MODEL = "Qwen/Qwen2.5-7B-Instruct"


class Prefs(BaseModel):
    genres: list[str]
    year_min: int | None = None


def search_items(query: str, k: int = 5) -> str:
    """Search the catalog for items matching a free-text query."""
    return query


def item_details(item_id: int) -> str:
    """Details of one catalog item."""
    return str(item_id)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_model_comes_from_v1_models_when_not_set(backend, srv):
    assert backend.name == f"openai:{MODEL}"
    assert backend.supports_tools and backend.supports_structured
    assert any(r.path == "/v1/models" for r in srv.requests)
    assert list_models(srv.base_url) == [MODEL]


def test_plain_text_and_usage(backend, srv):
    srv.enqueue("Try Alien (1979), a tense space horror.")
    with meter() as turn:
        res = backend.invoke(
            [
                {"role": "system", "content": "You recommend films."},
                {"role": "user", "content": "something scary in space"},
            ]
        )
    assert res.text == "Try Alien (1979), a tense space horror."
    assert res.tool_calls == [] and res.finish_reason == "stop"
    body = srv.chat_requests[-1]
    assert body["model"] == MODEL
    assert body["messages"][0] == {"role": "system", "content": "You recommend films."}
    assert body["messages"][1]["content"] == "something scary in space"
    assert body["max_completion_tokens"] == 256
    # the server counts words: 3 + 4 prompt, 7 completion
    assert (res.usage.calls, res.usage.prompt_tokens, res.usage.completion_tokens) == (1, 7, 7)
    assert res.usage.estimated_calls == 0
    assert turn.calls == 1 and turn.prompt_tokens == 7
    assert backend.usage.calls >= 1


def test_tool_call_non_streamed(backend, srv):
    srv.enqueue(Reply.tool_call("search_items", {"query": "space horror", "k": 3}))
    res = backend.invoke("find space horror", tools=[search_items, item_details])
    assert [(c.name, c.arguments) for c in res.tool_calls] == [
        ("search_items", {"query": "space horror", "k": 3})
    ]
    assert res.tool_calls[0].id.startswith("chatcmpl-tool-")
    assert res.finish_reason == "tool_calls" and res.text == ""
    sent = srv.chat_requests[-1]["tools"]
    assert [t["function"]["name"] for t in sent] == ["search_items", "item_details"]
    assert sent[0]["function"]["parameters"]["required"] == ["query"]

    # the tool loop continues with the AIMessage and a ToolMessage
    srv.enqueue("Here are three.")
    res2 = backend.invoke(
        [
            "find space horror",
            res.message,
            ToolMessage("Alien (1979)", tool_call_id=res.tool_calls[0].id),
        ],
        tools=[search_items],
    )
    assert res2.text == "Here are three."
    msgs = srv.chat_requests[-1]["messages"]
    assert msgs[1]["tool_calls"][0]["function"]["name"] == "search_items"
    assert msgs[2] == {
        "role": "tool",
        "content": "Alien (1979)",
        "tool_call_id": res.tool_calls[0].id,
    }


def test_streamed_tool_call_deltas_are_reassembled(backend, srv):
    srv.enqueue(
        Reply.tools(
            ("search_items", {"query": "film noir from the 1940s", "k": 10}),
            ("item_details", {"item_id": 50}),
            text="Let me look.",
        )
    )
    deltas: list[str] = []
    res = backend.invoke("noir please", tools=[search_items, item_details], on_delta=deltas.append)
    assert srv.chat_requests[-1]["stream"] is True
    assert srv.chat_requests[-1]["stream_options"] == {"include_usage": True}
    assert "".join(deltas) == "Let me look." and len(deltas) > 1
    assert [(c.name, c.arguments) for c in res.tool_calls] == [
        ("search_items", {"query": "film noir from the 1940s", "k": 10}),
        ("item_details", {"item_id": 50}),
    ]
    assert res.usage.completion_tokens > 0 and res.usage.estimated_calls == 0


def test_stream_text_deltas(backend, srv):
    srv.enqueue(Reply.say("Blade Runner is a good pick.", chunk_chars=3))
    before = backend.usage.calls
    parts = list(backend.stream("one film"))
    assert "".join(parts) == "Blade Runner is a good pick."
    assert len(parts) == 10
    assert backend.usage.calls == before + 1


def test_structured_output_json_schema(backend, srv):
    srv.enqueue(Reply.json({"genres": ["Film-Noir"], "year_min": 1940}))
    res = backend.invoke("noir from the forties", response_format=Prefs)
    assert res.parsed == Prefs(genres=["Film-Noir"], year_min=1940)
    fmt = srv.chat_requests[-1]["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Prefs"
    assert fmt["json_schema"]["schema"]["required"] == ["genres"]


def test_structured_output_fallback_parses_json_inside_text(backend, srv):
    srv.enqueue('Sure! ```json\n{"genres": ["Comedy"]}\n```')
    assert backend.invoke("funny", response_format=Prefs).parsed == Prefs(genres=["Comedy"])
    srv.enqueue('{"genres": ["Drama"]} hope that helps')
    assert backend.invoke("sad", response_format=Prefs.model_json_schema()).parsed == {
        "genres": ["Drama"]
    }


def test_structured_output_that_does_not_match_is_a_response_error(backend, srv):
    srv.enqueue(Reply.json({"genres": "not a list"}))
    with pytest.raises(LLMResponseError, match="does not match Prefs: genres"):
        backend.invoke("x", response_format=Prefs)
    srv.enqueue("I cannot answer in JSON.")
    with pytest.raises(LLMResponseError, match="asked for JSON") as err:
        backend.invoke("x", response_format=Prefs)
    assert err.value.raw_text == "I cannot answer in JSON."


def test_server_without_json_schema_support_falls_back_to_instruction(backend, srv):
    srv.enqueue(
        Reply.fail(400, "response_format json_schema is not supported"),
        Reply.json({"genres": ["War"]}),
    )
    res = backend.invoke("war films", response_format=Prefs)
    assert res.parsed == Prefs(genres=["War"])
    retry = srv.chat_requests[-1]
    assert "response_format" not in retry
    assert "JSON schema" in retry["messages"][0]["content"]
    assert backend.supports_structured is False


def test_malformed_tool_call_arguments(backend, srv):
    srv.enqueue(Reply.tool_call("search_items", '{"query": "space'))
    with pytest.raises(LLMResponseError, match="not valid JSON") as err:
        backend.invoke("x", tools=[search_items])
    bad = err.value.invalid_tool_calls
    assert bad[0]["name"] == "search_items" and bad[0]["args"] == '{"query": "space'
    assert err.value.usage.calls == 1


def test_malformed_streamed_tool_call(backend, srv):
    srv.enqueue(Reply.tool_call("search_items", "{query: space}"))
    with pytest.raises(LLMResponseError, match="search_items"):
        backend.invoke("x", tools=[search_items], on_delta=lambda _: None)


def test_tool_call_written_as_text_is_recovered(backend, srv):
    # what vLLM returns for Qwen when started without --tool-call-parser hermes
    srv.enqueue(
        '<tool_call>\n{"name": "search_items", "arguments": {"query": "noir", "k": 5}}'
        "\n</tool_call>"
    )
    res = backend.invoke("noir", tools=[search_items, item_details])
    assert [(c.name, c.arguments) for c in res.tool_calls] == [
        ("search_items", {"query": "noir", "k": 5})
    ]
    assert res.text == "" and res.message.tool_calls[0]["id"] == res.tool_calls[0].id
    srv.enqueue('[TOOL_CALLS] [{"name": "item_details", "arguments": {"item_id": 50}}]')
    assert backend.invoke("x", tools=[item_details]).tool_calls[0].arguments == {"item_id": 50}
    srv.enqueue('<tool_call>{"name": "search_items", "arguments": {"query": </tool_call>')
    with pytest.raises(LLMResponseError, match="tool call as text") as err:
        backend.invoke("x", tools=[search_items])
    assert err.value.invalid_tool_calls[0]["error"].startswith("not valid JSON")
    # JSON that names no tool is just text
    srv.enqueue('{"genres": ["Drama"]}')
    res = backend.invoke("x", tools=[search_items])
    assert res.tool_calls == [] and res.text == '{"genres": ["Drama"]}'


def test_unknown_tool_name(backend, srv):
    srv.enqueue(Reply.tool_call("delete_everything", {}))
    with pytest.raises(
        LLMResponseError, match="unknown tool 'delete_everything'; known tools: search_items"
    ):
        backend.invoke("x", tools=[search_items])


def test_garbage_body(backend, srv):
    srv.enqueue(Reply.garbage(b"<html>oops</html>"))
    with pytest.raises(LLMResponseError, match="not a valid chat completion"):
        backend.invoke("x")


def test_garbage_or_empty_streamed_answer(backend, srv):
    srv.enqueue(Reply.garbage(b"not an event stream"))
    with pytest.raises(LLMResponseError, match="No generation chunks"):
        list(backend.stream("x"))
    srv.enqueue(Reply.say(""))
    with pytest.raises(LLMResponseError, match="answer is empty"):
        backend.invoke("x")


def test_vllm_error_json_is_reported(backend, srv):
    srv.enqueue(Reply.fail(400, "This model's maximum context length is 32768 tokens."))
    with pytest.raises(
        LLMResponseError, match="HTTP 400: This model's maximum context length"
    ) as err:
        backend.invoke("x")
    assert err.value.status == 400


def test_legacy_vllm_error_shape(settings):
    with OpenAITestServer(MODEL, error_shape="legacy") as srv:
        backend = get_llm("openai", settings.model_copy(update={"llm_base_url": srv.base_url}))
        srv.enqueue(Reply.fail(400, "bad sampling parameter"))
        with pytest.raises(LLMResponseError, match="HTTP 400: bad sampling parameter"):
            backend.invoke("x")


def test_tools_without_auto_tool_choice_flag(settings):
    with OpenAITestServer(MODEL, auto_tool_choice=False) as srv:
        backend = get_llm("openai", settings.model_copy(update={"llm_base_url": srv.base_url}))
        with pytest.raises(LLMResponseError, match="--enable-auto-tool-choice"):
            backend.invoke("x", tools=[search_items])


def test_wrong_model_name(srv, settings):
    s = settings.model_copy(update={"llm_base_url": srv.base_url, "llm_model": "no/such-model"})
    backend = get_llm("openai", s)
    with pytest.raises(LLMResponseError, match="404.*does not exist"):
        backend.invoke("x")


def test_server_errors_are_unavailable(backend, srv):
    srv.enqueue(Reply.fail(503, "engine overloaded"), Reply.fail(503, "engine overloaded"))
    with pytest.raises(LLMUnavailableError, match="server error 503: engine overloaded"):
        backend.invoke("x")


def test_slow_server_times_out(backend, srv):
    srv.delay = 3.0
    with pytest.raises(LLMUnavailableError, match="timeout"):
        backend.invoke("x", timeout=0.3)
    srv.delay = 0.0
    assert backend.usage.calls >= 1


def test_settings_timeout_is_the_default_per_call(srv, settings):
    s = settings.model_copy(update={"llm_base_url": srv.base_url, "llm_timeout": 0.3})
    backend = get_llm("openai", s)
    srv.delay = 3.0
    with pytest.raises(LLMUnavailableError, match="timeout"):
        backend.invoke("x")
    srv.delay = 0.0


def test_dropped_connection_is_unavailable(backend, srv):
    srv.enqueue(Reply(drop=True), Reply(drop=True))
    with pytest.raises(LLMUnavailableError, match="cannot reach"):
        backend.invoke("x")


def test_stream_dropped_midway(backend, srv):
    srv.enqueue(Reply(text="never sent", drop=True))
    with pytest.raises((LLMUnavailableError, LLMResponseError)):
        list(backend.stream("x"))


def test_error_event_inside_a_stream(backend, srv):
    srv.enqueue(Reply(text="partial ", stream_error="engine died", stream_error_code=500))
    got: list[str] = []
    with pytest.raises(LLMUnavailableError, match="failed mid-answer: engine died"):
        for piece in backend.stream("x"):
            got.append(piece)
    assert "".join(got) == "partial "
    srv.enqueue(Reply(text="", stream_error="bad grammar", stream_error_code=400))
    with pytest.raises(LLMResponseError, match="error in the streamed answer: bad grammar"):
        backend.invoke("x", on_delta=lambda _: None)


def test_server_down(settings):
    url = f"http://127.0.0.1:{_free_port()}/v1"
    pending = get_llm("openai", settings.model_copy(update={"llm_base_url": url}))
    assert pending.name == "openai"  # made during the outage; the model is asked for later
    with pytest.raises(LLMUnavailableError, match="no OpenAI-compatible server at"):
        pending.invoke("x")
    backend = get_llm(
        "openai", settings.model_copy(update={"llm_base_url": url, "llm_model": MODEL})
    )
    with pytest.raises(LLMUnavailableError, match="cannot reach the server"):
        backend.invoke("x")
    with pytest.raises(LLMUnavailableError):
        list(backend.stream("x"))


def test_api_key_is_sent(settings):
    with OpenAITestServer(MODEL, api_key="s3cret") as srv:
        s = settings.model_copy(update={"llm_base_url": srv.base_url, "llm_api_key": "s3cret"})
        srv.enqueue("ok")
        assert get_llm("openai", s).invoke("x").text == "ok"
        assert srv.chat_requests and srv.requests[-1].headers["authorization"] == "Bearer s3cret"
        bad = get_llm("openai", s.model_copy(update={"llm_api_key": "wrong", "llm_model": MODEL}))
        with pytest.raises(LLMResponseError, match="401"):
            bad.invoke("x")


def test_embeddings_endpoint_is_deterministic(srv):
    from openai import OpenAI

    client = OpenAI(base_url=srv.base_url, api_key="EMPTY")
    out = client.embeddings.create(
        model=MODEL, input=["Alien (1979)", "Heat (1995)"]
    )  # base64 by default
    assert [len(d.embedding) for d in out.data] == [32, 32]
    assert out.data[0].embedding == pytest.approx(embed_text("Alien (1979)", 32), abs=1e-6)
    again = client.embeddings.create(model=MODEL, input="Alien (1979)", encoding_format="float")
    assert again.data[0].embedding == pytest.approx(out.data[0].embedding, abs=1e-6)
    assert json.loads(json.dumps(srv.requests[-1].body))["encoding_format"] == "float"
