"""The target-seeking protocol's parts: the target user, its leakage guard, the
peers and the metrics, on hand-made cases and on MovieLens 100K u1 (full conversations)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from genrec.data import Catalog, Dataset, Item, Split, movielens_fold
from genrec.evaluation.leakage import TitleMatcher
from genrec.evaluation.protocols.target_metrics import (
    TargetOutcome,
    aggregate,
    avg_turns,
    find_hit,
    hdcg,
    sr_at,
    success_by_turn,
    user_metrics,
)
from genrec.evaluation.protocols.target_peers import (
    QUESTIONS,
    RECOMMEND_TEXT,
    TARGET_PEERS,
    MaxEntropy,
    TargetPeers,
    allows,
    play,
)
from genrec.evaluation.simulation.persona import (
    Persona,
    persona_for_user,
    persona_seed,
    training_popularity,
)
from genrec.evaluation.simulation.target_user import (
    TargetLeakError,
    TargetLeakGuard,
    TargetUser,
    choose_target,
    target_leak_words,
)
from genrec.evaluation.simulation.user import UserSimulator, Utterance

# ---------------------------------------------------------------- metrics, checked by hand


def test_success_by_turn_and_sr_at() -> None:
    assert success_by_turn(3, 5) == [False, False, True, True, True]
    assert success_by_turn(None, 3) == [False, False, False]
    assert success_by_turn(1, 1) == [True]
    hits = [1, 2, None, 5]
    assert [sr_at(hits, t) for t in (1, 2, 4, 5)] == [0.25, 0.5, 0.5, 0.75]
    with pytest.raises(ValueError, match="at least 1"):
        success_by_turn(1, 0)


def test_avg_turns_counts_t_plus_one_for_a_miss() -> None:
    assert avg_turns([1, 2, None], 5) == pytest.approx((1 + 2 + 6) / 3)
    assert avg_turns([None, None], 3) == 4.0
    assert avg_turns([7], 5) == 6.0  # a hit after T is a miss within T turns


def test_hdcg_matches_the_unicorn_formula() -> None:
    # hDCG = 1/log2(t+2) + (1/log2(t+1) - 1/log2(t+2)) / log2(k+1), t turn, k rank, both 1-based
    assert hdcg(1, 1, 5, 10) == pytest.approx(1.0)
    assert hdcg(1, 2, 5, 10) == pytest.approx(
        1 / math.log2(3) + (1 - 1 / math.log2(3)) / math.log2(3)
    )
    assert hdcg(2, 1, 5, 10) == pytest.approx(
        1 / math.log2(3)
    )  # rank 1: the turn's full weight 1/log2(t+1)
    assert hdcg(3, 4, 5, 10) == pytest.approx(
        1 / math.log2(5) + (1 / math.log2(4) - 1 / math.log2(5)) / math.log2(5)
    )
    assert hdcg(3, 4, 5, 10) == pytest.approx(0.46054, abs=1e-5)
    assert hdcg(None, None, 5, 10) == hdcg(6, 1, 5, 10) == hdcg(2, 11, 5, 10) == 0.0
    # earlier and higher is better
    assert hdcg(1, 10, 5, 10) > hdcg(2, 1, 5, 10) > hdcg(2, 2, 5, 10) > hdcg(3, 1, 5, 10)


def test_aggregate_names_the_metrics_as_metrics_json_does() -> None:
    outcomes = [find_hit(7, [[1, 7], [2]]), find_hit(7, [[1], [3, 4, 7]]), find_hit(7, [[1], [2]])]
    assert outcomes == [TargetOutcome(1, 2), TargetOutcome(2, 3), TargetOutcome(None, None)]
    s = aggregate(outcomes, 2, k=10)
    assert s.success == pytest.approx([1 / 3, 2 / 3])
    assert set(s.final) == {"sr@2", "avg_turns", "hdcg"}
    assert s.final["sr@2"] == pytest.approx(2 / 3)
    assert s.final["avg_turns"] == pytest.approx((1 + 2 + 3) / 3)
    assert s.final["hdcg"] == pytest.approx((hdcg(1, 2, 2, 10) + hdcg(2, 3, 2, 10)) / 3)
    assert user_metrics(outcomes[2], 2, 10) == {"sr@2": 0.0, "avg_turns": 3.0, "hdcg": 0.0}
    assert s.to_dict()["per_turn"]["success"] == s.success
    assert aggregate([], 3).final == {"sr@3": 0.0, "avg_turns": 0.0, "hdcg": 0.0}


# -------------------------------------------------------- leakage guard and target user, hand-made

CAT = Catalog([
    Item(1, "Unforgiven", 1992, ("Western",)),
    Item(2, "Babe", 1995, ("Children's", "Comedy")),
    Item(3, "Tombstone", 1993, ("Western",)),
    Item(4, "Shane", 1953, ("Western",)),
    Item(5, "The Third Man", 1949, ("Mystery", "Thriller")),
    Item(6, "Strange Days", 1995, ("Crime", "Sci-Fi")),
    Item(7, "Some Western Story", 1994, ("Western", "Drama")),
])


def test_leak_words_are_long_distinctive_title_words() -> None:
    assert target_leak_words("The Shawshank Redemption") == {"shawshank", "redemption"}
    assert target_leak_words("Schindler's List") == {"schindler", "list"}
    assert target_leak_words("It Could Happen to You") == {
        "happen"
    }  # "could" is a stop word, "you" short
    assert target_leak_words("Up") == set()
    guard = TargetLeakGuard(CAT, 7)
    assert guard.words == ["story"]  # "western" is a genre word: stating the genre is allowed
    assert guard.find("A western STORY, please") == ["story"]
    assert guard.find("no stories, a western") == []  # word boundary


def test_target_user_answers_from_the_target_and_accepts_it() -> None:
    user = TargetUser(CAT, 1, Persona(liked=(3,), disliked=(), ratings={3: 5.0}), seed=3)
    sim: UserSimulator = user  # the harness's simulator interface (checked by mypy)
    assert sim.name == "target" and user.target_item_id == 1 and not user.accepted
    first = user.opening()
    assert first.named in ((3,), ())
    assert user.respond("Do you want a comedy?", [], True).text.lower().count("comedy") == 1
    assert "Comedy" in user.stated.avoided_genres
    user.respond("Which genre are you in the mood for?", [], True)
    assert user.stated.wanted_genres == ["Western"]
    user.respond("Older or newer films?", [], True)
    assert (user.stated.year_min, user.stated.year_max) == (1990, 1999)
    reply = user.respond("Here you go", [4], False)
    assert (
        "too old" in reply.text.lower()
        or "older" in reply.text.lower()
        or "dated" in reply.text.lower()
    )
    assert 4 in user.stated.rejected and not user.accepted
    accept = user.respond("How about these?", [2, 1], False)
    assert user.accepted and accept.facts == ("accept",) and "second" in accept.text
    assert (
        user.respond("More?", [6], False).facts == ()
    )  # it has ended: a closing line, no reaction


@pytest.mark.parametrize(
    "question, kind",
    [
        ("Which genre are you in the mood for?", "genre"),
        ("What kind of film do you want?", "genre"),
        ("What type of movie?", "genre"),
        ("What mood are you in tonight?", "genre"),
        ("Any particular decade?", "decade"),
        ("Any particular era?", "decade"),
        ("Older or newer?", "decade"),
        ("Classic or recent?", "decade"),
        ("When should it be from?", "decade"),
        ("Do you want a western?", "yes"),
        ("Are you after a comedy or a crime film?", "no"),
        ("Something from the 90s?", "decade"),
        ("From the eighties, maybe?", "no-decade"),
        (
            "Babe is a comedy for kids. Any particular era?",
            "decade",
        ),  # a described list is not a question
    ],
)
def test_target_user_understands_many_wordings(question: str, kind: str) -> None:
    user = TargetUser(CAT, 1, Persona(liked=(), disliked=()), seed=0)  # Unforgiven: a western, 1992
    user.opening()
    before = user.stated.model_copy(deep=True)
    reply = user.respond(question, [], True)
    assert reply.facts == ("answer",)
    if kind in ("genre", "yes"):
        assert user.stated.wanted_genres == ["Western"] and "western" in reply.text.lower()
    elif kind == "no":
        assert (
            set(user.stated.avoided_genres) == {"Comedy", "Crime"}
            and "western" not in reply.text.lower()
        )
    elif kind == "decade":
        assert user.stated.preferred_decades == [1990] and before.preferred_decades == []
        assert user.stated.avoided_genres == []
    else:
        assert user.stated.preferred_decades == [] and "not" in reply.text.lower()


def test_target_user_never_writes_a_title_word_even_an_ordinal() -> None:
    # the target "The Third Man": the position "third" is a title word, so it says "number 3"
    user = TargetUser(CAT, 5, Persona(liked=(), disliked=()), seed=1)
    user.opening()
    text = user.respond("Here", [1, 2, 5], False).text
    assert user.accepted and "third" not in text.lower() and "3" in text


def _acts(seed: int) -> dict[str, str]:
    """One texts per act of a user after Unforgiven (a 1992 western), seeded."""
    persona = Persona(liked=(3,), disliked=(), ratings={3: 5.0})
    out: dict[str, str] = {}
    u = TargetUser(CAT, 1, persona, seed=seed)
    out["opening"] = u.opening().text
    out["genre"] = u.respond("What kind of film?", [], True).text
    out["decade"] = u.respond("Any particular era?", [], True).text
    out["accept"] = u.respond("Here", [2, 1], False).text
    u = TargetUser(CAT, 1, persona, seed=seed)
    out["reject_old"] = u.respond("Here", [4], False).text  # Shane (1953): a western, too old
    out["reject_extra"] = u.respond("Here", [2], False).text  # Babe: a comedy for kids, a 90s film
    u = TargetUser(CAT, 7, persona, seed=seed)  # a 1994 western drama
    u.respond("Which genre?", [], False)
    out["reject_missing"] = u.respond("Here", [3], False).text  # Tombstone: a western, not a drama
    return out


def test_three_or_more_seeded_phrasings_per_act() -> None:
    runs = [_acts(seed) for seed in range(40)]
    assert runs[0] == _acts(0)  # seeded
    for act in runs[0]:
        assert len({r[act] for r in runs}) >= 3, act
    assert "western" in runs[0]["genre"].lower() and "drama" in runs[0]["reject_missing"].lower()


class LeakyUser(TargetUser):
    """A target user rigged to leak: it writes its target's title into every phrasing."""

    def _pick(self, options: Sequence[str], **fields: str) -> str:
        return super()._pick(options, **fields) + f' Something like "{self.target.title}".'


def test_a_user_rigged_to_leak_is_caught() -> None:
    with pytest.raises(TargetLeakError, match="shane"):
        LeakyUser(CAT, 4, Persona(liked=(), disliked=()), seed=0).opening()
    # the guard also catches a leak that skipped the self-check (e.g. in a written transcript)
    raw = Utterance('I want something like "Strange Days" tonight.')
    assert TargetLeakGuard(CAT, 6).find(raw.text) == ["days", "strange"]


# ---------------------------------------------------------------- peers, hand-made


def test_allows_and_peer_names() -> None:
    peers = TargetPeers(CAT, popularity={i: 10 - i for i in range(1, 8)}, k=2)
    user = TargetUser(CAT, 3, Persona(liked=(), disliked=()), seed=0)
    user.respond("Which genre?", [], True)
    assert [it.item_id for it in peers.candidates(user.stated, set())] == [1, 3, 4, 7]
    move = peers.conversation("attribute_popularity").turn(user.stated, {1}, 1)
    assert move.items == [3, 4] and move.question is None
    assert allows(CAT[7], user.stated) and not allows(CAT[2], user.stated)
    with pytest.raises(ValueError, match="attribute_fold_in"):
        peers.conversation("oracle")
    with pytest.raises(ValueError, match="ranker"):
        TargetPeers(CAT)


# -------------------------------------------------------------- MovieLens 100K, full conversations


@pytest.fixture(scope="module")
def u1(ml100k: Dataset) -> Split:
    return movielens_fold(ml100k.ratings, 1)


def _converse(user: TargetUser, peer, turns: int) -> tuple[list[Utterance], list[list[int]]]:
    """The test's loop: opening -> peer move -> user respond ..., until T turns or acceptance."""
    utterances = [user.opening()]
    shown: set[int] = set()
    per_turn: list[list[int]] = []
    for t in range(1, turns + 1):
        move = peer.turn(user.stated, shown, t)
        assert not set(move.items) & shown, "a peer showed an item again"
        assert not set(move.items) & set(user.stated.mentioned()), (
            "a peer showed an item the user named"
        )
        assert len(move.items) <= 10 and (move.items or move.question)
        shown |= set(move.items)
        per_turn.append(move.items)
        utterances.append(
            user.respond(move.question or RECOMMEND_TEXT, move.items, move.question is not None)
        )
        if user.accepted:
            break
    return utterances, per_turn


def _check_truthful(user: TargetUser, utterances: list[Utterance], per_turn: list[list[int]],
                    persona: Persona, catalog: Catalog) -> None:
    target = catalog[user.target_item_id]
    s = user.stated
    assert set(s.wanted_genres) <= set(target.genres)
    assert not set(s.avoided_genres) & set(target.genres)
    if s.year_min is not None:
        assert target.year is not None and s.year_min <= target.year <= (s.year_max or 9999)
    assert set(s.liked) <= set(persona.ratings), "it named an item it did not rate in training"
    assert all(set(u.named) <= set(persona.ratings) for u in utterances)
    hit = find_hit(user.target_item_id, per_turn)
    assert user.accepted == (hit.hit_turn is not None)
    if user.accepted:
        assert utterances[-1].facts == ("accept",) and hit.hit_turn == len(per_turn)
    guard, titles = (
        TargetLeakGuard(catalog, user.target_item_id),
        TitleMatcher(catalog, [user.target_item_id]),
    )
    for u in utterances:
        assert guard.find(u.text) == [] and titles.find(u.text) == [], u.text


@pytest.mark.slow
def test_full_conversations_against_every_peer(ml100k: Dataset, ml100k_ranker, u1: Split) -> None:
    cat = ml100k.catalog
    pop = training_popularity(u1.train)
    peers = TargetPeers(cat, ml100k_ranker)
    users = sorted(int(u) for u in set(u1.test.users))[:12]
    outcomes: dict[str, list[TargetOutcome]] = {name: [] for name in TARGET_PEERS}
    asked = 0
    for u in users:
        target = choose_target(u1, u, seed=0, catalog=cat)
        persona = persona_for_user(u1.train, u, cat, popularity=pop)
        for name in TARGET_PEERS:
            user = TargetUser(cat, target, persona, seed=persona_seed(0, u))
            peer = peers.conversation(name)
            utterances, per_turn = _converse(user, peer, 5)
            _check_truthful(user, utterances, per_turn, persona, cat)
            outcomes[name].append(find_hit(target, per_turn))
            if isinstance(peer, MaxEntropy) and peer.asked:
                asked += len(peer.asked)
                assert per_turn[0] == [] and utterances[1].facts == (
                    "answer",
                )  # turn 1: a question, answered
    assert asked >= len(users) // 2
    for name, outs in outcomes.items():
        scores = aggregate(outs, 5)
        assert scores.n_users == len(users) and 0.0 < scores.final["sr@5"] <= 1.0, name
        assert scores.success == sorted(scores.success)  # SR@t never falls


@pytest.mark.slow
def test_play_records_a_peer_conversation_as_the_test_loop_plays_it(
    ml100k: Dataset, ml100k_ranker, u1: Split
) -> None:
    cat = ml100k.catalog
    peers = TargetPeers(cat, ml100k_ranker)
    u = sorted(int(x) for x in set(u1.test.users))[3]
    target = choose_target(u1, u, seed=1, catalog=cat)
    persona = persona_for_user(u1.train, u, cat, popularity=training_popularity(u1.train))
    for name in TARGET_PEERS:
        rec = play(TargetUser(cat, target, persona, seed=7), peers.conversation(name), 5)
        utterances, per_turn = _converse(
            TargetUser(cat, target, persona, seed=7), peers.conversation(name), 5
        )
        assert (
            rec["target_item_id"] == target
            and [t["ranked_item_ids"] for t in rec["turns"]] == per_turn
        )
        assert [t["user"] for t in rec["turns"]] + [rec["last_user"]] == [
            x.text for x in utterances
        ]
        assert rec["accepted"] == (find_hit(target, per_turn).hit_turn is not None)


def test_choose_target_is_a_seeded_held_out_liked_item(ml100k: Dataset, u1: Split) -> None:
    users = sorted(int(u) for u in set(u1.test.users))[:40]
    varied = 0
    describable = {choose_target(u1, 5, seed=s, catalog=ml100k.catalog) for s in range(20)}
    assert all(ml100k.catalog[i].genres for i in describable)  # never MovieLens's item "unknown"
    assert any(not ml100k.catalog[choose_target(u1, 5, seed=s)].genres for s in range(20))
    for u in users:
        rows = u1.test.for_user(u)
        liked = {int(i) for i, r in zip(rows["item"], rows["rating"]) if r >= 4}
        if not liked:
            with pytest.raises(ValueError, match="no held-out item"):
                choose_target(u1, u, seed=0)
            continue
        picks = {choose_target(u1, u, seed=s) for s in range(5)}
        assert picks <= liked and choose_target(u1, u, seed=3) == choose_target(u1, u, seed=3)
        assert not picks & set(u1.train.for_user(u)["item"].astype(int))
        varied += len(picks) > 1
    assert varied >= 10


@pytest.mark.slow
def test_no_leak_over_many_users_and_seeds(ml100k: Dataset, u1: Split) -> None:
    """Popularity-ranked peers (no ranker needed), 100 users x 2 seeds x 3 peers, and agent
    questions in wordings the peers do not use: the guard never finds a title word."""
    cat = ml100k.catalog
    pop = training_popularity(u1.train)
    peers = TargetPeers(cat, None, popularity=pop)
    extra = ["What kind of movie are you after?", "Any favourite titles?", "Do you want a comedy?",
             "From the 80s?", "Any actor you like?", "Classic or recent?"]
    users = sorted(int(u) for u in set(u1.test.users))[:100]
    n = 0
    for seed in (0, 1):
        for u in users:
            try:
                target = choose_target(u1, u, seed=seed, catalog=cat)
            except ValueError:
                continue
            persona = persona_for_user(u1.train, u, cat, popularity=pop)
            for j, name in enumerate(TARGET_PEERS):
                user = TargetUser(cat, target, persona, seed=persona_seed(seed, u) + j)
                utterances, per_turn = _converse(user, peers.conversation(name), 6)
                if not user.accepted:  # a few questions in other wordings, answered truthfully too
                    utterances.append(user.respond(extra[(u + j) % len(extra)], [], True))
                _check_truthful(user, utterances, per_turn, persona, cat)
                n += 1
    assert n > 450


def test_peer_questions_are_understood(ml100k: Dataset) -> None:
    cat = ml100k.catalog
    user = TargetUser(cat, 50, Persona(liked=(), disliked=()), seed=0)  # Star Wars (1977)
    for attribute, question in QUESTIONS.items():
        reply = user.respond(question, [], True)
        assert reply.facts == ("answer",), (attribute, reply.text)
    assert set(user.stated.wanted_genres) == set(
        cat[50].genres
    ) and user.stated.preferred_decades == [1970]
