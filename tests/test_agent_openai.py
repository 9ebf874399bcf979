"""The agent over the `openai` backend against a vLLM-like HTTP test server on 127.0.0.1.

Tool-calling end to end (tool call, then the answer), malformed tool calls (repair, then the
guided policy), and a server that is down or too slow.
"""

from __future__ import annotations

import json
import socket

import pytest
from openai_test_server import OpenAITestServer
from openai_test_server import Reply as SReply

from genrec.agent import Recommender, SessionStore
from genrec.config import Settings
from genrec.llm import get_llm

STAR_WARS = 50


@pytest.fixture
def server():
    with OpenAITestServer(model="Qwen/Qwen2.5-7B-Instruct") as srv:
        yield srv


def _rec(ml100k, ranker, store, tmp_path, base_url, model, **kw):
    s = Settings(home=tmp_path / "home", llm="openai", llm_base_url=base_url, llm_model=model,
                 llm_timeout=kw.pop("timeout", 10.0), llm_max_tokens=128)
    return Recommender(catalog=ml100k.catalog, ranker=ranker, store=store,
                       llm=get_llm("openai", s), policy=kw.pop("policy", "auto"),
                       sessions=SessionStore(tmp_path / "s.sqlite"))


def test_openai_guided_stream_passes_the_writer_text_on(server, small_films, small_ranker,
                                                        small_store, tmp_path):
    rec = _rec(small_films, small_ranker, small_store, tmp_path, server.base_url, server.model,
               policy="guided")
    intro = "These picks mix adventure and heart, and I think you will enjoy every one of them."
    server.enqueue(SReply.json({}), SReply.json({"text": intro, "rationales": []}))
    parts = list(rec.stream("os", "I loved Star Wars"))
    reply, deltas = parts[-1], parts[:-1]
    assert intro in reply.text and "".join(deltas) == reply.text
    assert deltas[0] == "Noted: you like Star Wars (1977).\n"  # streamed live, notes first
    assert intro.startswith(deltas[1])
    assert server.chat_requests[-1].get("stream") is True


def test_openai_tool_calling_end_to_end(server, small_films, small_ranker, small_store, tmp_path):
    rec = _rec(small_films, small_ranker, small_store, tmp_path, server.base_url, server.model)
    assert rec.policy_name == "tool-calling"
    server.enqueue(
        SReply.tool_call("rank_for_user", {"k": 10, "genres_none": ["Horror"]}),
        SReply.say("Here are some films you may like."),
        SReply.json({"text": "Enjoy!", "rationales": []}),
    )
    reply = rec.chat("o1", "I loved Star Wars, no horror please")
    assert reply.policy == "tool-calling" and reply.backend.startswith("openai")
    assert [t.name for t in reply.trace] == ["rank_for_user"] and reply.trace[0].ok
    assert reply.recommendations and STAR_WARS not in reply.item_ids
    assert all("Horror" not in r.genres for r in reply.recommendations)
    assert "Here are some films you may like." in reply.text
    assert reply.llm_calls == 3 and reply.prompt_tokens > 0
    reqs = server.chat_requests
    names = {t["function"]["name"] for t in reqs[0]["tools"]}
    assert names == {"search_items", "rank_for_user", "item_details", "similar_items",
                     "record_feedback"}
    params = next(t["function"]["parameters"] for t in reqs[0]["tools"]
                  if t["function"]["name"] == "search_items")
    assert "query" in params["required"]
    tool_msgs = [m for m in reqs[1]["messages"] if m["role"] == "tool"]
    assert tool_msgs and json.loads(tool_msgs[0]["content"])["ok"] is True
    assert reqs[1]["messages"][0]["role"] == "system"


def test_openai_malformed_tool_calls_repair_then_guided(server, small_films, small_ranker,
                                                         small_store, tmp_path):
    rec = _rec(small_films, small_ranker, small_store, tmp_path, server.base_url, server.model)
    server.enqueue(
        SReply.tool_call("search_items", '{"query": "spa'),
        SReply.tool_call("search_items", '{bad json'),
        SReply.json({"text": "Some picks.", "rationales": []}),
    )
    reply = rec.chat("o2", "I loved Star Wars")
    assert reply.policy == "guided"
    assert any("repaired" in w for w in reply.warnings)
    assert any("guided policy" in w for w in reply.warnings)
    assert reply.recommendations and STAR_WARS not in reply.item_ids
    repair = server.chat_requests[1]["messages"][-1]
    assert repair["role"] == "user" and "invalid" in repair["content"]


def test_openai_server_error_and_garbage_fall_back(server, small_films, small_ranker, small_store,
                                                   tmp_path):
    rec = _rec(small_films, small_ranker, small_store, tmp_path, server.base_url, server.model)
    server.enqueue(SReply.garbage(), SReply.fail(500, "boom"))
    reply = rec.chat("o3", "I loved Star Wars")
    assert reply.recommendations and reply.policy == "guided"
    assert reply.warnings
    assert rec.state("o3").liked == [STAR_WARS]


def test_openai_server_down_or_slow(small_films, small_ranker, small_store, tmp_path, server):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    rec = _rec(small_films, small_ranker, small_store, tmp_path, f"http://127.0.0.1:{port}/v1",
               "some/model")
    reply = rec.chat("down", "I loved Star Wars")
    assert reply.recommendations and any("unavailable" in w for w in reply.warnings)
    assert all(r.rationale_source == "template" for r in reply.recommendations)

    slow = _rec(small_films, small_ranker, small_store, tmp_path / "b", server.base_url,
                server.model, timeout=0.5)
    server.enqueue(SReply.slow(3.0), SReply.slow(3.0), SReply.slow(3.0))  # the client retries once
    reply = slow.chat("slow", "I loved Star Wars")
    assert reply.recommendations and any("unavailable" in w for w in reply.warnings)
    assert reply.llm_calls == 1
