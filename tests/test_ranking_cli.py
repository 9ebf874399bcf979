"""`genrec train` and `genrec eval ranker` end to end on a small imported dataset: the files they
write recompute to exactly the metrics they print."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from test_ranking import GROUPS, ITEMS_PER, block_ratings, group_of_item
from typer.testing import CliRunner

from genrec.cli import app
from genrec.config import Settings
from genrec.data import load_split
from genrec.evaluation.metrics import mae, rmse, topn_metrics

SPLIT = "random:0.2"


@pytest.fixture
def blocks_home(tmp_path: Path, settings: Settings) -> Settings:
    """GENREC_HOME holding the block world imported as dataset 'blocks'."""
    items = pd.DataFrame({
        "item_id": range(1, GROUPS * ITEMS_PER + 1),
        "title": [f"Film {i}" for i in range(1, GROUPS * ITEMS_PER + 1)],
        "year": [1990 + i % 10 for i in range(1, GROUPS * ITEMS_PER + 1)],
        "genres": [f"Genre{group_of_item(i)}|Drama" for i in range(1, GROUPS * ITEMS_PER + 1)],
    })
    items.to_csv(tmp_path / "items.csv", index=False)
    r = block_ratings().df.rename(columns={"user": "user_id", "item": "item_id"})
    r["rating"] = r["rating"].astype(int)
    r.to_csv(tmp_path / "ratings.csv", index=False)
    res = CliRunner().invoke(
        app,
        [
            "data",
            "import",
            "blocks",
            "--items",
            str(tmp_path / "items.csv"),
            "--ratings",
            str(tmp_path / "ratings.csv"),
        ],
    )
    assert res.exit_code == 0, res.output
    return settings


@pytest.mark.slow
def test_train_stores_the_model_under_genrec_home(blocks_home: Settings) -> None:
    res = CliRunner().invoke(app, ["train", "--dataset", "blocks", "--split", SPLIT, "--quiet"])
    assert res.exit_code == 0, res.output
    assert "validation (validation:0.1:seed42): RMSE" in res.output
    saved = list(blocks_home.models_dir.glob("blocks/*/ranker/ranker.json"))
    assert len(saved) == 1
    meta = json.loads(saved[0].read_text())
    assert meta["dataset"] == "blocks" and meta["split"].startswith("random")


@pytest.mark.slow
def test_eval_ranker_files_recompute_to_the_printed_metrics(
    blocks_home: Settings, tmp_path: Path
) -> None:
    pred_f, topn_f, out = tmp_path / "pred.tsv", tmp_path / "topn.tsv", tmp_path / "report"
    res = CliRunner().invoke(app, [
        "eval", "ranker", "--dataset", "blocks", "--split", SPLIT, "--k", "5", "--json", "--quiet",
        "--predictions-out", str(pred_f), "--topn-out", str(topn_f), "--out", str(out),
    ])
    assert res.exit_code == 0, res.output
    printed = json.loads(res.stdout[res.stdout.index("{"):])
    saved = json.loads((out / "metrics.json").read_text())["final"]
    for system, values in printed["final"].items():  # the report may add aliases (hr@k), not change
        assert {m: saved[system][m] for m in values} == values
    ranker_m = printed["final"]["ranker"]

    _, split = load_split("blocks", SPLIT, blocks_home.datasets_dir, seed=blocks_home.seed)
    test, train = split.test.df, split.train.df
    pred = pd.read_csv(pred_f, sep="\t", header=None, names=["user", "item", "p"])
    assert len(pred) == len(test)  # every test rating
    joined = test.merge(pred, on=["user", "item"], how="left")
    assert joined["p"].notna().all()
    assert rmse(joined["p"], joined["rating"]) == pytest.approx(ranker_m["rmse"], abs=1e-5)
    assert mae(joined["p"], joined["rating"]) == pytest.approx(ranker_m["mae"], abs=1e-5)

    topn = pd.read_csv(topn_f, sep="\t", header=None, names=["user", "item", "rank"])
    assert set(topn["user"]) == set(test["user"])  # every test user has a list
    ranked = {int(u): g.sort_values("rank")["item"].tolist() for u, g in topn.groupby("user")}
    for u, items in ranked.items():
        assert len(items) <= 5 and len(set(items)) == len(items)
        assert sorted(topn[topn.user == u]["rank"]) == list(range(1, len(items) + 1))
        assert not set(items) & set(train.loc[train.user == u, "item"])
    relevant = {int(u): set(g.loc[g.rating >= 4, "item"]) for u, g in test.groupby("user")}
    again = topn_metrics(ranked, relevant, k=5)
    for name in ("precision@5", "recall@5", "ndcg@5", "map@5", "mrr@5", "hit_rate@5"):
        assert again[name] == pytest.approx(ranker_m[name], abs=1e-9), name
    assert ranker_m["ndcg@5"] > printed["final"]["popularity"]["ndcg@5"]


@pytest.mark.slow
def test_eval_ranker_rating_quality_on_a_tiny_dataset(blocks_home: Settings) -> None:
    res = CliRunner().invoke(app, ["eval", "ranker", "--dataset", "blocks", "--split", SPLIT,
                                   "--k", "5", "--json", "--quiet"])
    assert res.exit_code == 0, res.output
    printed = json.loads(res.stdout[res.stdout.index("{"):])
    assert printed["final"]["ranker"]["rmse"] < 1.0  # the block world is easy


def test_eval_ranker_unknown_dataset_is_a_clear_error(settings: Settings) -> None:
    res = CliRunner().invoke(app, ["eval", "ranker", "--dataset", "nope", "--split", "u1"])
    assert res.exit_code == 1
    assert "unknown dataset 'nope'" in res.output
