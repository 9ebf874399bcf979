"""Degraded mode on a real server (uvicorn on 127.0.0.1, real ML-100K, ranker and Chroma) with the
OpenAI-compatible test server as the LLM: start while it is down, come back to it, a hanging LLM
costs one timeout then nothing, /healthz says up|degraded|down and /readyz says ready."""

from __future__ import annotations

import socket
import time

import httpx
import pytest
from openai_test_server import OpenAITestServer

from genrec.config import Settings
from genrec.llm import LLMUnavailableError, get_llm
from genrec.llm.breaker import CircuitBreaker, time_budget
from genrec.ui import BackgroundServer, create_app

MODEL = "Qwen/Qwen2.5-7B-Instruct"
ASK = {"message": "I loved Toy Story, recommend animated movies"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _turn(url: str) -> dict:
    sid = httpx.post(url + "api/sessions", timeout=30).json()["session_id"]
    r = httpx.post(url + f"api/sessions/{sid}/messages", json=ASK, timeout=120)
    assert r.status_code == 200, r.text
    return r.json()


def test_breaker_opens_after_outages_then_one_trial_call_decides() -> None:
    now = [0.0]
    b = CircuitBreaker(threshold=3, cooldown=10, clock=lambda: now[0])
    for _ in range(2):
        b.failure("refused")
    assert b.allow() and b.status().state == "degraded"
    b.failure("refused")
    assert not b.allow() and b.status().state == "down" and b.status().retry_in == 10
    now[0] = 11
    assert b.allow() and not b.allow()  # one trial call only
    b.failure("still refused")
    now[0] = 15
    assert not b.allow()  # reopened for another cool-down
    now[0] = 22
    assert b.allow()
    b.success()
    assert b.status().state == "up" and b.allow()


def test_openai_backend_is_made_while_the_server_is_down(settings: Settings) -> None:
    """`genrec up` with GENREC_LLM=openai, a base URL and no model no longer fails at start."""
    s = settings.model_copy(update={"llm_base_url": f"http://127.0.0.1:{_free_port()}/v1"})
    started = time.monotonic()
    llm = get_llm("openai", s)
    assert time.monotonic() - started < 6 and llm.name == "openai"
    with pytest.raises(LLMUnavailableError):
        llm.invoke("hi")


def test_time_budget_cuts_the_call_timeout(settings: Settings) -> None:
    with OpenAITestServer(MODEL, delay=3.0) as srv:
        llm = get_llm("openai", settings.model_copy(
            update={"llm_base_url": srv.base_url, "llm_model": MODEL, "llm_timeout": 30.0}))
        started = time.monotonic()
        with time_budget(0.5), pytest.raises(LLMUnavailableError):
            llm.invoke("hi")
        assert time.monotonic() - started < 2.5


def test_server_starts_with_the_llm_down_and_switches_to_it_when_it_returns(
        settings: Settings, make_small_recommender) -> None:
    port = _free_port()
    s = settings.model_copy(update={"llm": "openai", "llm_base_url": f"http://127.0.0.1:{port}/v1",
                                    "llm_timeout": 5.0})
    rec = make_small_recommender(s, llm="openai", policy="guided")  # used to raise here
    rec.llm.breaker.cooldown = 0.5
    with BackgroundServer(create_app(rec, s, ui=False)) as api:
        assert httpx.get(api.url + "readyz").status_code == 200
        body = _turn(api.url)  # rule-based, templated
        assert body["recommendations"] and any("unavailable" in w for w in body["warnings"])
        health = httpx.get(api.url + "healthz")
        assert health.status_code == 200 and health.json()["llm"] in ("degraded", "down")
        with OpenAITestServer(MODEL, port=port) as srv:
            srv.enqueue("{}", {"text": "Here are some animated picks for you.", "rationales": []})
            time.sleep(0.6)  # the breaker's cool-down
            body = _turn(api.url)
            assert body["llm_calls"] == 2 and srv.chat_requests
            assert "Here are some animated picks for you." in body["text"]
            assert httpx.get(api.url + "healthz").json()["llm"] == "up"


def test_a_hanging_llm_costs_one_timeout_then_nothing(settings: Settings,
                                                      make_small_recommender) -> None:
    with OpenAITestServer(MODEL, delay=30.0) as srv:
        s = settings.model_copy(update={"llm": "openai", "llm_base_url": srv.base_url,
                                        "llm_model": MODEL, "llm_timeout": 0.5})
        rec = make_small_recommender(s, llm="openai", policy="guided")
        with BackgroundServer(create_app(rec, s, ui=False)) as api:
            first = _turn(api.url)
            assert first["recommendations"] and 0.45 < first["timings"]["llm"] / 1000 < 0.95
            health = httpx.get(api.url + "healthz")
            assert health.status_code == 200 and health.json()["llm"] == "down"
            assert health.json()["llm_retry_in"] > 0
            sent = len(srv.chat_requests)
            later_ms = []
            for _ in range(3):
                later = _turn(api.url)
                assert later["recommendations"] and later["timings"]["llm"] < 100
                later_ms.append(later["timings"]["llm"])
            assert len(srv.chat_requests) == sent  # nothing more went to the hanging server
            print(f"\nhanging LLM, 0.5 s timeout: first turn {first['timings']['llm']:.0f} ms of "
                  f"LLM time, next 3 turns {max(later_ms):.1f} ms at most, {sent} request(s) sent")


def test_a_turn_spends_at_most_its_llm_time_budget(settings: Settings, small_films, small_ranker,
                                                   small_store) -> None:
    """AgentConfig.llm_turn_seconds caps a turn's LLM time below the per-call timeout."""
    from genrec.agent import AgentConfig, Recommender, SessionStore

    with OpenAITestServer(MODEL, delay=30.0) as srv:
        s = settings.model_copy(update={"llm_base_url": srv.base_url, "llm_model": MODEL,
                                        "llm_timeout": 30.0})
        rec = Recommender(catalog=small_films.catalog, ranker=small_ranker, store=small_store,
                          llm=get_llm("openai", s), policy="guided", sessions=SessionStore(None),
                          config=AgentConfig(llm_turn_seconds=1.0))
        started = time.monotonic()
        reply = rec.chat("budget", "I loved Toy Story, recommend animated movies")
        assert reply.recommendations and time.monotonic() - started < 6
        assert 0.8 < reply.timings["llm"] / 1000 < 2.0
