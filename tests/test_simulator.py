"""Simulated users: personas from training ratings, template and llm simulators, the title guard."""

from __future__ import annotations

import pandas as pd
import pytest

from genrec.agent.preferences import Preferences
from genrec.data import Catalog, Item
from genrec.evaluation.leakage import CatalogTitles, TitleMatcher, title_variants
from genrec.evaluation.simulation.factory import (
    LLMSimulator,
    Stated,
    TemplateSimulator,
    UnknownSimulatorError,
    make_simulator,
    mentionable,
)
from genrec.evaluation.simulation.persona import build_persona, persona_seed

# A small catalog whose right answers are known by construction.
ITEMS = [
    Item(1, "The Silent Harbor", 1994, ("Action",)),
    Item(2, "Crimson Empire", 1996, ("Action", "Thriller")),
    Item(3, "Golden Garden", 1995, ("Comedy",)),
    Item(4, "Hidden Signal", 1997, ("Comedy", "Romance")),
    Item(5, "Broken Voyage", 1978, ("Drama",)),
    Item(6, "Wild Mirror", 1993, ("Horror",)),
    Item(7, "Frozen Orchard", 1992, ("Horror",)),
    Item(8, "Distant Lantern", 1991, ("Action",)),
    Item(9, "Heat", 1995, ("Action", "Crime")),
    Item(10, "Twin Title", 1990, ("Drama",)),
    Item(11, "Twin Title", 1999, ("Drama",)),
]
CAT = Catalog(ITEMS, name="tiny")
TRAIN = {1: 5.0, 2: 5.0, 8: 4.0, 3: 3.0, 6: 1.0, 7: 2.0, 5: 4.0, 10: 5.0}


def _persona(seed: int = 0):
    return build_persona(
        pd.DataFrame({"item": list(TRAIN), "rating": list(TRAIN.values())}), CAT, seed=seed
    )


def test_persona_facts_come_from_training_ratings_by_construction():
    p = _persona()
    assert set(p.liked) == {1, 2, 8, 5, 10}
    assert [TRAIN[i] for i in p.liked] == sorted((TRAIN[i] for i in p.liked), reverse=True)
    assert p.disliked == (6, 7)  # worst first
    assert p.favourite_genres[0] == "Action"  # 5 + 5 + 4 - 3*3 = +5, the largest
    assert "Horror" in p.avoided_genres  # mean 1.5 over two ratings
    assert "Horror" not in p.favourite_genres
    assert p.decades == (1990,)  # 4 of the 5 liked items are from the 1990s
    assert dict(p.ratings) == TRAIN


def test_persona_accepts_a_mapping_and_skips_unknown_items():
    p = build_persona({1: 5.0, 999: 5.0}, CAT)
    assert p.liked == (1,) and 999 not in p.ratings


def test_mentionable_skips_ambiguous_and_unknown_titles():
    ok = mentionable(CAT)
    assert ok(1) and not ok(10) and not ok(11) and not ok(12345)


def _play(sim, replies):
    """Drive a simulator with scripted agent replies: (text, recommended ids, question)."""
    out = [sim.opening()]
    for text, recs, q in replies:
        out.append(sim.respond(text, recs, q))
    return out


SCRIPT = [("Here are some picks.", [9, 1, 6], False), ("What genres do you like?", [], True),
          ("Try these.", [2, 4], False), ("More?", [3, 7], False)]


def test_template_simulator_is_deterministic_given_the_seed():
    a = [u.text for u in _play(TemplateSimulator(_persona(1), CAT, seed=7), SCRIPT)]
    b = [u.text for u in _play(TemplateSimulator(_persona(1), CAT, seed=7), SCRIPT)]
    assert a == b
    others = {
        tuple(u.text for u in _play(TemplateSimulator(_persona(1), CAT, seed=s), SCRIPT))
        for s in range(8)
    }
    assert len(others) > 1  # phrasings vary with the seed


def test_template_simulator_names_only_training_items_and_reveals_facts():
    p = _persona()
    sim = TemplateSimulator(p, CAT, seed=3)
    utts = _play(sim, SCRIPT)
    named = [i for u in utts for i in u.named]
    assert named and set(named) <= set(TRAIN)
    assert 10 not in named  # ambiguous title ("Twin Title") is never used
    assert "genre" in utts[0].facts and utts[0].named  # turn 1: a genre wish and a liked title
    for u in utts:
        for i in u.named:
            assert f'"{CAT[i].title}"' in u.text
    assert sim.stated.wanted_genres[0] == "Action"
    assert set(sim.stated.liked) <= {i for i, r in TRAIN.items() if r >= 4}
    assert set(sim.stated.disliked) <= {i for i, r in TRAIN.items() if r <= 2}


def test_template_simulator_reacts_with_what_it_knows():
    p = _persona()
    sim = TemplateSimulator(p, CAT, seed=0)
    sim.opening()
    sim.respond("ok", [], False)
    sim.respond("ok", [], False)  # by now "avoid horror" has been said
    assert "Horror" in sim.stated.avoided_genres
    u = sim.respond("Try these", [2, 6, 4], False)
    assert 2 in u.named and 2 in sim.stated.seen and 2 in sim.stated.liked  # rated 5 in training
    assert 6 in u.named and 6 in sim.stated.disliked  # rated 1 in training
    u2 = sim.respond("Try these", [7, 4], False)  # 7: rated 2 -> disliked, named
    assert 7 in u2.named and 7 in sim.stated.disliked
    assert "Hidden Signal" not in u.text + u2.text  # never names an item it has not rated


def test_stated_is_the_shared_preferences_type_with_the_transcript_keys():
    sim = TemplateSimulator(_persona(), CAT, seed=0)
    _play(sim, SCRIPT)
    assert isinstance(sim.stated, Preferences)  # the same type as the agent's dialogue state
    d = sim.stated.to_dict()
    assert list(d) == [
        "liked",
        "disliked",
        "seen",
        "wanted_genres",
        "avoided_genres",
        "decades",
        "year_min",
        "year_max",
        "interested",
        "rejected",
        "requested_genres",
    ]  # keeps its keys, adds three
    assert d["decades"] == sim.stated.preferred_decades == sim.stated.decades
    assert Stated.from_dict(d) == sim.stated and Stated.from_dict(None) == Stated()
    assert sim.stated.mentioned() == list(dict.fromkeys([*d["liked"], *d["disliked"], *d["seen"]]))


def test_template_simulator_answers_a_genre_question():
    sim = TemplateSimulator(_persona(), CAT, seed=0)
    sim.opening()
    u = sim.respond("Which genres do you like?", [], True)
    assert "action" in u.text.lower() or "answer" in u.facts


def test_llm_simulator_with_a_fake_backend_records_named_items():
    calls = []

    def fake_generate(messages):
        calls.append(messages)
        return 'I loved "The Silent Harbor" and I am into action. No horror please.'

    sim = LLMSimulator(_persona(), CAT, generate=fake_generate, seed=1)
    u = sim.opening()
    assert u.named == (1,) and sim.stated.liked == [1]
    assert "Action" in sim.stated.wanted_genres and "Horror" in sim.stated.avoided_genres
    system = calls[0][0]["content"]
    assert "The Silent Harbor" in system and "Hidden Signal" not in system  # only training titles
    sim.respond("Have you seen Crimson Empire?", [2], True)
    assert "Crimson Empire" in calls[1][0]["content"]  # seen & rated -> told to the persona
    assert calls[1][-1] == {"role": "user", "content": "Have you seen Crimson Empire?"}


def test_llm_simulator_falls_back_to_template_when_the_backend_fails(caplog):
    def broken(messages):
        raise ConnectionError("no server")

    sim = LLMSimulator(_persona(), CAT, generate=broken, seed=1)
    u = sim.opening()
    assert sim.failed and "ConnectionError" in sim.failed
    assert u.text and "genre" in u.facts  # the template simulator took over
    assert sim.respond("x", [], False).text


def test_make_simulator_by_name():
    assert make_simulator("template", _persona(), CAT).name == "template"
    assert make_simulator("llm", _persona(), CAT).name == "template"  # no backend -> template
    with pytest.raises(UnknownSimulatorError, match="template"):
        make_simulator("nope", _persona(), CAT)
    assert persona_seed(42, 1) != persona_seed(42, 2) and persona_seed(42, 1) == persona_seed(42, 1)


# ----------------------------------------------------------------------------- title guard


def test_title_matcher_finds_titles_and_ignores_words():
    m = TitleMatcher(CAT, [9, 1, 4])
    assert m.find("I loved Silent Harbor.") == [1]  # without the article
    assert m.find("a heat wave hit the hidden signal tower") == [4]  # one-word titles: as written
    assert m.find('I really enjoyed "Heat".') == [9]
    assert m.find("nothing here") == []


def test_title_matcher_allowed_titles_mask_contained_ones():
    cat = Catalog([Item(1, "Heat", 1995), Item(2, "Heat and Dust", 1983), Item(3, "Twin", 1990),
                   Item(4, "Twin", 1991)])
    m = TitleMatcher(cat, [1, 4])
    assert m.find('I loved "Heat and Dust"', allowed=[2]) == []
    assert m.find('I loved "Heat and Dust"') == [1]
    assert m.find('I loved "Twin"', allowed=[3]) == [4]  # same title as a held-out item: a leak


def test_title_variants():
    assert title_variants("The City of Lost Children (La Cité des enfants perdus)") == [
        "The City of Lost Children (La Cité des enfants perdus)", "The City of Lost Children",
        "City of Lost Children (La Cité des enfants perdus)", "City of Lost Children"]
    assert title_variants("unknown") == []


def test_catalog_titles_flags_titles_not_in_the_catalog():
    ct = CatalogTitles(CAT)
    text = (
        'Try "Golden Garden", Heat (1995), The Silent Harbor (1994) '
        'and Foo Bar Baz (1999) or "Made Up".'
    )
    assert ct.unknown_titles(text) == ["Made Up", "Foo Bar Baz (1999)"]


def test_template_phrasings_never_name_other_catalog_titles(ml100k):
    """On real MovieLens, nothing a template user says matches a title it did not mean to name
    (so the leakage guard has no false alarms)."""
    cat = ml100k.catalog
    matcher = TitleMatcher(cat, [it.item_id for it in cat])
    by_user = ml100k.ratings.by_user()
    for u in list(by_user)[:25]:
        p = build_persona(by_user[u], cat, seed=u)
        sim = TemplateSimulator(p, cat, seed=u)
        recs = list(p.liked[5:8]) + [50, 100, 181]
        for utt in _play(sim, [("Here you go", recs, False), ("What kind of films?", [], True),
                               ("More", [1, 2, 3], False), ("Others", [], False)]):
            extra = set(matcher.find(utt.text, allowed=utt.named)) - set(utt.named)
            assert not extra, (utt.text, [cat[i].title for i in extra])


def test_template_simulator_answers_which_one_did_you_mean():
    cat = Catalog([*ITEMS, Item(12, "The Silent Harbor II", 1999, ("Action",))])
    sim = TemplateSimulator(_persona(), cat, seed=0)
    first = sim.opening()
    liked = first.named[0]
    label = f"{cat[liked].title} ({cat[liked].year})"
    u = sim.respond(f"Which one did you mean: {label}, Other Film (1990)?", [], True)
    assert "answer" in u.facts and liked in u.named and str(cat[liked].year) in u.text
