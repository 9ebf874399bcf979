"""metrics.json for the target-seeking protocol: SR@t per turn, sr@T, avg_turns and hdcg per system,
bootstrap bands, the paired interval of agent minus each peer on sr@T, and the agent's own figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from genrec.data import Catalog
from genrec.evaluation import metrics as M
from genrec.evaluation.protocols.scoring import AGENT, BOOTSTRAP, as_preferences, violates
from genrec.evaluation.protocols.target_metrics import (
    TargetOutcome,
    aggregate,
    find_hit,
    success_by_turn,
    user_metrics,
)
from genrec.evaluation.protocols.target_peers import TARGET_PEERS

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
        ``{"protocol": "target", "final": {system: {"sr@T", "avg_turns", "hdcg", "questions"}, "ci": ...},
        "per_turn": {system: {"success": [SR@1..SR@T]}}, "intervals", "groups", "n_users", "turns",
        "k", "leakage", "latency_ms", "llm_calls", "errors"}``; ``ci`` holds the paired bootstrap
        interval of agent minus each peer on sr@T over the same users.
    """
    T = int(turns)
    records = sorted(records, key=lambda r: int(r["user_id"]))
    outcomes: dict[str, list[TargetOutcome]] = {}
    per_user: dict[str, list[dict[str, float]]] = {}
    success: dict[str, list[list[float]]] = {}
    questions: dict[str, list[float]] = {}
    for rec in records:
        target = int(rec["target_item_id"])
        convs = {
            AGENT: rec.get("turns") or [],
            **{n: c.get("turns") or [] for n, c in (rec.get("peers") or {}).items()},
        }
        for system, lists in system_lists(rec).items():
            hit = find_hit(target, [row[:k] for row in lists[:T]])
            outcomes.setdefault(system, []).append(hit)
            per_user.setdefault(system, []).append(user_metrics(hit, T, k))
            success.setdefault(system, []).append(
                [float(s) for s in success_by_turn(hit.hit_turn, T)]
            )
            questions.setdefault(system, []).append(
                float(sum(1 for t in convs[system][:T] if t.get("question")))
            )
    order = [s for s in (AGENT, *TARGET_PEERS) if s in outcomes] + [
        s for s in outcomes if s not in (AGENT, *TARGET_PEERS)
    ]
    final: dict[str, Any] = {}
    per_turn: dict[str, Any] = {}
    for system in order:
        scores = aggregate(outcomes[system], T, k)
        final[system] = {**scores.final, "questions": float(np.mean(questions[system]))}
        per_turn[system] = {"success": scores.success}
    if AGENT in final:
        final[AGENT].update(_agent_figures(records, catalog, k))
    head = TARGET_HEADLINE.format(T=T)
    ci: dict[str, Any] = {"metric": head, "turn": T, **BOOTSTRAP, "agent_minus": {}}
    if AGENT in per_user:
        a = [u[head] for u in per_user[AGENT]]
        for system in order:
            if system == AGENT:
                continue
            b = [u[head] for u in per_user[system]]
            d, lo, hi = M.paired_bootstrap_ci(a, b, **BOOTSTRAP)  # type: ignore[arg-type]
            ci["agent_minus"][system] = {"diff": d, "low": lo, "high": hi, "n_users": len(a)}
    final["ci"] = ci
    if AGENT in per_user and len(order) > 1:
        final["failures_removed"] = failures_removed(per_user, head)
    latencies = [float(t.get("latency_ms") or 0.0) for r in records for t in r.get("turns") or []]
    calls = [float(t.get("llm_calls") or 0) for r in records for t in r.get("turns") or []]
    leaks = [
        {"user_id": int(r["user_id"]), "turn": t, "item_id": int(i)}
        for r in records
        for t, turn in enumerate(r.get("turns") or [])
        for i in turn.get("leaks") or ()
    ]
    lat = np.asarray(latencies) if latencies else np.zeros(1)
    return {
        "protocol": "target",
        "final": final,
        "per_turn": per_turn,
        "intervals": _bands(success) if records else {},
        "groups": {
            "agent": [AGENT] if AGENT in final else [],
            "peers": [s for s in TARGET_PEERS if s in final],
            "oracles": [],
        },
        "n_users": len(records),
        "turns": T,
        "k": k,
        "leakage": {"count": len(leaks), "examples": leaks[:20]},
        "latency_ms": {
            "mean": float(lat.mean()),
            "p50": float(np.percentile(lat, 50)),
            "p95": float(np.percentile(lat, 95)),
            "max": float(lat.max()),
        },
        "llm_calls": {
            "total": float(sum(calls)),
            "per_turn": float(np.mean(calls)) if calls else 0.0,
        },
        "errors": int(sum(1 for r in records for t in r.get("turns") or [] if t.get("error"))),
    }


__all__ = ["TARGET_HEADLINE", "failures_removed", "score_target_records", "system_lists"]
