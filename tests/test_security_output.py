"""Output safety with a hostile FAKE LLM on real ML-100K, ranker and Chroma: links, images, HTML
and URLs never reach a reply, a streamed delta or the HTTP API, and such text is never verified."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from genrec.agent import Recommender, SessionStore
from genrec.config import Settings
from genrec.llm import fake_backend
from genrec.llm.safe_text import plain_text, unsafe_prefix
from genrec.ui import BackgroundServer, create_app

STAR_WARS = 50
PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "[Claim your prize](http://evil.example/phish)",
    "![m](http://evil.example/track.png)",
    "Visit www.evil.example today",
    '<a href="javascript:alert(1)">click</a>',
    "see https://evil.example/x for more",
    "<script>fetch('//evil.example')</script>",
    "[x][1]\n[1]: http://evil.example",
]
# what must never be shown: markup or addresses (link words alone are harmless text)
UNSAFE = re.compile(r"<|>|\]\(|!\[|https?:|javascript:|www\.|evil\.example", re.IGNORECASE)


def _evidence(request) -> list[dict]:
    text = request.last_user_text
    return json.JSONDecoder().raw_decode(text[text.index("[{"):])[0]


def hostile_writer(payload: str):
    def write(request):
        ev = _evidence(request)
        return {"text": f"Here are great picks for you. {payload}",
                "rationales": [{"item_id": e["item_id"],
                                "rationale": f"A {e['genres'][0]} film. {payload}"}
                               for e in ev if e.get("genres")]}
    return write


@pytest.fixture
def make(small_films, small_ranker, small_store, tmp_path):
    def _make(replies, *, policy="guided", **config):
        from genrec.agent import AgentConfig

        return Recommender(catalog=small_films.catalog, ranker=small_ranker, store=small_store,
                           llm=fake_backend(replies), policy=policy,
                           sessions=SessionStore(tmp_path / "s.sqlite"),
                           config=AgentConfig(**config))
    return _make


def test_plain_text_keeps_bold_italics_and_lists_only() -> None:
    ok = "**Alien** (1979) is *tense*.\n- one\n- two\n1. _three_"
    assert plain_text(ok).text == ok and not plain_text(ok).changed
    for p in PAYLOADS:
        safe = plain_text(p)
        assert safe.changed and not UNSAFE.search(safe.text), (p, safe)
    assert plain_text("Claim [prize](http://e.example)").text == "Claim prize"


@pytest.mark.parametrize("payload", PAYLOADS)
def test_fake_hostile_writer_markup_never_reaches_the_reply(make, payload: str) -> None:
    rec = make(["{}", hostile_writer(payload)])
    reply = rec.chat("o1", "I loved Star Wars")
    assert reply.recommendations
    assert not UNSAFE.search(reply.text), reply.text
    for r in reply.recommendations:
        assert not UNSAFE.search(r.rationale), r.rationale
        assert r.rationale_source == "template" and r.verified  # the LLM text was not kept
    assert reply.timings.get("llm_text_unsafe", 0) >= 1
    assert "llm_text" not in reply.timings
    assert any("not shown" in w for w in reply.warnings)
    # what is stored for the next turn's context is the clean text too
    assert not UNSAFE.search(json.dumps(rec.history("o1")))


def test_fake_clean_writer_text_is_kept_and_counted(make) -> None:
    def clean(request):
        return {"text": "Here are **great** picks for you.", "rationales": []}
    reply = make(["{}", clean]).chat("o2", "I loved Star Wars")
    assert "\nHere are **great** picks for you.\n" in reply.text and reply.timings["llm_text"] == 1


def test_fake_unchecked_rationales_are_sanitised_and_not_verified(make) -> None:
    rec = make(["{}", hostile_writer(PAYLOADS[1])], check_rationales=False)
    reply = rec.chat("o3", "I loved Star Wars")
    assert not UNSAFE.search(reply.text)
    llm = [r for r in reply.recommendations if r.rationale_source == "llm"]
    assert llm and all(not r.verified and "Claim your prize" in r.rationale for r in llm)


@pytest.mark.parametrize("payload", [PAYLOADS[0], PAYLOADS[1], PAYLOADS[3], PAYLOADS[5]])
def test_fake_streamed_deltas_never_carry_markup(make, payload: str) -> None:
    long_intro = "These picks mix adventure, heart and wonder, and I think you will enjoy them. "
    def writer(request):
        return {**hostile_writer(payload)(request), "text": long_intro * 2 + payload + long_intro}
    rec = make(["{}", writer])
    parts = list(rec.stream("o4", "I loved Star Wars"))
    deltas, reply = "".join(p for p in parts[:-1]), parts[-1]
    assert "These picks mix" in deltas  # the safe start was streamed
    assert not UNSAFE.search(deltas), deltas
    assert not UNSAFE.search(reply.text) and reply.text != deltas  # the client must replace


def test_fake_tool_calling_final_text_with_a_link_is_replaced(make) -> None:
    script = [{"name": "rank_for_user", "args": {}},
              "Watch them at [free stream](http://evil.example/watch)!", "{}"]
    reply = make(script, policy="tool-calling").chat("o5", "I loved Star Wars")
    assert reply.recommendations and not UNSAFE.search(reply.text)


def test_fake_tool_calling_question_with_html_is_not_returned(make) -> None:
    script = [{"name": "search_items", "args": {"query": "zzzz", "genres_any": ["Western"],
                                                "year_min": 1920, "year_max": 1921}},
              "Which one? <img src=x onerror=alert(1)> ?", "{}"]
    reply = make(script, policy="tool-calling").chat("o6", "I loved Star Wars")
    assert not UNSAFE.search(reply.text)


def test_unsafe_prefix_stops_on_a_starting_tag_or_address() -> None:
    assert unsafe_prefix("Try <i") and unsafe_prefix("go to http://") and unsafe_prefix("[x](")
    assert not unsafe_prefix("Try Alien (1979), a *classic* - really.")


def test_fake_openai_api_stream_and_reply_carry_no_markup(small_films, small_ranker, small_store,
                                                         tmp_path) -> None:
    """The HTTP front door (OpenAI-compatible, streaming) with the hostile FAKE writer."""
    rec = Recommender(catalog=small_films.catalog, ranker=small_ranker, store=small_store,
                      llm=fake_backend(["{}", hostile_writer(PAYLOADS[0]),
                                        "{}", hostile_writer(PAYLOADS[1])]),
                      policy="guided", sessions=SessionStore(tmp_path / "s.sqlite"))
    settings = Settings(home=tmp_path / "home", llm="fake")
    ask = {"messages": [{"role": "user", "content": "I loved Star Wars"}]}
    with BackgroundServer(create_app(rec, settings, ui=False)) as srv, httpx.Client(
            base_url=srv.url, timeout=60) as http:
        with http.stream("POST", "/v1/chat/completions", json={**ask, "stream": True}) as r:
            assert r.status_code == 200
            events = [json.loads(ln[6:]) for ln in r.iter_lines()
                      if ln.startswith("data: ") and ln != "data: [DONE]"]
        r2 = http.post("/v1/chat/completions", json=ask)
    shown = "".join(e["choices"][0]["delta"].get("content") or "" for e in events
                    if e.get("choices"))
    assert not UNSAFE.search(shown) and not UNSAFE.search(json.dumps(events[-1]["genrec"]))
    assert r2.status_code == 200 and not UNSAFE.search(r2.text)
