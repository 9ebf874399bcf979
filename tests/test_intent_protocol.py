"""The intent protocol: tonight's intent drawn from held-out liked items, simulated users who reveal
it at once, only when asked or only in reactions (never writing a held-out title), its scores."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_evaluation import SPLIT, TINY, parts, tiny_home  # noqa: F401 - fixtures

from genrec.data import Catalog, Item
from genrec.evaluation.harness import ChatEvalConfig, read_transcripts, run_chat_eval
from genrec.evaluation.protocols.intent import (
    Intent,
    intent_for,
    intent_items,
    reveal_for,
    score_intent_records,
)
from genrec.evaluation.protocols.taste import UserTruth
from genrec.evaluation.simulation.intent_user import IntentUser
from genrec.evaluation.simulation.persona import Persona

CAT = Catalog([
    Item(1, "Heat", 1995, ("Action", "Crime")), Item(2, "Ronin", 1998, ("Action",)),
    Item(3, "Airplane!", 1980, ("Comedy",)), Item(4, "Big", 1988, ("Comedy", "Fantasy")),
    Item(5, "Tootsie", 1982, ("Comedy",)), Item(6, "Clue", 1985, ("Comedy", "Mystery")),
    Item(7, "Fargo", 1996, ("Crime", "Drama")), Item(8, "Alien", 1979, ("Horror", "Sci-Fi")),
    Item(9, "Babe", 1995, ("Comedy", "Drama")), Item(10, "Speed", 1994, ("Action",)),
])
PERSONA = Persona(
    liked=(1, 2),
    disliked=(8,),
    ratings={1: 5.0, 2: 4.0, 8: 1.0},
    favourite_genres=("Action",),
    avoided_genres=("Horror",),
)
HELD_OUT_TITLES = ("airplane", "big", "tootsie", "clue", "babe")


def test_intent_is_the_genre_covering_most_held_out_liked_items_with_its_decade_when_sharper() -> (
    None
):
    assert intent_for([3, 4, 5, 6, 9], CAT) == Intent(
        "Comedy", 1980, 4
    )  # 4 of 5 comedies from the 80s
    assert intent_for([3, 9, 7, 10], CAT) is None  # no genre covers 3
    assert intent_for([3, 9, 1, 6], CAT) == Intent(
        "Comedy", None, 3
    )  # 2 of 3 in the 80s: not sharper
    assert intent_items([3, 4, 5, 9, 1], Intent("Comedy", 1980), CAT) == {3, 4, 5}


def test_reveal_styles_are_seeded_and_follow_the_shares() -> None:
    assert [reveal_for(0, u) for u in range(20)] == [reveal_for(0, u) for u in range(20)]
    assert {reveal_for(0, u, {"when_asked": 1.0}) for u in range(50)} == {"when_asked"}
    assert len({reveal_for(s, 7) for s in range(30)}) == 3


def _never_writes_held_out(text: str) -> None:
    for t in HELD_OUT_TITLES:
        assert not re.search(rf"\b{t}\b", text, re.I), text


def test_a_user_who_says_it_at_once_asks_for_tonights_kind_in_its_first_message() -> None:
    u = IntentUser(PERSONA, CAT, Intent("Comedy", 1980), "at_once", seed=1)
    first = u.opening()
    assert re.search(r"comed|funny|80s|eighties", first.text, re.I), first.text
    assert u.stated.requested_genres == ["Comedy"] and (u.stated.year_min, u.stated.year_max) == (
        1980,
        1989,
    )
    assert "Action" not in u.stated.wanted_genres  # its overall favourite is not tonight's wish
    _never_writes_held_out(first.text)


def test_a_user_who_waits_to_be_asked_says_nothing_of_its_mood_until_the_agent_asks() -> None:
    u = IntentUser(PERSONA, CAT, Intent("Comedy"), "when_asked", seed=2)
    first = u.opening()
    assert not re.search(r"comed|funny|laugh", first.text, re.I) and u.stated.requested_genres == []
    second = u.respond("Here are some picks: Heat, Speed.", [10], question=False)
    assert not re.search(r"comed|funny|laugh", second.text, re.I)
    third = u.respond("Got it. What are you in the mood for tonight?", [], question=True)
    assert re.search(r"comed|funny|laugh", third.text, re.I), third.text
    assert u.stated.requested_genres == ["Comedy"]
    for text in (first.text, second.text, third.text):
        _never_writes_held_out(text)


def test_a_user_who_only_reacts_turns_down_a_list_with_nothing_of_its_kind_and_never_names_it() -> (
    None
):
    u = IntentUser(PERSONA, CAT, Intent("Comedy"), "reactions", seed=3)
    u.opening()
    asked = u.respond("What kind of movie are you after tonight?", [], question=True)
    assert not re.search(r"comed|funny|laugh", asked.text, re.I), asked.text
    shown = u.respond(
        "How about these?", [7, 10], question=False
    )  # a crime drama and an action film
    assert re.search(r"not in the mood|no .* tonight|not what i'm after", shown.text, re.I), (
        shown.text
    )
    assert set(u.stated.avoided_genres) & {"Crime", "Drama", "Action"}
    assert "Comedy" not in u.stated.avoided_genres and u.stated.requested_genres == []
    liked_one = u.respond(
        "Maybe these?", [9, 2], question=False
    )  # Babe is a comedy: it sounds good
    assert 9 in u.stated.interested
    _never_writes_held_out(shown.text + liked_one.text)


def test_scores_count_tonights_items_apart_and_report_users_without_an_intent_apart() -> None:
    truths = {
        1: UserTruth({3: 5.0, 4: 4.0, 5: 5.0, 7: 5.0}, {1: 5.0}),
        2: UserTruth({7: 5.0}, {1: 5.0}),
    }
    turn = {
        "user": "hi",
        "ranked_item_ids": [3, 7],
        "stated": {},
        "baselines": {"popularity": [7, 10]},
    }
    records = [
        {
            "user_id": 1,
            "turns": [turn],
            "intent": {"genre": "Comedy", "decade": None, "reveal": "at_once"},
        },
        {"user_id": 2, "turns": [turn], "intent": None},
    ]
    m = score_intent_records(records, truths, CAT, k=10, turns=1)
    assert m["n_users"] == 1 and m["no_intent"]["n_users"] == 1
    agent, pop = m["final"]["agent"], m["final"]["popularity"]
    assert agent["recall_cum@10_intent"] == pytest.approx(1 / 3) and agent[
        "recall_cum@10"
    ] == pytest.approx(0.5)
    assert pop["recall_cum@10_intent"] == 0.0 and pop["recall_cum@10"] == pytest.approx(0.25)
    assert m["final"]["ci_intent"]["metric"] == "recall_cum@10_intent"
    assert m["by_reveal"]["at_once"]["n_users"] == 1


@pytest.mark.slow
def test_an_intent_run_writes_intents_scores_every_peer_and_leaks_nothing(
    parts,  # noqa: F811
    tmp_path: Path,
) -> None:
    res = run_chat_eval(
        ChatEvalConfig(dataset=TINY, split=SPLIT, llm="none", turns=3, protocol="intent"),
        dataset=parts.dataset,
        split=parts.split,
        agent=parts.agent,
        out_dir=tmp_path / "run",
        ranker=parts.ranker,
        store=parts.store,
        popularity_ranker=parts.popularity_ranker,
        progress=False,
        report=True,
    )
    assert res.complete and res.leaks == 0
    records = read_transcripts(tmp_path / "run" / "transcripts.jsonl")
    with_intent = [r for r in records if r["intent"]]
    assert with_intent and all(r["simulator"] == "intent" for r in with_intent)
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["n_users"] == len(with_intent) and m["no_intent"]["n_users"] == len(records) - len(
        with_intent
    )
    assert "constrained_fold_in" in m["final"]["ci_intent"]["agent_minus"]
    assert 0.0 <= m["final"]["agent"]["recall_cum@10_intent"] <= 1.0
    html = (tmp_path / "run" / "report.html").read_text()
    assert "recall_cum@10_intent" in html and "tonight" in html


def test_real_phrasing_without_the_corpus_is_refused_with_where_it_was_looked_for(
    tmp_path, monkeypatch
) -> None:
    from genrec.evaluation.protocols.factory import phrasebook_for

    monkeypatch.setenv("GENREC_INSPIRED_PATH", str(tmp_path / "missing" / "dev.tsv"))
    monkeypatch.setenv("GENREC_HOME", str(tmp_path / "home"))
    with pytest.raises(ValueError, match="INSPIRED's dev.tsv.*--phrasing template"):
        phrasebook_for(ChatEvalConfig(phrasing="real"))
    assert (
        phrasebook_for(ChatEvalConfig(phrasing="mixed")) is None
    )  # mixed: every user speaks the templates
    assert phrasebook_for(ChatEvalConfig(phrasing="template")) is None


def test_cli_refuses_an_unknown_phrasing_and_an_llm_intent_user() -> None:
    from typer.testing import CliRunner

    from genrec.cli import app

    bad = CliRunner().invoke(app, ["eval", "chat", "--phrasing", "pirate"])
    assert bad.exit_code == 2 and "use real, template or mixed" in bad.output
    llm = CliRunner().invoke(app, ["eval", "chat", "--protocol", "intent", "--simulator", "llm"])
    assert llm.exit_code == 2 and "--simulator template" in llm.output


def test_the_target_bar_is_the_share_of_the_best_peers_failures_removed() -> None:
    from genrec.evaluation.protocols.target_metrics import failures_removed

    win, miss = {"sr@5": 1.0}, {"sr@5": 0.0}
    r = failures_removed({"agent": [win] * 95 + [miss] * 5, "max_entropy": [win] * 90 + [miss] * 10,
                          "attribute_fold_in": [win] * 80 + [miss] * 20}, "sr@5")
    assert r["vs"] == "max_entropy" and r["share"] == pytest.approx(0.5)
    assert r["low"] <= 0.5 <= r["high"] and r["n_users"] == 100
