"""Deterministic train/test splits: GroupLens u1..u5, seeded ratio, per-user temporal, validation,
and `all` (nothing held out, for serving).

Every split is a pure function of the ratings (in their given order) and its options. u1..u5 are
MovieLens 100K's alone (recognised by its ratings, `movielens.is_movielens_100k`); `auto` is a
dataset's default split: u1 for MovieLens 100K, `random:0.2` (seeded) for any other.
"""

from __future__ import annotations

import re

import numpy as np

from genrec.data._model import Ratings, Split
from genrec.data.movielens import is_movielens_100k

FOLD_SIZE = 20_000
#: The splits that fit any dataset, as an error names them.
GENERAL_SPLITS = (
    "random[:FRACTION] (seeded, e.g. random:0.2) or temporal[:K] (each user's last K ratings)"
)
#: A dataset's default split when it is not MovieLens 100K (seeded by the caller's seed).
DEFAULT_SPLIT = "random:0.2"
#: The split that holds nothing out: every rating is training data (for serving, never evaluation).
ALL = "all"


def movielens_fold(ratings: Ratings, fold: int) -> Split:
    """GroupLens's u{fold}.base / u{fold}.test, exactly as mku.sh builds them.

    u{i}.test is lines (i-1)*20000+1 .. i*20000 of u.data (original order), u{i}.base the rest;
    both sorted by user then item.

    Raises:
        ValueError: the ratings are not MovieLens 100K's (u1..u5 are defined on its u.data rows
            alone); the message names the splits that fit.
    """
    if fold not in range(1, 6):
        raise ValueError(f"fold must be 1..5 (u1..u5), got {fold}")
    if not is_movielens_100k(ratings):
        raise ValueError(
            f"split u{fold} is MovieLens 100K's alone (GroupLens's u{fold}.base/u{fold}.test, "
            f"cut from the rows of its u.data) and these {len(ratings):,} ratings are not those "
            f"rows; use a split that fits any dataset: {GENERAL_SPLITS}, or auto (this dataset's "
            f"default, {DEFAULT_SPLIT})"
        )
    idx = np.arange(len(ratings))
    test_mask = (idx >= (fold - 1) * FOLD_SIZE) & (idx < fold * FOLD_SIZE)
    return Split(
        ratings.subset(~test_mask).sorted(), ratings.subset(test_mask).sorted(), f"u{fold}"
    )


def ratio_split(ratings: Ratings, *, test_fraction: float = 0.2, seed: int = 42) -> Split:
    """A seeded uniformly random split of ratings; the same seed gives the same split."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    rng = np.random.default_rng(seed)
    test_mask = rng.random(len(ratings)) < test_fraction
    name = f"random:{test_fraction:g}:seed{seed}"
    return Split(ratings.subset(~test_mask).sorted(), ratings.subset(test_mask).sorted(), name)


def all_ratings(ratings: Ratings) -> Split:
    """Every rating as training data and nothing held out: what a recommender in use learns from.

    Its empty test part can score nothing, so evaluation refuses it.
    """
    return Split(ratings.sorted(), ratings.subset(np.zeros(len(ratings), dtype=bool)), ALL)


def default_split(ratings: Ratings) -> str:
    """The split `auto` means for these ratings: u1 for MovieLens 100K, else `random:0.2`."""
    return "u1" if is_movielens_100k(ratings) else DEFAULT_SPLIT


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
    return Split(
        ratings.subset(~test_mask).sorted(), ratings.subset(test_mask).sorted(), f"temporal:{k}"
    )


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
    return Split(
        train.subset(~val_mask).sorted(),
        train.subset(val_mask).sorted(),
        f"validation:{fraction:g}:seed{seed}",
    )


_SPLIT_RE = re.compile(
    r"^(?:(?P<kind>u[1-5]|random|temporal)(?::(?P<arg>[0-9.]+))?|(?P<word>all))$"
)
SPLIT_NAMES = ("u1..u5 (MovieLens 100K only), random[:FRACTION], temporal[:K], auto (the dataset's "
               "default), all (nothing held out: serving only)")


def resolve_split(ratings: Ratings, name: str) -> str:
    """`name` with `auto` replaced by the ratings' default split (`default_split`).

    >>> import pandas as pd
    >>> one = pd.DataFrame({"user": [1], "item": [1], "rating": [5.0], "timestamp": [0]})
    >>> resolve_split(Ratings(one), "auto")
    'random:0.2'
    """
    return default_split(ratings) if name.strip() == "auto" else name.strip()


def make_split(ratings: Ratings, name: str, *, seed: int = 42) -> Split:
    """A split by name: 'u1'..'u5' (MovieLens 100K only), 'random' or 'random:0.2', 'temporal' or
    'temporal:5', 'all' (nothing held out) or 'auto' (the ratings' default split, `default_split`).

    Raises:
        ValueError: an unknown name, or u1..u5 on ratings that are not MovieLens 100K's.
    """
    m = _SPLIT_RE.match(resolve_split(ratings, name))
    if not m:
        raise ValueError(f"unknown split {name!r}; known: {SPLIT_NAMES}")
    if m.group("word") == ALL:
        return all_ratings(ratings)
    kind, arg = m.group("kind"), m.group("arg")
    if kind.startswith("u"):
        return movielens_fold(ratings, int(kind[1]))
    if kind == "random":
        return ratio_split(ratings, test_fraction=float(arg) if arg else 0.2, seed=seed)
    return temporal_split(ratings, k=int(float(arg)) if arg else 1)
