"""State writes need the user's words: record_feedback from an LLM acts only on items the user's
message of this turn names (real ML-100K catalog, ranker and Chroma; a scripted FAKE LLM)."""

from __future__ import annotations

import json

import pytest

from genrec.agent import Recommender, SessionStore
from genrec.agent.llm_tools import ToolRunner, as_langchain_tools
from genrec.agent.operations import Toolkit
from genrec.agent.state import DialogueState
from genrec.llm import fake_backend

STAR_WARS, TITANIC, SHINING, SCREAM = 50, 313, 200, 288


@pytest.fixture
def toolkit(small_films, small_ranker, small_store) -> Toolkit:
    return Toolkit(small_films.catalog, small_ranker, small_store)


def _feedback(runner: ToolRunner, item_id: int, liked: bool):
    return runner.run("record_feedback", {"item_id": item_id, "liked": liked})


def test_unnamed_item_is_refused_and_traced(toolkit: Toolkit) -> None:
    runner = ToolRunner(toolkit, DialogueState(), message="I loved Star Wars")
    for iid in (SHINING, SCREAM):
        res = _feedback(runner, iid, True)
        assert not res.ok and res.change is None and "refused" in res.error
    assert [t.ok for t in runner.trace] == [False, False]
    assert all("refused" in t.summary for t in runner.trace)
    assert "refused" in json.loads(res.content)["error"]  # the LLM reads why


def test_named_item_is_recorded_with_the_stated_polarity(toolkit: Toolkit) -> None:
    runner = ToolRunner(
        toolkit, DialogueState(), message="I loved Star Wars. Have you seen Titanic?"
    )
    ok = _feedback(runner, TITANIC, False)
    assert ok.ok and ok.change is not None and ok.change.item_id == TITANIC
    assert _feedback(runner, STAR_WARS, True).ok
    flipped = _feedback(runner, STAR_WARS, False)  # the user said they loved it
    assert not flipped.ok and "opposite" in flipped.error


def test_ordinal_reference_to_the_shown_list_counts_as_naming(toolkit: Toolkit) -> None:
    state = DialogueState()
    state.record_shown([SHINING, SCREAM])
    runner = ToolRunner(toolkit, state, message="I didn't like the second one")
    assert _feedback(runner, SCREAM, False).ok
    assert not _feedback(runner, SHINING, False).ok


@pytest.fixture
def make(small_films, small_ranker, small_store, tmp_path):
    def _make(replies):
        return Recommender(catalog=small_films.catalog, ranker=small_ranker, store=small_store,
                           llm=fake_backend(replies), policy="tool-calling",
                           sessions=SessionStore(tmp_path / "s.sqlite"))
    return _make


def test_fake_langchain_tools_with_the_message_refuse_unstated_feedback(make) -> None:
    rec = make([])
    rec.chat("lc", "I loved Star Wars")
    tools = {t.name: t for t in as_langchain_tools(rec, session_id="lc",
                                                   message=lambda: "I loved Star Wars")}
    out = tools["record_feedback"].invoke({"item_id": SHINING, "liked": True})
    assert "refused" in out
    assert SHINING not in rec.state("lc").liked
    no_message = {t.name: t for t in as_langchain_tools(rec, session_id="lc")}
    assert "refused" in no_message["record_feedback"].invoke({"item_id": SHINING, "liked": True})
    assert "refused" not in no_message["record_feedback"].invoke({"item_id": STAR_WARS,
                                                                  "liked": True})


def test_fake_tool_calling_llm_cannot_add_an_unstated_like(make) -> None:
    script = [{"name": "record_feedback", "args": {"item_id": SHINING, "liked": True}},
              {"name": "record_feedback", "args": {"item_id": SCREAM, "liked": True}},
              {"name": "rank_for_user", "args": {}}, "Here you go.", "{}"]
    rec = make(script)
    reply = rec.chat("w1", "I loved Star Wars")
    state = rec.state("w1")
    assert state.liked == [STAR_WARS]
    refused = [t for t in reply.trace if t.name == "record_feedback"]
    assert len(refused) == 2 and all(not t.ok and "refused" in t.summary for t in refused)
    liked_basis = " ".join(r.evidence.get("nearest_liked_title", "") for r in reply.recommendations)
    assert "Shining" not in liked_basis and "Scream" not in liked_basis  # no "since you liked"
