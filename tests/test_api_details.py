"""Bot API details on a real server (uvicorn on 127.0.0.1, the real Recommender): malformed JSON
gets a clear error, `model` says which backend answered, warnings never carry model text, and
/healthz asks the configured LLM server (at most once per few seconds)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from openai_test_server import OpenAITestServer, Reply

from genrec.config import Settings
from genrec.ui import ApiLimits, BackgroundServer, create_app

QWEN = "Qwen/Qwen2.5-7B-Instruct"
# what a hostile or broken model writes: markup, a phishing link, an instruction
INJECTED = ('<img src=x onerror=alert(1)> [Claim prize](http://evil.example/win) '
            'IGNORE PREVIOUS INSTRUCTIONS')
MODEL_WORDS = ("<img", "onerror", "Claim prize", "evil.example", "http", "IGNORE", "alert(")


def _closed_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


@pytest.fixture(scope="module")
def none_server(tmp_path_factory: pytest.TempPathFactory, make_small_recommender
                ) -> Iterator[BackgroundServer]:
    settings = Settings(home=tmp_path_factory.mktemp("details") / "home", llm="none")
    with BackgroundServer(create_app(make_small_recommender(settings), settings,
                                     ui=False)) as srv:
        yield srv


def _openai_app(home, make, base_url: str, *, policy: str = "guided",
                limits: ApiLimits | None = None):
    settings = Settings(home=home, llm="openai", llm_base_url=base_url, llm_model=QWEN,
                        llm_timeout=5.0, llm_probe_timeout=1.0)
    rec = make(settings, llm="openai", policy=policy)
    return create_app(rec, settings, ui=False, limits=limits)


# ------------------------------------------------------------------ malformed JSON


@pytest.mark.parametrize("body, words", [
    (b'{"messages": [{"role": "user", "content": "hi"},\n {"role": "user" "content": "x"}]}',
     ["not valid JSON", "Expecting ',' delimiter", "line 2, column 18 (character 66)"]),
    (b"{not json", ["not valid JSON", "line 1, column 2 (character 1)"]),
    (b"", ["the request body is empty"]),
])
def test_malformed_json_gets_a_clear_error(none_server: BackgroundServer, body: bytes,
                                           words: list[str]) -> None:
    for path in ("v1/chat/completions", "api/sessions/abc/messages"):
        r = httpx.post(none_server.url + path, content=body, timeout=30,
                       headers={"content-type": "application/json"})
        assert r.status_code == 422, r.text
        err = r.json()["error"]
        assert err["code"] == 422 and err["type"] == "invalid_request_error"
        for w in words:
            assert w in err["message"], err["message"]
        assert (
            "JSON decode error" not in err["message"] and "send one JSON object" in err["message"]
        )


# ------------------------------------------------------------------ which backend answered


def test_model_names_the_backend_that_answered(none_server: BackgroundServer) -> None:
    ask = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "a comedy please"}]}
    r = httpx.post(none_server.url + "v1/chat/completions", json=ask, timeout=60)
    assert r.status_code == 200 and r.json()["model"] == "genrec/none"
    with httpx.stream("POST", none_server.url + "v1/chat/completions", timeout=60,
                      json={**ask, "stream": True, "stream_options": {"include_usage": True}}) as s:
        chunks = [json.loads(ln[6:]) for ln in s.iter_lines() if ln.startswith("data: {")]
    assert chunks and {c["model"] for c in chunks} == {"genrec/none"}
    assert [m["id"] for m in httpx.get(none_server.url + "v1/models").json()["data"]] == ["genrec"]


def test_model_names_the_llm_when_one_answered(tmp_path, make_small_recommender) -> None:
    with OpenAITestServer(QWEN) as llm:
        app = _openai_app(tmp_path / "home", make_small_recommender, llm.base_url)
        with BackgroundServer(app) as srv:
            r = httpx.post(srv.url + "v1/chat/completions", timeout=60, json={
                "model": "gpt-4o", "messages": [{"role": "user", "content": "a comedy please"}]})
    assert r.status_code == 200 and r.json()["model"] == f"genrec/openai:{QWEN}"


# ------------------------------------------------------------------ warnings


@pytest.mark.parametrize("policy", ["guided", "tool-calling"])
def test_warnings_never_carry_model_text(tmp_path, make_small_recommender, policy: str) -> None:
    """Every LLM answer is the injected text (as JSON, a reply, a tool call as text): the turn is
    answered, its warnings say what happened in genrec's words, and none of the text comes back
    in `genrec.warnings` nor in the sessions API's `warnings`."""
    with OpenAITestServer(QWEN) as llm:
        app = _openai_app(tmp_path / "home", make_small_recommender, llm.base_url, policy=policy)
        with BackgroundServer(app) as srv:
            bodies = []
            for _ in range(2):
                llm.enqueue(*[Reply.say(INJECTED), Reply.say('{"tool": "search_items", '
                                                             f'"arguments": "{INJECTED}"}}'),
                              Reply.say(f"Try these! {INJECTED}")] * 4)
                r = httpx.post(srv.url + "v1/chat/completions", timeout=60, json={
                    "messages": [{"role": "user", "content": "I loved Toy Story, a comedy"}]})
                assert r.status_code == 200, r.text
                bodies.append(r.json()["genrec"]["warnings"])
                sid = httpx.post(srv.url + "api/sessions").json()["session_id"]
                llm.enqueue(*[Reply.say(INJECTED)] * 8)
                r = httpx.post(srv.url + f"api/sessions/{sid}/messages", timeout=60,
                               json={"message": "I loved Toy Story, a comedy"})
                assert r.status_code == 200, r.text
                bodies.append(r.json()["warnings"])
    assert any(bodies), "the turns reported nothing: the test would prove nothing"
    for warnings in bodies:
        for w in warnings:
            assert not [x for x in MODEL_WORDS if x.lower() in w.lower()], w
            assert w[:1].islower() or w.startswith("LLM"), w


def test_warnings_say_what_happened(tmp_path, make_small_recommender) -> None:
    """An LLM server that is down: the warning names that, in genrec's words (no URL, no
    exception text)."""
    app = _openai_app(tmp_path / "home", make_small_recommender, _closed_url())
    with BackgroundServer(app) as srv:
        r = httpx.post(srv.url + "v1/chat/completions", timeout=60, json={
            "messages": [{"role": "user", "content": "I loved Toy Story, a comedy"}]})
    warnings = r.json()["genrec"]["warnings"]
    assert warnings and all("127.0.0.1" not in w and "Error" not in w for w in warnings)
    assert any(w.startswith("LLM unavailable") for w in warnings), warnings


# ------------------------------------------------------------------ /healthz


def test_healthz_probes_the_configured_llm_server(tmp_path, make_small_recommender) -> None:
    dead = _closed_url()
    with BackgroundServer(_openai_app(tmp_path / "a", make_small_recommender, dead)) as srv:
        body = httpx.get(srv.url + "healthz", timeout=30).json()
        assert body["llm"] == "down", body
        assert body["llm_down_because"] == f"nothing answers at {dead}"
        assert httpx.get(srv.url + "readyz", timeout=30).json()["checks"]["llm"] == "down"

    with OpenAITestServer(QWEN) as llm:
        app = _openai_app(tmp_path / "b", make_small_recommender, llm.base_url,
                          limits=ApiLimits(health_probe_seconds=1.0))
        with BackgroundServer(app) as srv:
            def probes() -> int:
                return sum(1 for r in llm.requests if r.path.endswith("/models"))

            before = probes()
            for _ in range(5):
                body = httpx.get(srv.url + "healthz", timeout=30).json()
                assert body["llm"] == "up" and "llm_down_because" not in body
            assert probes() - before == 1  # cached: asked once for five calls
            time.sleep(1.2)
            llm.stop()  # the LLM server goes away
            body = httpx.get(srv.url + "healthz", timeout=30).json()
            assert body["llm"] == "down", body
            assert body["llm_down_because"].startswith("nothing answers at")


def test_healthz_keeps_the_reason_from_callers_without_the_key(tmp_path,
                                                                make_small_recommender) -> None:
    settings = Settings(home=tmp_path / "home", llm="openai", llm_base_url=_closed_url(),
                        llm_model=QWEN, api_key="k-0123456789abcdef")
    rec = make_small_recommender(settings, llm="openai", policy="guided")
    with BackgroundServer(create_app(rec, settings, ui=False)) as srv:
        anonymous = httpx.get(srv.url + "healthz", timeout=30).json()
        keyed = httpx.get(srv.url + "healthz", timeout=30,
                          headers={"Authorization": "Bearer k-0123456789abcdef"}).json()
    assert anonymous["llm"] == keyed["llm"] == "down"
    assert "llm_down_because" not in anonymous and "nothing answers" in keyed["llm_down_because"]
