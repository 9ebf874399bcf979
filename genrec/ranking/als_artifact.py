"""ALS factors (from any engine) as the ranker artifact `MFRanker.load` reads, and their
validation scores: NDCG@k over every unrated item, RMSE over held-out ratings (numpy only).

Explicit ALS: predicted rating = u . v. Implicit ALS: preference s = u . v, mapped to ratings by
`a * s + c_u` (a >= 0 fitted on the training ratings; c_u each user's mean residual, lowered when
needed so the user's best item stays inside the scale): the ranking is exactly ALS's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from genrec.data import Ratings
from genrec.ranking.weights import MFWeights

#: Items a conversation names, about: the fold-in ridge weight is regParam x this (ALS-WR's
#: per-user weight is regParam x the user's rating count).
FOLD_IN_ITEMS = 10
_CHUNK = 4096


@dataclass(frozen=True)
class ALSFactors:
    """What an ALS fit learned: sorted ids and one factor row per id."""

    user_ids: np.ndarray  # (n_users,) int64, sorted
    user_factors: np.ndarray  # (n_users, rank) float32
    item_ids: np.ndarray  # (n_items,) int64, sorted
    item_factors: np.ndarray  # (n_items, rank) float32

    def aligned(self, users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(user rows, item rows) for these sorted ids; ids the fit never saw get the mean row."""
        return _rows(self.user_ids, self.user_factors, users), _rows(
            self.item_ids, self.item_factors, items
        )


def _rows(ids: np.ndarray, factors: np.ndarray, want: np.ndarray) -> np.ndarray:
    out = np.broadcast_to(factors.mean(axis=0), (len(want), factors.shape[1])).astype(np.float32)
    pos = np.searchsorted(ids, want)
    pos = np.minimum(pos, max(len(ids) - 1, 0))
    hit = ids[pos] == want if len(ids) else np.zeros(len(want), bool)
    out[hit] = factors[pos[hit]]
    return out


def _codes(ratings: Ratings, users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (np.searchsorted(users, ratings.df["user"].to_numpy()),
            np.searchsorted(items, ratings.df["item"].to_numpy()))


def ndcg_at_k(factors: ALSFactors, train: Ratings, test: Ratings, *, k: int = 10,
              threshold: float | None = None, max_users: int = 5000, seed: int = 0) -> float:
    """Mean NDCG@k over test users with a relevant item (test rating >= threshold, by default
    three quarters up the scale: 4 on 1-5), ranking every item the user did not rate in `train`
    (the `genrec eval ranker` protocol); at most `max_users` users, a seeded sample."""
    lo, hi = train.scale
    threshold = lo + 0.75 * (hi - lo) if threshold is None else threshold
    rel = test.df[test.df["rating"] >= threshold]
    users = np.unique(rel["user"].to_numpy())
    if len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    items = np.union1d(
        np.unique(train.df["item"].to_numpy()), np.unique(test.df["item"].to_numpy())
    )
    uf, itf = factors.aligned(users, items)
    tdf = train.df[train.df["user"].isin(users)]
    seen = sp.csr_matrix(
        (np.ones(len(tdf), bool), _codes(Ratings(tdf, scale=train.scale), users, items)),
        shape=(len(users), len(items)),
    )
    rdf = rel[rel["user"].isin(users)]
    relevant = sp.csr_matrix(
        (np.ones(len(rdf), bool), _codes(Ratings(rdf, scale=train.scale), users, items)),
        shape=(len(users), len(items)),
    )
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    total = 0.0
    for s in range(0, len(users), _CHUNK):
        scores = uf[s:s + _CHUNK] @ itf.T
        block = seen[s:s + _CHUNK]
        scores[block.nonzero()] = -np.inf
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(scores, top, 1).argsort(axis=1)[:, ::-1]
        top = np.take_along_axis(top, order, 1)
        rel_block = relevant[s:s + _CHUNK]
        hits = np.asarray(rel_block[np.arange(len(top))[:, None], top].todense(), dtype=float)
        n_rel = np.minimum(np.asarray(rel_block.sum(axis=1)).ravel(), k).astype(int)
        idcg = np.cumsum(disc)[n_rel - 1]
        total += float((hits @ disc / idcg).sum())
    return total / max(len(users), 1)


def rmse(factors: ALSFactors, test: Ratings) -> float:
    """RMSE of u . v against held-out ratings (pairs with an unseen user or item left out)."""
    u, i = test.df["user"].to_numpy(), test.df["item"].to_numpy()
    keep = np.isin(u, factors.user_ids) & np.isin(i, factors.item_ids)
    uf = factors.user_factors[np.searchsorted(factors.user_ids, u[keep])]
    itf = factors.item_factors[np.searchsorted(factors.item_ids, i[keep])]
    err = np.einsum("ij,ij->i", uf, itf) - test.df["rating"].to_numpy()[keep]
    return float(np.sqrt(np.mean(err ** 2))) if len(err) else float("nan")


def als_weights(factors: ALSFactors, train: Ratings, items: np.ndarray | None, *, implicit: bool,
                reg: float) -> tuple[MFWeights, dict[str, float]]:
    """The `MFWeights` of an ALS fit (no EASE part) and the calibration it used.

    `items`: every item id the ranker should know (catalog ids); unrated ones get the mean item
    row. Rating-space: H = item factors, w_u = a * user factors, b_u = shift + c_u.
    """
    lo, hi = train.scale
    shift = 1.0 - lo
    users = np.unique(train.df["user"].to_numpy()).astype(np.int64)
    item_ids = np.unique(train.df["item"].to_numpy()).astype(np.int64)
    if items is not None:
        item_ids = np.union1d(item_ids, np.asarray(items, dtype=np.int64))
    uf, itf = factors.aligned(users, item_ids)
    u, i = _codes(train, users, item_ids)
    r = train.df["rating"].to_numpy(np.float64)
    s = np.einsum("ij,ij->i", uf[u], itf[i]).astype(np.float64)
    a, c = 1.0, np.zeros(len(users))
    if implicit:
        x = s - s.mean()
        a = max(float(x @ (r - r.mean()) / max(float(x @ x), 1e-12)), 1e-3)
        resid = r - a * s
        sums, counts = np.bincount(u, resid, len(users)), np.bincount(u, minlength=len(users))
        c = (sums + resid.mean() * 5.0) / (counts + 5.0)  # shrunk towards the global residual
        best = np.empty(len(users))
        for st in range(0, len(users), _CHUNK):
            best[st:st + _CHUNK] = (uf[st:st + _CHUNK] @ itf.T).max(axis=1)
        c = np.minimum(c, hi - 1e-3 - a * best)
    weights = MFWeights(
        user_ids=users, item_ids=item_ids, item_codes=itf.astype(np.float32),
        user_factors=(a * uf).astype(np.float32), user_bias=(c + shift).astype(np.float32),
        train=sp.csr_matrix((r.astype(np.float32) + np.float32(shift), (u, i)),
                            shape=(len(users), len(item_ids)), dtype=np.float32),
        popularity=np.bincount(i, minlength=len(item_ids)).astype(np.int64))
    return weights, {"slope": round(a, 6), "effective_reg": reg * FOLD_IN_ITEMS}
