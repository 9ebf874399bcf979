"""Offline metrics: rating error (RMSE, MAE), top-N accuracy (P/R/NDCG/MAP/MRR/HR@k), and
beyond-accuracy measures (catalog coverage, novelty, intra-list diversity), bootstrap intervals
and a latency summary, vectorised with numpy.

Conventions (every function follows them):

* Relevance is binary: an item is relevant when it is in the ``relevant`` set.
* Per-list functions take ``(ranked, relevant, k)``: ``ranked`` is the ranked item ids, best
  first (only the first ``k`` count; duplicates after the first occurrence never count as hits),
  ``relevant`` the set of relevant ids. A list with no relevant items scores 0.
* ``topn_metrics`` averages the per-list values over users that have at least one relevant item,
  which is what the evaluation protocol reports.

Definitions (``hits`` = relevant items among the first ``k``, ``R`` = ``|relevant|``):

* precision@k = hits / k; recall@k = hits / R; hit_rate@k = 1 if hits > 0.
* ndcg@k = DCG / IDCG with DCG = sum over relevant positions p (1-based) of 1 / log2(p + 1) and
  IDCG the DCG of min(R, k) relevant items in the first positions.
* average precision@k (map@k when averaged) = sum over hit positions p of precision@p, divided
  by min(R, k).
* mrr (reciprocal rank) = 1 / position of the first relevant item within the first k, else 0.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "average_precision_at_k",
    "bootstrap_ci",
    "catalog_coverage",
    "cumulative_recall",
    "first_hit_turn",
    "hit_rate_at_k",
    "intra_list_diversity",
    "latency_summary",
    "mae",
    "map_at_k",
    "mrr",
    "ndcg_at_k",
    "novelty",
    "paired_bootstrap_ci",
    "precision_at_k",
    "recall_at_k",
    "rmse",
    "topn_metrics",
]


# --------------------------------------------------------------------------- rating error


def _pair(predicted: Iterable[float], actual: Iterable[float]) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(predicted, dtype=np.float64).ravel()
    a = np.asarray(actual, dtype=np.float64).ravel()
    if p.shape != a.shape:
        raise ValueError(f"predicted has {p.size} values but actual has {a.size}; they must match")
    if p.size == 0:
        raise ValueError("no ratings to score: predicted and actual are empty")
    if not (np.isfinite(p).all() and np.isfinite(a).all()):
        raise ValueError("predicted or actual contains NaN or infinity")
    return p, a


def rmse(predicted: Iterable[float], actual: Iterable[float]) -> float:
    """Root mean squared error between predicted and actual ratings."""
    p, a = _pair(predicted, actual)
    return float(np.sqrt(np.mean((p - a) ** 2)))


def mae(predicted: Iterable[float], actual: Iterable[float]) -> float:
    """Mean absolute error between predicted and actual ratings."""
    p, a = _pair(predicted, actual)
    return float(np.mean(np.abs(p - a)))


# --------------------------------------------------------------------------- per-list top-N


def _check_k(k: int) -> int:
    if int(k) < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return int(k)


def _hits(ranked: Sequence[int], relevant: Collection[int], k: int) -> np.ndarray:
    """Boolean hit vector over the first k positions (repeated ids count once)."""
    k = _check_k(k)
    top = np.asarray(list(ranked)[:k], dtype=np.int64)
    if top.size == 0 or not relevant:
        return np.zeros(top.size, dtype=bool)
    first = np.zeros(top.size, dtype=bool)
    first[np.unique(top, return_index=True)[1]] = True
    return np.isin(top, np.fromiter(relevant, dtype=np.int64, count=len(relevant))) & first


def precision_at_k(ranked: Sequence[int], relevant: Collection[int], k: int = 10) -> float:
    """Share of the first k positions holding a relevant item (the denominator is always k)."""
    return float(_hits(ranked, relevant, k).sum() / _check_k(k))


def recall_at_k(ranked: Sequence[int], relevant: Collection[int], k: int = 10) -> float:
    """Share of the relevant items found in the first k positions (0 when nothing is relevant)."""
    if not relevant:
        return 0.0
    return float(_hits(ranked, relevant, k).sum() / len(relevant))


def hit_rate_at_k(ranked: Sequence[int], relevant: Collection[int], k: int = 10) -> float:
    """1.0 when at least one relevant item is in the first k positions, else 0.0."""
    return float(_hits(ranked, relevant, k).any())


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def ndcg_at_k(ranked: Sequence[int], relevant: Collection[int], k: int = 10) -> float:
    """Binary-relevance NDCG@k with the log2(position + 1) discount; IDCG over min(|relevant|,
    k)."""
    h = _hits(ranked, relevant, k)
    if not relevant:
        return 0.0
    d = _discounts(_check_k(k))
    idcg = d[: min(len(relevant), k)].sum()
    return float((h * d[: h.size]).sum() / idcg)


def average_precision_at_k(ranked: Sequence[int], relevant: Collection[int], k: int = 10) -> float:
    """Average precision over the first k positions, normalised by min(|relevant|, k)."""
    h = _hits(ranked, relevant, k)
    if not relevant or not h.any():
        return 0.0
    prec = np.cumsum(h) / np.arange(1, h.size + 1)
    return float((prec * h).sum() / min(len(relevant), _check_k(k)))


map_at_k = average_precision_at_k
"""Per-list alias of `average_precision_at_k`; averaged over users by `topn_metrics` it is MAP@k."""


def mrr(ranked: Sequence[int], relevant: Collection[int], k: int = 10) -> float:
    """Reciprocal rank of the first relevant item within the first k positions (0 if none);
    averaged over users by `topn_metrics` it is MRR@k."""
    h = _hits(ranked, relevant, k)
    idx = np.flatnonzero(h)
    return float(1.0 / (idx[0] + 1)) if idx.size else 0.0


# --------------------------------------------------------------------------- batch top-N


def _hit_matrix(
    ranked: Mapping[Any, Sequence[int]], relevant: Mapping[Any, Collection[int]], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """(users x k) boolean hit matrix and |relevant| per user, for users with >= 1 relevant item."""
    users = [u for u, rel in relevant.items() if len(rel) > 0]
    hits = np.zeros((len(users), k), dtype=bool)
    n_rel = np.zeros(len(users), dtype=np.float64)
    for row, u in enumerate(users):
        h = _hits(ranked.get(u, ()), relevant[u], k)
        hits[row, : h.size] = h
        n_rel[row] = len(relevant[u])
    return hits, n_rel


def topn_metrics(
    ranked: Mapping[Any, Sequence[int]],
    relevant: Mapping[Any, Collection[int]],
    k: int = 10,
) -> dict[str, float]:
    """Mean precision, recall, NDCG, MAP, MRR and hit rate at k over users with a relevant item.

    Args:
        ranked: user -> ranked item ids, best first (a missing user counts as an empty list).
        relevant: user -> relevant item ids; users with none are skipped (not counted as zeros).
        k: list length that counts.

    Returns:
        ``{"precision@k", "recall@k", "ndcg@k", "map@k", "mrr@k", "hit_rate@k": float,
        "users": number of users averaged over}`` (k written as a number, e.g. ``"ndcg@10"``).

    >>> topn_metrics({1: [5, 6]}, {1: {6}}, k=2)["mrr@2"]
    0.5
    """
    k = _check_k(k)
    hits, n_rel = _hit_matrix(ranked, relevant, k)
    names = ("precision", "recall", "ndcg", "map", "mrr", "hit_rate")
    if hits.shape[0] == 0:
        return {**{f"{n}@{k}": 0.0 for n in names}, "users": 0.0}
    n_hits = hits.sum(axis=1)
    d = _discounts(k)
    ideal = np.minimum(n_rel, k).astype(int)
    idcg = np.concatenate([[0.0], np.cumsum(d)])[ideal]
    prec_at = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    first = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, np.inf)
    values = {
        "precision": n_hits / k,
        "recall": n_hits / n_rel,
        "ndcg": (hits * d).sum(axis=1) / idcg,
        "map": (prec_at * hits).sum(axis=1) / np.minimum(n_rel, k),
        "mrr": 1.0 / first,
        "hit_rate": (n_hits > 0).astype(np.float64),
    }
    out = {f"{n}@{k}": float(values[n].mean()) for n in names}
    out["users"] = float(hits.shape[0])
    return out


# --------------------------------------------------------------------------- beyond accuracy


def _lists(ranked: Mapping[Any, Sequence[int]] | Iterable[Sequence[int]]) -> list[Sequence[int]]:
    return list(ranked.values()) if isinstance(ranked, Mapping) else list(ranked)


def catalog_coverage(
    ranked: Mapping[Any, Sequence[int]] | Iterable[Sequence[int]],
    catalog_size: int,
    k: int = 10,
) -> float:
    """Share of the catalog that appears in at least one top-k list."""
    if catalog_size < 1:
        raise ValueError(f"catalog_size must be at least 1, got {catalog_size}")
    k = _check_k(k)
    seen = {int(i) for lst in _lists(ranked) for i in list(lst)[:k]}
    return len(seen) / catalog_size


def novelty(
    ranked: Mapping[Any, Sequence[int]] | Iterable[Sequence[int]],
    popularity: Mapping[int, int],
    n_users: int,
    k: int = 10,
) -> float:
    """Mean self-information -log2(share) of recommended items, over every top-k slot.

    ``share`` is the fraction of the ``n_users`` training users who rated the item
    (``popularity[item] / n_users``); an item nobody rated counts as rated once, so its
    novelty is log2(n_users), the largest possible value. Higher is more novel.
    """
    if n_users < 1:
        raise ValueError(f"n_users must be at least 1, got {n_users}")
    k = _check_k(k)
    items = np.fromiter((int(i) for lst in _lists(ranked) for i in list(lst)[:k]), dtype=np.int64)
    if items.size == 0:
        return 0.0
    counts = np.array([max(int(popularity.get(int(i), 0)), 1) for i in items], dtype=np.float64)
    share = np.minimum(counts / n_users, 1.0)
    return float(np.mean(-np.log2(share)))


def _pairwise_mean(dist: np.ndarray) -> float:
    n = dist.shape[0]
    if n < 2:
        return 0.0
    iu = np.triu_indices(n, k=1)
    return float(dist[iu].mean())


def intra_list_diversity(
    ranked: Sequence[int],
    features: Mapping[int, Any],
    k: int = 10,
) -> float:
    """Mean pairwise distance between the first k items of one list (0 for fewer than 2 items).

    The distance depends on the features given per item id:

    * numeric vectors (e.g. item embeddings): cosine distance ``1 - cos(a, b)``;
    * collections of strings (e.g. genres): Jaccard distance ``1 - |A & B| / |A | B|``
      (two items with no genres at all are at distance 0).

    Items missing from ``features`` are skipped. Average over lists for a system-level value.
    """
    k = _check_k(k)
    ids = [int(i) for i in list(dict.fromkeys(list(ranked)[:k])) if int(i) in features]
    if len(ids) < 2:
        return 0.0
    sample = features[ids[0]]
    if isinstance(sample, (set, frozenset, tuple, list)) and all(
        isinstance(g, str) for g in sample
    ):
        vocab = sorted({g for i in ids for g in features[i]})
        pos = {g: j for j, g in enumerate(vocab)}
        m = np.zeros((len(ids), max(len(vocab), 1)), dtype=np.float64)
        for r, i in enumerate(ids):
            for g in features[i]:
                m[r, pos[g]] = 1.0
        inter = m @ m.T
        sizes = m.sum(axis=1)
        union = sizes[:, None] + sizes[None, :] - inter
        with np.errstate(invalid="ignore", divide="ignore"):
            dist = np.where(union > 0, 1.0 - inter / union, 0.0)
        return _pairwise_mean(dist)
    v = np.stack([np.asarray(features[i], dtype=np.float64).ravel() for i in ids])
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    v = v / np.where(norms > 0, norms, 1.0)
    return _pairwise_mean(1.0 - v @ v.T)


# --------------------------------------------------------------------------- over turns


def cumulative_recall(
    shown: Sequence[Sequence[int]], relevant: Collection[int], k: int = 10
) -> list[float]:
    """Per turn, the share of the relevant items among every distinct item shown so far (the first
    k of each turn's list count): Preference Coverage, ``recall_cum@k``.

    >>> cumulative_recall([[1, 2], [3, 9]], {3, 9, 7, 8})
    [0.0, 0.5]
    """
    k = _check_k(k)
    rel = {int(i) for i in relevant}
    got: set[int] = set()
    out = []
    for lst in shown:
        got |= {int(i) for i in list(lst)[:k]}
        out.append(len(got & rel) / len(rel) if rel else 0.0)
    return out


def first_hit_turn(shown: Sequence[Sequence[int]], relevant: Collection[int], k: int = 10) -> int:
    """The 1-based turn whose list (first k) first holds a relevant item; len(shown) + 1 when none.

    >>> first_hit_turn([[1], [2, 5], [5]], {5}), first_hit_turn([[1], [2]], {5})
    (2, 3)
    """
    k = _check_k(k)
    rel = {int(i) for i in relevant}
    for t, lst in enumerate(shown, 1):
        if rel & {int(i) for i in list(lst)[:k]}:
            return t
    return len(shown) + 1


def bootstrap_ci(values: Sequence[float] | np.ndarray, *, resamples: int = 2000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the mean and its percentile bootstrap interval over the values (users).

    Seeded, so the same values give the same interval; one value gives (v, v, v).

    >>> bootstrap_ci([1.0, 1.0, 1.0])
    (1.0, 1.0, 1.0)
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("no values to bootstrap")
    if resamples < 1 or not 0 < level < 1:
        raise ValueError(f"resamples must be >= 1 and level in (0, 1), got {resamples}, {level}")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(resamples, v.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return float(v.mean()), float(lo), float(hi)


def paired_bootstrap_ci(
    a: Sequence[float],
    b: Sequence[float],
    *,
    resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """(mean difference, low, high) of a - b over paired values (the same users resampled together).

    >>> paired_bootstrap_ci([1.0, 0.75], [0.5, 0.25])
    (0.5, 0.5, 0.5)
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(
            f"paired values differ in length ({x.size} vs {y.size}); pair them per user"
        )
    return bootstrap_ci(x - y, resamples=resamples, seed=seed, level=level)


def latency_summary(latencies: Sequence[float]) -> dict[str, float]:
    """Mean, median, 95th percentile and maximum of the agent's per-turn latencies in ms (zeros
    when there are none)."""
    lat = np.asarray(latencies) if latencies else np.zeros(1)
    return {
        "mean": float(lat.mean()),
        "p50": float(np.percentile(lat, 50)),
        "p95": float(np.percentile(lat, 95)),
        "max": float(lat.max()),
    }
