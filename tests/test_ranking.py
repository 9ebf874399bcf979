"""MFRanker on a synthetic block world whose right answer is known by construction, plus
invariants, fold-in, save/load and bad input. Real torch training on tiny data."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genrec.data import Catalog, Dataset, Item, Ratings, UnknownItemError, ratio_split
from genrec.ranking import (
    MFRanker,
    MFWeights,
    ModelFileError,
    PopularityRanker,
    RankerConfig,
    UnknownUserError,
    UserProfile,
    load_or_train_ranker,
    model_dir,
)

GROUPS, USERS_PER, ITEMS_PER = 3, 20, 15
FAST = RankerConfig(
    embedding_size=64,
    epochs=150,
    learning_rate=0.03,
    reg=10.0,
    reg_full_size=1,
    ease_reg=5.0,
    eval_every=5,
    patience=100,
    device="cpu",
    seed=7,
)


def group_of_item(item: int) -> int:
    return (item - 1) // ITEMS_PER


def group_of_user(user: int) -> int:
    return (user - 1) // USERS_PER


def block_ratings(seed: int = 0) -> Ratings:
    """Users of group g rate items of group g 4-5 and other items 1-2; each user sees ~half of
    their own block and a tenth of the rest, so every user has unrated items of their block."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(1, GROUPS * USERS_PER + 1):
        for i in range(1, GROUPS * ITEMS_PER + 1):
            own = group_of_item(i) == group_of_user(u)
            if rng.random() < (0.5 if own else 0.1):
                rows.append((u, i, float(rng.integers(4, 6) if own else rng.integers(1, 3)), 0))
    return Ratings(pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"]))


@pytest.fixture(scope="module")
def ratings() -> Ratings:
    return block_ratings()


@pytest.fixture(scope="module")
def ranker(ratings: Ratings) -> MFRanker:
    return MFRanker(FAST).fit(ratings, progress=False)


def test_recommend_returns_the_users_own_block(ranker: MFRanker, ratings: Ratings) -> None:
    for u in range(1, GROUPS * USERS_PER + 1):
        g = group_of_user(u)
        rated = set(ratings.for_user(u)["item"].tolist())
        unrated_own = [
            i for i in range(g * ITEMS_PER + 1, (g + 1) * ITEMS_PER + 1) if i not in rated
        ]
        k = min(3, len(unrated_own))
        assert k >= 1
        top = ranker.recommend(u, k=k)
        assert [group_of_item(s.item_id) for s in top] == [g] * k, (u, top)


def test_predicted_ratings_separate_the_blocks(ranker: MFRanker, ratings: Ratings) -> None:
    all_items = list(range(1, GROUPS * ITEMS_PER + 1))
    for u in (1, USERS_PER + 1, 2 * USERS_PER + 1):
        p = ranker.predict(u, all_items)
        own = np.array([group_of_item(i) == group_of_user(u) for i in all_items])
        assert p[own].mean() > 3.8 and p[~own].mean() < 2.6
        assert p[own].min() > p[~own].max()
        assert ((p >= 1) & (p <= 5)).all()
    # close to the training ratings it saw
    df = ratings.df.head(50)
    pred = np.array([ranker.predict(int(u), [int(i)])[0] for u, i in zip(df.user, df.item)])
    assert np.sqrt(np.mean((pred - df.rating.to_numpy()) ** 2)) < 0.6


def test_top_k_invariants(ranker: MFRanker, ratings: Ratings) -> None:
    for u in (1, 20, 36):
        trained = set(ratings.for_user(u)["item"].tolist())
        for k in (1, 5, 200):
            top = ranker.recommend(u, k=k)
            ids = [s.item_id for s in top]
            scores = [s.score for s in top]
            assert len(ids) <= k and len(ids) == len(set(ids))
            assert scores == sorted(scores, reverse=True)
            assert not trained & set(ids)
            assert all(s.predicted_rating is not None and 1 <= s.predicted_rating <= 5 for s in top)
        assert len(ranker.recommend(u, k=200)) == GROUPS * ITEMS_PER - len(trained)
        cands = [1, 2, 3, 16, 17, 31, 44, 45]
        ids = [s.item_id for s in ranker.recommend(u, k=10, candidates=cands, exclude=[2, 17])]
        assert set(ids) <= set(cands) - {2, 17} - trained
        assert len(ids) == len(set(cands) - {2, 17} - trained)


def test_same_seed_same_model_and_other_seed_differs(ratings: Ratings) -> None:
    cfg = FAST.model_copy(update={"epochs": 20})  # a seed decides the model from its first step
    first = MFRanker(cfg).fit(ratings, progress=False)
    again = MFRanker(cfg).fit(ratings, progress=False)
    items = list(range(1, GROUPS * ITEMS_PER + 1))
    np.testing.assert_array_equal(again.predict(5, items), first.predict(5, items))
    assert again.recommend(5, k=10) == first.recommend(5, k=10)
    other = MFRanker(cfg.model_copy(update={"seed": 8})).fit(ratings, progress=False)
    assert not np.array_equal(other.predict(5, items), first.predict(5, items))


def test_fold_in_liked_items_of_a_block_recommends_that_block(ranker: MFRanker) -> None:
    for g in range(GROUPS):
        liked = [g * ITEMS_PER + 1, g * ITEMS_PER + 2, g * ITEMS_PER + 3]
        other = (g + 1) % GROUPS
        me = ranker.fold_in(liked=liked, disliked=[other * ITEMS_PER + 1])
        assert isinstance(me, UserProfile)
        top = ranker.recommend(me, k=5)
        assert [group_of_item(s.item_id) for s in top[:3]] == [g] * 3
        assert sum(group_of_item(s.item_id) == g for s in top) >= 4
        assert not {s.item_id for s in top} & (set(liked) | {other * ITEMS_PER + 1})
        p = ranker.predict(me, [g * ITEMS_PER + 10, other * ITEMS_PER + 10])
        assert p[0] > p[1]
    # explicit ratings work the same way; no items at all gives the average user
    me = ranker.fold_in(rated={31: 5.0, 32: 4.5, 1: 1.0})
    assert group_of_item(ranker.recommend(me, k=1)[0].item_id) == 2
    assert len(ranker.recommend(ranker.fold_in(), k=4)) == 4


def test_similar_items_stay_in_the_block(ranker: MFRanker) -> None:
    for item in (1, 20, 40):
        sims = ranker.similar_items(item, k=5)
        assert item not in [s.item_id for s in sims]
        assert sum(group_of_item(s.item_id) == group_of_item(item) for s in sims) >= 4
        assert [s.score for s in sims] == sorted((s.score for s in sims), reverse=True)
    assert {s.item_id for s in ranker.similar_items(1, k=3, candidates=[2, 30, 40])} == {2, 30, 40}


def test_bad_input_gives_clear_errors(ranker: MFRanker) -> None:
    with pytest.raises(UnknownUserError, match="fold the user in"):
        ranker.recommend(9999)
    with pytest.raises(UnknownUserError):
        ranker.predict(9999, [1])
    with pytest.raises(UnknownItemError, match="unknown to the ranker"):
        ranker.predict(1, [1, 123456])
    with pytest.raises(UnknownItemError):
        ranker.recommend(1, candidates=[1, 123456])
    with pytest.raises(UnknownItemError):
        ranker.fold_in(liked=[123456])
    with pytest.raises(UnknownItemError):
        ranker.similar_items(123456)
    with pytest.raises(ValueError, match="outside the scale"):
        ranker.fold_in(rated={1: 7.0})
    with pytest.raises(ValueError, match="k must be at least 1"):
        ranker.recommend(1, k=0)
    assert ranker.knows_user(1) and not ranker.knows_user(9999)
    assert ranker.knows_item(1) and not ranker.knows_item(123456)
    with pytest.raises(RuntimeError, match="not trained"):
        MFRanker().recommend(1)


def test_bad_training_data_is_refused() -> None:
    empty = Ratings(pd.DataFrame({"user": [], "item": [], "rating": [], "timestamp": []}))
    with pytest.raises(ValueError, match="no ratings"):
        MFRanker(FAST).fit(empty, progress=False)
    off = Ratings(
        pd.DataFrame({"user": [1, 2], "item": [1, 2], "rating": [4.0, 6.0], "timestamp": [0, 0]})
    )
    with pytest.raises(ValueError, match=r"outside the scale 1\.\.5.*user 2, item 2"):
        MFRanker(FAST).fit(off, progress=False)


def test_early_stopping_on_validation(ratings: Ratings) -> None:
    tr = ratings.subset(np.arange(len(ratings)) % 5 != 0)
    va = ratings.subset(np.arange(len(ratings)) % 5 == 0)
    cfg = FAST.model_copy(update={"epochs": 60, "patience": 2})
    m = MFRanker(cfg).fit(tr, validation=va, progress=False)
    hist = m.metadata["history"]
    assert hist and all(h["epoch"] % 5 == 0 for h in hist)
    assert m.metadata["best_val_rmse"] == min(h["val_rmse"] for h in hist)
    assert m.metadata["best_val_rmse"] < 1.0
    # restored weights are the best ones: their validation RMSE is the recorded best
    p = np.array([m.predict(int(u), [int(i)])[0] for u, i in zip(va.df.user, va.df.item)])
    assert np.sqrt(np.mean((p - va.df.rating.to_numpy()) ** 2)) == pytest.approx(
        m.metadata["best_val_rmse"], abs=1e-3)


def test_save_load_roundtrip(ranker: MFRanker, tmp_path: Path) -> None:
    ranker.metadata.update({"dataset": "blocks", "split": "all"})
    ranker.save(tmp_path / "m")
    back = MFRanker.load(tmp_path / "m", expected={"dataset": "blocks"})
    items = list(range(1, GROUPS * ITEMS_PER + 1))
    np.testing.assert_array_equal(back.predict(3, items), ranker.predict(3, items))
    assert back.recommend(3, k=10) == ranker.recommend(3, k=10)
    me_a, me_b = ranker.fold_in(liked=[1, 2]), back.fold_in(liked=[1, 2])
    assert back.recommend(me_b, k=5) == ranker.recommend(me_a, k=5)
    assert back.similar_items(4, k=5) == ranker.similar_items(4, k=5)
    assert back.popularity() == ranker.popularity()
    meta = json.loads((tmp_path / "m" / "ranker.json").read_text())
    assert meta["params"]["embedding_size"] == FAST.embedding_size and meta["dataset"] == "blocks"


@pytest.mark.parametrize("with_ease", [True, False])
def test_save_load_keeps_every_field(
    ranker: MFRanker, ratings: Ratings, tmp_path: Path, with_ease: bool
) -> None:
    """Every MFWeights field (EASE included, or absent) comes back equal, with its dtype."""
    model = (
        ranker
        if with_ease
        else MFRanker(FAST.model_copy(update={"epochs": 10, "ease_max_items": 0})).fit(
            ratings, progress=False
        )
    )
    model.save(tmp_path / "m")
    back = MFRanker.load(tmp_path / "m")
    a, b = model.weights, back.weights
    assert (a.ease is not None) == (b.ease is not None) == with_ease
    for f in fields(MFWeights):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if x is None:
            assert y is None, f.name
        elif f.name == "train":
            assert x.shape == y.shape and x.dtype == y.dtype and (x != y).nnz == 0
        else:
            np.testing.assert_array_equal(x, y, err_msg=f.name)
            assert x.dtype == y.dtype, f.name
    assert back.scale == model.scale and back.config == model.config
    assert {
        k: v for k, v in back.metadata.items() if k not in ("format_version", "genrec_version")
    } == json.loads(
        json.dumps(
            {**model.metadata, "params": model.config.model_dump(), "scale": list(model.scale)},
            default=str,
        )
    )
    if not with_ease:
        assert back.recommend(1, k=5) == model.recommend(1, k=5)


def test_a_saved_model_missing_an_array_is_refused(ranker: MFRanker, tmp_path: Path) -> None:
    ranker.save(tmp_path / "m")
    with np.load(tmp_path / "m" / "weights.npz") as z:
        arrays = {k: z[k] for k in z.files if k != "user_bias"}
    np.savez(tmp_path / "m" / "weights.npz", **arrays)
    with pytest.raises(ModelFileError, match="unusable.*user_bias.*retrain"):
        MFRanker.load(tmp_path / "m")
    (tmp_path / "m" / "weights.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match="weights unreadable"):
        MFRanker.load(tmp_path / "m")


def test_variant_changes_only_the_recommend_score(ranker: MFRanker) -> None:
    items = list(range(1, GROUPS * ITEMS_PER + 1))
    no_ease = ranker.variant(blend=1.0, ease=False)
    np.testing.assert_array_equal(no_ease.predict(4, items), ranker.predict(4, items))
    top = no_ease.recommend(4, k=5)
    assert [s.predicted_rating for s in top] == sorted(
        (s.predicted_rating for s in top), reverse=True
    )
    assert ranker.variant().recommend(4, k=5) == ranker.recommend(4, k=5)
    assert ranker.config.blend == FAST.blend  # the original is untouched


def test_model_from_another_dataset_or_version_is_refused(ranker: MFRanker, tmp_path: Path) -> None:
    ranker.metadata.update({"dataset": "blocks", "split": "all"})
    ranker.save(tmp_path / "m")
    with pytest.raises(ModelFileError, match="dataset: file has 'blocks', expected 'ml-100k'"):
        MFRanker.load(tmp_path / "m", expected={"dataset": "ml-100k"})
    meta_path = tmp_path / "m" / "ranker.json"
    meta = json.loads(meta_path.read_text())
    meta["genrec_version"] = "0.0.1"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="saved by genrec '0.0.1'"):
        MFRanker.load(tmp_path / "m")
    meta["format_version"] = 99
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="file format 99"):
        MFRanker.load(tmp_path / "m")
    with pytest.raises(ModelFileError, match="no saved ranker"):
        MFRanker.load(tmp_path / "nothing-here")


def test_load_or_train_caches_and_retrains_when_stale(ratings: Ratings, settings) -> None:  # noqa: ANN001
    items = [
        Item(i, f"Film {i}", 2000, (f"G{group_of_item(i)}",))
        for i in range(1, GROUPS * ITEMS_PER + 1)
    ]
    ds = Dataset("blocks", Catalog(items, name="blocks"), ratings)
    split = ratio_split(ratings, test_fraction=0.2, seed=1)
    cfg = FAST.model_copy(update={"epochs": 20})
    first = load_or_train_ranker(settings, ds, split, config=cfg, progress=False)
    where = model_dir(settings, "blocks", split.name)
    assert (where / "ranker.json").is_file() and (where / "weights.npz").is_file()
    assert first.metadata["validation"]["val_rmse"] is not None
    stamp = (where / "weights.npz").stat().st_mtime_ns
    second = load_or_train_ranker(settings, ds, split, config=cfg, progress=False)
    assert (where / "weights.npz").stat().st_mtime_ns == stamp  # loaded, not retrained
    np.testing.assert_array_equal(second.predict(1, [1, 2, 3]), first.predict(1, [1, 2, 3]))
    # other params -> stale -> retrained
    third = load_or_train_ranker(
        settings, ds, split, config=cfg.model_copy(update={"seed": 3}), progress=False
    )
    assert third.metadata["params"]["seed"] == 3
    assert (where / "weights.npz").stat().st_mtime_ns != stamp
    # the artifact records where it came from
    saved = json.loads((where / "ranker.json").read_text())
    assert sorted(saved["provenance"]) == ["git_commit", "machine", "versions"]
    assert saved["train_fingerprint"] == third.metadata["train_fingerprint"]


def test_popularity_baseline() -> None:
    df = pd.DataFrame({"user": [1, 1, 2, 2, 3, 3, 3], "item": [10, 11, 10, 12, 10, 11, 13],
                       "rating": [5.0] * 7, "timestamp": [0] * 7})
    pop = PopularityRanker().fit(Ratings(df))
    assert [s.item_id for s in pop.recommend(2, k=5)] == [11, 13]
    assert [s.item_id for s in pop.recommend(1, k=5, exclude=[12])] == [13]
    assert pop.popularity() == {10: 3, 11: 2, 12: 1, 13: 1}
    with pytest.raises(UnknownUserError):
        pop.recommend(99)


def test_dense_and_sparse_paths_train_the_same_model(ratings: Ratings) -> None:
    cfg = FAST.model_copy(update={"epochs": 15})
    dense = MFRanker(cfg.model_copy(update={"dense": True})).fit(ratings, progress=False)
    sparse = MFRanker(cfg.model_copy(update={"dense": False})).fit(ratings, progress=False)
    assert dense.metadata["dense"] and not sparse.metadata["dense"]
    items = list(range(1, GROUPS * ITEMS_PER + 1))
    for u in (1, 30, 60):
        np.testing.assert_allclose(sparse.predict(u, items), dense.predict(u, items), atol=2e-3)
