"""The target protocol's metrics and metrics.json: success rate by turn (SR@t), average turns to
success and UNICORN's hierarchical DCG per user, their means, bootstrap bands and paired intervals.

Turns are numbered from 1 (the agent's first reply); list positions (ranks) from 1. A user whose
target was never shown has ``hit_turn=None``. Also the agent's own figures and the share of the
best peer's failures the agent removes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genrec.data import Catalog
from genrec.evaluation import metrics as M
from genrec.evaluation.protocols.target_peers import TARGET_PEERS
from genrec.evaluation.protocols.taste import (
    AGENT,
    BOOTSTRAP,
    as_preferences,
    violates,
)


@dataclass(frozen=True)
class TargetOutcome:
    """When and where one user's target was first shown (both None when it never was).

    >>> find_hit(7, [[1, 2], [3, 7, 9]])
    TargetOutcome(hit_turn=2, hit_rank=2)
    >>> find_hit(7, [[1, 2]])
    TargetOutcome(hit_turn=None, hit_rank=None)
    """

    hit_turn: int | None
    hit_rank: int | None


def find_hit(target_item_id: int, shown_per_turn: Sequence[Sequence[int]]) -> TargetOutcome:
    """The first turn (1-based) whose shown list holds the target, and its position there
    (1-based)."""
    for t, items in enumerate(shown_per_turn, start=1):
        ids = [int(i) for i in items]
        if int(target_item_id) in ids:
            return TargetOutcome(t, ids.index(int(target_item_id)) + 1)
    return TargetOutcome(None, None)


def _check_turns(T: int) -> None:
    if T < 1:
        raise ValueError(f"the number of turns T must be at least 1, got {T}")


def success_by_turn(hit_turn: int | None, T: int) -> list[bool]:
    """Per turn 1..T: has the target been shown by this turn?

    >>> success_by_turn(2, 4), success_by_turn(None, 2), success_by_turn(5, 3)
    ([False, True, True, True], [False, False], [False, False, False])
    """
    _check_turns(T)
    return [hit_turn is not None and hit_turn <= t for t in range(1, T + 1)]


def sr_at(hits: Sequence[int | None], t: int) -> float:
    """SR@t: the share of users whose target was shown by turn t (0.0 for no users).

    >>> sr_at([1, 3, None, 2], 2)
    0.5
    """
    if not hits:
        return 0.0
    return sum(1 for h in hits if h is not None and h <= t) / len(hits)


def turns_used(hit_turn: int | None, T: int) -> int:
    """Turns one user needed: the hit turn, or T+1 when the target was not shown within T turns.

    >>> turns_used(3, 5), turns_used(None, 5), turns_used(7, 5)
    (3, 6, 6)
    """
    _check_turns(T)
    return hit_turn if hit_turn is not None and hit_turn <= T else T + 1


def avg_turns(hit_turns: Sequence[int | None], T: int) -> float:
    """Average turns to success over users, T+1 for a user who never succeeded (0.0 for no users).

    >>> avg_turns([1, None, 3], 5)
    3.3333333333333335
    """
    if not hit_turns:
        return 0.0
    return sum(turns_used(h, T) for h in hit_turns) / len(hit_turns)


def hdcg(hit_turn: int | None, hit_rank: int | None, T: int, k: int) -> float:
    """Hierarchical DCG of one conversation (UNICORN: Deng et al., SIGIR 2021, arXiv:2105.09710).

    hDCG@(T, K) = sum_{t=1..T} sum_{k=1..K} r(t, k) * [1/log2(t+2) + (1/log2(t+1) - 1/log2(t+2)) /
    log2(k+1)]

    with r(t, k) = 1 when the target is at position k of the list shown at turn t. With one target
    only the first hit counts; this is the expression accumulated as ``Rank`` in
    dengyang17/unicorn ``RL/RL_evaluate.py`` (there with 0-based turn t0 = t-1:
    ``1/log(t0+3, 2) + (1/log(t0+2, 2) - 1/log(t0+3, 2)) / log(rank+1, 2)``). A hit at turn 1,
    rank 1 scores 1; a hit later in the conversation or lower in the list scores less; no hit
    within T turns and the first K positions scores 0.

    >>> hdcg(1, 1, 5, 10), round(hdcg(1, 2, 5, 10), 4), round(hdcg(2, 1, 5, 10), 4)
    (1.0, 0.8638, 0.6309)
    >>> hdcg(None, None, 5, 10), hdcg(6, 1, 5, 10), hdcg(1, 11, 5, 10)
    (0.0, 0.0, 0.0)
    """
    _check_turns(T)
    if hit_turn is None or hit_rank is None or not (1 <= hit_turn <= T) or not (1 <= hit_rank <= k):
        return 0.0
    near, far = 1.0 / math.log2(hit_turn + 1), 1.0 / math.log2(hit_turn + 2)
    return far + (near - far) / math.log2(hit_rank + 1)


def user_metrics(outcome: TargetOutcome, T: int, k: int) -> dict[str, float]:
    """One user's final values, named as in metrics.json (for paired bootstraps over users).

    >>> user_metrics(TargetOutcome(2, 1), 5, 10)
    {'sr@5': 1.0, 'avg_turns': 2.0, 'hdcg': 0.6309297535714575}
    """
    return {
        f"sr@{T}": 1.0 if success_by_turn(outcome.hit_turn, T)[-1] else 0.0,
        "avg_turns": float(turns_used(outcome.hit_turn, T)),
        "hdcg": hdcg(outcome.hit_turn, outcome.hit_rank, T, k),
    }


@dataclass(frozen=True)
class TargetScores:
    """One system's target-protocol metrics over users: SR@t per turn and the final values."""

    success: list[float]
    """SR@t for t = 1..T (metrics.json ``per_turn`` -> system -> ``success``)."""
    final: dict[str, float]
    """``sr@T`` (named for T), ``avg_turns`` and ``hdcg`` (metrics.json ``final`` -> system)."""
    n_users: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "per_turn": {"success": list(self.success)},
            "final": dict(self.final),
            "n_users": self.n_users,
        }


def aggregate(outcomes: Sequence[TargetOutcome], T: int, k: int = 10) -> TargetScores:
    """Average the users' outcomes: SR@1..SR@T, and ``sr@T``, ``avg_turns``, ``hdcg`` (means).

    >>> s = aggregate([TargetOutcome(1, 1), TargetOutcome(None, None)], 2)
    >>> s.success, s.final
    ([0.5, 0.5], {'sr@2': 0.5, 'avg_turns': 2.0, 'hdcg': 0.5})
    """
    _check_turns(T)
    hits = [o.hit_turn for o in outcomes]
    n = len(outcomes)
    per_user = [user_metrics(o, T, k) for o in outcomes]
    final = {
        name: (sum(u[name] for u in per_user) / n if n else 0.0)
        for name in (f"sr@{T}", "avg_turns", "hdcg")
    }
    if not n:
        final["avg_turns"] = 0.0
    return TargetScores([sr_at(hits, t) for t in range(1, T + 1)], final, n)


TARGET_HEADLINE = "sr@{T}"
"""The target protocol's headline metric, named for the number of turns (``sr@5``)."""


def system_lists(record: Mapping[str, Any]) -> dict[str, list[list[int]]]:
    """Every system's shown lists per turn in one transcript line: the agent's, then each peer's.

    >>> system_lists({"turns": [{"ranked_item_ids": [1]}], "peers": {"max_entropy": {"turns": [
    ...     {"ranked_item_ids": []}, {"ranked_item_ids": [2, 3]}]}}})
    {'agent': [[1]], 'max_entropy': [[], [2, 3]]}
    """
    out = {AGENT: [list(t.get("ranked_item_ids") or []) for t in record.get("turns") or []]}
    for name, conv in (record.get("peers") or {}).items():
        out[name] = [list(t.get("ranked_item_ids") or []) for t in conv.get("turns") or []]
    return out


def _bands(values: Mapping[str, list[list[float]]]) -> dict[str, Any]:
    """Per-turn bootstrap interval of each system's success rate."""
    out: dict[str, Any] = {}
    for system, per_user in values.items():
        lows: list[float | None] = []
        highs: list[float | None] = []
        for t in range(len(per_user[0]) if per_user else 0):
            _, lo, hi = M.bootstrap_ci([u[t] for u in per_user], **BOOTSTRAP)  # type: ignore[arg-type]
            lows.append(lo)
            highs.append(hi)
        out[system] = {"success": {"low": lows, "high": highs}}
    return out


def _agent_figures(
    records: Sequence[Mapping[str, Any]], catalog: Catalog, k: int
) -> dict[str, float]:
    """The agent's own means per turn played: questions, constraint violations, verified share,
    LLM calls, errors."""
    rows: dict[str, list[float]] = {
        "question": [],
        "constraint_violations": [],
        "verified_share": [],
        "llm_calls": [],
        "error": [],
    }
    for rec in records:
        for turn in rec.get("turns") or []:
            top = [int(i) for i in (turn.get("ranked_item_ids") or [])][:k]
            stated = as_preferences(turn.get("stated"))
            rows["question"].append(1.0 if turn.get("question") else 0.0)
            if top:
                rows["constraint_violations"].append(
                    sum(violates(catalog.get(i), stated) for i in top) / len(top))
                ver = turn.get("verified") or []
                if ver:
                    rows["verified_share"].append(sum(bool(v) for v in ver[: len(top)]) / len(top))
            rows["llm_calls"].append(float(turn.get("llm_calls") or 0))
            rows["error"].append(1.0 if turn.get("error") else 0.0)
    return {name: float(np.mean(v)) for name, v in rows.items() if v}


def failures_removed(
    per_user: Mapping[str, Sequence[Mapping[str, float]]], head: str
) -> dict[str, Any]:
    """The share of the best peer's failures at `head` (sr@T) that the agent removes:
    (agent - peer) / (1 - peer), with a paired bootstrap interval over users (the target
    protocol's bar, since 1.25x a peer's success rate near 0.9 cannot be reached).

    >>> r = failures_removed({"agent": [{"sr@5": 1.0}] * 9 + [{"sr@5": 0.0}],
    ...                       "peer": [{"sr@5": 1.0}] * 8 + [{"sr@5": 0.0}] * 2}, "sr@5")
    >>> r["vs"], r["share"]
    ('peer', 0.5)
    """
    a = np.array([u[head] for u in per_user[AGENT]], dtype=float)
    peers = {
        name: np.array([u[head] for u in rows], dtype=float)
        for name, rows in per_user.items()
        if name != AGENT
    }
    best = max(sorted(peers), key=lambda n: float(peers[n].mean()))
    b = peers[best]

    def share(x: np.ndarray, y: np.ndarray) -> float:
        fail = 1.0 - float(y.mean())
        return (float(x.mean()) - float(y.mean())) / fail if fail > 0 else 0.0

    rng = np.random.default_rng(int(BOOTSTRAP["seed"]))
    idx = rng.integers(0, len(a), size=(int(BOOTSTRAP["resamples"]), len(a)))
    boots = np.array([share(a[i], b[i]) for i in idx])
    tail = (1 - float(BOOTSTRAP["level"])) / 2
    return {
        "vs": best,
        "metric": head,
        "agent": float(a.mean()),
        "peer": float(b.mean()),
        "share": share(a, b),
        "low": float(np.quantile(boots, tail)),
        "high": float(np.quantile(boots, 1 - tail)),
        "n_users": len(a),
    }


def score_target_records(records: Sequence[Mapping[str, Any]], catalog: Catalog, *, k: int = 10,
                         turns: int) -> dict[str, Any]:
    """metrics.json content of a target-protocol run.

    Args:
        records: transcript lines (``user_id``, ``target_item_id``, ``turns``, ``peers``).
        catalog: item metadata for the constraint check.
        k: list length that counts.
        turns: T, the most turns a conversation may take (a conversation ends early on acceptance).

    Returns:
        ``{"protocol": "target", "final": {system: {"sr@T", "avg_turns", "hdcg", "questions"},
        "ci": ...}, "per_turn": {system: {"success": [SR@1..SR@T]}}, "intervals", "groups",
        "n_users", "turns", "k", "leakage", "latency_ms", "llm_calls", "errors"}``; ``ci`` holds
        the paired bootstrap interval of agent minus each peer on sr@T over the same users.
    """
    T = int(turns)
    records = sorted(records, key=lambda r: int(r["user_id"]))
    per = _per_system(records, T, k)
    order = [s for s in (AGENT, *TARGET_PEERS) if s in per.outcomes] + [
        s for s in per.outcomes if s not in (AGENT, *TARGET_PEERS)
    ]
    final: dict[str, Any] = {}
    per_turn: dict[str, Any] = {}
    for system in order:
        scores = aggregate(per.outcomes[system], T, k)
        final[system] = {**scores.final, "questions": float(np.mean(per.questions[system]))}
        per_turn[system] = {"success": scores.success}
    if AGENT in final:
        final[AGENT].update(_agent_figures(records, catalog, k))
    head = TARGET_HEADLINE.format(T=T)
    final["ci"] = _paired_ci(per.per_user, order, head, T)
    if AGENT in per.per_user and len(order) > 1:
        final["failures_removed"] = failures_removed(per.per_user, head)
    calls = [float(t.get("llm_calls") or 0) for r in records for t in r.get("turns") or []]
    leaks = [
        {"user_id": int(r["user_id"]), "turn": t, "item_id": int(i)}
        for r in records
        for t, turn in enumerate(r.get("turns") or [])
        for i in turn.get("leaks") or ()
    ]
    return {
        "protocol": "target",
        "final": final,
        "per_turn": per_turn,
        "intervals": _bands(per.success) if records else {},
        "groups": {
            "agent": [AGENT] if AGENT in final else [],
            "peers": [s for s in TARGET_PEERS if s in final],
            "oracles": [],
        },
        "n_users": len(records),
        "turns": T,
        "k": k,
        "leakage": {"count": len(leaks), "examples": leaks[:20]},
        "latency_ms": M.latency_summary(
            [float(t.get("latency_ms") or 0.0) for r in records for t in r.get("turns") or []]
        ),
        "llm_calls": {
            "total": float(sum(calls)),
            "per_turn": float(np.mean(calls)) if calls else 0.0,
        },
        "errors": int(sum(1 for r in records for t in r.get("turns") or [] if t.get("error"))),
    }


@dataclass
class _PerSystem:
    """Per system, one entry per user: the hit, the user's metrics, success by turn, questions."""

    outcomes: dict[str, list[TargetOutcome]] = field(default_factory=dict)
    per_user: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    success: dict[str, list[list[float]]] = field(default_factory=dict)
    questions: dict[str, list[float]] = field(default_factory=dict)


def _per_system(records: Sequence[Mapping[str, Any]], T: int, k: int) -> _PerSystem:
    """Where each system first showed each user's target, and what that scores."""
    out = _PerSystem()
    for rec in records:
        target = int(rec["target_item_id"])
        convs = {
            AGENT: rec.get("turns") or [],
            **{n: c.get("turns") or [] for n, c in (rec.get("peers") or {}).items()},
        }
        for system, lists in system_lists(rec).items():
            hit = find_hit(target, [row[:k] for row in lists[:T]])
            out.outcomes.setdefault(system, []).append(hit)
            out.per_user.setdefault(system, []).append(user_metrics(hit, T, k))
            out.success.setdefault(system, []).append(
                [float(s) for s in success_by_turn(hit.hit_turn, T)]
            )
            out.questions.setdefault(system, []).append(
                float(sum(1 for t in convs[system][:T] if t.get("question")))
            )
    return out


def _paired_ci(per_user: Mapping[str, Sequence[Mapping[str, float]]], order: Sequence[str],
               head: str, T: int) -> dict[str, Any]:
    """Paired bootstrap of agent minus each other system on `head` (sr@T) over the same users."""
    ci: dict[str, Any] = {"metric": head, "turn": T, **BOOTSTRAP, "agent_minus": {}}
    if AGENT in per_user:
        a = [u[head] for u in per_user[AGENT]]
        for system in order:
            if system == AGENT:
                continue
            b = [u[head] for u in per_user[system]]
            d, lo, hi = M.paired_bootstrap_ci(a, b, **BOOTSTRAP)  # type: ignore[arg-type]
            ci["agent_minus"][system] = {"diff": d, "low": lo, "high": hi, "n_users": len(a)}
    return ci


__all__ = [
    "aggregate",
    "avg_turns",
    "failures_removed",
    "find_hit",
    "hdcg",
    "score_target_records",
    "sr_at",
    "success_by_turn",
    "system_lists",
    "TARGET_HEADLINE",
    "TargetOutcome",
    "TargetScores",
    "turns_used",
    "user_metrics",
]
