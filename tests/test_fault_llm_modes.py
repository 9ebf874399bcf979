"""Every LLM fault mode through the OpenAI-compatible test server (real HTTP), both policies, both
turn styles (chat and stream), on the real ML-100K recommender: each turn still answers with
catalog recommendations, says what went wrong, shows no markup, and a hang costs one timeout."""

from __future__ import annotations

import socket
import time

import pytest
from openai_test_server import Reply

from genrec.agent import Reply as AgentReply
from genrec.config import Settings

LINK = "Click [here](http://evil.example/x) <img src=x onerror=alert(1)>"
MODES = {
    "500": lambda: Reply.fail(500, "engine crashed"),
    "503": lambda: Reply.fail(503, "overloaded"),
    "garbage": lambda: Reply.garbage(),
    "hang": lambda: Reply.slow(30.0),
    "drop": lambda: Reply(text="partial answer that never ends", drop=True),
    "stream_error": lambda: Reply(text="partial", stream_error="engine died mid-answer"),
    "bad_tool_json": lambda: Reply.tool_call("search_items", '{"query": "space", '),
    "unknown_tool": lambda: Reply.tool_call("delete_everything", {"all": True}),
    "tool_wrong_types": lambda: Reply.tool_call("rank_for_user", {"k": "many", "user_id": "x"}),
    "empty": lambda: Reply(text=""),
    "not_json": lambda: Reply(text="Sure! Here are movies: " + LINK),
    "html_json": lambda: Reply.json({"text": LINK, "rationales": [{"item_id": 1,
                                                                   "rationale": LINK}]}),
}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _check(reply: AgentReply, mode: str) -> None:
    assert reply.recommendations, (mode, reply.text, reply.warnings)
    for bad in ("http", "<img", "](", "evil.example"):
        assert bad not in reply.text, (mode, reply.text)
    if mode not in ("not_json", "html_json", "empty", "unknown_tool", "tool_wrong_types"):
        assert reply.warnings, mode


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["guided", "tool-calling"])
@pytest.mark.parametrize("mode", sorted(MODES))
def test_every_llm_fault_mode_still_answers(srv, settings: Settings, make_small_recommender,
                                            mode: str, policy: str) -> None:
    s = settings.model_copy(update={"llm_base_url": srv.base_url, "llm_model": srv.model,
                                    "llm_timeout": 1.0})
    rec = make_small_recommender(s, llm="openai", policy=policy)
    srv.enqueue(*[MODES[mode]() for _ in range(12)])
    started = time.monotonic()
    reply = rec.chat(f"{mode}-{policy}", "I loved Toy Story, recommend animated movies")
    _check(reply, mode)
    if mode == "hang":
        assert time.monotonic() - started < 8 and reply.timings["llm"] < 2500
        again = rec.chat(f"{mode}-{policy}-2", "I loved Star Wars")
        assert again.recommendations and again.timings["llm"] < 100  # the breaker is open
    srv.enqueue(*[MODES[mode]() for _ in range(12)])
    parts = list(rec.stream(f"{mode}-{policy}-s", "I loved Star Wars, something from the 80s"))
    assert isinstance(parts[-1], AgentReply) and all(isinstance(p, str) for p in parts[:-1])
    _check(parts[-1], mode)
    shown = "".join(parts[:-1])
    assert "<img" not in shown and "](" not in shown


@pytest.mark.parametrize("policy", ["guided", "tool-calling"])
def test_llm_down_still_answers_both_policies(settings: Settings, make_small_recommender,
                                              policy: str) -> None:
    s = settings.model_copy(update={"llm_base_url": f"http://127.0.0.1:{_closed_port()}/v1",
                                    "llm_model": "m", "llm_timeout": 1.0})
    rec = make_small_recommender(s, llm="openai", policy=policy)
    for n in range(3):
        reply = rec.chat(f"down-{policy}-{n}", "I loved Toy Story, recommend animated movies")
        _check(reply, "down")
    assert rec.llm.breaker.status().state == "down"  # three refusals in a row open it
