"""The taste protocol's metrics: every system's lists after every turn against the user's held-out
ratings (cumulative recall, success, turns to hit, standing-list and new-items NDCG), bootstrap
intervals, plus constraint, repetition, grounding, latency and LLM-call figures.

The intent protocol scores with the same per-turn scores (`score_records` with `intent_relevant`);
the target protocol reuses the constraint check (`violates`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from genrec.agent.preferences import Preferences
from genrec.data import Catalog, Item, Ratings
from genrec.evaluation import metrics as M
from genrec.evaluation.baselines import ORACLES, PEERS
from genrec.evaluation.simulation.user import Stated

AGENT = "agent"
BASELINES = (*PEERS, *ORACLES)
SYSTEMS = (AGENT, *BASELINES)
HEADLINE = "recall_cum@{k}"
"""The taste protocol's headline metric (its paired bootstrap interval is in ``final.ci``)."""
INTENT_HEADLINE = "recall_cum@{k}_intent"
"""The intent protocol's headline: recall_cum over the held-out liked items of tonight's kind
(its paired bootstrap interval is in ``final.ci_intent``)."""
TURN_METRICS = ("recall_cum@{k}", "success", "turns_to_hit", "ndcg@{k}_standing")
"""Metrics over the whole conversation so far (with per-turn bootstrap intervals in
``intervals``)."""
BOOTSTRAP = {"resamples": 2000, "seed": 0, "level": 0.95}
RANKING_METRICS = ("ndcg", "recall", "hr", "mrr", "precision")
"""Top-k accuracy names; written with @k except mrr (``ndcg@10``, ``hr@10``, ``mrr``)."""


def metric_names(k: int) -> list[str]:
    return [f"{m}@{k}" if m != "mrr" else "mrr" for m in RANKING_METRICS]


def list_scores(ranked: Sequence[int], relevant: Collection, k: int) -> dict[str, float]:
    """NDCG, recall, hit rate, MRR and precision at k of one list (via genrec.evaluation.metrics).

    >>> s = list_scores([3, 1, 2], {1, 9}, k=3)
    >>> round(s["ndcg@3"], 4), s["recall@3"], s["hr@3"], s["mrr"]
    (0.3869, 0.5, 1.0, 0.5)
    """
    ranked = list(ranked)[:k]
    return {
        f"ndcg@{k}": M.ndcg_at_k(ranked, relevant, k),
        f"recall@{k}": M.recall_at_k(ranked, relevant, k),
        f"hr@{k}": M.hit_rate_at_k(ranked, relevant, k),
        "mrr": M.mrr(ranked, relevant, k),
        f"precision@{k}": M.precision_at_k(ranked, relevant, k),
    }


@dataclass(frozen=True)
class UserTruth:
    """What the scorer (never the simulator) knows about one user."""

    test: Mapping[int, float]
    """Held-out ratings: item -> rating."""
    train: Mapping[int, float]
    """Training ratings: item -> rating (to spot already-seen and disliked items)."""
    relevant_min: float = 4.0

    @property
    def relevant(self) -> set[int]:
        return {i for i, r in self.test.items() if r >= self.relevant_min}


def truths(
    train: Ratings, test: Ratings, users: Iterable[int], *, relevant_min: float = 4.0
) -> dict[int, UserTruth]:
    """Held-out and training ratings of the given users, for scoring."""
    users = set(int(u) for u in users)

    def per_user(r: Ratings) -> dict[int, dict[int, float]]:
        df = r.df[r.df["user"].isin(users)]
        out: dict[int, dict[int, float]] = {u: {} for u in users}
        for u, i, x in zip(df["user"].to_numpy(), df["item"].to_numpy(), df["rating"].to_numpy()):
            out[int(u)][int(i)] = float(x)
        return out

    te, tr = per_user(test), per_user(train)
    return {u: UserTruth(te[u], tr[u], relevant_min) for u in sorted(users)}


def violates(item: Item | None, stated: Preferences) -> bool:
    """Does an item break a hard constraint the user stated (avoided genre, year bounds)?

    An item without a year breaks no year bound here (the metric counts what is known to be wrong).
    """
    if item is None:
        return False
    if set(item.genres) & set(stated.avoided_genres):
        return True
    lo, hi = stated.year_min, stated.year_max
    if (lo is not None or hi is not None) and item.year is not None:
        if (lo is not None and item.year < lo) or (hi is not None and item.year > hi):
            return True
    return False


def as_preferences(value: Preferences | Mapping[str, Any] | None) -> Preferences:
    """Preferences as given, or read from a transcript's ``stated`` / ``agent_state`` mapping.

    Both JSON shapes are read: the simulator's (decades under ``decades``) and the agent state's
    (``preferred_decades``); missing or null keys take their defaults.

    >>> as_preferences({"liked": [3], "decades": [1990], "year_min": None}).preferred_decades
    [1990]
    """
    if isinstance(value, Preferences):
        return value
    d = dict(value or {})
    if "decades" in d and d.get("preferred_decades") is None:
        d["preferred_decades"] = d["decades"]
    return Preferences(
        **{k: v for k, v in d.items() if k in Preferences.model_fields and v is not None}
    )


def turn_scores(
    ranked: Sequence[int],
    truth: UserTruth,
    stated: Preferences | Mapping[str, Any],
    feedback_before: set[int],
    catalog: Catalog,
    k: int,
) -> dict[str, float | None]:
    """All list-level figures of one system's top-k after one turn.

    `stated` is what the user had said up to and including this turn (Preferences, or its
    transcript mapping); `feedback_before` the items it had already reacted to or named before
    this turn (recommending them again is a repeat).
    """
    stated = as_preferences(stated)
    top = list(dict.fromkeys(int(i) for i in ranked))[:k]
    out: dict[str, float | None] = dict(list_scores(top, truth.relevant, k))
    rated = [truth.test[i] for i in top if i in truth.test]
    out["mean_test_rating"] = float(np.mean(rated)) if rated else None
    n = len(top)
    items = [catalog.get(i) for i in top]
    wanted = set(stated.wanted_genres)
    disliked = set(stated.disliked) | {i for i, r in truth.train.items() if r <= 2}
    out["constraint_violations"] = sum(violates(it, stated) for it in items) / n if n else 0.0
    out["off_genre"] = (
        sum(1 for it in items if it is not None and not (set(it.genres) & wanted)) / n
        if n and wanted
        else 0.0
    )
    out["seen"] = sum(1 for i in top if i in truth.train) / n if n else 0.0
    out["repeated"] = sum(1 for i in top if i in feedback_before) / n if n else 0.0
    out["disliked"] = sum(1 for i in top if i in disliked) / n if n else 0.0
    out["empty"] = 0.0 if n else 1.0
    return out


def understanding_scores(
    agent_state: Preferences | Mapping[str, Any] | None, stated: Preferences | Mapping[str, Any]
) -> dict[str, float | None]:
    """How well the agent's dialogue state matches what the simulated user actually said.

    understood_liked: share of the items the user said it liked that the agent holds as liked;
    misread_disliked: share of the user's disliked items the agent holds as liked;
    understood_avoided: share of avoided genres the agent holds; year_filter: 1 when the agent
    holds a year range although the user stated none (a soft decade taken as a hard filter).
    Both sides are Preferences (or their transcript mappings); no agent state gives {}.
    """
    if not agent_state:
        return {}
    agent, said = as_preferences(agent_state), as_preferences(stated)
    a_liked = set(agent.liked)
    liked, disliked, avoided = set(said.liked), set(said.disliked), set(said.avoided_genres)
    hard_years = said.year_min is not None or said.year_max is not None
    agent_years = agent.year_min is not None or agent.year_max is not None
    return {
        "understood_liked": len(a_liked & liked) / len(liked) if liked else None,
        "misread_disliked": len(a_liked & disliked) / len(disliked) if disliked else None,
        "understood_avoided": len(set(agent.avoided_genres) & avoided) / len(avoided)
        if avoided
        else None,
        "year_filter": 1.0 if agent_years and not hard_years else 0.0,
    }


def conversation_scores(shown: Sequence[Sequence[int]], standing: Sequence[Sequence[int] | None],
                        relevant: Collection[int], k: int) -> list[dict[str, float | None]]:
    """Per turn: recall_cum@k, success, turns_to_hit (first hit turn, or turns so far + 1) and
    ndcg@k_standing (None when the system keeps no standing list) of one system in one conversation.

    >>> [(d["recall_cum@10"], d["success"], d["turns_to_hit"]) for d in
    ...  conversation_scores([[1], [2, 3]], [None, [3]], {3, 4}, 10)]
    [(0.0, 0.0, 2.0), (0.5, 1.0, 2.0)]
    """
    cum = M.cumulative_recall(shown, relevant, k)
    out: list[dict[str, float | None]] = []
    for t in range(len(shown)):
        first = M.first_hit_turn(shown[: t + 1], relevant, k)
        st = standing[t] if t < len(standing) else None
        out.append({
            f"recall_cum@{k}": cum[t],
            "success": 1.0 if first <= t + 1 else 0.0,
            "turns_to_hit": float(first),
            f"ndcg@{k}_standing": None if st is None else M.ndcg_at_k(list(st)[:k], relevant, k),
        })
    return out


def _intervals(paired: Mapping[str, Mapping[int, list[dict[str, float | None]]]], T: int, k: int
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per-turn bootstrap intervals of every system's turn metrics, and the final ``ci`` block:
    paired bootstrap of agent minus each system on the headline metric over the users both have."""
    names = [m.format(k=k) for m in TURN_METRICS]
    intervals: dict[str, Any] = {}
    for system, users in paired.items():
        sysd = intervals.setdefault(system, {})
        for m in names:
            lows: list[float | None] = []
            highs: list[float | None] = []
            for t in range(T):
                vals = [v[t][m] for v in users.values() if t < len(v) and v[t][m] is not None]
                if vals:
                    _, lo, hi = M.bootstrap_ci(vals, **BOOTSTRAP)  # type: ignore[arg-type]
                lows.append(lo if vals else None)
                highs.append(hi if vals else None)
            sysd[m] = {"low": lows, "high": highs}
    return intervals, paired_ci(paired, HEADLINE.format(k=k), T)


def paired_ci(paired: Mapping[str, Mapping[int, list[dict[str, float | None]]]], head: str, T: int
              ) -> dict[str, Any]:
    """Paired bootstrap of agent minus each system on metric `head` at turn T, over the users both
    have."""
    ci: dict[str, Any] = {"metric": head, "turn": T, **BOOTSTRAP, "agent_minus": {}}
    agent = paired.get(AGENT, {})
    for system, users in paired.items():
        if system == AGENT:
            continue
        common = sorted(
            u for u in users if u in agent and len(users[u]) >= T and len(agent[u]) >= T
        )
        if not common or T < 1:
            continue
        a = [float(agent[u][T - 1][head] or 0.0) for u in common]
        b = [float(users[u][T - 1][head] or 0.0) for u in common]
        d, lo, hi = M.paired_bootstrap_ci(a, b, **BOOTSTRAP)  # type: ignore[arg-type]
        ci["agent_minus"][system] = {"diff": d, "low": lo, "high": hi, "n_users": len(common)}
    return ci


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def score_records(
    records: Sequence[Mapping[str, Any]],
    user_truths: Mapping[int, UserTruth],
    catalog: Catalog,
    *,
    k: int = 10,
    turns: int | None = None,
    intent_relevant: Mapping[int, Collection[int]] | None = None,
    bootstrap: bool = True,
) -> dict[str, Any]:
    """metrics.json content for a set of transcript records.

    Args:
        records: transcript lines (``user_id``, ``turns`` with ``ranked_item_ids``, ``stated``,
            ``baselines`` and the agent's ``latency_ms``, ``llm_calls``, ``verified`` ...).
        user_truths: held-out and training ratings per user id.
        catalog: item metadata for constraint checks.
        k: list length that counts.
        turns: number of turns (default: the longest transcript).
        intent_relevant: per user, the relevant held-out items of tonight's kind (intent protocol):
            adds ``recall_cum@k_intent`` and ``success_intent`` per system and ``final.ci_intent``.
        bootstrap: compute the bootstrap bands and paired intervals (False: means only, as a
            breakdown by group needs; ``intervals`` is empty and ``final`` has no ``ci``).

    Returns:
        ``{"final": {system: {metric: value}}, "per_turn": {system: {metric: [value per turn]}},
        "n_users", "turns", "k", "leakage", "latency_ms", "llm_calls", "errors"}``; per-turn values
        are means over users (``mean_test_rating`` over users with at least one rated item in the
        list, None when there is none).
    """
    records = sorted(records, key=lambda r: int(r["user_id"]))
    T = turns or max((len(r["turns"]) for r in records), default=0)
    run = _RunScores(T)
    head, head_intent = HEADLINE.format(k=k), INTENT_HEADLINE.format(k=k)
    for rec in records:
        uid = int(rec["user_id"])
        truth = user_truths[uid]
        rec_turns = rec["turns"][:T]
        run.add_conversation(uid, _record_lists(rec_turns, truth.relevant, k), run.paired)
        if intent_relevant is not None:
            lists = _record_lists(rec_turns, set(intent_relevant.get(uid, ())), k)
            run.add_conversation(uid, {
                system: [{head_intent: r[head], "success_intent": r["success"]} for r in rows]
                for system, rows in lists.items()
            }, run.paired_intent)
        run.add_turns(uid, rec_turns, truth, catalog, k)

    per_turn = {
        s: {m: [_mean(v) for v in lists] for m, lists in d.items()} for s, d in run.per.items()
    }
    order = [s for s in SYSTEMS if s in per_turn] + [s for s in per_turn if s not in SYSTEMS]
    per_turn = {s: per_turn[s] for s in order}
    final: dict[str, Any] = {
        s: {m: (v[-1] if v else None) for m, v in d.items()} for s, d in per_turn.items()
    }
    intervals: dict[str, Any] = {}
    if bootstrap:
        intervals, final["ci"] = _intervals(run.paired, T, k)
        if intent_relevant is not None:
            final["ci_intent"] = paired_ci(run.paired_intent, head_intent, T)
    return {
        "final": final,
        "per_turn": per_turn,
        "intervals": intervals,
        "groups": {
            "agent": [AGENT],
            "peers": [s for s in PEERS if s in per_turn],
            "oracles": [s for s in ORACLES if s in per_turn],
        },
        "n_users": len(records),
        "turns": T,
        "k": k,
        "leakage": {"count": len(run.leaks), "examples": run.leaks[:20]},
        "latency_ms": M.latency_summary(run.latencies),
        "llm_calls": {
            "total": float(sum(run.llm_calls)),
            "per_turn": float(np.mean(run.llm_calls)) if run.llm_calls else 0.0,
        },
        "errors": run.errors,
    }


class _RunScores:
    """What `score_records` gathers over a run's records: every system's per-turn values of every
    metric, the per-user conversation rows the intervals pair, leaks, latencies, LLM calls,
    errors."""

    def __init__(self, turns: int) -> None:
        self.turns = turns
        self.per: dict[str, dict[str, list[list[float | None]]]] = {}
        self.paired: dict[str, dict[int, list[dict[str, float | None]]]] = {}
        self.paired_intent: dict[str, dict[int, list[dict[str, float | None]]]] = {}
        self.leaks: list[dict[str, Any]] = []
        self.latencies: list[float] = []
        self.llm_calls: list[float] = []
        self.errors = 0

    def add(self, system: str, t: int, scores: Mapping[str, float | None]) -> None:
        sysd = self.per.setdefault(system, {})
        for name, v in scores.items():
            sysd.setdefault(name, [[] for _ in range(self.turns)])[t].append(v)

    def add_conversation(
        self,
        uid: int,
        lists: Mapping[str, list[dict[str, float | None]]],
        paired: dict[str, dict[int, list[dict[str, float | None]]]],
    ) -> None:
        """One user's conversation rows per system: kept in `paired` and added turn by turn."""
        for system, rows in lists.items():
            paired.setdefault(system, {})[uid] = rows
            for t, row in enumerate(rows):
                self.add(system, t, row)

    def add_turns(self, uid: int, rec_turns: Sequence[Mapping[str, Any]], truth: UserTruth,
                  catalog: Catalog, k: int) -> None:
        """Every system's list scores after each turn of one user, and the agent's own figures."""
        feedback: set[int] = set()
        for t, turn in enumerate(rec_turns):
            stated = Stated.from_dict(turn.get("stated"))
            for i in turn.get("leaks") or ():
                self.leaks.append({"user_id": uid, "turn": t, "item_id": int(i)})
            systems = {AGENT: turn["ranked_item_ids"], **(turn.get("baselines") or {})}
            for system, ranked in systems.items():
                self.add(system, t, turn_scores(ranked, truth, stated, feedback, catalog, k))
            self.add(AGENT, t, _agent_turn_figures(turn, stated, k))
            self.latencies.append(float(turn.get("latency_ms") or 0.0))
            self.llm_calls.append(float(turn.get("llm_calls") or 0))
            self.errors += 1 if turn.get("error") else 0
            feedback |= set(stated.seen)


def _agent_turn_figures(
    turn: Mapping[str, Any], stated: Stated, k: int
) -> dict[str, float | None]:
    """The agent's own figures of one turn: verified and LLM-written shares, unknown titles,
    latency, LLM calls, question, error, and its understanding of what the user said."""
    recs = turn["ranked_item_ids"][:k]
    ver = turn.get("verified") or []
    out: dict[str, float | None] = {
        "verified_share": (sum(bool(v) for v in ver[: len(recs)]) / len(recs))
        if recs and ver
        else None,
        "llm_text_share": 1.0 if (turn.get("agent_timings") or {}).get("llm_text") else 0.0,
        "unknown_titles": float(len(turn.get("unknown_titles") or ())),
        "latency_ms": float(turn.get("latency_ms") or 0.0),
        "llm_calls": float(turn.get("llm_calls") or 0),
        "question": 1.0 if turn.get("question") else 0.0,
        "error": 1.0 if turn.get("error") else 0.0,
    }
    agent_state = turn.get("agent_state")
    out.update(understanding_scores(as_preferences(agent_state) if agent_state else None, stated))
    return out


def _record_lists(turns: Sequence[Mapping[str, Any]], relevant: Collection[int], k: int
                  ) -> dict[str, list[dict[str, float | None]]]:
    """conversation_scores of every system in one transcript record (a turn without a system's
    list counts as nothing shown; standing lists: the agent's shortlist, the peers' standing)."""
    systems = [AGENT, *dict.fromkeys(s for t in turns for s in (t.get("baselines") or {}))]
    out = {}
    for system in systems:
        if system == AGENT:
            shown = [list(t.get("ranked_item_ids") or []) for t in turns]
            standing = [t.get("shortlist_item_ids") for t in turns]
        else:
            shown = [list((t.get("baselines") or {}).get(system) or []) for t in turns]
            standing = [(t.get("baselines_standing") or {}).get(system) for t in turns]
        out[system] = conversation_scores(shown, standing, relevant, k)
    return out


__all__ = [
    "AGENT",
    "BASELINES",
    "HEADLINE",
    "INTENT_HEADLINE",
    "paired_ci",
    "SYSTEMS",
    "conversation_scores",
    "UserTruth",
    "as_preferences",
    "list_scores",
    "metric_names",
    "score_records",
    "truths",
    "turn_scores",
    "violates",
]
