"""Reasons that do not mislead: "as you asked" only for what was asked, a
prediction in a user's words, one rounding for the card's star and the text, opener cards that say
what the item is, a low pick that says why it is there, "Here is one movie"; the chat app's
"why these?" panel for a turn without tool calls."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from genrec.agent.rationales import Evidence, shown_rating, template_rationales
from genrec.agent.replies import Reply
from genrec.agent.respond import template_intro
from genrec.agent.state import DialogueState
from genrec.config import Settings
from genrec.data import Catalog, Item
from genrec.ui.chat.cards import card_html
from genrec.ui.chat.text import NO_TURN_YET, trace_markdown

YEAR_AS_ASKED = re.compile(
    r"from \d{4}, as you asked|A \d{4} pick for your|From \d{4}, and .* as requested"
)


def _ev(**kw) -> Evidence:
    base = {"item_id": 7, "title": "Liar Liar", "year": 1997, "genres": ["Comedy"]}
    return Evidence(**{**base, **kw})


def test_a_year_is_as_asked_only_when_years_were_asked() -> None:
    genre_only = DialogueState(wanted_genres=["Comedy"])
    evs = [
        _ev(item_id=i, title=f"T{i}", year=1970 + i, matched_genres=["Comedy"]) for i in range(10)
    ]
    reasons = template_rationales(evs, genre_only)
    assert not any(YEAR_AS_ASKED.search(r) for r in reasons), reasons
    assert all("Comedy" in r for r in reasons), reasons  # the request is still named
    years = DialogueState(wanted_genres=["Comedy"], year_min=1970, year_max=1979)
    asked = template_rationales(
        [
            _ev(
                item_id=i,
                title=f"T{i}",
                year=1970 + i,
                matched_genres=["Comedy"],
                in_year_range=True,
            )
            for i in range(3)
        ],
        years,
    )
    assert any(YEAR_AS_ASKED.search(r) for r in asked), asked


def test_a_prediction_is_said_in_a_users_words_and_agrees_with_the_card() -> None:
    raw = 4.2504  # 4.3 when rounded from the raw value, 4.2 from the card's 3 decimals
    reason = template_rationales([_ev(predicted_rating=raw)], DialogueState())[0]
    assert "ranker" not in reason.lower() and "predicts" not in reason.lower(), reason
    card = card_html({"item_id": 7, "title": "Liar Liar", "predicted_rating": round(raw, 3),
                      "rationale": reason})
    star = re.search(r"predicted ★ (\d\.\d)", card).group(1)  # type: ignore[union-attr]
    assert star == shown_rating(raw) and f"{star}/5" in reason or f"{star} out of 5" in reason, (
        star,
        reason,
    )


def test_an_opener_card_says_what_the_item_is_not_only_a_count() -> None:
    reason = template_rationales([_ev(ratings_count=394, popularity_rank=8)], DialogueState())[0]
    assert "Comedy" in reason and "1997" in reason, reason
    assert "10 most-rated" in reason and "394" in reason, reason


def test_a_pick_predicted_below_the_middle_says_why_it_is_there() -> None:
    state = DialogueState(wanted_genres=["Children's", "Comedy"])
    reason = template_rationales([_ev(title="Jungle2Jungle", genres=["Children's", "Comedy"],
                                      matched_genres=["Children's", "Comedy"],
                                      predicted_rating=2.5, below_middle=True)], state)[0]
    assert reason.startswith("It's here for your Children's and Comedy request"), reason
    assert "2.5/5" in reason


def test_one_item_is_one_movie_in_the_catalogs_noun() -> None:
    catalog = Catalog(
        [Item(item_id=1, title="Emma", year=1996, genres=("Drama",))], item_noun="book"
    )
    assert template_intro(DialogueState(), 1, SimpleNamespace(catalog=catalog)).startswith(  # type: ignore[arg-type]
        "Here is one book")
    assert template_intro(DialogueState(), 2, SimpleNamespace(catalog=catalog)).startswith(  # type: ignore[arg-type]
        "Here are 2 books")


def test_why_these_after_a_turn_without_tool_calls_does_not_say_send_a_message() -> None:
    assert trace_markdown(None) == NO_TURN_YET
    assert (
        trace_markdown(Reply(session_id="s", backend="none", text="Fargo (1996) ..."))
        != NO_TURN_YET
    )


@pytest.mark.slow
def test_real_reasons_never_say_ranker_nor_claim_an_unasked_year(
    tmp_path, make_ml100k_recommender
) -> None:
    rec = make_ml100k_recommender(Settings(home=tmp_path / "home", llm="none"))
    for sid, message in (
        ("a", "I loved Toy Story, recommend animated movies"),
        ("b", "recommend a comedy"),
    ):
        reply = rec.chat(sid, message)
        reasons = [r.rationale for r in reply.recommendations]
        assert len(reasons) == 10
        assert not any("ranker" in r.lower() for r in reasons), reasons
        assert not any(YEAR_AS_ASKED.search(r) for r in reasons), reasons
        for r in reply.recommendations:
            if r.predicted_rating is not None and "/5" in r.rationale:
                assert f"{shown_rating(r.predicted_rating)}/5" in r.rationale, r
