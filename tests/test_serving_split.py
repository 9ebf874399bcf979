"""What the served ranker learns from: each dataset's default split, serving on every
rating (`--split all`, `serve_split = "all"`), what `genrec prepare` and `genrec config show` say
about it, and the harness refusing a ranker that saw its test ratings.

Real parts on a small imported catalog: the CF ranker trained on it (few epochs), a Chroma index
under GENREC_HOME with the hash embedder, the `none` LLM backend.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from shelf import write_books
from test_data_splits import BIG_RATINGS, write_big
from typer.testing import CliRunner

from genrec.agent.builder import build_parts
from genrec.cli import app
from genrec.config import Settings, get_settings
from genrec.data import load_dataset, load_split
from genrec.evaluation.harness import (
    ChatEvalConfig,
    RankerLeakError,
    build_components,
    check_held_out,
    run_chat_eval,
)
from genrec.ranking import load_or_train_ranker
from genrec.ranking.artifacts import ratings_fingerprint

SHELF = "shelf"
N_RATINGS = 30 * 20
runner = CliRunner()


def _write_shelf(folder: Path) -> tuple[Path, Path]:
    return write_books(folder, two_genres=False)


@pytest.fixture
def shelf(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """GENREC_HOME holding the imported dataset `shelf`, made the default; a small, fast ranker."""
    items, ratings = _write_shelf(tmp_path)
    res = runner.invoke(
        app,
        [
            "data",
            "import",
            SHELF,
            "--items",
            str(items),
            "--ratings",
            str(ratings),
            "--item-noun",
            "book",
        ],
    )
    assert res.exit_code == 0, res.output
    for key, value in {"DATASET": SHELF, "EMBEDDER": "hash:32", "LLM": "none",
                       "RANKER__EPOCHS": "20", "RANKER__EMBEDDING_SIZE": "16"}.items():
        monkeypatch.setenv(f"GENREC_{key}", value)
    return get_settings()


def _served(output: str) -> str:
    found = re.search(r"the ranker learns from [^\n]*", output)
    assert found, output
    return found.group(0)


def test_first_run_and_config_show_say_what_the_ranker_learns_from(
    shelf: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = load_split(SHELF, "auto", shelf.datasets_dir, seed=shelf.seed)[1]
    n_train, n_test = len(held.train), len(held.test)
    assert n_train + n_test == N_RATINGS and n_test > 0

    res = runner.invoke(app, ["prepare"])
    assert res.exit_code == 0, res.output
    assert _served(res.output) == (
        "the ranker learns from split random:0.2:seed42 "
        "(auto: seeded random, the default for any dataset but MovieLens 100K): "
        f"{n_train:,} ratings; {n_test:,} left out for evaluation"
    )
    assert "to learn from every rating instead: --split all" in res.output
    assert "training the ranker on random:0.2:seed42's training ratings" in res.output
    shown = json.loads(runner.invoke(app, ["config", "show", "--json"]).stdout)
    assert shown["split"] == {"value": "auto", "source": "default"}
    assert shown["served.split"]["value"] == "random:0.2:seed42"
    assert (shown["served.train_ratings"]["value"], shown["served.left_out_ratings"]["value"]) == (
        n_train,
        n_test,
    )

    res = runner.invoke(app, ["prepare", "--split", "all"])
    assert res.exit_code == 0, res.output
    assert (
        _served(res.output)
        == f"the ranker learns from every rating ({N_RATINGS}; split all); none left out"
    )
    assert "training the ranker on every rating (split all)" in res.output

    monkeypatch.setenv("GENREC_SERVE_SPLIT", "all")
    shown = json.loads(runner.invoke(app, ["config", "show", "--json"]).stdout)
    assert shown["served.split"] == {"value": "all", "source": "serve_split = all"}
    assert (shown["served.train_ratings"]["value"], shown["served.left_out_ratings"]["value"]) == (
        N_RATINGS,
        0,
    )
    assert shown["split"]["value"] == "auto"  # evaluation keeps its held-out split
    res = runner.invoke(app, ["prepare"])
    assert res.exit_code == 0, res.output
    assert (
        _served(res.output)
        == f"the ranker learns from every rating ({N_RATINGS}; serve_split = all); none left out"
    )


def test_serving_on_all_ratings_trains_on_every_rating(shelf: Settings) -> None:
    ds = load_dataset(SHELF, shelf.datasets_dir)
    held = build_parts(shelf, progress=False)
    assert held.split.name == "random:0.2:seed42"
    assert held.ranker.metadata["n_ratings"] == len(held.split.train) < N_RATINGS

    served = build_parts(shelf.model_copy(update={"serve_split": "all"}), progress=False)
    assert served.split.name == "all" and len(served.split.test) == 0
    assert served.ranker.metadata["split"] == "all"
    assert served.ranker.metadata["n_ratings"] == N_RATINGS
    assert served.ranker.metadata["train_fingerprint"] == ratings_fingerprint(ds.ratings)
    assert (shelf.models_dir / SHELF / "all" / "ranker").is_dir()
    # the same ranker `genrec train --split all` stores, reused by `genrec up --split all`
    res = runner.invoke(app, ["train", "--split", "all", "--quiet"])
    assert res.exit_code == 0 and f"on {N_RATINGS} ratings" in res.output, res.output


def test_harness_refuses_a_ranker_that_saw_its_test_ratings(
    shelf: Settings, tmp_path: Path
) -> None:
    ds, held = load_split(SHELF, "auto", shelf.datasets_dir, seed=shelf.seed)
    serving = shelf.model_copy(update={"serve_split": "all"})
    all_ranker = build_parts(serving, progress=False).ranker
    cfg = ChatEvalConfig(dataset=SHELF, split="random:0.2", llm="none", turns=1)
    out = tmp_path / "run"
    with pytest.raises(
        RankerLeakError, match=r"every rating of the dataset \(split 'all'\).*test ratings"
    ):
        run_chat_eval(cfg, dataset=ds, split=held, agent=object(), ranker=all_ranker, out_dir=out,
                      progress=False, report=False)
    assert not (out / "config.json").exists()  # refused before anything is written

    other = load_split(SHELF, "random:0.2", shelf.datasets_dir, seed=8)[
        1
    ]  # holds other ratings out
    with pytest.raises(RankerLeakError, match="random:0.2:seed8"):
        check_held_out(held, load_or_train_ranker(shelf, ds, other, progress=False))

    # evaluation keeps its held-out part: under serve_split = all the harness still builds (and
    # accepts) the ranker of the split's training part
    parts = build_components(serving, cfg, progress=False)
    assert parts.ranker.metadata["split"] == held.name
    assert parts.ranker.metadata["train_fingerprint"] == ratings_fingerprint(held.train)
    check_held_out(held, parts.ranker, parts.agent.ranker)

    with pytest.raises(ValueError, match="holds no ratings out"):
        check_held_out(load_split(SHELF, "all", shelf.datasets_dir)[1], parts.ranker)
    for command in (["eval", "chat", "--split", "all"], ["eval", "ranker", "--split", "all"]):
        res = runner.invoke(app, command)
        assert res.exit_code == 2 and "holds no ratings out" in res.output, res.output


@pytest.mark.slow
def test_cli_refuses_u1_on_an_imported_dataset_of_100k_ratings(
    settings: Settings, tmp_path: Path
) -> None:
    items, ratings = write_big(tmp_path / "src")
    res = runner.invoke(
        app, ["data", "import", "big", "--items", str(items), "--ratings", str(ratings)]
    )
    assert res.exit_code == 0, res.output
    for command in (["eval", "ranker", "--dataset", "big", "--split", "u1"],
                    ["train", "--dataset", "big", "--split", "u1"],
                    ["data", "export", "big", "--split", "u1", "--out", str(tmp_path / "u1")]):
        res = runner.invoke(app, command)
        assert res.exit_code == 1, res.output
        text = " ".join(res.output.split())
        assert "split u1 is MovieLens 100K's alone" in text, text
        assert "random[:FRACTION]" in text and "temporal[:K]" in text
    res = runner.invoke(
        app, ["data", "export", "big", "--out", str(tmp_path / "auto")]
    )  # the default split
    assert res.exit_code == 0, res.output
    assert "big split random:0.2:seed42:" in res.output
    lines = sum(
        len((tmp_path / "auto" / f).read_text().splitlines()) for f in ("train.tsv", "test.tsv")
    )
    assert lines == BIG_RATINGS


def test_eval_chat_keeps_the_held_out_split_while_the_app_serves_on_all(
    shelf: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GENREC_SERVE_SPLIT", "all")
    out = tmp_path / "run"
    res = runner.invoke(
        app, ["eval", "chat", "--users", "2", "--turns", "1", "--no-progress", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    config = json.loads((out / "config.json").read_text())
    assert config["identity"]["split"] == "random:0.2"  # auto, resolved and recorded
    assert config["ranker_metadata"]["split"] == "random:0.2:seed42"
    assert config["ranker_metadata"]["n_ratings"] < N_RATINGS


def test_movielens_runs_keep_u1(ml100k_settings: Settings) -> None:
    """`genrec eval chat` on MovieLens 100K records split u1, as before `auto` (same run
    identity)."""
    from genrec.commands.evaluation import held_out_settings

    assert held_out_settings(ml100k_settings).split == "u1"
    assert held_out_settings(ml100k_settings.model_copy(update={"split": "u3"})).split == "u3"
