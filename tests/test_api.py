"""The HTTP API on a real server (uvicorn on 127.0.0.1) around the real Recommender (`none` LLM):
the openai client, streaming, sessions, auth, restarts, limits and error codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import openai
import pytest
from typer.testing import CliRunner

from genrec.config import Settings
from genrec.ui import ApiLimits, BackgroundServer, create_app, is_loopback

TOY_STORY = 1  # item 1: Toy Story (1995)


@pytest.fixture(scope="module")
def api_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """This module's own GENREC_HOME (sessions); ranker and index are the session's."""
    return Settings(home=tmp_path_factory.mktemp("api") / "home", llm="none")


@pytest.fixture(scope="module")
def recommender(api_settings: Settings, make_small_recommender):
    return make_small_recommender(api_settings)


@pytest.fixture(scope="module")
def server(recommender, api_settings: Settings) -> Iterator[BackgroundServer]:
    with BackgroundServer(create_app(recommender, api_settings)) as srv:
        yield srv


@pytest.fixture
def http(server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


@pytest.fixture
def oai(server: BackgroundServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "v1", api_key="unused", max_retries=0, timeout=60)


def history(http: httpx.Client, session_id: str) -> list[dict]:
    r = http.get(f"/api/sessions/{session_id}")
    assert r.status_code == 200, r.text
    return r.json()["history"]


# ------------------------------------------------------------------ OpenAI-compatible


def test_openai_client_non_streaming_returns_text_and_catalog_recommendations(
    oai: openai.OpenAI, recommender, http: httpx.Client
) -> None:
    assert [m.id for m in oai.models.list().data] == ["genrec"]
    done = oai.chat.completions.with_raw_response.create(
        model="genrec",
        messages=[
            {"role": "system", "content": "ignored: the session holds the history"},
            {"role": "user", "content": "I loved Toy Story, recommend animated movies"},
        ],
        user="oai-plain",
    )
    assert done.headers["x-session-id"] == "oai-plain"
    completion = done.parse()
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content.strip()
    assert completion.choices[0].finish_reason == "stop"
    extra = completion.model_extra["genrec"]
    assert extra["session_id"] == "oai-plain"
    assert extra["backend"] == recommender.backend_name
    recs = extra["recommendations"]
    assert recs, "a clear request gets recommendations"
    ids = [r["item_id"] for r in recs]
    assert len(ids) == len(set(ids)) and TOY_STORY not in ids
    for r in recs:
        assert recommender.catalog[r["item_id"]].title == r["title"]
    assert isinstance(extra["trace"], list) and extra["trace"]
    assert isinstance(extra["suggested_answers"], list)  # the Reply's, for answer buttons
    assert [m["role"] for m in history(http, "oai-plain")] == ["user", "assistant"]


def test_openai_client_streaming_sends_openai_chunks_and_genrec_on_the_last(
    oai: openai.OpenAI, http: httpx.Client
) -> None:
    stream = oai.chat.completions.create(
        model="genrec",
        messages=[{"role": "user", "content": "I loved Toy Story, recommend animated movies"}],
        user="oai-stream",
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks and all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert len(finals) == 1
    extra = finals[0].model_extra["genrec"]
    assert extra["session_id"] == "oai-stream" and extra["recommendations"]
    assert chunks[-1].usage is not None and chunks[-1].choices == []
    # what the client assembled is exactly what the session stored
    assert text.strip() and history(http, "oai-stream")[-1] == {
        "role": "assistant",
        "content": text,
    }


def test_raw_sse_stream_is_well_formed(http: httpx.Client) -> None:
    body = {"messages": [{"role": "user", "content": "recommend a comedy"}], "stream": True}
    with http.stream("POST", "/v1/chat/completions", json=body) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        session_id = r.headers["x-session-id"]
        lines = [ln for ln in r.iter_lines() if ln]
    assert all(ln.startswith("data: ") for ln in lines)
    assert lines[-1] == "data: [DONE]"
    first = json.loads(lines[0][6:])
    assert first["choices"][0]["delta"]["role"] == "assistant"
    last = json.loads(lines[-2][6:])
    assert last["choices"][0]["finish_reason"] == "stop"
    assert last["genrec"]["session_id"] == session_id


def test_session_comes_from_header_user_field_or_is_new(http: httpx.Client) -> None:
    ask = {"messages": [{"role": "user", "content": "I want a thriller from the 90s"}]}
    first = http.post("/v1/chat/completions", json=ask)
    assert first.status_code == 200
    new_id = first.headers["x-session-id"]
    assert first.json()["genrec"]["session_id"] == new_id and len(new_id) >= 16
    # the header continues that session (and wins over `user`)
    again = http.post("/v1/chat/completions", json={**ask, "user": "someone-else"},
                      headers={"X-Session-Id": new_id})
    assert again.headers["x-session-id"] == new_id
    assert len(history(http, new_id)) == 4
    assert http.get("/api/sessions/someone-else").status_code == 404
    # a fresh request without either gets another session
    assert http.post("/v1/chat/completions", json=ask).headers["x-session-id"] != new_id


def test_two_sessions_stay_isolated(oai: openai.OpenAI, http: httpx.Client, recommender) -> None:
    oai.chat.completions.create(
        model="genrec", user="iso-a",
        messages=[{"role": "user", "content": "I loved Toy Story, recommend animated movies"}],
    )
    oai.chat.completions.create(
        model="genrec", user="iso-b",
        messages=[{"role": "user", "content": "Recommend a horror movie"}],
    )
    a, b = history(http, "iso-a"), history(http, "iso-b")
    assert "Toy Story" in a[0]["content"] and "horror" in b[0]["content"]
    assert all("Toy Story" not in m["content"] for m in b if m["role"] == "user")
    state_a = http.get("/api/sessions/iso-a").json()["state"]
    state_b = http.get("/api/sessions/iso-b").json()["state"]
    assert TOY_STORY in state_a["liked"] and TOY_STORY not in state_b["liked"]
    # feedback in one session never shows up in the other
    item = state_b["last_recommended"][0]
    r = http.post("/api/sessions/iso-b/feedback", json={"item_id": item, "liked": False})
    assert r.status_code == 200 and item in r.json()["state"]["disliked"]
    assert item not in http.get("/api/sessions/iso-a").json()["state"]["disliked"]


def test_one_session_id_rule_for_every_door(http: httpx.Client, recommender,
                                           api_settings: Settings) -> None:
    """Any id the Recommender accepts works over HTTP too: in `user`, in the X-Session-Id header
    and in the path (both URL-encoded); the Python API sees it under the keyed hash of
    (principal, id), never the address in the clear."""
    from genrec.ui.api.security import load_secret, principal_of, stored_session_id

    sid = "user 1 (alice@example.com)"
    assert recommender.check_session_id(sid) == sid
    ask = {
        "messages": [{"role": "user", "content": "I loved Toy Story, recommend animated movies"}]
    }
    first = http.post("/v1/chat/completions", json={**ask, "user": sid})
    assert first.status_code == 200, first.text
    assert first.json()["genrec"]["session_id"] == sid
    assert first.headers["x-session-id"] == quote(sid, safe=":@")
    again = http.post("/v1/chat/completions", json=ask,
                      headers={"X-Session-Id": first.headers["x-session-id"]})
    assert again.status_code == 200 and again.json()["genrec"]["session_id"] == sid
    stored = stored_session_id(load_secret(api_settings.home), principal_of(None, None), sid)
    assert "alice" not in stored and not recommender.session_exists(sid)
    assert len(history(http, quote(sid))) == 4 == len(recommender.history(stored))
    assert TOY_STORY in recommender.state(stored).liked
    assert http.delete(f"/api/sessions/{quote(sid)}").status_code == 200
    assert not recommender.session_exists(stored)


# ------------------------------------------------------------------ sessions API


def test_sessions_api_lifecycle_and_feedback_respected(http: httpx.Client) -> None:
    created = http.post("/api/sessions")
    assert created.status_code == 201
    sid = created.json()["session_id"]
    assert http.get(f"/api/sessions/{sid}").json()["history"] == []
    reply = http.post(f"/api/sessions/{sid}/messages",
                      json={"message": "I loved Toy Story, recommend animated movies"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["session_id"] == sid and body["recommendations"]
    disliked = body["recommendations"][0]["item_id"]
    fb = http.post(f"/api/sessions/{sid}/feedback", json={"item_id": disliked, "liked": False})
    assert fb.status_code == 200 and disliked in fb.json()["state"]["disliked"]
    more = http.post(f"/api/sessions/{sid}/messages", json={"message": "more like that please"})
    assert more.status_code == 200
    assert disliked not in [r["item_id"] for r in more.json()["recommendations"]]
    assert len(http.get(f"/api/sessions/{sid}").json()["history"]) == 4
    gone = http.delete(f"/api/sessions/{sid}")
    assert gone.status_code == 200 and gone.json() == {"session_id": sid, "deleted": True}
    assert http.get(f"/api/sessions/{sid}").status_code == 404
    assert http.delete(f"/api/sessions/{sid}").status_code == 404


def test_healthz_reports_backend_dataset_and_counts(http: httpx.Client, recommender) -> None:
    body = http.get("/healthz").json()
    assert body["status"] == "ok" and body["backend"] == recommender.backend_name == "none"
    assert body["dataset"] == "small-films" and body["items"] == len(recommender.catalog) == 155
    assert body["auth"] is False and body["sessions"] >= 0


def test_docs_and_gradio_page_are_served(http: httpx.Client) -> None:
    assert http.get("/docs").status_code == 200
    spec = http.get("/openapi.json").json()
    for path in ("/v1/chat/completions", "/api/sessions/{session_id}/messages", "/healthz"):
        assert path in spec["paths"]
    page = http.get("/")
    assert page.status_code == 200 and "gradio" in page.text.lower()


# ------------------------------------------------------------------ errors and limits


def test_unknown_session_is_404_everywhere(http: httpx.Client) -> None:
    for method, path, body in (
        ("GET", "/api/sessions/nope-404", None),
        ("DELETE", "/api/sessions/nope-404", None),
        ("POST", "/api/sessions/nope-404/messages", {"message": "hi"}),
        ("POST", "/api/sessions/nope-404/feedback", {"item_id": 1, "liked": True}),
    ):
        r = http.request(method, path, json=body)
        assert r.status_code == 404, (method, path, r.text)
        assert "nope-404" in r.json()["error"]["message"]


def test_bad_json_wrong_types_and_limits_are_4xx(http: httpx.Client) -> None:
    sid = http.post("/api/sessions").json()["session_id"]
    json_headers = {"content-type": "application/json"}
    cases = [
        (f"/api/sessions/{sid}/messages", b"{not json", 422),
        (f"/api/sessions/{sid}/messages", b'{"message": 5}', 422),
        (f"/api/sessions/{sid}/messages", b'{"message": ""}', 422),
        (f"/api/sessions/{sid}/messages", b'{"text": "hi"}', 422),
        (f"/api/sessions/{sid}/messages", json.dumps({"message": "x" * 5000}).encode(), 422),
        (f"/api/sessions/{sid}/feedback", b'{"item_id": "one", "liked": true}', 422),
        (f"/api/sessions/{sid}/feedback", b'{"item_id": 1, "liked": "yes"}', 422),
        (f"/api/sessions/{sid}/feedback", b'{"item_id": 999999, "liked": true}', 422),
        ("/v1/chat/completions", b'{"messages": []}', 422),
        ("/v1/chat/completions", b'{"messages": [{"role": "system", "content": "x"}]}', 422),
        ("/v1/chat/completions", b'{"messages": [{"role": "wizard", "content": "x"}]}', 422),
        ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "hi"}], '
                                 b'"user": "   "}', 422),
        ("/v1/chat/completions", b"[1, 2, 3]", 422),
        (f"/api/sessions/{sid}/messages", json.dumps({"message": "y" * 70_000}).encode(), 413),
    ]
    for path, body, status in cases:
        r = http.post(path, content=body, headers=json_headers)
        assert r.status_code == status, (path, body[:60], r.status_code, r.text[:200])
        err = r.json()["error"]
        assert err["code"] == status and err["message"]
    # a chunked body (no Content-Length) over the limit is cut off too
    def chunks() -> Iterator[bytes]:
        yield b'{"message": "'
        for _ in range(80):
            yield b"z" * 1024
        yield b'"}'

    r = http.post(f"/api/sessions/{sid}/messages", content=chunks(), headers=json_headers)
    assert r.status_code == 413
    assert http.get("/api/sessions/%20%20").status_code == 422  # only spaces: not a session id
    too_long = http.get("/api/sessions/" + "x" * 201)
    assert (
        too_long.status_code == 422 and "invalid session id" in too_long.json()["error"]["message"]
    )
    r = http.post("/v1/chat/completions", headers={"X-Session-Id": "x" * 201},
                  json={"messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 422 and "X-Session-Id" in r.json()["error"]["message"]


def test_junk_never_gets_a_500(http: httpx.Client) -> None:
    sid = http.post("/api/sessions").json()["session_id"]
    junk = [b"", b"null", b"0", b'"text"', b"{}", b'{"message": null}', b'{"message": ["a"]}',
            b'{"messages": "hi"}', b'{"messages": [{"content": "hi"}]}', b"\xff\xfe\x00",
            b'{"item_id": 1e400, "liked": true}', b'{"messages": [{"role": "user", '
            b'"content": [{"type": "image_url"}]}]}', b"{" * 5000, b"[" * 60_000]
    paths = ["/v1/chat/completions", "/api/sessions", f"/api/sessions/{sid}/messages",
             f"/api/sessions/{sid}/feedback", "/api/sessions/..%2F..%2Fetc/messages"]
    for path in paths:
        for body in junk:
            for ctype in ("application/json", "text/plain"):
                r = http.post(path, content=body, headers={"content-type": ctype})
                assert r.status_code < 500, (path, body[:40], ctype, r.status_code, r.text[:200])


def test_agent_fault_becomes_503_not_a_traceback(api_settings: Settings,
                                                 make_small_recommender) -> None:
    """Fault injection: the recommender's turn raises; the API answers 503 with a message."""
    rec = make_small_recommender(api_settings)

    def broken_chat(session_id: str, message: str):
        raise RuntimeError("ranker file vanished")

    def broken_stream(session_id: str, message: str):
        yield "partial "
        raise RuntimeError("ranker file vanished")

    rec.chat, rec.stream = broken_chat, broken_stream  # type: ignore[method-assign]
    with BackgroundServer(create_app(rec, api_settings, ui=False)) as srv:
        ask = {"messages": [{"role": "user", "content": "recommend a comedy"}]}
        r = httpx.post(srv.url + "v1/chat/completions", json=ask, timeout=30)
        assert r.status_code == 503
        assert "ranker file vanished" in r.json()["error"]["message"]
        assert "Traceback" not in r.text
        client = openai.OpenAI(base_url=srv.url + "v1", api_key="x", max_retries=0)
        with pytest.raises(openai.APIError, match="ranker file vanished"):
            list(client.chat.completions.create(model="genrec", messages=ask["messages"],
                                                stream=True))


def test_llm_down_is_a_warning_not_an_error(api_settings: Settings,
                                            make_small_recommender) -> None:
    """The openai backend pointed at a closed port: the turn still answers, with a warning."""
    down = api_settings.model_copy(
        update={"llm": "openai", "llm_base_url": "http://127.0.0.1:9/v1", "llm_model": "m",
                "llm_timeout": 2.0}
    )
    rec = make_small_recommender(down, llm="openai")
    with BackgroundServer(create_app(rec, down, ui=False)) as srv:
        r = httpx.post(srv.url + "api/sessions", timeout=30)
        sid = r.json()["session_id"]
        r = httpx.post(srv.url + f"api/sessions/{sid}/messages",
                       json={"message": "I loved Toy Story, recommend animated movies"}, timeout=60)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["warnings"] and body["text"]


# ------------------------------------------------------------------ auth and restarts


def test_bearer_token_required_when_api_key_set(recommender, api_settings: Settings) -> None:
    keyed = api_settings.model_copy(update={"api_key": "s3cret-token"})
    with BackgroundServer(create_app(recommender, keyed)) as srv:
        ask = {"model": "genrec", "messages": [{"role": "user", "content": "recommend a comedy"}]}
        r = httpx.post(srv.url + "v1/chat/completions", json=ask, timeout=30)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        for path in ("v1/models", "api/sessions/x"):
            assert httpx.get(srv.url + path).status_code == 401
        assert httpx.post(srv.url + "api/sessions").status_code == 401
        wrong = openai.OpenAI(base_url=srv.url + "v1", api_key="s3cret-tokex", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            wrong.chat.completions.create(**ask)
        right = openai.OpenAI(base_url=srv.url + "v1", api_key="s3cret-token", max_retries=0)
        assert right.chat.completions.create(**ask).choices[0].message.content
        health = httpx.get(srv.url + "healthz").json()
        assert health["auth"] is True
        # the chat page asks for the key as its password: Gradio's own API is closed without it
        assert httpx.get(srv.url + "config").status_code == 401
    # auth off: no token needed
    with BackgroundServer(create_app(recommender, api_settings, ui=False)) as srv:
        assert httpx.get(srv.url + "v1/models").status_code == 200


def test_session_survives_a_server_restart(recommender, api_settings: Settings,
                                          make_small_recommender) -> None:
    with BackgroundServer(create_app(recommender, api_settings, ui=False)) as srv:
        r = httpx.post(
            srv.url + "v1/chat/completions",
            timeout=60,
            json={
                "user": "restart-me",
                "messages": [
                    {"role": "user", "content": "I loved Toy Story, recommend animated movies"}
                ],
            },
        )
        assert r.status_code == 200
        shown = [x["item_id"] for x in r.json()["genrec"]["recommendations"]]
    fresh = make_small_recommender(api_settings)  # a new process would do exactly this
    assert fresh is not recommender
    with BackgroundServer(create_app(fresh, api_settings, ui=False)) as srv:
        view = httpx.get(srv.url + "api/sessions/restart-me").json()
        assert [m["role"] for m in view["history"]] == ["user", "assistant"]
        assert TOY_STORY in view["state"]["liked"] and set(shown) <= set(
            view["state"]["recommended"]
        )
        r = httpx.post(srv.url + "api/sessions/restart-me/messages",
                       json={"message": "more please"}, timeout=60)
        assert r.status_code == 200
        assert not set(shown) & {x["item_id"] for x in r.json()["recommendations"]}


def test_up_refuses_a_public_host_without_an_api_key() -> None:
    from genrec.cli import app

    result = CliRunner().invoke(app, ["up", "--host", "0.0.0.0", "--llm", "none"])
    assert result.exit_code == 2
    assert "GENREC_API_KEY" in result.output and "0.0.0.0" in result.output


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("0.0.0.0", False), ("::", False), ("192.168.1.5", False),
     ("example.com", False)],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_limits_are_configurable(recommender, api_settings: Settings) -> None:
    """The message limit is the recommender's (AgentConfig); ApiLimits has what only HTTP needs."""
    from genrec.agent import Recommender
    from genrec.knobs import AgentConfig

    short = Recommender(catalog=recommender.catalog, ranker=recommender.ranker,
                        store=recommender.store, config=AgentConfig(max_message_chars=100))
    app = create_app(short, api_settings, limits=ApiLimits(max_body_bytes=300), ui=False)
    with BackgroundServer(app) as srv:
        sid = httpx.post(srv.url + "api/sessions").json()["session_id"]
        r = httpx.post(srv.url + f"api/sessions/{sid}/messages", json={"message": "a" * 101})
        assert r.status_code == 422 and "limit is 100" in r.json()["error"]["message"]
        ask = {"messages": [{"role": "user", "content": "b" * 101}]}
        r = httpx.post(srv.url + "v1/chat/completions", json=ask)
        assert r.status_code == 422 and "limit is 100" in r.json()["error"]["message"]
        r = httpx.post(srv.url + f"api/sessions/{sid}/messages", json={"message": "a" * 400})
        assert r.status_code == 413
    with pytest.raises(ValueError, match="max_message_chars is the recommender's limit"):
        ApiLimits(max_message_chars=10)  # type: ignore[call-arg]


def test_stream_signals_replace_when_the_fact_check_rejects_streamed_text(
    small_films, small_ranker, small_store, tmp_path
) -> None:
    """A FAKE LLM writer streams an intro naming a film that is not recommended: the streamed
    deltas never show it, and the final chunk's `genrec.replace_text` carries the checked text."""
    from genrec.agent import Recommender, SessionStore
    from genrec.llm import fake_backend

    def lying_writer(request):
        return {"text": "These picks mix adventure and heart, and you will enjoy every one of "
                        "them, just like Titanic (1997).", "rationales": []}

    rec = Recommender(catalog=small_films.catalog, ranker=small_ranker, store=small_store,
                      llm=fake_backend(["{}", lying_writer]), policy="guided",
                      sessions=SessionStore(tmp_path / "s.sqlite"))
    settings = Settings(home=tmp_path / "home", llm="fake")
    body = {"messages": [{"role": "user", "content": "I loved Star Wars"}], "stream": True}
    with BackgroundServer(create_app(rec, settings)) as srv, httpx.Client(
            base_url=srv.url, timeout=60) as http:
        with http.stream("POST", "/v1/chat/completions", json=body) as r:
            assert r.status_code == 200
            events = [json.loads(ln[6:]) for ln in r.iter_lines()
                      if ln.startswith("data: ") and ln != "data: [DONE]"]
    shown = "".join(
        e["choices"][0]["delta"].get("content") or "" for e in events if e.get("choices")
    )
    final = events[-1]["genrec"]
    assert "Titanic" not in shown
    assert final["replace_text"] and "Titanic" not in final["replace_text"]
    assert final["replace_text"] != shown and final["recommendations"]


def test_shortlist_route_obeys_the_session_and_changes_nothing(http: httpx.Client) -> None:
    created = http.post("/api/sessions")
    sid = created.json()["session_id"]
    turn = http.post(f"/api/sessions/{sid}/messages",
                     json={"message": "I loved Toy Story, but no horror please"})
    assert turn.status_code == 200, turn.text
    before = http.get(f"/api/sessions/{sid}").json()
    r = http.get(f"/api/sessions/{sid}/shortlist", params={"k": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    picks = body["recommendations"]
    assert body["k"] == 5 and len(picks) == 5
    assert all("Horror" not in p["genres"] for p in picks)
    assert TOY_STORY not in [p["item_id"] for p in picks]  # named by the user: left out
    assert http.get(f"/api/sessions/{sid}").json() == before  # read-only
    assert http.get(f"/api/sessions/{sid}/shortlist", params={"k": 0}).status_code == 422
    assert http.get("/api/sessions/no-such-session/shortlist").status_code == 404


def test_reply_carries_a_card_ready_chat_text_and_its_source(http: httpx.Client) -> None:
    """A front door with cards shows `chat_text` (no list); `text` keeps the list for text-only
    clients; `text_source` says the reply text is templated (no LLM here)."""
    sid = http.post("/api/sessions").json()["session_id"]
    body = http.post(f"/api/sessions/{sid}/messages",
                     json={"message": "I loved Toy Story, recommend animated movies"}).json()
    recs = body["recommendations"]
    assert len(recs) == 10 and body["text_source"] == "template"
    assert "1. " + recs[0]["title"] in body["text"]
    assert "Each card says why" in body["chat_text"]
    assert not any(r["title"] in body["chat_text"] for r in recs[1:])
    assert all(r["rationale_source"] == "template" for r in recs)
