"""Splits: GroupLens u1..u5 facts, reproducible random splits, temporal and validation splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genrec.data import (
    Ratings,
    make_split,
    movielens_fold,
    ratio_split,
    temporal_split,
    validation_split,
)


def _pairs(r: Ratings) -> set[tuple[int, int]]:
    return set(zip(r.df["user"].tolist(), r.df["item"].tolist()))


@pytest.mark.parametrize("fold", [1, 2, 3, 4, 5])
def test_u_folds_match_mku_sh(ml100k, fold: int) -> None:
    sp = movielens_fold(ml100k.ratings, fold)
    assert (len(sp.train), len(sp.test)) == (80_000, 20_000)
    # u{i}.test is lines (i-1)*20000+1 .. i*20000 of u.data
    expected = ml100k.ratings.df.iloc[(fold - 1) * 20_000 : fold * 20_000]
    assert _pairs(sp.test) == set(zip(expected["user"], expected["item"]))
    assert not _pairs(sp.train) & _pairs(sp.test)
    for part in (sp.train, sp.test):  # sorted by user then item
        keys = part.df["user"].to_numpy() * 10_000 + part.df["item"].to_numpy()
        assert (np.diff(keys) > 0).all()


def test_u1_facts(ml100k) -> None:
    sp = make_split(ml100k.ratings, "u1")
    assert sp.test.n_users == 459
    assert sp.test.df.iloc[0].tolist() == [1, 6, 5, 887431973]
    assert sp.train.df.iloc[0].tolist() == [1, 1, 5, 874965758]


def test_random_split_is_seeded_and_partitions(ml100k) -> None:
    a = ratio_split(ml100k.ratings, test_fraction=0.2, seed=7)
    b = ratio_split(ml100k.ratings, test_fraction=0.2, seed=7)
    c = ratio_split(ml100k.ratings, test_fraction=0.2, seed=8)
    assert _pairs(a.test) == _pairs(b.test) != _pairs(c.test)
    assert len(a.train) + len(a.test) == 100_000
    assert not _pairs(a.train) & _pairs(a.test)
    assert 0.19 < len(a.test) / 100_000 < 0.21


def test_temporal_split_holds_out_each_users_latest(ml100k) -> None:
    sp = temporal_split(ml100k.ratings, k=2)
    assert len(sp.test) == 2 * 943  # every ML-100K user has at least 20 ratings
    last_train = sp.train.df.groupby("user")["timestamp"].max()
    first_test = sp.test.df.groupby("user")["timestamp"].min()
    assert (first_test >= last_train.loc[first_test.index]).all()


def test_temporal_split_keeps_short_histories_in_train() -> None:
    df = pd.DataFrame({"user": [1, 1, 2], "item": [1, 2, 3], "rating": [5, 4, 3], "timestamp": [1, 2, 3]})
    sp = temporal_split(Ratings(df), k=1)
    assert _pairs(sp.test) == {(1, 2)}
    assert _pairs(sp.train) == {(1, 1), (2, 3)}


def test_validation_split_is_carved_from_train_only(ml100k) -> None:
    sp = make_split(ml100k.ratings, "u1")
    val = validation_split(sp.train, fraction=0.1, seed=1)
    assert _pairs(val.train) | _pairs(val.test) == _pairs(sp.train)
    assert not _pairs(val.test) & _pairs(sp.test)
    assert set(val.train.users) == set(sp.train.users)  # nobody loses their whole history
    again = validation_split(sp.train, fraction=0.1, seed=1)
    assert _pairs(again.test) == _pairs(val.test)


def test_unknown_split_name_is_a_clear_error(ml100k) -> None:
    with pytest.raises(ValueError, match="u1..u5"):
        make_split(ml100k.ratings, "u9")
