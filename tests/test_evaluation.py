"""The conversational harness on a tiny real dataset: scores, leakage guard, resume, file formats.

Real parts throughout: an imported dataset, the CF ranker trained on it, a Chroma index in a tmp
folder, and the Recommender with the `none` LLM backend (rule-based understanding, no model).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from genrec.config import Settings
from genrec.data import Catalog, ImportOptions, Item, import_dataset, load_split
from genrec.evaluation.harness import (
    ChatEvalConfig,
    LeakageError,
    RunMismatchError,
    build_components,
    check_leakage,
    eligible_users,
    read_transcripts,
    run_chat_eval,
)
from genrec.evaluation.protocols.taste import SYSTEMS, UserTruth, score_records, turn_scores
from genrec.evaluation.report import format_summary
from genrec.evaluation.simulation.factory import Stated, TemplateSimulator, Utterance

pytestmark = pytest.mark.slow  # whole conversational evaluation runs

TINY = "tiny-eval"
SPLIT = "random:0.3"
GENRES = ("Action", "Comedy", "Drama", "Horror")
ADJ = ("Silent", "Crimson", "Golden", "Hidden", "Broken", "Wild", "Frozen", "Distant", "Midnight")
NOUN = ("Harbor", "Empire", "Garden", "Signal", "Voyage", "Mirror", "Orchard", "Lantern", "Comet")
BLURB = {
    "Action": "explosive chases, fights and a daring rescue mission",
    "Comedy": "a hilarious, silly story full of jokes and laughs",
    "Drama": "a moving, serious family story about loss and hope",
    "Horror": "a terrifying haunted house, ghosts and a killer in the dark",
}


def _write_tiny(folder: Path) -> tuple[Path, Path]:
    """36 items in 4 genre groups; 16 users who each love one group and dislike the next."""
    rng = np.random.default_rng(0)
    rows: list[dict[str, Any]] = []
    for j in range(36):
        g = GENRES[j % 4]
        rows.append({"item_id": j + 1, "title": f"The {ADJ[j // 4]} {NOUN[j % 9]}",
                     "year": 1975 + (j * 7) % 25, "genres": g, "description": BLURB[g]})
    ratings = []
    t = 0
    for u in range(1, 17):
        fav, bad = GENRES[u % 4], GENRES[(u + 1) % 4]
        for r in rows:
            g = r["genres"]
            x: int | None
            if g == fav:
                x = int(rng.choice([4, 5, 5]))
            elif g == bad:
                x = int(rng.choice([1, 2])) if rng.random() < 0.6 else None
            else:
                x = 3 if rng.random() < 0.35 else None
            if x is not None:
                t += 1
                ratings.append({"user_id": u, "item_id": r["item_id"], "rating": x, "timestamp": t})
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(folder / "items.csv", index=False)
    pd.DataFrame(ratings).to_csv(folder / "ratings.csv", index=False)
    return folder / "items.csv", folder / "ratings.csv"


@pytest.fixture(scope="module")
def tiny_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("eval-home")
    items, ratings = _write_tiny(home / "src")
    import_dataset(TINY, items, ratings, Settings(home=home).datasets_dir, ImportOptions())
    return home


@pytest.fixture(scope="module")
def parts(tiny_home: Path):
    """Dataset, split, trained ranker, Chroma index and a `none`-backend agent, built once."""
    s = Settings(home=tiny_home, dataset=TINY, split=SPLIT, llm="none")
    cfg = ChatEvalConfig(dataset=TINY, split=SPLIT, llm="none", turns=3)
    return build_components(s, cfg, progress=False)


def _run(parts, out: Path, *, factory=None, report=False, **cfg_kw):
    kw = {"dataset": TINY, "split": SPLIT, "llm": "none", "turns": 3, "concurrency": 3, **cfg_kw}
    stop_after = kw.pop("stop_after", None)
    return run_chat_eval(
        ChatEvalConfig(**kw),
        dataset=parts.dataset,
        split=parts.split,
        agent=parts.agent,
        out_dir=out,
        ranker=parts.ranker,
        store=parts.store,
        popularity_ranker=parts.popularity_ranker,
        simulator_factory=factory,
        stop_after=stop_after,
        progress=False,
        report=report,
    )


def _ranking_view(metrics: dict) -> dict:
    """Everything that must not depend on timing: every metric except latency."""
    return {
        s: {m: v for m, v in d.items() if m != "latency_ms"} for s, d in metrics["per_turn"].items()
    }


# ----------------------------------------------------------------------------- hand-checked scores

CAT = Catalog(
    [
        Item(i, f"Title {i} Film", 1990 + i, ("Horror",) if i == 3 else ("Drama",))
        for i in range(1, 12)
    ]
)


def test_turn_scores_by_hand():
    truth = UserTruth(test={1: 5.0, 2: 4.0, 3: 2.0}, train={10: 5.0, 11: 1.0})
    s = turn_scores(
        [3, 1, 10, 11], truth, {"avoided_genres": ["Horror"], "disliked": []}, {10}, CAT, k=10
    )
    # hits at position 2 only; IDCG over 2 relevant items
    assert s["ndcg@10"] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert s["recall@10"] == 0.5 and s["hr@10"] == 1.0 and s["mrr"] == 0.5
    assert s["precision@10"] == pytest.approx(0.1)
    assert s["mean_test_rating"] == pytest.approx(3.5)  # items 3 (2.0) and 1 (5.0)
    assert s["constraint_violations"] == pytest.approx(0.25)  # item 3 is Horror
    assert s["seen"] == pytest.approx(0.5)  # 10 and 11 were rated in training
    assert s["repeated"] == pytest.approx(0.25)  # 10 had been named before
    assert s["disliked"] == pytest.approx(0.25)  # 11 rated 1 in training


def test_score_records_averages_users_per_turn_by_hand():
    truths = {1: UserTruth({1: 5.0, 2: 4.0, 3: 2.0}, {}), 2: UserTruth({4: 4.0}, {})}
    records = [
        {"user_id": 2, "turns": [
            {"user": "a", "agent": "b", "ranked_item_ids": [], "latency_ms": 10, "llm_calls": 0},
            {"user": "a", "agent": "b", "ranked_item_ids": [5, 4], "latency_ms": 30, "llm_calls": 2,
             "verified": [True, False]}]},
        {"user_id": 1, "turns": [
            {"user": "a", "agent": "b", "ranked_item_ids": [3, 1], "latency_ms": 20, "llm_calls": 0,
             "baselines": {"popularity": [1, 2]}},
            {"user": "a", "agent": "b", "ranked_item_ids": [1, 2], "latency_ms": 40, "llm_calls": 0,
             "verified": [True, True], "baselines": {"popularity": [1, 2]}}]},
    ]
    m = score_records(records, truths, CAT, k=10)
    a = m["per_turn"]["agent"]
    g = 1 / math.log2(3)
    assert a["ndcg@10"] == pytest.approx([(g / (1 + g) + 0) / 2, (1.0 + g) / 2])
    assert a["recall@10"] == pytest.approx([0.25, 1.0])
    assert a["hr@10"] == pytest.approx([0.5, 1.0])
    assert a["mrr"] == pytest.approx([0.25, 0.75])
    assert a["mean_test_rating"] == pytest.approx([3.5, (4.5 + 4.0) / 2])
    assert a["verified_share"] == [None, pytest.approx(0.75)]
    assert a["llm_calls"] == pytest.approx([0.0, 1.0])
    assert m["final"]["agent"]["ndcg@10"] == pytest.approx((1.0 + g) / 2)
    assert m["per_turn"]["popularity"]["ndcg@10"] == pytest.approx([1.0, 1.0])  # only user 1 has it
    assert m["latency_ms"]["p50"] == pytest.approx(25.0) and m["n_users"] == 2


# ----------------------------------------------------------------------------- the harness


def test_eligible_users_are_sorted_test_users_with_a_relevant_item(parts):
    users = eligible_users(parts.split)
    df = parts.split.test.df
    assert users == sorted(users)
    assert set(users) == set(df.loc[df["rating"] >= 4, "user"].astype(int))
    assert eligible_users(parts.split, n=3) == users[:3]


def test_run_writes_the_documented_formats(parts, tmp_path):
    res = _run(parts, tmp_path / "run", users=6, report=True)
    assert res.complete and res.leaks == 0
    out = tmp_path / "run"
    for name in ("config.json", "metrics.json", "transcripts.jsonl", "report.html"):
        assert (out / name).is_file(), name
    lines = (out / "transcripts.jsonl").read_text().splitlines()
    assert len(lines) == 6
    users = []
    for line in lines:
        rec = json.loads(line)
        assert isinstance(rec["user_id"], int)
        users.append(rec["user_id"])
        assert len(rec["turns"]) == 3
        for turn in rec["turns"]:
            assert isinstance(turn["user"], str) and turn["user"]
            assert isinstance(turn["agent"], str)
            ids = turn["ranked_item_ids"]
            assert isinstance(ids, list) and all(isinstance(i, int) for i in ids) and len(ids) <= 10
            assert all(i in parts.dataset.catalog for i in ids)
    assert sorted(users) == eligible_users(parts.split, n=6)
    for line in lines:
        for turn in json.loads(line)["turns"]:
            short = turn["shortlist_item_ids"]
            assert (
                isinstance(short, list)
                and len(short) <= 10
                and all(i in parts.dataset.catalog for i in short)
            )
    m = json.loads((out / "metrics.json").read_text())
    headline = (
        "recall_cum@10",
        "success",
        "turns_to_hit",
        "ndcg@10_standing",
        "ndcg@10",
        "recall@10",
        "hr@10",
        "mrr",
    )
    assert set(m["per_turn"]) == set(SYSTEMS) and set(m["final"]) == {*SYSTEMS, "ci"}
    for section in ("final", "per_turn"):
        for system in SYSTEMS:
            for name in headline:
                assert name in m[section][system], (section, system, name)
    for system in SYSTEMS:
        for name in headline:
            vals = m["per_turn"][system][name]
            top = 4.0 if name == "turns_to_hit" else 1.0
            assert len(vals) == 3 and all(0.0 <= v <= top for v in vals), (system, name)
            assert m["final"][system][name] == vals[-1]
        cum = m["per_turn"][system]["recall_cum@10"]
        assert cum == sorted(cum)  # cumulative: never falls
    assert m["groups"]["oracles"] == ["oracle_popularity", "full_history"]
    assert set(m["final"]["ci"]["agent_minus"]) == set(SYSTEMS) - {"agent"}
    assert m["final"]["ci"]["metric"] == "recall_cum@10"
    # the oracles do not depend on the conversation
    for system in ("oracle_popularity", "full_history"):
        assert len(set(m["per_turn"][system]["ndcg@10"])) == 1
    cfg = json.loads((out / "config.json").read_text())
    assert (
        cfg["config"]["turns"] == 3
        and cfg["identity"]["seed"] == 42
        and cfg["identity"]["protocol"] == "taste"
    )
    assert len(cfg["fingerprints"]["ranker"]) == 16 and cfg["fingerprints"]["index"]
    assert "git_commit" in cfg and set(cfg["provenance"]) == {"git_commit", "machine", "versions"}
    html = (out / "report.html").read_text()
    assert "<svg" in html and "ndcg@10" in html and "recall_cum@10" in html
    assert "sampled conversations" in html and html.count("class='chat'") == 3 and "oracle" in html
    assert "src=\"http" not in html and "href=\"http" not in html and "<script src" not in html
    assert "agent" in format_summary(m).splitlines()[1]


def test_agent_is_never_given_the_real_user_id(parts, tmp_path):
    seen_sessions: list[str] = []
    user_ids: list[int | None] = []

    class Spy:
        def __init__(self, agent):
            self.agent = agent

        def delete_session(self, session_id):
            return self.agent.delete_session(session_id)

        async def achat(self, session_id, message):
            seen_sessions.append(session_id)
            reply = await self.agent.achat(session_id, message)
            user_ids.append(self.agent.state(session_id).user_id)
            return reply

    res = run_chat_eval(
        ChatEvalConfig(dataset=TINY, split=SPLIT, llm="none", turns=2, users=4),
        dataset=parts.dataset,
        split=parts.split,
        agent=Spy(parts.agent),
        out_dir=tmp_path / "spy",
        ranker=parts.ranker,
        store=parts.store,
        progress=False,
        report=False,
    )
    users = [r["user_id"] for r in read_transcripts(tmp_path / "spy" / "transcripts.jsonl")]
    assert res.complete and len(set(seen_sessions)) == 4
    assert user_ids and set(user_ids) == {None}  # the agent knows only the conversation
    assert all(sid.startswith("sim-") and len(sid) == 20 for sid in seen_sessions)
    assert not parts.agent.session_exists(seen_sessions[0])  # sessions are cleaned up
    assert len(users) == 4


def test_simulator_never_receives_held_out_ratings(parts, tmp_path):
    got = []

    def factory(persona, seed):
        got.append(persona)
        return TemplateSimulator(persona, parts.dataset.catalog, seed=seed)

    res = _run(parts, tmp_path / "spy", factory=factory, users=0, turns=2)
    train = parts.split.train.by_user()
    test = parts.split.test.by_user()
    by_items = {frozenset(int(i) for i in g["item"]): u for u, g in train.items()}
    assert len(got) == res.metrics["n_users"] > 5
    for p in got:
        u = by_items[frozenset(p.ratings)]  # the persona holds exactly one user's training items
        assert dict(p.ratings) == {
            int(i): float(r) for i, r in zip(train[u]["item"], train[u]["rating"])
        }
        assert not set(p.ratings) & set(int(i) for i in test[u]["item"])


def test_leakage_guard_fails_a_run_with_a_planted_leak(parts, tmp_path):
    train = parts.split.train.by_user()
    test = parts.split.test.by_user()
    by_items = {frozenset(int(i) for i in g["item"]): u for u, g in train.items()}
    cat = parts.dataset.catalog

    class Leaky(TemplateSimulator):
        """Names one of its held-out titles on the second turn: exactly what must never happen."""

        def respond(self, agent_text, recommended, question):
            u = super().respond(agent_text, recommended, question)
            user = by_items[frozenset(self.persona.ratings)]
            held_out = cat[int(test[user]["item"].iloc[0])].title
            return Utterance(u.text + f' I also loved "{held_out}".', u.named, u.facts)

    res = _run(
        parts, tmp_path / "leak", factory=lambda p, s: Leaky(p, cat, seed=s), users=3, turns=2
    )
    assert res.leaks == 3
    ex = res.metrics["leakage"]["examples"][0]
    assert ex["turn"] == 1
    with pytest.raises(LeakageError, match="held-out"):
        check_leakage(res)
    # the clean simulator on the same users leaks nothing
    assert _run(parts, tmp_path / "clean", users=3, turns=2).leaks == 0


def test_resume_skips_finished_users_and_matches_a_straight_run(parts, tmp_path):
    straight = _run(parts, tmp_path / "straight", users=8)
    first = _run(parts, tmp_path / "resumed", users=8, stop_after=3)
    assert not first.complete and first.new_users == 3
    assert json.loads((tmp_path / "resumed" / "metrics.json").read_text())["complete"] is False
    # a torn last line (killed while writing) is dropped on resume
    with (tmp_path / "resumed" / "transcripts.jsonl").open("a") as fh:
        fh.write('{"user_id": 99, "tur')
    second = _run(parts, tmp_path / "resumed", users=8)
    assert second.complete and second.new_users == 5 and second.skipped_users == 3
    ids = [r["user_id"] for r in read_transcripts(tmp_path / "resumed" / "transcripts.jsonl")]
    assert len(ids) == len(set(ids)) == 8
    assert _ranking_view(second.metrics) == _ranking_view(straight.metrics)
    # nothing left to do: a third run changes nothing
    third = _run(parts, tmp_path / "resumed", users=8)
    assert third.new_users == 0 and _ranking_view(third.metrics) == _ranking_view(straight.metrics)


def test_resume_with_other_settings_is_a_clear_error(parts, tmp_path):
    _run(parts, tmp_path / "r", users=2, turns=2)
    with pytest.raises(RunMismatchError, match="turns: 2 in the folder vs 3 now"):
        _run(parts, tmp_path / "r", users=2, turns=3)


def test_runs_are_deterministic_given_the_seed(parts, tmp_path):
    a = _run(parts, tmp_path / "a", users=4, seed=5)
    b = _run(parts, tmp_path / "b", users=4, seed=5)
    ta = [
        json.loads(x)["turns"]
        for x in sorted((tmp_path / "a" / "transcripts.jsonl").read_text().splitlines())
    ]
    tb = [
        json.loads(x)["turns"]
        for x in sorted((tmp_path / "b" / "transcripts.jsonl").read_text().splitlines())
    ]
    assert [[t["user"] for t in x] for x in ta] == [[t["user"] for t in x] for x in tb]
    assert _ranking_view(a.metrics) == _ranking_view(b.metrics)


def test_worker_processes_give_the_same_conversations_and_scores(parts, tiny_home, tmp_path):
    """--workers 2: two spawned processes, each loading the cached ranker and index, replay the
    users; every conversation and score equals the single-process run's."""
    from threadpoolctl import threadpool_limits

    s = Settings(home=tiny_home, dataset=TINY, split=SPLIT, llm="none")
    with threadpool_limits(
        1, user_api="blas"
    ):  # as each worker runs (BLAS threads change last digits)
        one = _run(parts, tmp_path / "one", users=5, turns=2)
    kw = {"dataset": TINY, "split": SPLIT, "llm": "none", "turns": 2, "users": 5, "workers": 2}
    two = run_chat_eval(
        ChatEvalConfig(**kw),
        dataset=parts.dataset,
        split=parts.split,
        agent=parts.agent,
        out_dir=tmp_path / "two",
        ranker=parts.ranker,
        store=parts.store,
        popularity_ranker=parts.popularity_ranker,
        progress=False,
        report=False,
        settings=s,
    )
    assert two.complete and two.new_users == 5

    def talks(folder: Path) -> dict[int, list]:
        keep = (
            "user",
            "agent",
            "ranked_item_ids",
            "shortlist_item_ids",
            "baselines",
            "baselines_standing",
        )
        return {r["user_id"]: [{k: t[k] for k in keep} for t in r["turns"]]
                for r in read_transcripts(folder / "transcripts.jsonl")}

    assert talks(tmp_path / "two") == talks(tmp_path / "one")
    assert _ranking_view(two.metrics) == _ranking_view(one.metrics)
    with pytest.raises(ValueError, match="needs the settings"):
        run_chat_eval(
            ChatEvalConfig(**{**kw, "users": 3}),
            dataset=parts.dataset,
            split=parts.split,
            agent=parts.agent,
            out_dir=tmp_path / "three",
            progress=False,
            report=False,
        )


def test_peers_never_show_or_keep_items_the_user_reacted_to(parts):
    """The agent's rule for every peer: an item that "sounds good" or was turned down is neither
    shown again nor kept on the standing list (as the agent's `DialogueState.blocked`)."""
    from genrec.evaluation.baselines import PEERS, Baselines

    b = Baselines(
        parts.split.train,
        ranker=parts.ranker,
        store=parts.store,
        catalog=parts.dataset.catalog,
        k=10,
    )
    plain = Stated(liked=[int(parts.dataset.catalog.ids[0])])
    first = b.conversation().turn(plain, ["I like comedies"])
    reacted = {name: (lst[0], lst[1]) for name, lst in first.standing.items()}
    for name in PEERS:
        if name not in reacted:
            continue
        sounded, declined = reacted[name]
        stated = plain.model_copy(update={"interested": [sounded], "rejected": [declined]})
        again = b.conversation().turn(stated, ["I like comedies"])
        assert not {sounded, declined} & set(again.shown[name]), name
        assert not {sounded, declined} & set(again.standing[name]), name


def test_constrained_fold_in_obeys_what_the_user_asked_for(parts):
    """constrained_fold_in is mentioned_fold_in under the user's stated constraints (avoided genres,
    years, the requested genre): with none the two lists agree; with some, nothing it shows or keeps
    breaks them, while mentioned_fold_in's list does."""
    from genrec.evaluation.baselines import Baselines
    from genrec.evaluation.protocols.taste import violates

    cat = parts.dataset.catalog
    b = Baselines(parts.split.train, ranker=parts.ranker, catalog=cat, k=10)
    plain = Stated(liked=[int(cat.ids[0]), int(cat.ids[1])])
    free = b.conversation().turn(plain, ["I liked those"])
    assert free.shown["constrained_fold_in"] == free.shown["mentioned_fold_in"]
    shown = free.shown["mentioned_fold_in"]
    genre = max(cat.genres, key=lambda g: sum(g in cat[i].genres for i in shown))
    years = sorted(cat[i].year for i in shown if cat[i].year)
    wish = plain.model_copy(update={"avoided_genres": [genre], "year_min": years[len(years) // 3]})
    asked = b.conversation().turn(wish, ["Nothing of that genre, and nothing that old"])
    assert any(violates(cat[i], wish) for i in asked.shown["mentioned_fold_in"])
    for lst in (asked.shown["constrained_fold_in"], asked.standing["constrained_fold_in"]):
        assert lst and not any(violates(cat[i], wish) for i in lst), lst
    # a request ("what about a drama?") is obeyed; a favourite genre alone is only a taste
    other = max(
        (g for g in cat.genres if g != genre), key=lambda g: sum(g in it.genres for it in cat)
    )
    request = plain.model_copy(
        update={"wanted_genres": [other, genre], "requested_genres": [other]}
    )
    both = b.conversation().turn(request, ["What about one of those?"])
    assert both.shown["constrained_fold_in"] and all(
        other in cat[i].genres for i in both.shown["constrained_fold_in"]
    )
    assert not all(other in cat[i].genres for i in both.shown["mentioned_fold_in"])


def test_cli_eval_chat_end_to_end(tiny_home, tmp_path, monkeypatch):
    from genrec.cli import app

    monkeypatch.setenv("GENREC_HOME", str(tiny_home))
    out = tmp_path / "cli-run"
    args = ["eval", "chat", "--dataset", TINY, "--split", SPLIT, "--users", "3", "--turns", "2",
            "--llm", "none", "--concurrency", "2", "--out", str(out), "--no-progress"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "ndcg@10" in r.output and "mentioned_fold_in" in r.output and "leakage 0" in r.output
    assert (
        "recall_cum@10" in r.output and "agent - popularity" in r.output and "oracles" in r.output
    )
    assert len((out / "transcripts.jsonl").read_text().splitlines()) == 3
    r2 = CliRunner().invoke(app, [*args[:9], "3", *args[10:]])  # --turns 3 into the same folder
    assert r2.exit_code == 1 and "other settings" in r2.output


def test_cli_exit_code_is_non_zero_on_leakage(tiny_home, tmp_path, monkeypatch):
    from genrec.cli import app
    from genrec.evaluation.protocols import replay as chat_protocol

    monkeypatch.setenv("GENREC_HOME", str(tiny_home))
    ds, sp = load_split(TINY, SPLIT, Settings(home=tiny_home).datasets_dir)
    train, test = sp.train.by_user(), sp.test.by_user()
    by_items = {frozenset(int(i) for i in g["item"]): u for u, g in train.items()}

    class Leaky(TemplateSimulator):
        def opening(self):
            u = super().opening()
            user = by_items[frozenset(self.persona.ratings)]
            return Utterance(
                u.text + f' "{ds.catalog[int(test[user]["item"].iloc[-1])].title}"!', u.named
            )

    monkeypatch.setattr(
        chat_protocol, "make_simulator", lambda kind, p, cat, **kw: Leaky(p, cat, seed=kw["seed"])
    )
    r = CliRunner().invoke(
        app,
        [
            "eval",
            "chat",
            "--dataset",
            TINY,
            "--split",
            SPLIT,
            "--users",
            "2",
            "--turns",
            "1",
            "--llm",
            "none",
            "--out",
            str(tmp_path / "x"),
            "--no-progress",
        ],
    )
    assert r.exit_code == 3, r.output
    assert "leakage" in r.output and "invalid" in r.output


def test_llm_simulator_with_the_fake_backend_through_the_harness(parts, tmp_path):
    from genrec.evaluation.harness import text_generator
    from genrec.llm import fake_backend, get_llm

    replies = ["Hi, I like drama. Any ideas?", "No horror please.", "Something else?"] * 10
    backend = fake_backend(replies, supports_tools=False)
    res = run_chat_eval(
        ChatEvalConfig(
            dataset=TINY, split=SPLIT, llm="none", simulator="llm", turns=3, users=2, concurrency=1
        ),
        dataset=parts.dataset,
        split=parts.split,
        agent=parts.agent,
        out_dir=tmp_path / "llm",
        ranker=parts.ranker,
        store=parts.store,
        generate=text_generator(backend),
        progress=False,
        report=False,
    )
    recs = read_transcripts(tmp_path / "llm" / "transcripts.jsonl")
    assert res.complete and res.leaks == 0
    said = [t["user"] for r in recs for t in r["turns"]]
    assert set(said) <= set(replies) and len(said) == 6
    assert all(r["simulator"] == "llm" and r["simulator_fallback"] is None for r in recs)
    # the persona prompt holds only the user's training titles, never a held-out one
    test = parts.split.test.by_user()
    cat = parts.dataset.catalog
    for req, rec in zip(backend.chat_model.requests[::3], recs):
        system = req.messages[0].content
        held_out = [cat[int(i)].title for i in test[rec["user_id"]]["item"]]
        assert not any(f'"{t}"' in system for t in held_out)
    # `none` cannot write text: the llm simulator falls back to the template one
    assert text_generator(get_llm("none", Settings(home=tmp_path))) is None


def test_ranker_report_uses_the_same_format(tmp_path):
    from genrec.evaluation.report import write_ranker_report

    path = write_ranker_report(
        tmp_path / "r",
        {
            "ranker": {"ndcg@10": 0.4, "hit_rate@10": 0.9, "mrr@10": 0.5},
            "popularity": {"ndcg@10": 0.2, "hit_rate@10": 0.7},
        },
        {"dataset": "ml-100k", "split": "u1"},
        extra={"rmse": 0.93},
    )
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert m["final"]["ranker"]["hr@10"] == 0.9 and m["final"]["ranker"]["mrr"] == 0.5
    assert m["per_turn"] == {} and m["rmse"] == 0.93
    assert json.loads((tmp_path / "r" / "config.json").read_text())["kind"] == "ranker"
    html = path.read_text()
    assert "<svg" in html and "ranker" in html and "0.4000" in html


def test_understanding_scores_by_hand():
    from genrec.agent.preferences import Preferences
    from genrec.evaluation.protocols.taste import understanding_scores

    stated = {
        "liked": [1, 2, 3, 4],
        "disliked": [5, 6],
        "avoided_genres": ["Horror"],
        "year_min": None,
    }
    agent = {
        "liked": [1, 2, 5],
        "disliked": [6],
        "avoided_genres": [],
        "year_min": 1990,
        "year_max": 1999,
    }
    s = understanding_scores(agent, stated)
    assert s == {
        "understood_liked": 0.5,
        "misread_disliked": 0.5,
        "understood_avoided": 0.0,
        "year_filter": 1.0,
    }
    assert understanding_scores(None, stated) == {}
    # typed preferences (what scoring compares) give the same figures as their transcript mappings
    typed = understanding_scores(Preferences(**agent), Stated.from_dict(stated))
    assert typed == s


def test_turn_scores_compare_typed_preferences():
    truth = UserTruth(test={1: 5.0, 2: 4.0, 3: 2.0}, train={10: 5.0, 11: 1.0})
    said = {
        "avoided_genres": ["Horror"],
        "disliked": [2],
        "wanted_genres": ["Drama"],
        "year_max": 1995,
    }
    as_dict = turn_scores([3, 1, 2, 10, 11, 9], truth, said, {10}, CAT, k=10)
    typed = turn_scores([3, 1, 2, 10, 11, 9], truth, Stated.from_dict(said), {10}, CAT, k=10)
    assert typed == as_dict
    assert typed["constraint_violations"] == pytest.approx(
        4 / 6
    )  # 3 is Horror; 9, 10, 11 after 1995
    assert typed["disliked"] == pytest.approx(2 / 6)  # 2 said, 11 rated 1 in training


# ---------------------------------------------------------------------------------- taste protocol


def _exported_liked(tiny_home, tmp_path, monkeypatch) -> dict[int, set[int]]:
    """Each test user's held-out liked items, read from what `genrec data export` writes."""
    from genrec.cli import app

    monkeypatch.setenv("GENREC_HOME", str(tiny_home))
    r = CliRunner().invoke(
        app, ["data", "export", TINY, "--split", SPLIT, "--out", str(tmp_path / "split")]
    )
    assert r.exit_code == 0, r.output
    test = pd.read_csv(
        tmp_path / "split" / "test.tsv", sep="\t", names=["user", "item", "rating", "ts"]
    )
    return {
        int(u): set(g.loc[g["rating"] >= 4, "item"].astype(int)) for u, g in test.groupby("user")
    }


def _ndcg(ranked, relevant, k=10):
    dcg = sum(1 / math.log2(p + 2) for p, i in enumerate(ranked[:k]) if i in relevant)
    return dcg / sum(1 / math.log2(p + 2) for p in range(min(len(relevant), k)))


def test_headline_metrics_recomputed_from_transcripts_and_the_exported_split(
    parts, tiny_home, tmp_path, monkeypatch
):
    """Headline numbers in metrics.json follow from transcripts.jsonl and `genrec data export`."""

    res = _run(parts, tmp_path / "run", users=6)
    liked = _exported_liked(tiny_home, tmp_path, monkeypatch)
    m, T = res.metrics, 3
    for system in SYSTEMS:
        got: dict[str, list[list[float]]] = {
            n: [[] for _ in range(T)]
            for n in ("recall_cum@10", "success", "turns_to_hit", "ndcg@10_standing")
        }
        for rec in read_transcripts(tmp_path / "run" / "transcripts.jsonl"):
            rel, shown, first = liked[rec["user_id"]], set(), T + 1
            for t, turn in enumerate(rec["turns"]):
                if system == "agent":
                    new, standing = turn["ranked_item_ids"], turn["shortlist_item_ids"]
                else:
                    new, standing = (
                        turn["baselines"].get(system, []),
                        turn["baselines_standing"].get(system),
                    )
                shown |= set(new[:10])
                if first == T + 1 and rel & set(new[:10]):
                    first = t + 1
                got["recall_cum@10"][t].append(len(shown & rel) / len(rel))
                got["success"][t].append(float(first <= t + 1))
                got["turns_to_hit"][t].append(float(first if first <= t + 1 else t + 2))
                if standing is not None:
                    got["ndcg@10_standing"][t].append(_ndcg(standing, rel))
        for name, per_turn in got.items():
            assert m["per_turn"][system][name] == pytest.approx(
                [float(np.mean(v)) for v in per_turn]
            ), (system, name)
            assert m["final"][system][name] == pytest.approx(float(np.mean(per_turn[-1])))
    # the ci block: agent minus each system, at the last turn, its interval around the mean
    # difference
    for system, d in m["final"]["ci"]["agent_minus"].items():
        diff = m["final"]["agent"]["recall_cum@10"] - m["final"][system]["recall_cum@10"]
        assert (
            d["diff"] == pytest.approx(diff)
            and d["low"] <= d["diff"] <= d["high"]
            and d["n_users"] == 6
        )


def test_placebo_held_out_ratings_do_not_change_any_conversation(parts, tmp_path):
    """Held-out items replaced by random ones: every conversation is the same (the taste protocol
    uses held-out data only to score)."""
    from genrec.data import Ratings, Split

    rng = np.random.default_rng(7)
    test = parts.split.test.df.copy()
    train_items = parts.split.train.by_user()
    ids = np.array(parts.dataset.catalog.ids)
    for u, rows in test.groupby("user"):
        pool = np.setdiff1d(ids, train_items[u]["item"].to_numpy()) if u in train_items else ids
        test.loc[rows.index, "item"] = rng.choice(pool, size=len(rows), replace=False)
    placebo = Split(parts.split.train, Ratings(test), parts.split.name)
    _run(parts, tmp_path / "real", users=5)
    run_chat_eval(
        ChatEvalConfig(dataset=TINY, split=SPLIT, llm="none", turns=3, users=5, concurrency=3),
        dataset=parts.dataset,
        split=placebo,
        agent=parts.agent,
        out_dir=tmp_path / "placebo",
        ranker=parts.ranker,
        store=parts.store,
        popularity_ranker=parts.popularity_ranker,
        progress=False,
        report=False,
    )

    def talk(folder):
        keys = (
            "user",
            "agent",
            "ranked_item_ids",
            "shortlist_item_ids",
            "baselines",
            "baselines_standing",
        )
        return {r["user_id"]: [{k: t[k] for k in keys} for t in r["turns"]]
                for r in read_transcripts(folder / "transcripts.jsonl")}

    real, fake = talk(tmp_path / "real"), talk(tmp_path / "placebo")
    assert real == fake and len(real) == 5


def test_shortlist_obeys_constraints_and_dislikes_excludes_named_and_changes_nothing(parts):
    rec, cat = parts.agent, parts.dataset.catalog
    comedy = [it for it in cat if "Comedy" in it.genres]
    sid = "shortlist-test"
    rec.delete_session(sid)
    reply = rec.chat(sid, f'I loved "{comedy[0].title}". No horror please.')
    shown = [r.item_id for r in reply.recommendations]
    assert shown and rec.state(sid).liked == [comedy[0].item_id]
    disliked = shown[0]
    rec.feedback(sid, disliked, liked=False)
    before, history = rec.state(sid).model_dump(), rec.history(sid)
    short = rec.shortlist(sid, k=10)
    ids = [r.item_id for r in short]
    assert 0 < len(ids) <= 10 and len(set(ids)) == len(ids)
    assert all("Horror" not in cat[i].genres for i in ids)  # the constraint holds
    assert disliked not in ids and comedy[0].item_id not in ids  # dislikes and named items stay out
    assert set(ids) & set(shown[1:])  # items shown before may come back (the standing best)
    assert all(r.rationale and r.title == cat[r.item_id].title for r in short)
    assert rec.state(sid).model_dump() == before and rec.history(sid) == history  # read-only
    assert [r.item_id for r in rec.shortlist(sid, k=3)] == ids[:3]
    assert not rec.session_exists("never-seen") and rec.shortlist("never-seen", k=5)
    assert not rec.session_exists("never-seen")
    with pytest.raises(ValueError, match="k must be"):
        rec.shortlist(sid, k=0)
    rec.delete_session(sid)


def test_the_seed_does_not_retrain_the_ranker(parts, tiny_home, tmp_path, monkeypatch):
    from genrec.cli import app
    from genrec.evaluation.wiring import fingerprints

    monkeypatch.setenv("GENREC_HOME", str(tiny_home))
    base = [
        "eval",
        "chat",
        "--dataset",
        TINY,
        "--split",
        SPLIT,
        "--users",
        "1",
        "--turns",
        "1",
        "--llm",
        "none",
        "--no-progress",
    ]
    models = sorted((tiny_home / "models").rglob("*"))
    stamps = {p: p.stat().st_mtime_ns for p in models if p.is_file()}
    r = CliRunner().invoke(app, [*base, "--seed", "7", "--out", str(tmp_path / "s7")])
    assert r.exit_code == 0, r.output
    assert (
        stamps and {p: p.stat().st_mtime_ns for p in stamps} == stamps
    )  # nothing retrained or overwritten
    cfg = json.loads((tmp_path / "s7" / "config.json").read_text())
    assert (
        cfg["identity"]["seed"] == 7
        and cfg["settings"]["seed"] == 42
        and cfg["config"]["protocol"] == "taste"
    )
    assert cfg["fingerprints"] == fingerprints(parts.ranker, parts.store)


# ----------------------------------------------------------------------------- the target protocol


def test_target_protocol_metrics_recomputed_from_transcripts(
    parts, tiny_home, tmp_path, monkeypatch
):
    """sr@T, SR@t, avg_turns and hdcg of the agent and every target peer follow from
    transcripts.jsonl (each line's target and shown lists) and the exported split; conversations
    stop on acceptance."""
    from genrec.evaluation.protocols.target_metrics import hdcg

    res = _run(parts, tmp_path / "run", users=8, protocol="target", report=True)
    liked = _exported_liked(tiny_home, tmp_path, monkeypatch)
    m, T = res.metrics, 3
    records = read_transcripts(tmp_path / "run" / "transcripts.jsonl")
    assert len(records) == 8 and m["protocol"] == "target" and m["leakage"]["count"] == 0
    systems = ["agent", "attribute_popularity", "attribute_fold_in", "max_entropy"]
    assert list(m["per_turn"]) == systems and m["groups"]["peers"] == systems[1:]
    for system in systems:
        hits: list[tuple[int | None, int | None]] = []
        for rec in records:
            assert (
                rec["target_item_id"] in liked[rec["user_id"]]
            )  # a held-out liked item of this user
            turns = rec["turns"] if system == "agent" else rec["peers"][system]["turns"]
            assert 1 <= len(turns) <= T
            lists = [t["ranked_item_ids"][:10] for t in turns]
            hit = next(((t + 1, ids.index(rec["target_item_id"]) + 1) for t, ids in enumerate(lists)
                        if rec["target_item_id"] in ids), (None, None))
            accepted = rec["accepted"] if system == "agent" else rec["peers"][system]["accepted"]
            assert accepted == (hit[0] is not None)
            if accepted:  # the conversation ended at the hit
                assert len(turns) == hit[0]
            hits.append(hit)
        sr = [float(np.mean([h is not None and h <= t for h, _ in hits])) for t in range(1, T + 1)]
        assert m["per_turn"][system]["success"] == pytest.approx(sr), system
        assert m["final"][system][f"sr@{T}"] == pytest.approx(sr[-1])
        assert m["final"][system]["avg_turns"] == pytest.approx(
            float(np.mean([h or T + 1 for h, _ in hits]))
        )
        assert m["final"][system]["hdcg"] == pytest.approx(
            float(np.mean([hdcg(h, k, T, 10) for h, k in hits]))
        )
    for system, d in m["final"]["ci"]["agent_minus"].items():
        diff = m["final"]["agent"][f"sr@{T}"] - m["final"][system][f"sr@{T}"]
        assert (
            d["diff"] == pytest.approx(diff)
            and d["low"] <= d["diff"] <= d["high"]
            and d["n_users"] == 8
        )
    html_text = (tmp_path / "run" / "report.html").read_text()
    assert "SR@t" in html_text and "target protocol" in html_text and "max_entropy" in html_text


def test_target_cli_prints_the_table_and_a_rigged_target_user_fails_the_run(
    tiny_home, tmp_path, monkeypatch
):
    from genrec.cli import app
    from genrec.evaluation.protocols import target as target_protocol
    from genrec.evaluation.simulation.target_user import TargetUser

    monkeypatch.setenv("GENREC_HOME", str(tiny_home))
    base = [
        "eval",
        "chat",
        "--dataset",
        TINY,
        "--split",
        SPLIT,
        "--users",
        "3",
        "--turns",
        "2",
        "--llm",
        "none",
        "--protocol",
        "target",
        "--no-progress",
    ]
    r = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "ok")])
    assert r.exit_code == 0, r.output
    assert "sr@2" in r.output and "avg_turns" in r.output and "agent - max_entropy" in r.output
    lines = [
        json.loads(x) for x in (tmp_path / "ok" / "transcripts.jsonl").read_text().splitlines()
    ]
    assert len(lines) == 3 and all("target_item_id" in x and x["turns"][0]["user"] for x in lines)

    class Leaky(TargetUser):
        """Rigged to leak: it writes its target's title into every phrasing."""

        def _pick(self, options, **fields):
            return super()._pick(options, **fields) + f' Something like "{self.target.title}".'

    monkeypatch.setattr(target_protocol, "TargetUser", Leaky)
    r = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "leak")])
    assert r.exit_code == 3, r.output
    assert "from its title" in r.output and "invalid" in r.output


def test_config_json_records_the_seed_the_split_was_drawn_with(tmp_path: Path) -> None:
    """``seeds.split`` is the split's own seed (None for a fixed fold), not the simulators' seed."""
    from types import SimpleNamespace

    from genrec.evaluation.run_folder import RunFolder

    for name, want in (("random:0.2:seed42", 42), ("u1", None)):
        folder = RunFolder(tmp_path / name.replace(":", "-"))
        folder.start(ChatEvalConfig(seed=7), {}, SimpleNamespace(name=name))  # type: ignore[arg-type]
        seeds = folder.config()["seeds"]
        assert (seeds["run"], seeds["split"]) == (7, want)
