"""What users ask and say that is not a taste: questions about items are answered and
change nothing; exact titles are taken without a "which one?"; kids, gore and feel-good words are
constraints; a vague opener gets a question, not title-word matches. Real MovieLens catalog, real
ranker and Chroma index, the `none` LLM backend (rule-based)."""

from __future__ import annotations

import pytest

from genrec.agent import Recommender, SessionStore
from genrec.agent.understanding.extraction import CatalogExtractor
from genrec.llm import get_llm


@pytest.fixture(scope="module")
def extractor(ml100k):
    return CatalogExtractor(ml100k.catalog)


@pytest.fixture
def rec(small_films, small_ranker, small_store, tmp_path, settings):
    return Recommender(catalog=small_films.catalog, ranker=small_ranker, store=small_store,
                       llm=get_llm("none", settings), sessions=SessionStore(tmp_path / "s.sqlite"))


def _id(catalog, title: str) -> int:
    return next(it.item_id for it in catalog if it.title == title)


def _prefs(state) -> dict:
    keys = ("liked", "disliked", "seen", "interested", "rejected", "excluded", "wanted_genres",
            "avoided_genres", "year_min", "year_max", "wishes")
    return {k: getattr(state, k) for k in keys}


# ---- questions about items are answered, not recorded -------------------------------------------
def test_why_did_you_pick_the_first_one_is_answered_and_changes_nothing(rec):
    first = rec.chat("w", "I liked Toy Story").recommendations
    before = _prefs(rec.state("w"))
    r = rec.chat("w", "Why did you pick the first one?")
    assert (
        first[0].title in r.text and "Toy Story" in r.text
    )  # the reason names the liked film it resembles
    assert r.recommendations == [] and not r.question
    assert _prefs(rec.state("w")) == before
    r = rec.chat("w", "what was the second movie you recommended?")
    assert first[1].title in r.text and _prefs(rec.state("w")) == before


def test_who_directed_is_answered_honestly_and_is_not_a_like(rec, small_films):
    r = rec.chat("d", "Who directed Blade Runner, and is it good?")
    assert "Blade Runner (1982)" in r.text and "doesn't record who directed" in r.text
    assert "rated it here" in r.text  # what the catalog does know
    assert rec.state("d").liked == [] and r.recommendations == []
    r = rec.chat("d", "Is Fargo any good?")
    assert "Fargo (1996)" in r.text and "/5" in r.text and rec.state("d").liked == []


def test_a_question_beside_a_taste_answers_and_keeps_the_taste(rec, small_films):
    r = rec.chat("m", "I loved Fargo. Who stars in Heat?")
    assert "doesn't record" in r.text and len(r.recommendations) == 10
    assert rec.state("m").liked == [_id(small_films.catalog, "Fargo")]


def test_requests_phrased_as_questions_are_still_requests(extractor, ml100k):
    ex = extractor.extract("Is there anything good like Fargo?")
    assert ex.item_questions == [] and ex.liked == [_id(ml100k.catalog, "Fargo")]
    ex = extractor.extract("Why not something like Fargo?")
    assert ex.item_questions == [] and ex.liked == [_id(ml100k.catalog, "Fargo")]
    ex = extractor.extract("Absolute Power was good, what else?")  # a verdict and a request
    assert ex.item_questions == [] and ex.liked == [_id(ml100k.catalog, "Absolute Power")]


# ---- exact titles -------------------------------------------------------------------------------
def test_an_exact_title_is_taken_with_a_note_not_a_question(extractor, small_films, rec):
    cat = small_films.catalog
    ex = extractor.extract("I loved Alien and Terminator 2")
    assert _id(cat, "Alien") in ex.liked and not ex.ambiguous
    assert _id(cat, "Alien 3") in ex.alternatives[_id(cat, "Alien")]
    ex = extractor.extract('I loved "Seven (Se7en)"')
    assert ex.liked == [_id(cat, "Seven (Se7en)")] and not ex.ambiguous
    assert extractor.extract("I loved Star Trek").ambiguous  # a franchise is still asked about
    r = rec.chat("a", "I loved Alien")
    assert not r.question or "Which" not in r.text
    assert "If you meant" in r.text and "Alien 3 (1992)" in r.text and len(r.recommendations) == 10


def test_a_bare_title_answers_the_opening_question(extractor, ml100k):
    assert extractor.extract("Alien").liked == [_id(ml100k.catalog, "Alien")]


# ---- kids, gore, moods --------------------------------------------------------------------------
def test_for_my_six_year_old_means_childrens_films_without_adult_genres(rec, extractor):
    r = rec.chat("k", "something for my 6 year old")
    assert len(r.recommendations) == 10
    for it in r.recommendations:
        assert "Children's" in it.genres, it.title
        assert not {"Horror", "Crime", "Thriller", "War", "Film-Noir"} & set(it.genres), it.title
    ex = extractor.extract("a horror movie, not for kids")
    assert ex.wanted_genres == ["Horror"] and "Children's" in ex.avoided_genres


@pytest.mark.parametrize(
    "text, wanted, avoided",
    [
        ("I loved Aliens but nothing too gory please", [], ["Horror"]),
        ("a feel-good movie please", [], []),  # a mood: a leaning (mood_genres), not a filter
        (
            "family-friendly, please",
            ["Children's"],
            ["Horror", "Thriller", "War", "Film-Noir", "Crime"],
        ),
    ],
)
def test_mood_words(extractor, text, wanted, avoided):
    ex = extractor.extract(text)
    assert ex.wanted_genres == wanted and ex.avoided_genres == avoided


# ---- a vague opener -----------------------------------------------------------------------------
def test_a_vague_opener_gets_a_question_and_crowd_favourites_not_title_word_matches(rec):
    r = rec.chat("v", "Hi! I want something to watch tonight.")
    assert r.question and "What are you in the mood for?" in r.text
    assert r.recommendations and all(x.evidence.get("popularity_rank") for x in r.recommendations)
    assert not any(w in x.title.lower() for x in r.recommendations for w in ("tonight", "watch"))
    assert rec.state("v").wishes == []
    again = rec.chat("v", "comedies please")  # the starter list is not shown again
    assert not {x.item_id for x in again.recommendations} & {x.item_id for x in r.recommendations}


def test_a_greeting_alone_gets_only_a_question(rec):
    r = rec.chat("g", "hello how are you")
    assert r.question and r.recommendations == []


# ---- hooks the chat app uses: removable chips, stages -------------------------------------------
def test_removing_a_genre_chip_lifts_the_constraint_from_the_next_turn(rec):
    r = rec.chat("c", "animated films please")
    assert r.recommendations and all("Animation" in it.genres for it in r.recommendations)
    state = rec.remove_preference("c", "genre", "Animation")
    assert state.wanted_genres == [] and rec.state("c").wanted_genres == []
    r = rec.chat("c", "comedies please")
    assert r.recommendations and any("Animation" not in it.genres for it in r.recommendations)
    with pytest.raises(ValueError, match="unknown preference kind"):
        rec.remove_preference("c", "mood", "sad")


def test_a_streamed_turn_reports_its_stages_in_order(rec):
    stages: list[str] = []
    parts = list(rec.stream("s", "I loved Fargo", on_stage=stages.append))
    assert parts[-1].recommendations and stages[:2] == ["understanding", "searching"]


def test_a_bare_year_answers_which_one_did_you_mean(rec, small_films):
    r = rec.chat("y", "I really liked Star Trek")
    assert r.question and "Which" in r.text
    r = rec.chat("y", "1982")
    assert "doesn't look like text" not in r.text and r.recommendations
    assert rec.state("y").liked == [_id(small_films.catalog, "Star Trek: The Wrath of Khan")]
