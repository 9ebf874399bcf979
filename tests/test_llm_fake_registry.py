"""The backend registry, the `none` backend, and the scripted fake model's behaviour."""

from __future__ import annotations

import asyncio
import threading

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from pydantic import BaseModel

from genrec.llm import (
    DEFAULT_REPLY,
    FakeLLM,
    LLMBackend,
    LLMCapabilityError,
    LLMResponseError,
    LLMUnavailableError,
    UnknownLLMError,
    extract_json,
    fake_backend,
    get_llm,
    known_llms,
    meter,
    register_llm,
)


class Prefs(BaseModel):
    genres: list[str]


def search_items(query: str) -> str:
    """Search the catalog."""
    return query


def test_unknown_name_lists_known_ones(settings):
    with pytest.raises(UnknownLLMError) as err:
        get_llm("gpt-17", settings)
    msg = str(err.value)
    assert "unknown LLM backend 'gpt-17'" in msg
    for name in ("fake", "local", "none", "openai", "vllm"):
        assert name in msg
    assert set(known_llms()) >= {"fake", "local", "none", "openai", "vllm"}
    with pytest.raises(UnknownLLMError, match="vllm:MODEL"):
        get_llm("vllm", settings)


def test_register_a_third_party_backend(settings):
    register_llm(
        "echo-test",
        lambda arg, s: LLMBackend(
            f"echo-test:{arg}", FakeLLM(), supports_tools=False, supports_structured=False
        ),
    )
    assert get_llm("echo-test:abc", settings).name == "echo-test:abc"
    assert "echo-test" in known_llms()


def test_none_backend_has_no_model(settings):
    backend = get_llm("none", settings)
    assert backend.name == "none" and backend.chat_model is None
    assert not backend.supports_tools and not backend.supports_structured
    with pytest.raises(LLMCapabilityError, match="no language model"):
        backend.invoke("hi")
    assert backend.usage.calls == 0


def test_fake_from_registry_scripted_replies_and_records(settings):
    backend = get_llm("fake", settings)
    assert backend.name == "fake" and backend.supports_tools
    fake: FakeLLM = backend.chat_model
    fake.enqueue(["first", {"name": "search_items", "args": {"query": "noir"}}])
    assert backend.invoke([SystemMessage("sys"), HumanMessage("hello")]).text == "first"
    res = backend.invoke("noir please", tools=[search_items], tool_choice="auto")
    assert res.tool_calls[0].name == "search_items" and res.tool_calls[0].arguments == {
        "query": "noir"
    }
    assert res.finish_reason == "tool_calls"
    first, second = fake.requests
    assert [m.type for m in first.messages] == ["system", "human"] and first.tools == []
    assert second.tool_names == ["search_items"] and second.tool_choice == "auto"
    assert second.last_user_text == "noir please"
    assert fake.pending == 0


def test_fake_empty_queue_default_is_deterministic():
    backend = fake_backend()
    assert backend.invoke("a").text == DEFAULT_REPLY
    assert backend.invoke("b").text == DEFAULT_REPLY
    # a structured request gets "{}", which parses for a schema with no required fields
    assert backend.invoke("c", response_format={"type": "object", "properties": {}}).parsed == {}
    with pytest.raises(LLMResponseError, match="does not match Prefs"):
        backend.invoke("d", response_format=Prefs)


def test_fake_strict_mode_flags_unscripted_calls():
    backend = fake_backend(["only one"], strict=True)
    backend.invoke("a")
    with pytest.raises(AssertionError, match="script is empty"):
        backend.invoke("b")


def test_fake_structured_output_and_parallel_calls():
    backend = fake_backend(
        [
            Prefs(genres=["Horror"]),
            [{"name": "a", "args": {}}, {"name": "b", "args": {"x": 1}}],
            {"tool_calls": [{"name": "a", "args": {}}], "content": "checking"},
        ]
    )
    res = backend.invoke("scary", response_format=Prefs)
    assert res.parsed == Prefs(genres=["Horror"])
    assert backend.chat_model.last_request.response_format["json_schema"]["name"] == "Prefs"
    res = backend.invoke(
        "two tools",
        tools=[
            {"type": "function", "function": {"name": "a", "parameters": {}}},
            {"type": "function", "function": {"name": "b", "parameters": {}}},
        ],
    )
    assert [c.name for c in res.tool_calls] == ["a", "b"]
    res = backend.invoke(
        "x", tools=[{"type": "function", "function": {"name": "a", "parameters": {}}}]
    )
    assert res.text == "checking" and res.tool_calls[0].name == "a"


def test_fake_invalid_tool_call_and_raised_errors():
    backend = fake_backend(
        [
            {"name": "search_items", "args": '{"query": '},
            LLMUnavailableError("server down"),
            "recovered",
        ]
    )
    with pytest.raises(LLMResponseError) as err:
        backend.invoke("x", tools=[search_items])
    assert err.value.invalid_tool_calls[0]["name"] == "search_items"
    assert err.value.invalid_tool_calls[0]["args"] == '{"query": '
    with pytest.raises(LLMUnavailableError, match="server down"):
        backend.invoke("x")
    assert backend.invoke("x").text == "recovered"
    assert backend.usage.calls == 3  # failed calls are counted too


def test_fake_callable_reply_sees_the_request():
    backend = fake_backend([lambda req: f"you said {req.last_user_text!r}"])
    assert backend.invoke("star wars").text == "you said 'star wars'"


def test_fake_works_as_a_langchain_model():
    fake = FakeLLM(
        [Prefs(genres=["War"]), {"name": "Prefs", "args": {"genres": ["Drama"]}}, "a b c"]
    )
    assert fake.with_structured_output(Prefs).invoke("war films") == Prefs(genres=["War"])
    out = fake.with_structured_output(Prefs, include_raw=True).invoke("drama")
    assert out["parsed"] == Prefs(genres=["Drama"]) and isinstance(out["raw"], AIMessage)
    assert [c.content for c in fake.stream("x") if c.content] == ["a", " b", " c"]


def test_tools_on_a_backend_without_tool_calling():
    backend = fake_backend(supports_tools=False, supports_structured=False)
    with pytest.raises(LLMCapabilityError, match="guided policy"):
        backend.invoke("x", tools=[search_items])
    backend.chat_model.enqueue('{"genres": ["Western"]}')
    res = backend.invoke("westerns", response_format=Prefs)  # by instruction, not response_format
    assert res.parsed == Prefs(genres=["Western"])
    req = backend.chat_model.last_request
    assert req.response_format is None and "JSON schema" in req.messages[0].content


def test_stream_and_usage_in_words():
    backend = fake_backend(["one two three"])
    with meter() as usage:
        assert "".join(backend.stream("four five")) == "one two three"
    assert (usage.calls, usage.prompt_tokens, usage.completion_tokens) == (1, 2, 3)


def test_meter_is_per_thread_and_per_task():
    backend = fake_backend()
    results: dict[str, int] = {}

    def turn(name: str, n: int) -> None:
        with meter() as u:
            for _ in range(n):
                backend.invoke("x")
        results[name] = u.calls

    threads = [threading.Thread(target=turn, args=(f"t{n}", n)) for n in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"t1": 1, "t2": 2, "t3": 3}
    assert backend.usage.calls == 6

    async def session(n: int) -> int:
        with meter() as u:
            for _ in range(n):
                await asyncio.to_thread(backend.invoke, "x")
                await asyncio.sleep(0)
        return u.calls

    async def both() -> list[int]:
        return await asyncio.gather(session(2), session(4))

    assert asyncio.run(both()) == [2, 4]


def test_nested_meters_both_count():
    backend = fake_backend()
    with meter() as outer:
        backend.invoke("a")
        with meter() as inner:
            backend.invoke("b")
    assert (outer.calls, inner.calls) == (2, 1)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": 1}', {"a": 1}),
        ('here: ```json\n{"a": [1, 2]}\n``` done', {"a": [1, 2]}),
        ('Sure {"a": "}"} and more text {"b": 2}', {"a": "}"}),
        ("[1, 2]", [1, 2]),
    ],
)
def test_extract_json(text, value):
    assert extract_json(text) == value


def test_extract_json_none():
    with pytest.raises(ValueError):
        extract_json("no json here {")


def test_cli_check_with_fake_and_none():
    from typer.testing import CliRunner

    from genrec.cli import app

    result = CliRunner().invoke(app, ["llm", "check", "--llm", "fake", "--json"])
    assert result.exit_code == 0, result.output
    assert f'"text": "{DEFAULT_REPLY}"' in result.output and '"backend": "fake"' in result.output
    result = CliRunner().invoke(app, ["llm", "check", "--llm", "none"])
    assert result.exit_code == 0 and "no language model" in result.output
    result = CliRunner().invoke(app, ["llm", "check", "--llm", "nope"])
    assert result.exit_code == 1 and "unknown LLM backend 'nope'" in result.output
