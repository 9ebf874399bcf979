"""Simulated users that talk like people: the phrasebook built from INSPIRED's seeker turns (slots
and their polarity), the behaviour mix, and real-phrasing template users (no leak, `Stated` as
said, the agent's reading of them). Tests that need the corpus skip without
../shared/data/inspired/dev.tsv."""

from __future__ import annotations

import json
import logging
import random
import subprocess
import sys
from importlib import resources

import pytest

from genrec.agent.state import DialogueState, apply_reading
from genrec.agent.understanding.extraction import CatalogExtractor
from genrec.config import Settings
from genrec.data import Catalog, Item, load_split
from genrec.evaluation.leakage import TitleMatcher
from genrec.evaluation.real_dialogues import default_corpus_path
from genrec.evaluation.simulation.behaviour_mix import (
    TODAY,
    SeekerMove,
    behaviour_mix,
    draw_behaviour,
)
from genrec.evaluation.simulation.factory import TemplateSimulator, make_simulator
from genrec.evaluation.simulation.persona import Persona, persona_for_user, persona_seed
from genrec.evaluation.simulation.phrasebook import (
    ACTS,
    Phrasebook,
    Template,
    phrasing_for_user,
)
from genrec.evaluation.simulation.phrasebook_corpus import build_phrasebook, load_phrasebook

needs_corpus = pytest.mark.skipif(
    not default_corpus_path().exists(),
    reason="INSPIRED dev.tsv not found (../shared/data/inspired/dev.tsv); CI has it",
)


@pytest.fixture(scope="module")
def book() -> Phrasebook:
    return build_phrasebook()


# ---- templates and slots, without the corpus ----------------------------------------------------
def test_a_template_fills_titles_as_given_and_genres_as_words():
    t = Template(
        "d",
        1,
        "request",
        "How about a [G0] or a [G1] movie like the [T0]?",
        ("liked",),
        ("wanted", "wanted"),
    )
    assert (
        t.fill(["The Matrix"], ["Action", "Sci-Fi"])
        == "How about an action or a sci-fi movie like the Matrix?"
    )
    assert Template("d", 2, "taste", "[G0] and [G1]", (), ("wanted", "wanted")).bare


def test_phrase_fits_counts_and_polarity_and_refuses_unknowns():
    pb = Phrasebook(
        [
            Template("d", 1, "taste", "I loved [T0]", ("liked",)),
            Template("d", 2, "taste", "[T0] was awful", ("disliked",)),
            Template("d", 3, "taste", "I love [G0] movies like [T0]", ("liked",), ("wanted",)),
        ]
    )
    rng = random.Random(0)
    assert {pb.phrase("taste", rng, titles=["Alien"], polarity="disliked") for _ in range(20)} == {
        "Alien was awful"
    }
    assert pb.phrase("taste", rng, titles=["Alien"], genres=["Horror"], polarity="liked") == \
        "I love horror movies like Alien"
    assert pb.phrase("taste", rng, titles=["A", "B"], polarity="liked") is None
    assert pb.phrase("taste", rng, genres=["Horror"], polarity="disliked") is None
    with pytest.raises(ValueError, match="unknown act"):
        pb.phrase("chitchat", rng)
    with pytest.raises(ValueError, match="needs their polarity"):
        pb.phrase("taste", rng, titles=["Alien"])


def test_phrasing_for_user_splits_about_half_and_half_and_is_stable_across_processes():
    picks = [phrasing_for_user("mixed", 0, u) for u in range(1, 1001)]
    assert 0.45 <= picks.count("real") / len(picks) <= 0.55
    assert picks != [phrasing_for_user("mixed", 1, u) for u in range(1, 1001)]  # seeded
    assert {phrasing_for_user("real", 0, u) for u in range(5)} == {"real"}
    code = ("from genrec.evaluation.simulation.phrasebook import phrasing_for_user as p;"
            "print(''.join(p('mixed', 0, u)[0] for u in range(1, 1001)))")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "123", "PATH": ""}).stdout.strip()
    assert other == "".join(p[0] for p in picks)
    with pytest.raises(ValueError, match="unknown phrasing"):
        phrasing_for_user("both", 0, 1)


def test_behaviour_mix_counts_dialogues_and_the_population_follows_it():
    moves = [
        SeekerMove("a", 1, "opener", False),
        SeekerMove("a", 3, "answer", True, genre=True),
        SeekerMove("b", 1, "opener", True, genre=True),
        SeekerMove("b", 3, "taste", False, titles=True, dislike=True),
    ]
    mix = behaviour_mix(moves)
    assert (mix.opener_vague, mix.opener_genre, mix.opener_titles) == (0.5, 0.5, 0.0)
    assert (mix.only_reacts, mix.dislike_unprompted, mix.answers_question) == (0.5, 0.5, 1.0)
    assert mix.to_dict()["counts"]["dialogues"] == 2
    drawn = [draw_behaviour(mix, random.Random(s)) for s in range(2000)]
    assert abs(sum(b.opener == "vague" for b in drawn) / 2000 - 0.5) < 0.04
    assert abs(sum(not b.volunteers for b in drawn) / 2000 - 0.5) < 0.04


def test_load_phrasebook_without_the_corpus_is_none_with_one_line(tmp_path, caplog):
    missing = tmp_path / "nowhere" / "dev.tsv"
    with caplog.at_level(logging.WARNING):
        assert load_phrasebook(Settings(home=tmp_path, inspired_path=str(missing))) is None
    assert [r.getMessage() for r in caplog.records if str(missing) in r.getMessage()]
    with pytest.raises(ValueError, match="needs a phrasebook"):
        TemplateSimulator(
            Persona(liked=(), disliked=()), Catalog([Item(1, "Heat", 1995)]), phrasing="real"
        )


def test_our_labels_hold_no_corpus_text():
    text = (
        resources.files("genrec.evaluation")
        .joinpath("gold/inspired_phrasebook.jsonl")
        .read_text("utf-8")
    )
    for line in text.splitlines():
        assert set(json.loads(line)) <= {"dialog_id", "utt_id", "titles", "genres", "drop"}, line


# ---- built from the real corpus -----------------------------------------------------------------
@needs_corpus
def test_the_builder_yields_templates_for_every_act_with_known_slot_polarities(book):
    counts = book.counts()
    assert all(counts[a] > 0 for a in ACTS), counts
    for t in book.templates:
        assert "[MOVIE_" not in t.text and "{" not in t.text
        assert sorted({int(n) for n in __import__("re").findall(r"\[T(\d+)\]", t.text)}) == list(
            range(len(t.titles))
        )
        assert None not in t.titles and None not in t.genres
    assert book.dropped["people or plot"] > 0 and book.dropped["slot polarity unknown"] > 0
    assert len(book.moves) == 1678


@needs_corpus
def test_load_phrasebook_caches_under_home(tmp_path):
    pb = load_phrasebook(Settings(home=tmp_path, inspired_path=str(default_corpus_path())))
    assert pb is not None and list((tmp_path / "phrasebook").glob("inspired-*.json"))
    assert Phrasebook.from_json(pb.to_json()).templates == pb.templates


@needs_corpus
def test_a_disliked_template_never_carries_a_liked_title(book):
    liked_texts = {t.text for t in book.templates if "liked" in t.titles}
    rng = random.Random(0)
    for act in ("taste", "answer", "reaction"):
        for _ in range(50):
            said = book.phrase(act, rng, titles=["Zorba"], polarity="disliked")
            if said is not None:
                assert said.replace("Zorba", "[T0]") not in liked_texts


# ---- real-phrasing users on MovieLens 100K ------------------------------------------------------
@pytest.fixture(scope="module")
def ml100k_split(ml100k_datasets_dir):
    return load_split("ml-100k", "u1", ml100k_datasets_dir)


def _converse(sim, persona, popular, rng, turns=5):
    """A user's opening and replies to lists of 10 (some it rated), a question every other turn."""
    yield sim.opening(), []
    asks = (
        "What kind of films do you like?",
        "Here you go.",
        "Anything you'd rather avoid?",
        "Here you go.",
        "Any film you loved?",
    )
    for t in range(turns):
        shown = rng.sample(list(persona.ratings)[:40] + popular, 10)
        yield sim.respond(asks[t % len(asks)], shown, t % 2 == 0), shown


def _users(ml100k_split, n):
    ds, split = ml100k_split
    return ds.catalog, split, sorted({int(u) for u in split.test.users})[:n]


@needs_corpus
def test_a_real_phrasing_user_never_writes_a_held_out_title(book, ml100k_split):
    cat, split, users = _users(ml100k_split, 60)
    popular = [i for i, _ in sorted(split.train.item_counts().items(), key=lambda kv: -kv[1])[:300]]
    test = split.test.by_user()
    sources = set()
    for u in users:
        persona = persona_for_user(split.train, u, cat, seed=persona_seed(0, u))
        sim = make_simulator(
            "template", persona, cat, seed=persona_seed(0, u), phrasing="real", phrasebook=book
        )
        guard = TitleMatcher(cat, [int(i) for i in test[u]["item"]])
        for utt, _ in _converse(sim, persona, popular, random.Random(u)):
            assert guard.find(utt.text, allowed=utt.named) == [], utt.text
            assert set(utt.named) <= set(persona.ratings)
            sources.add(utt.source)
    assert "real" in sources or "mixed" in sources


@needs_corpus
def test_template_phrasing_is_unchanged_by_a_phrasebook(book, ml100k_split):
    cat, split, users = _users(ml100k_split, 15)
    for u in users:
        persona = persona_for_user(split.train, u, cat, seed=persona_seed(0, u))
        runs = []
        for sim in (
            TemplateSimulator(persona, cat, seed=7),
            TemplateSimulator(persona, cat, seed=7, phrasebook=book),
        ):
            said = [
                (x.text, x.named, x.facts, x.source)
                for x, _ in _converse(sim, persona, [], random.Random(u))
            ]
            runs.append((said, sim.stated.to_dict()))
        assert runs[0] == runs[1] and {s[3] for s in runs[0][0]} == {"template"}
        assert TemplateSimulator(persona, cat, seed=7).behaviour == TODAY


def understood(sim, persona, cat, popular, rng) -> tuple[int, int, int]:
    """(liked titles the user said, of those the agent's rule reader holds as liked, said-disliked
    read as liked)."""
    reader, state = CatalogExtractor(cat), DialogueState()
    for utt, shown in _converse(sim, persona, popular, rng):
        if shown:
            state.record_shown(shown)
        state = apply_reading(state, reader.extract(utt.text, state))
    s = sim.stated
    return (
        len(s.liked),
        len(set(s.liked) & set(state.liked)),
        len(set(s.disliked) & set(state.liked)),
    )


@needs_corpus
def test_the_agent_reads_real_phrasings_and_template_ones(book, ml100k_split):
    """The share of liked titles the agent's rules understand, per source (the target is >= 0.95
    on both; real phrasings read 0.997 on these 40 users, the floor guards against regressions)."""
    cat, split, users = _users(ml100k_split, 40)
    popular = [i for i, _ in sorted(split.train.item_counts().items(), key=lambda kv: -kv[1])[:300]]
    shares = {}
    for phrasing in ("template", "real"):
        said = got = misread = 0
        for u in users:
            persona = persona_for_user(split.train, u, cat, seed=persona_seed(0, u))
            sim = make_simulator(
                "template",
                persona,
                cat,
                seed=persona_seed(0, u),
                phrasing=phrasing,
                phrasebook=book,
            )
            n, ok, bad = understood(sim, persona, cat, popular, random.Random(u))
            said, got, misread = said + n, got + ok, misread + bad
        shares[phrasing] = got / said
        assert misread == 0, phrasing
    print("understood liked:", shares)
    assert shares["template"] >= 0.95
    assert shares["real"] >= 0.97, shares


def test_a_real_sentence_that_asks_for_a_genre_makes_it_the_request_in_force() -> None:
    """ "any good comedies?" asks for films now (the constrained peer obeys it, as the agent does);
    "I love comedies" tells a taste."""
    import random

    from genrec.data import Catalog, Item
    from genrec.evaluation.simulation.behaviour_mix import TODAY
    from genrec.evaluation.simulation.persona import Persona
    from genrec.evaluation.simulation.phrasebook import Phrasebook, Template
    from genrec.evaluation.simulation.template_user import TemplateSimulator
    from genrec.evaluation.simulation.voice import Voice

    asks = [
        Template(
            "d",
            1,
            "opener",
            "I need to see a good [G0] movie - any recommendations?",
            (),
            ("wanted",),
        ),
        Template("d", 2, "request", "you know any good [G0] movies?", (), ("wanted",)),
        Template("d", 3, "opener", "How about a [G0] or a [G1] movie?", (), ("wanted", "wanted")),
        Template("d", 8, "answer", "I would say either [G0] or [G1]", (), ("wanted", "wanted")),
        Template("d", 9, "opener", "[G0] and [G1].", (), ("wanted", "wanted")),
        Template(
            "d", 10, "opener", "I am interested in a [G0] movie with lots of sound", (), ("wanted",)
        ),
    ]
    tells = [
        Template("d", 4, "taste", "I love [G0] how about you?", (), ("wanted",)),
        Template(
            "d",
            7,
            "answer",
            "i like [G0] movies and [G1] too.can you recommend some",
            (),
            ("wanted", "wanted"),
        ),
        Template("d", 5, "opener", "I'm usually interested in [G0] movies.", (), ("wanted",)),
    ]
    assert all(t.asks for t in asks) and not any(t.asks for t in tells)
    voice = Voice(Phrasebook(asks[1:2]), random.Random(0))
    assert (
        voice.say(("request",), genres=["Comedy"], polarity="wanted")
        == "you know any good comedy movies?"
    )
    assert voice.asked

    cat = Catalog([Item(1, "Heat", 1995, ("Action",)), Item(2, "Babe", 1995, ("Comedy",))])
    persona = Persona(liked=(1,), disliked=(), ratings={1: 5.0}, favourite_genres=("Comedy",))
    opener_tells = Template(
        "d", 6, "opener", "I'm usually interested in [G0] movies.", (), ("wanted",)
    )
    for book, requested in ((Phrasebook([asks[0]]), ["Comedy"]), (Phrasebook([opener_tells]), [])):
        sim = TemplateSimulator(
            persona, cat, seed=0, phrasing="real", phrasebook=book, kinds=("genre",)
        )
        sim.behaviour = TODAY  # a genre opener
        said = sim.opening()
        assert "comedy" in said.text and said.source == "real"
        assert (
            sim.stated.wanted_genres == ["Comedy"] and sim.stated.requested_genres == requested
        ), said.text
