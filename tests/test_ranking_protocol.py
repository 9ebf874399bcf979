"""One `Ranker` protocol for the CF model and the popularity baseline; the settings-driven config;
the ranker-evaluation protocol (genrec.evaluation.protocols.ranker) on the block world."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_ranking import FAST, GROUPS, ITEMS_PER, block_ratings, group_of_item

from genrec.config import Settings
from genrec.data import Catalog, Dataset, Item, Ratings, UnknownItemError, ratio_split
from genrec.evaluation.metrics import topn_metrics
from genrec.evaluation.protocols import ranker as ranker_protocol
from genrec.ranking import (
    MFRanker,
    PopularityRanker,
    Ranker,
    RankerConfig,
    RatingRanker,
    UnknownUserError,
    UserProfile,
    ranker_config,
)


@pytest.fixture(scope="module")
def world() -> tuple[Dataset, object]:
    ratings = block_ratings()
    items = [
        Item(i, f"Film {i}", 2000, (f"G{group_of_item(i)}",))
        for i in range(1, GROUPS * ITEMS_PER + 1)
    ]
    return Dataset("blocks", Catalog(items, name="blocks"), ratings), ratio_split(
        ratings, test_fraction=0.2, seed=1
    )


@pytest.fixture(scope="module")
def mf(world) -> MFRanker:  # noqa: ANN001
    ds, split = world
    return MFRanker(FAST.model_copy(update={"epochs": 40})).fit(
        split.train, items=ds.catalog.ids, progress=False
    )


def test_both_rankers_answer_the_protocol(mf: MFRanker, world) -> None:  # noqa: ANN001
    pop = PopularityRanker().fit(world[1].train)
    for r in (mf, pop):
        assert isinstance(r, Ranker)
        assert r.knows_user(1) and not r.knows_user(9999)
        assert r.knows_item(1) and not r.knows_item(123456)
        me = r.fold_in(liked=[1, 2], disliked=[31])
        assert isinstance(me, UserProfile) and me.seen == frozenset({1, 2, 31})
        ids = [s.item_id for s in r.recommend(me, k=5, exclude=[3])]
        assert len(ids) == 5 and not {1, 2, 3, 31} & set(ids)
        assert len(r.recommend(r.fold_in(), k=4)) == 4
        with pytest.raises(UnknownItemError):
            r.fold_in(liked=[123456])
        with pytest.raises(ValueError, match="outside the scale"):
            r.fold_in(rated={1: 9.0})
        with pytest.raises(UnknownUserError):
            r.recommend(9999)
    assert isinstance(mf, RatingRanker) and not isinstance(pop, RatingRanker)


def test_popularity_fold_in_only_excludes_the_named_items() -> None:
    df = pd.DataFrame({"user": [1, 1, 2, 2, 3, 3, 3], "item": [10, 11, 10, 12, 10, 11, 13],
                       "rating": [5.0] * 7, "timestamp": [0] * 7})
    pop = PopularityRanker().fit(Ratings(df))
    assert [s.item_id for s in pop.recommend(pop.fold_in(liked=[10]), k=5)] == [11, 12, 13]
    assert [s.item_id for s in pop.recommend(pop.fold_in(), k=2)] == [10, 11]


def test_ranker_config_follows_settings_unless_the_ranker_table_says_otherwise() -> None:
    # the default settings give exactly the config (hence the cache fingerprint) used before
    assert ranker_config(Settings()) == RankerConfig(seed=42, device="auto")
    assert ranker_config(Settings(seed=0, device="cpu")) == RankerConfig(seed=0, device="cpu")
    assert ranker_config(Settings(device="mps")).device == "auto"
    own = Settings(seed=0, ranker=RankerConfig(seed=5, epochs=10))
    assert ranker_config(own) == RankerConfig(seed=5, epochs=10, device="auto")


def test_evaluation_protocol_scores_every_system_with_the_same_code(mf: MFRanker, world) -> None:  # noqa: ANN001
    ds, split = world
    res = ranker_protocol.evaluate_ranker(mf, ds, split, k=5)
    assert list(res.final) == ["ranker", "popularity"]
    assert "rmse" in res.final["ranker"] and "rmse" not in res.final["popularity"]
    assert res.predictions is not None and len(res.predictions) == len(split.test)
    relevant = {int(u): set(g.loc[g.rating >= 4, "item"]) for u, g in split.test.df.groupby("user")}
    assert set(res.topn) == set(relevant)
    assert topn_metrics(res.topn, relevant, 5)["ndcg@5"] == res.final["ranker"]["ndcg@5"]
    assert res.final["ranker"]["ndcg@5"] > res.final["popularity"]["ndcg@5"]
    assert (
        res.protocol["test_users"] == len(relevant)
        and res.protocol["relevant"] == "test rating >= 4"
    )
    # a peer scored by hand through the protocol gives the same row
    proto = ranker_protocol.RankerProtocol.of(ds, split, k=5)
    assert proto.score(PopularityRanker().fit(split.train)).metrics == res.final["popularity"]
    # profiles stand in for users (cold start); their training items are still never listed
    profiles = {u: mf.fold_in(liked=[1]) for u in relevant}
    cold = proto.score(mf, profiles=profiles)
    train = split.train.df
    for u, items in cold.topn.items():
        assert not set(items) & set(train.loc[train.user == u, "item"])


def test_printed_table_lists_each_system_in_its_column(mf: MFRanker, world, tmp_path: Path) -> None:  # noqa: ANN001
    ds, split = world
    res = ranker_protocol.evaluate_ranker(mf, ds, split, k=5)
    lines = ranker_protocol.format_table(res)
    assert lines[0].startswith(f"blocks split {split.name}: {len(split.test)} test ratings")
    assert lines[1] == f"{'metric':>14}  {'ranker':>9}  {'popularity':>10}"
    rmse_line = next(line for line in lines if line.strip().startswith("rmse"))
    assert rmse_line == f"{'rmse':>14}  {res.final['ranker']['rmse']:>9.4f}  "
    assert len(lines) == 2 + len(res.final["ranker"])
    only_pop = ranker_protocol.evaluate_ranker(
        PopularityRanker().fit(split.train), ds, split, k=5, peers={}
    )
    assert only_pop.predictions is None and list(only_pop.final) == ["ranker"]
    with pytest.raises(ValueError, match="predicts no ratings"):
        ranker_protocol.write_predictions(only_pop, tmp_path / "p.tsv")
    assert not (tmp_path / "p.tsv").exists()
    assert np.isfinite(list(res.final["ranker"].values())).all()
