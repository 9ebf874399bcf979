"""Scores of an intent-protocol run: every system against the held-out liked items (recall_cum@k)
and against those of tonight's kind (recall_cum@k_intent), users without an intent reported apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from genrec.data import Catalog
from genrec.evaluation.protocols.intent import MIN_ITEMS, Intent, intent_items
from genrec.evaluation.protocols.scoring import INTENT_HEADLINE, UserTruth, score_records

INTENT_NOTES = (
    "Intent protocol: each simulated user wants one kind of film tonight: the genre (and, when it is "
    f"sharper, the decade) covering the most of its held-out liked items, at least {MIN_ITEMS} of them. "
    "It reveals it at once, only when asked, or only through reactions to shown lists (\"not in the "
    "mood for a comedy tonight\"), in genre and decade words; titles it names come from its training "
    "ratings. Headline: recall_cum@10_intent (held-out liked items of tonight's kind among everything "
    "shown), with recall_cum@10 over all held-out liked items; the bar is constrained_fold_in, the "
    "peer that obeys everything said. Users with no such genre have no intent and are reported apart.",
)
"""The intent protocol in a few sentences, printed in its reports."""

GROUP_METRICS = (INTENT_HEADLINE, "success_intent", "recall_cum@{k}", "success", "understood_liked",
                 "misread_disliked", "understood_avoided")
"""The final-turn metrics shown per group of users (reveal style, phrasing source); the last three
are the agent's understanding of what the users said."""


def score_intent_records(
    records: Sequence[Mapping[str, Any]],
    user_truths: Mapping[int, UserTruth],
    catalog: Catalog,
    *,
    k: int = 10,
    turns: int | None = None,
) -> dict[str, Any]:
    """metrics.json of an intent run: `score_records` over the users with an intent (adding the
    intent metrics and ``final.ci_intent``), ``no_intent`` for the others, ``by_reveal`` per style."""
    with_intent = [r for r in records if Intent.from_dict(r.get("intent")) is not None]
    without = [r for r in records if Intent.from_dict(r.get("intent")) is None]
    relevant = _intent_relevant(with_intent, user_truths, catalog)
    metrics = score_records(
        with_intent, user_truths, catalog, k=k, turns=turns, intent_relevant=relevant
    )
    metrics["no_intent"] = (
        {
            "n_users": len(without),
            "final": score_records(without, user_truths, catalog, k=k, turns=turns)["final"],
        }
        if without
        else {"n_users": 0}
    )
    metrics["by_reveal"] = groups(with_intent, lambda r: str((r.get("intent") or {}).get("reveal")),
                                  user_truths, catalog, k=k, turns=turns)
    metrics["by_phrasing"] = groups(
        with_intent, phrasing_of, user_truths, catalog, k=k, turns=turns
    )
    return metrics


def phrasing_of(record: Mapping[str, Any]) -> str:
    """Which words a transcript's simulated user spoke (real, template, llm, custom)."""
    return str(record.get("phrasing") or "template")


def groups(
    records: Sequence[Mapping[str, Any]],
    key: Callable[[Mapping[str, Any]], str],
    user_truths: Mapping[int, UserTruth],
    catalog: Catalog,
    *,
    k: int = 10,
    turns: int | None = None,
    intent: bool = True,
) -> dict[str, Any]:
    """Per group of users (by `key`): its size and each system's final `GROUP_METRICS` (those it has;
    without `intent`, the taste protocol's)."""
    by: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        by.setdefault(key(r), []).append(r)
    out: dict[str, Any] = {}
    names = [m.format(k=k) for m in GROUP_METRICS]
    for name, recs in sorted(by.items()):
        relevant = _intent_relevant(recs, user_truths, catalog) if intent else None
        scored = score_records(
            recs, user_truths, catalog, k=k, turns=turns, intent_relevant=relevant, bootstrap=False
        )
        finals = {s: {m: v[m] for m in names if v.get(m) is not None}
                  for s, v in scored["final"].items() if not s.startswith("ci")}
        out[name] = {"n_users": len(recs), "final": finals}
    return out


def _intent_relevant(records: Sequence[Mapping[str, Any]], user_truths: Mapping[int, UserTruth],
                     catalog: Catalog) -> dict[int, set[int]]:
    return {
        int(r["user_id"]): intent_items(
            user_truths[int(r["user_id"])].relevant, Intent.from_dict(r.get("intent")), catalog
        )
        for r in records
    }


__all__ = ["GROUP_METRICS", "INTENT_NOTES", "groups", "phrasing_of", "score_intent_records"]
