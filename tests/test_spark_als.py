"""Spark MLlib ALS as a genrec ranker: factors become the `MFRanker` artifact (numpy checks), and
real Spark (local[1], Java 17+) trains on data whose right answer is known by construction, then
`genrec train --engine spark` feeds `eval ranker` and the cached-model loader unchanged."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from genrec.data import Ratings, validation_split
from genrec.ranking import MFRanker, RankerConfig
from genrec.ranking.als_artifact import ALSFactors, als_weights, ndcg_at_k
from genrec.ranking.files import write_model

needs_spark = pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java 17+ "
                                 "(apt-get install default-jre-headless; .ci/run does)")


def _two_camps(seed: int = 0) -> Ratings:
    """60 users, 40 items: users 1-30 rate only items 1-20, users 31-60 only items 21-40."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(1, 61):
        camp = range(1, 21) if u <= 30 else range(21, 41)
        for i in rng.choice(list(camp), 10, replace=False):
            rows.append((u, int(i), float(rng.integers(3, 6)), 0))
    return Ratings(pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"]))


def _ranker(factors: ALSFactors, train: Ratings, tmp_path, *, implicit: bool) -> MFRanker:
    weights, _ = als_weights(factors, train, np.arange(1, 42), implicit=implicit, reg=0.1)
    write_model(tmp_path / "m", weights.arrays(), {"params": RankerConfig().model_dump(),
                                                   "scale": [1.0, 5.0], "effective_reg": 1.0})
    return MFRanker.load(tmp_path / "m")


def _random_factors(train: Ratings, rank: int = 4, seed: int = 1) -> ALSFactors:
    rng = np.random.default_rng(seed)
    users, items = np.unique(train.df["user"]), np.unique(train.df["item"])
    return ALSFactors(users, rng.normal(0, 1, (len(users), rank)).astype(np.float32),
                      items, rng.normal(0, 1, (len(items), rank)).astype(np.float32))


def test_implicit_factors_rank_exactly_as_als_and_predict_inside_the_scale(tmp_path):
    train = _two_camps()
    f = _random_factors(train)
    ranker = _ranker(f, train, tmp_path, implicit=True)
    for u in (1, 17, 45):
        s = f.item_factors @ f.user_factors[np.searchsorted(f.user_ids, u)]
        seen = set(train.df.loc[train.df["user"] == u, "item"])
        als_order = [int(i) for i in f.item_ids[np.argsort(-s)] if i not in seen][:10]
        top = ranker.recommend(u, k=10)
        assert [x.item_id for x in top] == als_order
        assert all(1.0 <= x.predicted_rating <= 5.0 for x in top)
        assert len({x.predicted_rating for x in top}) == 10  # no ties at the scale's top
    assert ranker.knows_item(41) and not ranker.knows_user(99)  # a catalog item nobody rated


def test_explicit_factors_predict_their_dot_product(tmp_path):
    train = _two_camps()
    f = _random_factors(train, seed=3)
    f = ALSFactors(f.user_ids, f.user_factors * 0.3, f.item_ids, f.item_factors * 0.3 + 1.0)
    ranker = _ranker(f, train, tmp_path, implicit=False)
    u, items = 5, [1, 2, 3]
    want = f.user_factors[4] @ f.item_factors[:3].T
    np.testing.assert_allclose(ranker.predict(u, items), np.clip(want, 1, 5), rtol=1e-5)


def test_validation_ndcg_matches_the_ranker_protocol(tmp_path):
    from genrec.data import Catalog, Dataset, Item, Split
    from genrec.evaluation.protocols.ranker import RankerProtocol

    ratings = _two_camps(seed=4)
    split = validation_split(ratings, fraction=0.3, seed=0)
    f = _random_factors(split.train, seed=5)
    ranker = _ranker(f, split.train, tmp_path, implicit=True)
    cat = Catalog([Item(item_id=i, title=f"Item {i}") for i in range(1, 42)])
    proto = RankerProtocol.of(Dataset("camps", cat, ratings), Split(split.train, split.test, "v"))
    assert ndcg_at_k(f, split.train, split.test) == pytest.approx(
        proto.score(ranker).metrics["ndcg@10"]
    )


@pytest.mark.slow
@needs_spark
def test_spark_als_learns_the_two_camps_and_writes_a_ranker(tmp_path):
    from genrec.data import Catalog, Dataset, Item, Split
    from genrec.ranking.spark_als import SparkALSConfig, train_spark_ranker

    ratings = _two_camps()
    cat = Catalog([Item(item_id=i, title=f"Item {i}") for i in range(1, 41)])
    cfg = SparkALSConfig(master="local[1]", ranks=[2, 4], regs=[0.05], alphas=[5.0], max_iter=5,
                         blocks=1, max_val_users=100, seed=0)
    split = Split(ratings, Ratings(ratings.df.iloc[:0]), "all")
    ranker = train_spark_ranker(Dataset("camps", cat, ratings), split, tmp_path / "model",
                                config=cfg, work_dir=tmp_path / "work", log=print)
    meta = MFRanker.load(tmp_path / "model").metadata
    assert meta["engine"] == "spark-als" and meta["spark"]["master"] == "local[1]"
    assert len(meta["validation"]["grid"]) == 2 and meta["spark"]["best"]["rank"] in (2, 4)
    for u in (3, 40):
        camp = set(range(1, 21)) if u <= 30 else set(range(21, 41))
        assert {x.item_id for x in ranker.recommend(u, k=5)} <= camp
    me = ranker.fold_in(liked=[1, 2, 3])  # a conversation's user, folded into ALS's item space
    assert {x.item_id for x in ranker.recommend(me, k=5)} <= set(range(4, 21))
    assert not (tmp_path / "work" / "checkpoints").exists()  # checkpoints are cleaned up


@pytest.mark.slow
@needs_spark
def test_genrec_train_engine_spark_feeds_eval_and_the_cached_loader(ml100k_settings, monkeypatch):
    from genrec.cli import app
    from genrec.data import load_split
    from genrec.ranking import load_or_train_ranker

    args = ["train", "--engine", "spark", "--master", "local[1]", "--ranks", "8", "--regs", "0.01",
            "--alphas", "1", "--max-iter", "3"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "engine spark-als, local[1]" in res.output and "s per iteration" in res.output
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "is cached" in again.output  # not retrained

    import genrec.ranking.artifacts as artifacts

    def no_training(*a, **kw):
        raise AssertionError("the Spark model should have been used, not retrained")

    monkeypatch.setattr(artifacts, "train_ranker", no_training)
    ds, split = load_split("ml-100k", "u1", ml100k_settings.datasets_dir)
    ranker = load_or_train_ranker(ml100k_settings, ds, split, progress=False)
    assert ranker.metadata["engine"] == "spark-als"
    res = CliRunner().invoke(app, ["eval", "ranker", "--json", "--quiet"])
    assert res.exit_code == 0, res.output
    out = res.stdout
    import json

    metrics = json.loads(out[out.index("{"):])["final"]
    assert metrics["ranker"]["ndcg@10"] > metrics["popularity"]["ndcg@10"] * 0.8
    bad = CliRunner().invoke(app, ["train", "--engine", "flink"])
    assert bad.exit_code == 2 and "unknown engine" in bad.output
