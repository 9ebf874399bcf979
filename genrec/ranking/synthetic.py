"""Synthetic explicit ratings for scale runs: power-law item popularity and user activity,
MovieLens-like density, ratings from a low-rank taste model on a 1-5 star scale.

Sizes default to MovieLens proportions (1M ratings: ~6k users x ~3.7k items; 10M: ~61k x ~11.7k).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genrec.data import Ratings


def default_shape(n_ratings: int) -> tuple[int, int]:
    """(users, items) with MovieLens proportions: ~165 ratings per user, items ~ 3.7
    sqrt(ratings)."""
    n_users = max(2, int(round(n_ratings / 165)))
    n_items = max(2, int(round(3.7 * np.sqrt(n_ratings))))
    return n_users, n_items


def synthetic_ratings(
    n_ratings: int,
    *,
    n_users: int | None = None,
    n_items: int | None = None,
    item_exponent: float = 0.9,
    user_sigma: float = 1.0,
    factors: int = 8,
    noise: float = 0.6,
    seed: int = 0,
) -> Ratings:
    """`n_ratings` unique (user, item) ratings on 1..5.

    Item popularity follows a Zipf-like law (share of item of rank r ~ r^-item_exponent); user
    activity is log-normal (sigma `user_sigma`), so a few users and items hold most ratings, as in
    MovieLens. A rating is round(3.5 + b_u + b_i + p_u . q_i + noise), clipped to 1..5.

    >>> r = synthetic_ratings(20_000, seed=1)
    >>> len(r), r.n_users <= default_shape(20_000)[0]
    (20000, True)
    """
    if n_ratings < 1:
        raise ValueError(f"n_ratings must be at least 1, got {n_ratings}")
    du, di = default_shape(n_ratings)
    n_users, n_items = n_users or du, n_items or di
    if n_ratings > 0.5 * n_users * n_items:
        raise ValueError(
            f"{n_ratings} ratings do not fit sparsely into {n_users} x {n_items}; add users/items"
        )
    rng = np.random.default_rng(seed)
    item_p = 1.0 / np.arange(1, n_items + 1) ** item_exponent
    item_p = rng.permutation(item_p / item_p.sum())
    user_p = rng.lognormal(0.0, user_sigma, n_users)
    user_p /= user_p.sum()
    codes = np.empty(0, dtype=np.int64)
    while len(codes) < n_ratings:
        need = int((n_ratings - len(codes)) * 1.2) + 1000
        u = rng.choice(n_users, size=need, p=user_p)
        i = rng.choice(n_items, size=need, p=item_p)
        new = u.astype(np.int64) * n_items + i
        codes = np.concatenate([codes, new])
        _, first = np.unique(codes, return_index=True)
        codes = codes[np.sort(first)]  # keep draw order, drop repeated pairs
    codes = codes[:n_ratings]
    users, items = codes // n_items, codes % n_items
    p = rng.normal(0, 0.35, (n_users, factors)).astype(np.float32)
    q = rng.normal(0, 0.35, (n_items, factors)).astype(np.float32)
    bu = rng.normal(0, 0.4, n_users).astype(np.float32)
    bi = rng.normal(0, 0.5, n_items).astype(np.float32)
    r = np.empty(n_ratings, dtype=np.float32)
    step = 1_000_000
    for s in range(0, n_ratings, step):
        uu, ii = users[s:s + step], items[s:s + step]
        r[s:s + step] = 3.5 + bu[uu] + bi[ii] + np.einsum("ij,ij->i", p[uu], q[ii]) \
            + rng.normal(0, noise, len(uu)).astype(np.float32)
    r = np.clip(np.rint(r), 1, 5)
    df = pd.DataFrame({"user": users + 1, "item": items + 1, "rating": r,
                       "timestamp": np.arange(n_ratings, dtype=np.int64)})
    return Ratings(df, scale=(1.0, 5.0))
