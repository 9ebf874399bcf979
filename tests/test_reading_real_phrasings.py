"""Liked titles said the way real seekers type them (INSPIRED's phrasings): a question handed back
at the end ("... and you?"), a title opening its sentence before "movie" or "was", relative
clauses ("which I also enjoyed"), "one of best movie", lower case and typos; questions still add
nothing."""

from __future__ import annotations

import pytest

from genrec.agent.state import DialogueState
from genrec.agent.understanding.acts import question_tag, sentences
from genrec.agent.understanding.extraction import CatalogExtractor
from genrec.data import Catalog, Item

(
    FARGO,
    STAR_WARS,
    CONTACT,
    SCREAM,
    HARRY_SALLY,
    ROCK,
    LAMBS,
    TROUSERS,
    GODFATHER_2,
    LA_CONF,
    HEAT,
    ALIEN,
) = range(1, 13)


@pytest.fixture(scope="module")
def reader() -> CatalogExtractor:
    return CatalogExtractor(Catalog([
        Item(FARGO, "Fargo", 1996, ("Crime", "Drama")),
        Item(STAR_WARS, "Star Wars", 1977, ("Action", "Sci-Fi")),
        Item(CONTACT, "Contact", 1997, ("Drama", "Sci-Fi")),
        Item(SCREAM, "Scream", 1996, ("Horror", "Thriller")),
        Item(HARRY_SALLY, "When Harry Met Sally...", 1989, ("Comedy", "Romance")),
        Item(ROCK, "The Rock", 1996, ("Action", "Thriller"), raw_title="Rock, The (1996)"),
        Item(LAMBS, "The Silence of the Lambs", 1991, ("Drama", "Thriller")),
        Item(TROUSERS, "The Wrong Trousers", 1993, ("Animation", "Comedy"),
             raw_title="Wrong Trousers, The (1993)"),
        Item(GODFATHER_2, "The Godfather: Part II", 1974, ("Crime", "Drama")),
        Item(LA_CONF, "L.A. Confidential", 1997, ("Crime", "Film-Noir")),
        Item(HEAT, "Heat", 1995, ("Action", "Crime")),
        Item(ALIEN, "Alien", 1979, ("Horror", "Sci-Fi")),
    ]))


def liked(reader: CatalogExtractor, text: str, state: DialogueState | None = None) -> list[int]:
    return reader.extract(text, state or DialogueState()).liked


@pytest.mark.parametrize(("text", "item"), [
    ("Star Wars movie i like that movie very much and you?", STAR_WARS),
    ("fargo movie i like that movie very much and you?", FARGO),
    ("i loved alien, what about you?", ALIEN),
    ("Fargo was great, how about you?", FARGO),
    ("star wars is one of the best, and u?", STAR_WARS),
])
def test_a_question_handed_back_leaves_the_statement_before_it(reader, text, item):
    assert liked(reader, text) == [item]


@pytest.mark.parametrize(
    ("text", "item"),
    [
        ("yes its good Star Wars is one of best movie.", STAR_WARS),
        ("yes its good fargo is one of best movie", FARGO),
        ("Fargo which I also enjoyed.", FARGO),
        ("Star Wars, which i really loved", STAR_WARS),
        ("Fargo was a very good movie.", FARGO),
        ("fargo was a pretty good movie", FARGO),
        ("fargoo was a very good movie", FARGO),  # a typo framed by a verdict
        (
            "Contact is my favorite movie",
            CONTACT,
        ),  # a common word, capitalised, with a verdict on a film
        ("Scream is one of my favorite movie", SCREAM),
        (
            "When Harry Met Sally... was a very good movie.",
            HARRY_SALLY,
        ),  # the title's own dots end no sentence
    ],
)
def test_a_title_opening_its_sentence_before_a_verdict_is_liked(reader, text, item):
    assert liked(reader, text) == [item]


def test_listed_titles_with_spaces_before_commas_are_each_read(reader):
    text = "Some of my favorite movies are The Rock , The Silence of the Lambs , and Fargo"
    assert sorted(liked(reader, text)) == [FARGO, ROCK, LAMBS]
    assert liked(reader, "I loved Rock, The") == [ROCK]  # the catalog's own form still reads


def test_a_title_ending_one_sentence_is_not_joined_to_the_next_sentence(reader):
    text = "My recent favorite is The Wrong Trousers. The Godfather: Part II was a very good movie."
    assert sorted(liked(reader, text)) == [TROUSERS, GODFATHER_2]


def test_a_title_said_alone_as_a_sentence_is_a_bare_answer(reader):
    text = (
        "Ooh, the first suggestion could be fun. L.A. Confidential. "
        "Do you have any other good recommendations?"
    )
    assert liked(reader, text) == [LA_CONF]
    ex = reader.extract("Star Wars. who is in it?", DialogueState())
    assert STAR_WARS not in ex.liked  # the next sentence asks about it


def test_a_common_word_answering_the_title_question_is_that_film(reader):
    asked = DialogueState(asking="example")
    assert liked(reader, "contact", asked) == [CONTACT]
    ex = reader.extract("contact", DialogueState())  # no question asked: ask back, record nothing
    assert ex.liked == [] and [c.options for c in ex.ambiguous] == [[CONTACT]]


@pytest.mark.parametrize(
    "text",
    [
        "is fargo any good?",
        "have you seen heat?",
        "have you seen alien?",
        "is fargo any good, and you?",
        "Is Star Wars good and you?",
        "One more quick question, what is your favorite part of Star Wars",
        "Or is it light and happy like Star Wars",
        "what did you think of fargo, and you?",
    ],
)
def test_questions_still_add_no_like(reader, text):
    assert liked(reader, text) == []


def test_the_tail_is_its_own_question_sentence():
    text = "i like that movie very much and you?"
    assert question_tag(text) == text.index(" and you")
    assert [s.act for s in sentences(text)] == ["statement", "question"]
    assert question_tag("and you?") is None and question_tag("What about you?") is None
    assert [s.act for s in sentences("have you seen it, and you?")] == ["question", "question"]
