"""Deterministic train/test splits: GroupLens u1..u5, seeded ratio, per-user temporal, validation.

Every split is a pure function of the ratings (in their given order) and its options.
"""

from __future__ import annotations

import re

import numpy as np

from genrec.data._model import Ratings, Split

FOLD_SIZE = 20_000


def movielens_fold(ratings: Ratings, fold: int) -> Split:
    """GroupLens's u{fold}.base / u{fold}.test, exactly as mku.sh builds them.

    u{i}.test is lines (i-1)*20000+1 .. i*20000 of u.data (original order), u{i}.base the rest;
    both sorted by user then item.
    """
    if fold not in range(1, 6):
        raise ValueError(f"fold must be 1..5 (u1..u5), got {fold}")
    if len(ratings) < 5 * FOLD_SIZE:
        raise ValueError(
            f"u1..u5 need the 100,000 MovieLens ratings in u.data order; got {len(ratings)} ratings. "
            "Use 'random' or 'temporal' splits for other datasets."
        )
    idx = np.arange(len(ratings))
    test_mask = (idx >= (fold - 1) * FOLD_SIZE) & (idx < fold * FOLD_SIZE)
    return Split(ratings.subset(~test_mask).sorted(), ratings.subset(test_mask).sorted(), f"u{fold}")


def ratio_split(ratings: Ratings, *, test_fraction: float = 0.2, seed: int = 42) -> Split:
    """A seeded uniformly random split of ratings; the same seed gives the same split."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    rng = np.random.default_rng(seed)
    test_mask = rng.random(len(ratings)) < test_fraction
    name = f"random:{test_fraction:g}:seed{seed}"
    return Split(ratings.subset(~test_mask).sorted(), ratings.subset(test_mask).sorted(), name)


def temporal_split(ratings: Ratings, *, k: int = 1) -> Split:
    """Per user, the last k ratings by time are test (ties broken by original order).

    Users with k or fewer ratings keep all of them in train.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    df = ratings.df.assign(_pos=np.arange(len(ratings)))
    df = df.sort_values(["user", "timestamp", "_pos"], kind="stable")
    rank_from_end = df.groupby("user").cumcount(ascending=False).to_numpy()
    n_user = df.groupby("user")["user"].transform("size").to_numpy()
    test_pos = df["_pos"].to_numpy()[(rank_from_end < k) & (n_user > k)]
    test_mask = np.zeros(len(ratings), dtype=bool)
    test_mask[test_pos] = True
    return Split(ratings.subset(~test_mask).sorted(), ratings.subset(test_mask).sorted(), f"temporal:{k}")


def validation_split(train: Ratings, *, fraction: float = 0.1, seed: int = 42) -> Split:
    """Carve a validation set out of a training split, for tuning; never touches the test set.

    A seeded random fraction of each user's ratings is held out, and every user keeps at least
    one rating in the (inner) train part.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    rng = np.random.default_rng(seed)
    df = train.df.assign(_r=rng.random(len(train)), _pos=np.arange(len(train)))
    df = df.sort_values(["user", "_r"], kind="stable")
    order = df.groupby("user").cumcount().to_numpy()
    n_user = df.groupby("user")["user"].transform("size").to_numpy()
    n_val = np.floor(n_user * fraction).astype(int)
    val_mask_sorted = (order < n_val) & (n_user > 1)
    val_mask = np.zeros(len(train), dtype=bool)
    val_mask[df["_pos"].to_numpy()[val_mask_sorted]] = True
    return Split(train.subset(~val_mask).sorted(), train.subset(val_mask).sorted(), f"validation:{fraction:g}:seed{seed}")


_SPLIT_RE = re.compile(r"^(?P<kind>u[1-5]|random|temporal)(?::(?P<arg>[0-9.]+))?$")
SPLIT_NAMES = "u1..u5, random[:FRACTION], temporal[:K]"


def make_split(ratings: Ratings, name: str, *, seed: int = 42) -> Split:
    """A split by name: 'u1'..'u5', 'random' or 'random:0.2', 'temporal' or 'temporal:5'."""
    m = _SPLIT_RE.match(name.strip())
    if not m:
        raise ValueError(f"unknown split {name!r}; known: {SPLIT_NAMES}")
    kind, arg = m.group("kind"), m.group("arg")
    if kind.startswith("u"):
        return movielens_fold(ratings, int(kind[1]))
    if kind == "random":
        return ratio_split(ratings, test_fraction=float(arg) if arg else 0.2, seed=seed)
    return temporal_split(ratings, k=int(float(arg)) if arg else 1)
