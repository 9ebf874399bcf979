"""The intent protocol: tonight's intent of a simulated user (the genre, and when sharper the
decade, covering the most of its held-out liked items), how the user reveals it, and the run's
scores.

The intent is chosen by the scorer's side from held-out ratings; the simulated user only ever
writes genre and decade words, never a held-out title (the leakage guard is unchanged). Scores:
every system against the held-out liked items (recall_cum@k) and against those of tonight's kind
(recall_cum@k_intent), users without an intent reported apart.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from genrec.data import Catalog, Item
from genrec.evaluation.protocols.taste import INTENT_HEADLINE, UserTruth, score_records

MIN_ITEMS = 3
"""An intent must cover at least this many held-out liked items."""
DECADE_SHARE = 0.6
"""A decade sharpens the intent when it still covers this share of the genre's items (and
MIN_ITEMS)."""

Reveal = Literal["at_once", "when_asked", "reactions"]
REVEALS: tuple[Reveal, ...] = ("at_once", "when_asked", "reactions")
DEFAULT_REVEAL_SHARES: Mapping[str, float] = {"at_once": 0.5, "when_asked": 0.3, "reactions": 0.2}
"""How users reveal tonight's intent when no measured behaviour mix is given: at once (in the
opener), only when asked, or only through reactions to shown lists."""


@dataclass(frozen=True)
class Intent:
    """What a user wants tonight: a genre, maybe a decade (1980 = the 1980s).

    >>> it = Intent("Comedy", 1980, 4)
    >>> (it.matches(Item(1, "Airplane!", 1980, ("Comedy",))),
    ...  it.matches(Item(2, "Big", 1988, ("Drama",))))
    (True, False)
    >>> it.to_dict()
    {'genre': 'Comedy', 'decade': 1980, 'n_items': 4}
    """

    genre: str
    decade: int | None = None
    n_items: int = 0
    """Held-out liked items it covers (the scorer's figure; the simulated user never sees it)."""

    def matches(self, item: Item | None) -> bool:
        """Is an item of tonight's kind (the genre, and the decade when there is one)?"""
        if item is None or self.genre not in item.genres:
            return False
        return self.decade is None or (
            item.year is not None and self.decade <= item.year < self.decade + 10
        )

    def to_dict(self) -> dict[str, Any]:
        return {"genre": self.genre, "decade": self.decade, "n_items": self.n_items}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Intent | None:
        if not d or not d.get("genre"):
            return None
        return cls(str(d["genre"]), d.get("decade"), int(d.get("n_items") or 0))


def intent_for(
    liked_held_out: Iterable[int], catalog: Catalog, *, min_items: int = MIN_ITEMS
) -> Intent | None:
    """Tonight's intent from a user's held-out liked items (None: no genre covers `min_items`).

    The genre covering the most items wins (ties: the genre with fewer catalog items, the sharper
    one, then by name); a decade is added when it covers at least `min_items` and `DECADE_SHARE`
    of the genre's items.

    >>> cat = Catalog([Item(i, f"T{i}", 1980 + i % 3, ("Comedy",) if i < 5 else ("Drama",))
    ...                for i in range(1, 9)])
    >>> intent_for([1, 2, 3, 4, 5], cat)
    Intent(genre='Comedy', decade=1980, n_items=4)
    >>> intent_for([5, 6], cat) is None
    True
    """
    items = [catalog[i] for i in dict.fromkeys(int(i) for i in liked_held_out) if i in catalog]
    per_genre = Counter(g for it in items for g in it.genres)
    size = Counter(g for it in catalog for g in it.genres)
    ranked = sorted((g for g, n in per_genre.items() if n >= min_items),
                    key=lambda g: (-per_genre[g], size[g], g))
    if not ranked:
        return None
    genre = ranked[0]
    n = per_genre[genre]
    decades = Counter((it.year // 10) * 10 for it in items if genre in it.genres and it.year)
    if decades:
        decade, m = min(decades.items(), key=lambda kv: (-kv[1], -kv[0]))
        if m >= min_items and m >= DECADE_SHARE * n:
            return Intent(genre, decade, m)
    return Intent(genre, None, n)


def intent_items(relevant: Iterable[int], intent: Intent | None, catalog: Catalog) -> set[int]:
    """The relevant held-out items of tonight's kind (empty without an intent)."""
    if intent is None:
        return set()
    return {int(i) for i in relevant if intent.matches(catalog.get(int(i)))}


def reveal_for(seed: int, user_id: int, shares: Mapping[str, float] | None = None) -> Reveal:
    """How one user reveals its intent, drawn with `shares` (seeded, stable across processes).

    >>> from collections import Counter
    >>> c = Counter(reveal_for(0, u) for u in range(1000))
    >>> 430 < c["at_once"] < 570 and 230 < c["when_asked"] < 370
    True
    """
    shares = dict(shares or DEFAULT_REVEAL_SHARES)
    total = sum(max(0.0, float(shares.get(r, 0.0))) for r in REVEALS) or 1.0
    h = hashlib.sha256(f"genrec-intent:{seed}:{user_id}".encode()).digest()
    x = int.from_bytes(h[:8], "big") / 2**64 * total
    for r in REVEALS:
        x -= max(0.0, float(shares.get(r, 0.0)))
        if x < 0:
            return r
    return REVEALS[-1]


INTENT_NOTES = (
    "Intent protocol: each simulated user wants one kind of film tonight: the genre (and, when "
    "it is "
    f"sharper, the decade) covering the most of its held-out liked items, at least {MIN_ITEMS} "
    "of them. "
    "It reveals it at once, only when asked, or only through reactions to shown lists (\"not in "
    "the "
    "mood for a comedy tonight\"), in genre and decade words; titles it names come from its "
    "training "
    "ratings. Headline: recall_cum@10_intent (held-out liked items of tonight's kind among "
    "everything "
    "shown), with recall_cum@10 over all held-out liked items; the bar is constrained_fold_in, the "
    "peer that obeys everything said. Users with no such genre have no intent and are reported "
    "apart.",
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
    intent metrics and ``final.ci_intent``), ``no_intent`` for the others, ``by_reveal`` per
    style."""
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
    """Per group of users (by `key`): its size and each system's final `GROUP_METRICS` (those it
    has; without `intent`, the taste protocol's)."""
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


__all__ = [
    "DECADE_SHARE",
    "DEFAULT_REVEAL_SHARES",
    "GROUP_METRICS",
    "groups",
    "Intent",
    "intent_for",
    "intent_items",
    "INTENT_NOTES",
    "MIN_ITEMS",
    "phrasing_of",
    "Reveal",
    "reveal_for",
    "REVEALS",
    "score_intent_records",
]
