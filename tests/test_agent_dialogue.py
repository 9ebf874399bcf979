"""The dialogue earning its keep: reactions to shown items, the understanding bugs found
by users (each on the real MovieLens catalog), and the question policy (one question a turn,
chosen from the candidates, never twice, answers used as constraints)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from genrec.agent import Recommender, SessionStore
from genrec.agent.elicitation import choose_question, entropy, score_mass
from genrec.agent.state import DialogueState, apply_reading
from genrec.agent.understanding.extraction import CatalogExtractor
from genrec.data import Catalog, Item
from genrec.llm import get_llm


@pytest.fixture(scope="module")
def extractor(ml100k):
    return CatalogExtractor(ml100k.catalog)


def _id(catalog, title: str) -> int:
    return next(it.item_id for it in catalog if it.title == title)


# ---- understanding bugs, each on the real catalog ------------------------------------------------
def test_id4_in_a_title_is_not_item_4(extractor, ml100k):
    cat = ml100k.catalog
    ex = extractor.extract('I loved "Independence Day (ID4)"')
    assert ex.liked == [_id(cat, "Independence Day (ID4)")] and 4 not in ex.liked
    assert extractor.extract("show me item 4").liked == [4]  # the explicit form still works


def test_the_last_inside_a_title_is_not_the_last_one_shown(extractor, ml100k):
    cat = ml100k.catalog
    crusade = _id(cat, "Indiana Jones and the Last Crusade")
    state = DialogueState(last_recommended=[1, 2, 3])
    ex = extractor.extract("I loved Indiana Jones and the Last Crusade", state)
    assert ex.liked == [crusade] and 3 not in ex.liked


def test_reactions_to_the_last_list(extractor):
    shown = [11, 12, 13, 14, 15, 16, 17]
    state = DialogueState(last_recommended=shown)
    ex = extractor.extract(
        "The second one sounds good. I'd happily watch #5 and 7. Not the first one.", state
    )
    assert ex.interested == [12, 15, 17] and ex.rejected == [11] and not ex.liked
    ex = extractor.extract(
        "I know the third one already: the fourth one was so-so, loved the sixth one.", state
    )
    assert ex.seen == [13, 14] and ex.liked == [16]
    ex = extractor.extract("The second one is a comedy, not my thing today.", state)
    assert ex.rejected == [12] and ex.avoided_genres == ["Comedy"] and not ex.liked


@pytest.mark.parametrize("text, avoided", [
    ("Not in the mood for a western.", ["Western"]),
    ("I'll pass on anything horror.", ["Horror"]),
    ("Honestly, war isn't what I'm after tonight.", ["War"]),
    ("The third one is a sci-fi film, not my thing today.", ["Sci-Fi"]),
    ("Not in the mood for a film for kids.", ["Children's"]),
    ("ignore the horror ones, I want comedies", ["Horror"]),
    ("Honestly, fantasy leaves me cold.", ["Fantasy"]),
    ("Spare me the westerns.", ["Western"]),
])
def test_genre_negations_a_person_writes(extractor, text, avoided):
    ex = extractor.extract(text, DialogueState(last_recommended=[1, 2, 3]))
    assert ex.avoided_genres == avoided and ex.wanted_genres in ([], ["Comedy"])


@pytest.mark.parametrize("text, polarity", [
    ('"Twelve Monkeys" bored me to tears.', "disliked"),
    ('I switched off "Twelve Monkeys" halfway through.', "disliked"),
    ('"Twelve Monkeys" I know, it was so-so.', "seen"),
    ('"Twelve Monkeys" was a letdown for me.', "disliked"),
    ('Twelve Monkeys? I really liked it.', "liked"),
])
def test_verdicts_on_titles(extractor, ml100k, text, polarity):
    ex = extractor.extract(text)
    assert getattr(ex, polarity) == [_id(ml100k.catalog, "Twelve Monkeys")], (text, ex)


def test_reaction_to_a_title_list_shares_the_verdict(extractor, ml100k):
    cat = ml100k.catalog
    ex = extractor.extract(
        'I\'ve seen "Fargo", "Heat" and "Babe": loved "Fargo" and "Heat", "Babe" was meh'
    )
    assert ex.liked == [_id(cat, "Fargo"), _id(cat, "Heat")] and ex.seen == [_id(cat, "Babe")]


def test_an_injection_cue_is_answered_as_a_film_request(extractor, ml100k):
    ex = extractor.extract("movies like Jailbreak or Escape from New York")
    assert (
        ex.injection and ex.liked == [_id(ml100k.catalog, "Escape from New York")] and not ex.wishes
    )


# ---- the question policy ------------------------------------------------------------------------
CAT = Catalog(
    [
        Item(i, f"Film {i}", 1960 + 10 * (i % 4), (("Comedy",), ("Drama",), ("Western",))[i % 3])
        for i in range(1, 31)
    ]
)


def _pool(ids):
    return [SimpleNamespace(item_id=i, score=1.0 - i / 100) for i in ids]


def test_a_title_is_asked_first_then_the_attribute_that_splits_the_pool():
    state = DialogueState()
    q = choose_question(state, _pool(range(1, 31)), CAT)
    assert q is not None and q.attribute == "example" and q.text.endswith("?")
    state = DialogueState(liked=[1, 2])
    q = choose_question(state, _pool(range(1, 31)), CAT)
    # four decades split the pool more than three genres: decade first
    assert q is not None and q.attribute == "decade" and q.entropy == pytest.approx(2.0, abs=0.05)
    assert (
        set(q.options) <= {"the 1960s", "the 1970s", "the 1980s", "the 1990s"}
        and len(q.options) == 4
    )
    state.asked.append("decade")
    q = choose_question(state, _pool(range(1, 31)), CAT)
    assert q is not None and q.attribute == "genre"
    state.asked.append("genre")
    assert choose_question(state, _pool(range(1, 31)), CAT) is None  # never the same question twice


def test_no_question_when_the_pool_is_already_one_kind():
    one_genre = [i for i in range(1, 31) if i % 3 == 0 and i % 4 == 0]  # Westerns of one decade
    state = DialogueState(liked=[1, 2])
    assert choose_question(state, _pool(one_genre), CAT) is None
    assert entropy(score_mass(_pool(one_genre), CAT, "genre")) == 0.0


def test_a_decade_answer_to_the_decade_question_is_a_range():
    extractor = CatalogExtractor(CAT)
    asked = DialogueState(asking="decade")
    state = apply_reading(asked, extractor.extract("From the 70s, ideally.", asked))
    assert (state.year_min, state.year_max) == (1970, 1979) and state.asking is None
    taste = apply_reading(asked, extractor.extract("I tend to enjoy films from the 70s.", asked))
    assert taste.year_min is None and taste.preferred_decades == [
        1970
    ]  # a general taste, even when asked
    hedged = apply_reading(DialogueState(), extractor.extract("The 70s, ideally."))
    assert (hedged.year_min, hedged.year_max) == (1970, 1979)  # a hedged wish is a wish
    # a taste cue in another sentence does not make tonight's decade a mere taste
    mixed = apply_reading(
        DialogueState(),
        extractor.extract(
            "I'm a big fan of drama and comedy. "
            "Tonight I fancy a drama, ideally one from the seventies."
        ),
    )
    assert (mixed.year_min, mixed.year_max) == (1970, 1979)
    mixed = apply_reading(
        DialogueState(),
        extractor.extract(
            "#1 is from the 1970s, that usually works for me. "
            "I'm in the mood for a comedy from the 1970s."
        ),
    )
    assert (mixed.year_min, mixed.year_max) == (1970, 1979)


def test_the_agent_asks_alongside_its_picks_and_uses_the_answer(
    small_films, small_ranker, small_store, tmp_path, settings
):
    rec = Recommender(catalog=small_films.catalog, ranker=small_ranker, store=small_store,
                      llm=get_llm("none", settings), sessions=SessionStore(tmp_path / "s.sqlite"))
    r = rec.chat("q", "I'd like to watch a thriller tonight.")
    assert len(r.recommendations) == 10 and r.question
    assert r.text.rstrip().endswith("Is there a film you loved that I should know about?")
    r = rec.chat("q", 'I loved "Fargo".')
    asked = rec.state("q").asked
    assert (
        r.question and r.text.rstrip().endswith("?") and asked[0] == "example" and len(asked) == 2
    )
    first = rec.state("q").asking
    if first == "decade":
        r = rec.chat("q", "The 1990s.")
        assert all(1990 <= (x.year or 0) <= 1999 for x in r.recommendations)
    else:
        r = rec.chat("q", "I'm in the mood for a crime film.")
        assert all("Crime" in x.genres for x in r.recommendations)
    asked = rec.state("q").asked
    assert len(set(asked)) == len(asked)  # never the same question twice


# ---- calibrated predicted ratings ---------------------------------------------------------------
def test_ratings_predicted_from_a_few_favourites_are_not_all_five_stars(small_films, small_ranker):
    """A person names favourites first; shown ratings shrink towards the average user's by the
    number of items said, so cards no longer read 4.6-5.0 for nearly everything (ranking
    unchanged)."""
    ranker = small_ranker
    favourites = [s.item_id for s in ranker.recommend(ranker.fold_in(), 10)]
    profile = ranker.fold_in(liked=favourites)
    items = [int(i) for i in ranker.item_ids[:300] if int(i) not in favourites]
    shown = ranker.predict(profile, items)
    average = ranker.predict(ranker.fold_in(), items)
    assert shown.mean() < 4.3 and np.corrcoef(shown, average)[0, 1] > 0.5
    assert [s.predicted_rating for s in ranker.recommend(profile, 5)] == pytest.approx(
        list(ranker.predict(profile, [s.item_id for s in ranker.recommend(profile, 5)])), abs=1e-3)


def test_the_title_question_uses_the_catalogs_item_noun():
    books = Catalog([Item(1, "A", 1990, ("Mystery",))], item_noun="book")
    assert (
        choose_question(DialogueState(), [], books).text
        == "Is there a book you loved that I should know about?"
    )
