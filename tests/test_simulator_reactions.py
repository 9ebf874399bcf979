"""The template user that reacts: every shown item it rated, persona-only opinions on the rest,
requests, varied phrasings, and the placebo property (held-out data never changes a word)."""

from __future__ import annotations

import random
import re

import pandas as pd
import pytest

from genrec.data import Catalog, Item, Ratings
from genrec.evaluation.leakage import TitleMatcher
from genrec.evaluation.simulation import phrasings as P
from genrec.evaluation.simulation.persona import (
    build_persona,
    persona_for_user,
    persona_seed,
    training_popularity,
)
from genrec.evaluation.simulation.template_user import TemplateSimulator
from genrec.evaluation.simulation.user import Stated

ITEMS = [
    Item(1, "The Silent Harbor", 1994, ("Action",)),
    Item(2, "Crimson Empire", 1996, ("Action", "Thriller")),
    Item(3, "Golden Garden", 1995, ("Comedy",)),
    Item(4, "Hidden Signal", 1997, ("Comedy", "Romance")),
    Item(5, "Broken Voyage", 1978, ("Drama",)),
    Item(6, "Wild Mirror", 1993, ("Horror",)),
    Item(7, "Frozen Orchard", 1992, ("Horror",)),
    Item(8, "Distant Lantern", 1991, ("Action",)),
    Item(9, "Steel Comet", 1995, ("Action", "Crime")),
    Item(10, "Twin Title", 1990, ("Drama",)),
    Item(11, "Twin Title", 1999, ("Drama",)),
    Item(12, "Pale Moonrise", 1990, ("Horror",)),
    Item(13, "Quiet Meadow", 1962, ("Documentary",)),
    Item(14, "Velvet Canyon", 1998, ("Drama",)),
]
CAT = Catalog(ITEMS, name="tiny")
TRAIN = {1: 5.0, 2: 5.0, 8: 4.0, 3: 3.0, 6: 1.0, 7: 2.0, 5: 4.0, 10: 5.0}
UNSEEN = [i.item_id for i in ITEMS if i.item_id not in TRAIN]


def _persona(seed: int = 0):
    return build_persona(
        pd.DataFrame({"item": list(TRAIN), "rating": list(TRAIN.values())}), CAT, seed=seed
    )


def _play(sim, replies):
    out = [sim.opening()]
    for text, recs, q in replies:
        out.append(sim.respond(text, recs, q))
    return out


SCRIPT = [("Here are some picks.", [9, 1, 6, 12, 2], False), ("What genres do you like?", [], True),
          ("Try these.", [14, 4, 10, 8, 13], False), ("More?", [3, 7, 11, 5], False)]


def test_the_same_seed_gives_the_same_conversation_and_stated():
    a = TemplateSimulator(_persona(1), CAT, seed=7)
    b = TemplateSimulator(_persona(1), CAT, seed=7)
    assert [(u.text, u.named, u.facts) for u in _play(a, SCRIPT)] == [
        (u.text, u.named, u.facts) for u in _play(b, SCRIPT)]
    assert a.stated == b.stated


def test_it_reports_every_shown_item_it_rated_with_no_cap():
    sim = TemplateSimulator(_persona(), CAT, seed=0)
    sim.opening()
    shown = [1, 2, 3, 5, 6, 7, 8, 10, 9, 4]  # eight rated in training, one with a shared title (10)
    u = sim.respond("Here you go", shown, False)
    rated = [i for i in shown if i in TRAIN]
    assert set(rated) <= set(sim.stated.seen)
    assert set(u.named) == set(rated) - {10}  # the shared title is not written ...
    for i in u.named:
        assert f'"{CAT[i].title}"' in u.text
    assert "Twin Title" not in u.text and re.search(
        r"\b(the eighth one|number 8)\b", u.text, re.I
    )  # ... its place is
    assert {i for i in rated if TRAIN[i] >= 4} <= set(sim.stated.liked)
    assert {i for i in rated if TRAIN[i] <= 2} <= set(sim.stated.disliked)


def test_many_seen_items_come_as_lists_with_shared_verdicts():
    texts = set()
    for seed in range(30):
        sim = TemplateSimulator(_persona(), CAT, seed=seed)
        sim.opening()
        texts.add(sim.respond("Here you go", [1, 2, 8, 3, 6, 7], False).text)
    assert any(
        ":" in t and " and " in t for t in texts
    )  # "I've seen A, B and C: loved A and B, ..."
    assert any(
        re.search(r'liked them|were good|enjoyed every one', t) for t in texts
    )  # grouped verdicts


def test_opinions_on_unseen_items_follow_the_persona():
    p = _persona()
    assert "Action" in p.favourite_genres and "Horror" in p.avoided_genres
    for seed in range(10):
        sim = TemplateSimulator(p, CAT, seed=seed)
        sim.opening()
        u = sim.respond("Try these", [13, 9, 12], False)  # documentary (no opinion), action, horror
        assert sim.stated.interested == [9]
        assert sim.stated.rejected == [12]
        assert "Horror" in sim.stated.avoided_genres and "horror" in u.text
        assert "opinion" in u.facts
        assert re.search(r"\b(second|2)\b", u.text)  # the action film is second in the list
        assert (
            not ({9, 12, 13} & set(u.named))
            and "Steel Comet" not in u.text
            and "Pale Moonrise" not in u.text
        )


def test_an_opinion_is_given_once_and_the_persona_decides_it():
    p = _persona()
    assert p.opinion(CAT[9]).verdict == "positive" and p.opinion(CAT[12]).verdict == "negative"
    assert p.opinion(CAT[13]) is None  # a 1960s documentary: no taste says anything
    sim = TemplateSimulator(p, CAT, seed=0)
    sim.opening()
    sim.respond("Try", [9], False)
    assert "opinion" not in sim.respond("Again", [9], False).facts


def test_requests_are_consistent_with_the_persona_and_recorded():
    p = _persona()
    seen_request = 0
    for seed in range(20):
        sim = TemplateSimulator(p, CAT, seed=seed, request_rate=1.0)
        utts = _play(sim, [("Anything else?", [], False)] * 5)
        for u in utts:
            if "request" in u.facts:
                seen_request += 1
                assert "1990s" in u.text or "nineties" in u.text
        assert sim.stated.year_min == 1990 and sim.stated.year_max == 1999
        assert set(sim.stated.wanted_genres) <= set(p.favourite_genres)
        # the request's genre is kept apart from the favourites: what the user wants now
        asked = next(u.text for u in utts if "request" in u.facts).lower()
        assert len(sim.stated.requested_genres) == 1
        assert sim.stated.requested_genres[0].lower().rstrip("s")[:5] in asked
        assert sim.stated.to_dict()["requested_genres"] == sim.stated.requested_genres
    assert seen_request == 20
    no_request = TemplateSimulator(p, CAT, seed=0, request_rate=0.0)
    _play(no_request, [("Anything else?", [], False)] * 5)
    assert no_request.stated.year_min is None and no_request.stated.requested_genres == []


ACTS = {
    "like": P.LIKED,
    "dislike": P.DISLIKED,
    "seen": P.SEEN_LIKED
    + P.SEEN_DISLIKED
    + P.SEEN_NEUTRAL
    + P.SEEN_LIKED_MANY
    + P.SEEN_DISLIKED_MANY
    + P.SEEN_NEUTRAL_MANY
    + P.SEEN_ALL,
    "unseen_positive": P.SOUNDS_GOOD + P.SOUNDS_GOOD_MANY + P.SOUNDS_GOOD_DECADE,
    "unseen_negative": P.NOT_IN_THE_MOOD,
    "genre_negation": P.AVOID,
    "request": P.REQUEST + P.REQUEST_GENRE,
}


def _regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{\w+\}", template)
    return re.compile(".+?".join(re.escape(x) for x in parts), re.I)


def test_at_least_three_phrasings_per_act_are_used_over_seeds():
    assert all(len(set(v)) >= 3 for v in ACTS.values())
    used: dict[str, set[str]] = {act: set() for act in ACTS}
    lists = [[1, 9, 12, 13], [2, 6, 14, 4], [8, 3, 7, 5, 11]]
    for seed in range(60):
        talker = TemplateSimulator(
            _persona(seed % 3), CAT, seed=seed, request_rate=0.7
        )  # states facts
        utts = [talker.opening()] + [talker.respond("Anything else?", [], False) for _ in range(6)]
        reactor = TemplateSimulator(_persona(seed % 3), CAT, seed=seed)  # reacts to lists
        utts += [reactor.opening()] + [reactor.respond("Here you go", lst, False) for lst in lists]
        text = " ".join(u.text for u in utts)
        for act, templates in ACTS.items():
            used[act] |= {t for t in templates if _regex(t).search(text)}
    assert all(len(v) >= 3 for v in used.values()), {k: len(v) for k, v in used.items()}


def test_old_transcript_stated_dicts_load():
    old = {
        "liked": [1],
        "disliked": [6],
        "seen": [1, 6],
        "wanted_genres": ["Action"],
        "avoided_genres": [],
        "decades": [1990],
        "year_min": None,
        "year_max": None,
    }
    s = Stated.from_dict(old)
    assert (
        s.liked == [1] and s.preferred_decades == [1990] and s.interested == [] and s.rejected == []
    )
    assert Stated.from_dict(s.to_dict()) == s
    new = Stated.from_dict({**old, "interested": [9], "rejected": [12]})
    assert new.interested == [9] and new.rejected == [12]
    new.react_unseen(9, False)
    assert new.interested == [] and new.rejected == [12, 9]


# ------------------------------------------------------------------------------- the placebo


def _split(test_rows: list[tuple[int, int, float]]) -> tuple[Ratings, Ratings]:
    train = [(u, i, r) for u in (1, 2, 3) for i, r in TRAIN.items()] + [(2, 9, 5.0), (3, 12, 1.0)]
    frame = lambda rows: pd.DataFrame(  # noqa: E731
        {
            "user": [u for u, _, _ in rows],
            "item": [i for _, i, _ in rows],
            "rating": [r for _, _, r in rows],
            "timestamp": list(range(len(rows))),
        }
    )
    return Ratings(frame(train)), Ratings(frame(test_rows))


def _conversation(
    train: Ratings, user: int, seed: int
) -> tuple[object, list[tuple[str, tuple, tuple]], dict]:
    """What the harness does for one user, with an agent that shows fixed lists (its own choice)."""
    useed = persona_seed(seed, user)
    persona = persona_for_user(train, user, CAT, seed=useed)
    sim = TemplateSimulator(persona, CAT, seed=useed)
    utts = _play(sim, SCRIPT)
    return persona, [(u.text, u.named, u.facts) for u in utts], sim.stated.to_dict()


def test_placebo_held_out_ratings_replaced_by_random_items_change_nothing():
    real_test = [(1, 9, 5.0), (1, 14, 4.0), (2, 4, 5.0), (3, 13, 4.0), (3, 11, 2.0)]
    rng = random.Random(0)
    placebo = [(u, rng.choice(UNSEEN), float(rng.randint(1, 5))) for u, _, _ in real_test]
    train, test = _split(real_test)
    train2, test2 = _split(placebo)
    assert not test.df.equals(test2.df)
    for seed in (0, 1):
        for user in (1, 2, 3):
            assert _conversation(train, user, seed) == _conversation(train2, user, seed)
    assert training_popularity(train)[1] == 3


def test_no_held_out_title_is_ever_written_on_movielens(ml100k):
    """Real users, shown lists full of their own held-out items: no held-out title is written."""
    cat = ml100k.catalog
    by_user = ml100k.ratings.by_user()
    for u in list(by_user)[:30]:
        rows = by_user[u].sample(frac=1.0, random_state=u)
        cut = len(rows) // 5
        held, train = rows.iloc[:cut], rows.iloc[cut:]
        held_ids = [int(i) for i in held["item"]]
        train_ids = {int(i) for i in train["item"]}
        guard = TitleMatcher(cat, held_ids)
        p = build_persona(train, cat, seed=u)
        sim = TemplateSimulator(p, cat, seed=u, request_rate=1.0)
        lists = [held_ids[j:j + 5] + list(p.liked[j:j + 5]) for j in (0, 5, 10, 15)]
        utts = _play(
            sim, [("Here you go", lst, False) for lst in lists] + [("What kind?", [], True)]
        )
        for utt in utts:
            assert set(utt.named) <= train_ids
            assert not guard.find(utt.text, allowed=utt.named), (utt.text, held_ids)
        assert set(sim.stated.interested) | set(sim.stated.rejected) <= {
            i for lst in lists for i in lst
        }


@pytest.mark.parametrize(
    "position,word", [(1, "first"), (3, "third"), (10, "tenth"), (11, "number 11")]
)
def test_ordinal_words(position, word):
    assert P.ordinal(position) == word


class _FixedListAgent:
    """An agent that knows only the conversation: it shows items picked from the words it got."""

    def __init__(self) -> None:
        self.turns: dict[str, int] = {}

    def chat(self, session_id: str, message: str):
        from types import SimpleNamespace

        n = self.turns.get(session_id, 0)
        self.turns[session_id] = n + 1
        ids = sorted(it.item_id for it in ITEMS)
        start = (len(message) + 3 * n) % len(ids)
        shown = [ids[(start + j) % len(ids)] for j in range(5)]
        recs = [SimpleNamespace(item_id=i, verified=True) for i in shown]
        return SimpleNamespace(
            text="Here are a few.", recommendations=recs, question=n == 1, llm_calls=0
        )

    def delete_session(self, session_id: str) -> None:
        self.turns.pop(session_id, None)


def test_placebo_through_the_harness(tmp_path):
    """The whole protocol: every user message and stated fact is the same when the held-out items
    are replaced by random ones (same users, same ratings)."""
    from genrec.data import Dataset, Split
    from genrec.evaluation.harness import ChatEvalConfig, read_transcripts, run_chat_eval

    real_test = [(1, 9, 5.0), (1, 14, 4.0), (2, 4, 5.0), (3, 13, 4.0), (3, 11, 2.0)]
    rng = random.Random(1)
    placebo = [(u, rng.choice(UNSEEN), r) for u, _, r in real_test]
    runs = []
    for name, rows in (("real", real_test), ("placebo", placebo)):
        train, test = _split(rows)
        ds = Dataset("tiny", CAT, Ratings(pd.concat([train.df, test.df])))
        cfg = ChatEvalConfig(
            dataset="tiny", split="manual", turns=4, concurrency=1, seed=3, llm="none"
        )
        run_chat_eval(cfg, dataset=ds, split=Split(train, test, "manual"), agent=_FixedListAgent(),
                      out_dir=tmp_path / name, progress=False, report=False)
        runs.append({r["user_id"]: [(t["user"], t["named"], t["stated"]) for t in r["turns"]]
                     for r in read_transcripts(tmp_path / name / "transcripts.jsonl")})
    assert runs[0] and runs[0] == runs[1]


def test_named_lists_every_title_written():
    """Every quoted title in a message is in `named` (the leakage guard allows exactly those)."""
    for seed in range(20):
        sim = TemplateSimulator(_persona(seed % 2), CAT, seed=seed, request_rate=1.0)
        for u in _play(sim, SCRIPT):
            quoted = re.findall(r'"([^"]+)"', u.text)
            assert sorted(set(quoted)) == sorted({CAT[i].title for i in u.named}), u.text


def test_ablation_kinds_also_gate_reactions():
    """A user without avoided genres or decades (benchmark ablations) never states them in a
    reaction."""
    for seed in range(10):
        sim = TemplateSimulator(_persona(), CAT, seed=seed, kinds=("liked", "disliked"))
        _play(sim, SCRIPT)
        assert (
            not sim.stated.avoided_genres
            and not sim.stated.preferred_decades
            and not sim.stated.rejected
        )
