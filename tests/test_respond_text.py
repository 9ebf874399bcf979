"""The reply's words on the real Recommender (`none` LLM, MovieLens 100K ranker and Chroma index):
a short chat text that points to the cards instead of repeating the list, and per-item reasons
built from each item's evidence in varied words, no sentence repeated within a list."""

from __future__ import annotations

import re

import pytest

from genrec.agent.rationales import Evidence, template_rationales
from genrec.agent.replies import CARDS_POINTER
from genrec.agent.state import DialogueState
from genrec.config import Settings

TOY_STORY = 1


@pytest.fixture(scope="module")
def recommender(tmp_path_factory: pytest.TempPathFactory, make_small_recommender):
    return make_small_recommender(Settings(home=tmp_path_factory.mktemp("respond") / "home",
                                            llm="none"))


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


@pytest.mark.parametrize("message", ["I loved Toy Story, recommend animated movies",
                                     "something from the 80s, no musicals",
                                     "recommend me a movie"])
def test_chat_text_points_to_the_cards_and_never_repeats_the_list(
    recommender, message: str
) -> None:
    reply = recommender.chat(f"chat-{hash(message)}", message)
    if not reply.recommendations:  # a vague message gets a question first
        reply = recommender.chat(f"chat-{hash(message)}", "comedies please")
    assert len(reply.recommendations) == 10
    chat = reply.chat_text
    assert CARDS_POINTER in chat
    assert len(chat) < 400, chat
    assert not re.search(r"^\d+\. ", chat, re.M), chat  # no numbered list
    named = [r.title for r in reply.recommendations if r.title in chat]
    assert len(named) <= 1, named  # the picks are on the cards, not in the chat bubble
    assert "10 movies" in chat
    # the full text (CLI, OpenAI-compatible API) keeps the list, in order
    for i, r in enumerate(reply.recommendations, 1):
        assert f"\n{i}. {r.title}" in reply.text
    dumped = reply.model_dump(mode="json")
    assert dumped["chat_text"] == chat and dumped["text_source"] == "template"


def test_reasons_vary_and_no_sentence_repeats_within_a_list(recommender) -> None:
    reply = recommender.chat("reasons", "I loved Toy Story, recommend animated movies")
    reasons = [r.rationale for r in reply.recommendations]
    all_sentences = [s for r in reasons for s in sentences(r)]
    assert len(all_sentences) == len(set(all_sentences)), all_sentences
    assert all(r.rationale_source == "template" for r in reply.recommendations)
    # evidence is used: the liked title it resembles, the request it meets, the predicted rating
    assert any("Toy Story" in r for r in reasons)
    assert any("Animation" in r for r in reasons)
    assert any(re.search(r"\b[1-5]\.\d\b", r) for r in reasons)
    openings = {r.split()[0] for r in reasons}
    assert len(openings) >= 3, reasons  # not ten copies of one template


def test_template_reasons_follow_the_catalogs_item_noun() -> None:
    ev = Evidence(item_id=1, title="The Hound of the Baskervilles", year=1902,
                  genres=["Mystery"], kind="book", kind_plural="books")
    text = template_rationales([ev], DialogueState())[0]
    assert text == "A Mystery book from 1902."
    asked = DialogueState(wanted_genres=["Mystery"])
    evs = [ev.model_copy(update={"item_id": i, "matched_genres": ["Mystery"]}) for i in range(4)]
    texts = template_rationales(evs, asked)
    assert "One of the Mystery books you asked for." in texts
    assert not any("film" in t or "movie" in t for t in texts)
    assert len(set(texts)) == 4
