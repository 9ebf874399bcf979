"""Splits: GroupLens u1..u5 facts (and MovieLens 100K's alone), reproducible random splits, temporal
and validation splits, each dataset's default split, and `all`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genrec.data import (
    ImportOptions,
    Ratings,
    default_split,
    import_dataset,
    load_dataset,
    load_split,
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
    df = pd.DataFrame(
        {"user": [1, 1, 2], "item": [1, 2, 3], "rating": [5, 4, 3], "timestamp": [1, 2, 3]}
    )
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


# ---------------------------------------------------------------------- u1..u5 are ML-100K's alone

BIG = "big-import"
BIG_RATINGS = 100_836  # as many as MovieLens latest-small, its file sorted by user as that one is


def write_big(folder: Path, n_ratings: int = BIG_RATINGS) -> tuple[Path, Path]:
    """A catalog of 2,000 items and `n_ratings` ratings of 610 users, user by user."""
    rng = np.random.default_rng(5)
    n_users, n_items = 610, 2_000
    per_user = np.full(n_users, n_ratings // n_users)
    per_user[: n_ratings - per_user.sum()] += 1
    users = np.repeat(np.arange(1, n_users + 1), per_user)
    items = np.concatenate([rng.choice(n_items, size=k, replace=False) + 1 for k in per_user])
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "item_id": np.arange(1, n_items + 1),
            "title": [f"Item {i}" for i in range(1, n_items + 1)],
        }
    ).to_csv(folder / "items.csv", index=False)
    pd.DataFrame(
        {
            "user_id": users,
            "item_id": items,
            "rating": rng.integers(1, 6, len(users)),
            "timestamp": rng.integers(10**9, 2 * 10**9, len(users)),
        }
    ).to_csv(folder / "ratings.csv", index=False)
    return folder / "items.csv", folder / "ratings.csv"


@pytest.fixture(scope="module")
def big_datasets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A datasets folder holding BIG: an imported dataset of 100,836 ratings, not MovieLens 100K."""
    d = tmp_path_factory.mktemp("big") / "datasets"
    items, ratings = write_big(d.parent / "src")
    import_dataset(BIG, items, ratings, d, ImportOptions())
    return d


@pytest.mark.parametrize("fold", ["u1", "u2", "u3", "u4", "u5"])
@pytest.mark.slow
def test_u_folds_are_refused_on_an_imported_dataset_of_100k_ratings(
    big_datasets_dir: Path, fold: str
) -> None:
    ds = load_dataset(BIG, big_datasets_dir)
    assert len(ds.ratings) == BIG_RATINGS >= 100_000
    with pytest.raises(ValueError) as err:
        load_split(BIG, fold, big_datasets_dir)
    msg = str(err.value)
    assert f"dataset {BIG!r}" in msg and f"split {fold} is MovieLens 100K's alone" in msg
    assert "random[:FRACTION]" in msg and "temporal[:K]" in msg  # the splits that fit
    for fitting in ("random:0.2", "temporal:5", "auto"):
        assert len(load_split(BIG, fitting, big_datasets_dir)[1].test) > 0


@pytest.mark.slow
def test_u_folds_follow_movielens_ratings_not_a_name_or_a_count(ml100k, tmp_path: Path) -> None:
    """The same 100,000 rows in u.data order imported under another name still have u1; the same
    rows in another order, or with one rating changed, do not."""
    items = tmp_path / "items.csv"
    pd.DataFrame({"item_id": [it.item_id for it in ml100k.catalog],
                  "title": [it.title for it in ml100k.catalog]}).to_csv(items, index=False)
    df = ml100k.ratings.df.astype({"rating": "int64"}).rename(
        columns={"user": "user_id", "item": "item_id"}
    )
    df.to_csv(tmp_path / "same.csv", index=False)
    df.sample(frac=1.0, random_state=0).to_csv(tmp_path / "shuffled.csv", index=False)
    changed = df.copy()
    changed.loc[changed.index[0], "rating"] = (
        1 + changed["rating"].iloc[0] % 5
    )  # one rating differs
    changed.to_csv(tmp_path / "changed.csv", index=False)
    d = tmp_path / "datasets"
    for name in ("same", "shuffled", "changed"):
        import_dataset(name, items, tmp_path / f"{name}.csv", d, ImportOptions())
    same = load_split("same", "u1", d)[1]
    assert _pairs(same.test) == _pairs(make_split(ml100k.ratings, "u1").test)
    assert load_split("same", "auto", d)[1].name == "u1"
    for name in ("shuffled", "changed"):  # 100,000 ratings each, but not u.data's rows
        assert len(load_dataset(name, d).ratings) == 100_000
        with pytest.raises(ValueError, match="not those rows"):
            load_split(name, "u1", d)
        assert load_split(name, "auto", d)[1].name == "random:0.2:seed42"


def test_movielens_default_split_is_u1(ml100k) -> None:
    """`auto` on MovieLens 100K is GroupLens's u1, so its figures stay as they were."""
    auto, u1 = make_split(ml100k.ratings, "auto"), make_split(ml100k.ratings, "u1")
    assert (auto.name, default_split(ml100k.ratings)) == ("u1", "u1")
    assert _pairs(auto.test) == _pairs(u1.test) and _pairs(auto.train) == _pairs(u1.train)


@pytest.mark.slow
def test_imported_default_split_is_a_seeded_random_one(big_datasets_dir: Path) -> None:
    ds, auto = load_split(BIG, "auto", big_datasets_dir, seed=7)
    assert default_split(ds.ratings) == "random:0.2" and auto.name == "random:0.2:seed7"
    again = load_split(BIG, "auto", big_datasets_dir, seed=7)[1]
    other = load_split(BIG, "auto", big_datasets_dir, seed=8)[1]
    assert _pairs(auto.test) == _pairs(again.test) == _pairs(ratio_split(ds.ratings, seed=7).test)
    assert _pairs(auto.test) != _pairs(other.test)
    assert not _pairs(auto.train) & _pairs(auto.test)
    assert len(auto.train) + len(auto.test) == BIG_RATINGS
    assert 0.19 < len(auto.test) / BIG_RATINGS < 0.21
    assert auto.test.n_users > 500  # spread over the users, not the first 132 of the file


def test_all_holds_nothing_out(ml100k) -> None:
    sp = make_split(ml100k.ratings, "all")
    assert sp.name == "all" and len(sp.test) == 0
    assert _pairs(sp.train) == _pairs(ml100k.ratings) and len(sp.train) == 100_000
