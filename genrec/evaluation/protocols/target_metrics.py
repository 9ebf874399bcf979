"""Metrics of the target-seeking protocol (issue 12, item 5): success rate by turn (SR@t), average
turns to success, and UNICORN's hierarchical DCG over turns and list positions.

Turns are numbered from 1 (the agent's first reply); list positions (ranks) from 1. A user whose
target was never shown has ``hit_turn=None``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


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
    """The first turn (1-based) whose shown list holds the target, and its position there (1-based)."""
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

    hDCG@(T, K) = sum_{t=1..T} sum_{k=1..K} r(t, k) * [1/log2(t+2) + (1/log2(t+1) - 1/log2(t+2)) / log2(k+1)]

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


__all__ = [
    "TargetOutcome",
    "TargetScores",
    "aggregate",
    "avg_turns",
    "find_hit",
    "hdcg",
    "sr_at",
    "success_by_turn",
    "turns_used",
    "user_metrics",
]
