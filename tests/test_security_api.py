"""Authorization, rate limits and the error shape on a real server (uvicorn on 127.0.0.1, the real
Recommender over ML-100K, Gradio mounted): sessions belong to a principal, keys are checked
everywhere (/docs, Gradio), failures are limited, every API 4xx has one shape."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from typer.testing import CliRunner

from genrec.config import Settings
from genrec.ui import ApiLimits, BackgroundServer, create_app

KEY_A, KEY_B = "key-a-0123456789abcdef", "key-b-0123456789abcdef"
ASK = {"message": "I loved Toy Story, recommend animated movies"}


def _auth(key: str, user: str | None = None) -> dict[str, str]:
    h = {"Authorization": f"Bearer {key}"}
    if user is not None:
        h["X-Genrec-User"] = user
    return h


@pytest.fixture(scope="module")
def keyed_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(home=tmp_path_factory.mktemp("sec") / "home", llm="none",
                    api_key=f"{KEY_A},{KEY_B}")


@pytest.fixture(scope="module")
def rec(keyed_settings: Settings, make_small_recommender):
    return make_small_recommender(keyed_settings)


@pytest.fixture(scope="module")
def server(rec, keyed_settings: Settings) -> Iterator[BackgroundServer]:
    with BackgroundServer(create_app(rec, keyed_settings)) as srv:
        yield srv


@pytest.fixture
def http(server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


def test_another_key_gets_404_for_the_same_session(http: httpx.Client) -> None:
    sid = http.post("/api/sessions", headers=_auth(KEY_A)).json()["session_id"]
    assert http.post(f"/api/sessions/{sid}/messages", json=ASK,
                     headers=_auth(KEY_A)).status_code == 200
    for method, path, body in [("GET", f"/api/sessions/{sid}", None),
                               ("POST", f"/api/sessions/{sid}/messages", ASK),
                               ("POST", f"/api/sessions/{sid}/feedback",
                                {"item_id": 1, "liked": False}),
                               ("GET", f"/api/sessions/{sid}/shortlist", None),
                               ("DELETE", f"/api/sessions/{sid}", None)]:
        r = http.request(method, path, json=body, headers=_auth(KEY_B))
        assert r.status_code == 404 and r.json()["error"]["code"] == 404, (method, path)
    view = http.get(f"/api/sessions/{sid}", headers=_auth(KEY_A)).json()
    assert len(view["history"]) == 2  # B's attempts changed nothing


def test_a_bot_key_keeps_its_end_users_apart(http: httpx.Client) -> None:
    ask = {"messages": [{"role": "user", "content": "I loved Toy Story"}], "user": "same-id"}
    for who in ("alice", "bob"):
        r = http.post("/v1/chat/completions", json=ask, headers=_auth(KEY_A, who))
        assert r.status_code == 200 and r.headers["x-session-id"] == "same-id"
    alice = http.get("/api/sessions/same-id", headers=_auth(KEY_A, "alice")).json()
    bob = http.get("/api/sessions/same-id", headers=_auth(KEY_A, "bob")).json()
    assert len(alice["history"]) == len(bob["history"]) == 2  # two sessions, not one of four
    assert http.get("/api/sessions/same-id", headers=_auth(KEY_A)).status_code == 404
    assert http.get("/api/sessions/same-id", headers=_auth(KEY_B, "alice")).status_code == 404


def test_openai_user_field_is_stored_under_a_keyed_hash(http: httpx.Client, rec) -> None:
    ask = {"messages": [{"role": "user", "content": "I loved Toy Story"}],
           "user": "alice@example.com"}
    r = http.post("/v1/chat/completions", json=ask, headers=_auth(KEY_A))
    assert r.status_code == 200 and r.json()["genrec"]["session_id"] == "alice@example.com"
    assert not rec.session_exists("alice@example.com")
    assert all("alice" not in s for s in rec.list_sessions())
    assert http.get("/api/sessions/alice@example.com", headers=_auth(KEY_A)).status_code == 200
    assert http.get("/api/sessions/alice@example.com", headers=_auth(KEY_B)).status_code == 404


def test_docs_openapi_and_gradio_need_the_key(http: httpx.Client, server) -> None:
    for path in ("/docs", "/openapi.json", "/gradio_api/heartbeat/abc", "/gradio_api/queue/data",
                 "/gradio_api/api/predict", "/gradio_api/upload"):
        r = http.get(path)
        assert r.status_code == 401 and r.json()["error"]["code"] == 401, path
    assert http.get("/openapi.json", headers=_auth(KEY_B)).status_code == 200
    assert http.get("/docs", headers=_auth(KEY_B)).status_code == 200
    assert http.get("/").status_code == 200  # the login page itself
    assert http.get("/config").status_code == 401
    login = http.post("/login", data={"username": "anyone", "password": KEY_A})
    assert login.status_code == 200, login.text
    assert http.get("/config").status_code == 200  # the session cookie now opens Gradio
    with http.stream("GET", "/gradio_api/heartbeat/abc") as beat:
        assert beat.status_code == 200


def test_healthz_shows_counts_only_with_the_key(http: httpx.Client) -> None:
    open_body = http.get("/healthz").json()
    assert open_body["status"] == "ok" and open_body["auth"] is True
    assert "sessions" not in open_body and "items" not in open_body
    keyed = http.get("/healthz", headers=_auth(KEY_A)).json()
    assert keyed["items"] == 155 and keyed["sessions"] >= 0


def test_every_api_4xx_has_the_error_shape_and_405_for_a_wrong_method(http: httpx.Client) -> None:
    h = _auth(KEY_A)
    cases = [("PUT", "/api/sessions", 405), ("GET", "/api/sessions", 405),
             ("DELETE", "/v1/models", 405), ("GET", "/v1/chat/completions", 405),
             ("PATCH", "/api/sessions/x", 405), ("GET", "/api/nope", 404),
             ("GET", "/v1", 404), ("POST", "/api/sessions/a/b/c", 404),
             ("GET", "/api/sessions/unknown", 404), ("POST", "/v1/chat/completions", 422)]
    for method, path, status in cases:
        r = http.request(method, path, headers=h)
        body = r.json()
        assert r.status_code == status, (method, path, r.status_code, body)
        assert set(body) == {"error"} and body["error"]["code"] == status
        assert {"message", "type", "code"} <= set(body["error"])
        if status == 405:
            assert r.headers["allow"]


def test_wrong_keys_and_logins_are_limited_per_address(rec, keyed_settings: Settings) -> None:
    app = create_app(rec, keyed_settings, limits=ApiLimits(auth_failures_per_minute=10))
    with BackgroundServer(app) as srv, httpx.Client(base_url=srv.url, timeout=30) as http:
        codes = [http.get("/v1/models", headers=_auth(f"wrong-{i}")).status_code
                 for i in range(60)]
        assert codes.count(401) == 10 and codes.count(429) == 50
        r = http.get("/v1/models", headers=_auth(KEY_A))
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1  # the address waits
    app = create_app(rec, keyed_settings, limits=ApiLimits(auth_failures_per_minute=5))
    with BackgroundServer(app) as srv, httpx.Client(base_url=srv.url, timeout=30) as http:
        codes = [http.post("/login", data={"username": "u", "password": f"no-{i}"}).status_code
                 for i in range(12)]
        assert codes[:5] == [400] * 5 and set(codes[5:]) == {429}


def test_requests_are_rate_limited_per_principal(rec, keyed_settings: Settings) -> None:
    app = create_app(rec, keyed_settings, limits=ApiLimits(requests_per_minute=5), ui=False)
    with BackgroundServer(app) as srv, httpx.Client(base_url=srv.url, timeout=30) as http:
        codes = [http.get("/v1/models", headers=_auth(KEY_A)).status_code for _ in range(8)]
        assert codes == [200] * 5 + [429] * 3
        r = http.get("/v1/models", headers=_auth(KEY_A))
        assert (
            r.json()["error"]["type"] == "rate_limit_error" and int(r.headers["retry-after"]) >= 1
        )
        assert http.get("/v1/models", headers=_auth(KEY_B)).status_code == 200  # its own budget
        assert http.get("/v1/models", headers=_auth(KEY_A, "carol")).status_code == 200


@pytest.mark.parametrize("key", [" ", "x", "1234", "short-key-15chr", "0123456789abcdef,x"])
def test_up_refuses_weak_keys_for_a_public_host(key: str, monkeypatch) -> None:
    from genrec.cli import app

    monkeypatch.setenv("GENREC_API_KEY", key)
    result = CliRunner().invoke(app, ["up", "--host", "0.0.0.0", "--llm", "none"])
    assert result.exit_code == 2, result.output
    assert "GENREC_API_KEY" in result.output


def test_replicas_with_one_session_secret_share_sessions(rec, tmp_path, monkeypatch) -> None:
    """Two servers with different homes (two hosts) over one session store: with the same
    GENREC_SESSION_SECRET a session made on one is found on the other; without, it is not."""
    a = Settings(home=tmp_path / "a", llm="none", api_key=KEY_A)
    b = Settings(home=tmp_path / "b", llm="none", api_key=KEY_A)
    monkeypatch.setenv("GENREC_SESSION_SECRET", "ab" * 32)
    with BackgroundServer(create_app(rec, a, ui=False)) as one, \
            BackgroundServer(create_app(rec, b, ui=False)) as two:
        sid = httpx.post(one.url + "api/sessions", headers=_auth(KEY_A)).json()["session_id"]
        assert httpx.get(two.url + f"api/sessions/{sid}", headers=_auth(KEY_A)).status_code == 200
    monkeypatch.setenv("GENREC_SESSION_SECRET", "not hex")
    with pytest.raises(ValueError, match="GENREC_SESSION_SECRET: give at least 32 hex digits"):
        create_app(rec, a, ui=False)
