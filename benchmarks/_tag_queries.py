"""Search by the words people use: viewer tags as queries, with and without tags in the item text.

Protocol (seeded, one run): every tag given to at least `min_items` items of the catalog, and not
just a genre's name, is a query, written as the tag ("twist ending"). For each such tag half of its
items (seeded) are held out: the tag is removed from their text, and they are what the query should
find; the other half keep it and are left out of the ranking (they are known to carry the word).
Two indexes over the same catalog are searched: with the remaining tags in the item text and with
no tags at all; recall@10, NDCG@10 and hit@10 of the held-out items are averaged over the queries.
Cold items (rated by at most `cold_max` users, so the ranker barely knows them) are searched by
their title and by their first tag: the share found in the top 10 says whether search reaches them.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import numpy as np

from genrec.data import Catalog, Dataset, Item
from genrec.retrieval import ChromaStore, SearchFilters


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def query_tags(
    catalog: Catalog, *, min_items: int, seed: int
) -> dict[str, tuple[list[int], list[int]]]:
    """tag -> (held-out item ids, kept item ids), for tags on >= min_items items that are not a
    genre's name."""
    genres = {_norm(g) for g in catalog.genres} | {"sci fi", "science fiction", "animated"}
    by_tag: dict[str, list[int]] = {}
    for it in catalog:
        for tag, _ in it.tags:
            by_tag.setdefault(tag, []).append(it.item_id)
    rng = np.random.default_rng(seed)
    out = {}
    for tag in sorted(by_tag):
        ids = sorted(by_tag[tag])
        if len(ids) < min_items or _norm(tag) in genres:
            continue
        held = set(rng.choice(ids, size=len(ids) // 2, replace=False).tolist())
        out[tag] = (sorted(held), [i for i in ids if i not in held])
    return out


def with_tags(dataset: Dataset, drop: set[tuple[int, str]] | None) -> Dataset:
    """The dataset with the (item, tag) pairs in `drop` removed from item text; `drop=None`: every
    tag removed."""
    items = []
    for it in dataset.catalog:
        tags = [] if drop is None else [[t, n] for t, n in it.tags if (it.item_id, t) not in drop]
        extra = {k: v for k, v in it.extra.items() if k != "tags"}
        if tags:
            extra["tags"] = tags
        items.append(dataclasses.replace(it, extra=extra))
    cat = Catalog(items, name=dataset.catalog.name, item_noun=dataset.catalog.item_noun)
    return Dataset(dataset.name, cat, dataset.ratings)


def _ndcg(ranked: list[int], relevant: set[int], k: int) -> float:
    dcg = sum(1 / np.log2(r + 2) for r, i in enumerate(ranked[:k]) if i in relevant)
    ideal = sum(1 / np.log2(r + 2) for r in range(min(k, len(relevant))))
    return float(dcg / ideal) if ideal else 0.0


def score_queries(store: ChromaStore, queries: dict[str, tuple[list[int], list[int]]], k: int = 10
                  ) -> dict[str, Any]:
    """Mean recall@k, NDCG@k and hit@k of each tag's held-out items (its kept items excluded)."""
    rows = []
    for tag, (held, kept) in queries.items():
        ranked = [r.item.item_id for r in store.search(tag, k, SearchFilters(exclude_ids=kept))]
        rel = set(held)
        hits = len(rel & set(ranked))
        rows.append((hits / min(k, len(rel)), _ndcg(ranked, rel, k), float(hits > 0)))
    m = np.asarray(rows) if rows else np.zeros((0, 3))
    return {
        f"recall@{k}": round(float(m[:, 0].mean()), 4),
        f"ndcg@{k}": round(float(m[:, 1].mean()), 4),
        f"hit@{k}": round(float(m[:, 2].mean()), 4),
        "queries": len(rows),
    }


def cold_items(dataset: Dataset, cold_max: int) -> list[Item]:
    counts = dataset.ratings.item_counts()
    return [it for it in dataset.catalog if counts.get(it.item_id, 0) <= cold_max]


def cold_reach(store: ChromaStore, cold: list[Item], k: int = 10) -> dict[str, Any]:
    """Share of cold items in the top k when searched by their title, and (those with tags) by
    their first tag."""
    by_title = [any(r.item.item_id == it.item_id for r in store.search(it.title, k)) for it in cold]
    tagged = [it for it in cold if it.tags]
    by_tag = [
        any(r.item.item_id == it.item_id for r in store.search(it.tags[0][0], k)) for it in tagged
    ]
    return {
        "cold_items": len(cold),
        f"found_by_title@{k}": round(float(np.mean(by_title)), 4) if cold else None,
        "tagged_cold_items": len(tagged),
        f"found_by_first_tag@{k}": round(float(np.mean(by_tag)), 4) if tagged else None,
    }
