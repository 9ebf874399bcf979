"""The `genrec` command for data and config, driven as a user would (real files, real output)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from genrec.cli import app
from genrec.config import Settings

runner = CliRunner()


def test_export_u1_gives_grouplens_files(ml100k_settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "u1"
    res = runner.invoke(app, ["data", "export", "ml-100k", "--split", "u1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "80000 train, 20000 test ratings (459 test users)" in res.output
    train = pd.read_csv(out / "train.tsv", sep="\t", header=None)
    test = pd.read_csv(out / "test.tsv", sep="\t", header=None)
    assert train.shape == (80_000, 4) and test.shape == (20_000, 4)
    assert (out / "test.tsv").read_text().splitlines()[:2] == ["1\t6\t5\t887431973", "1\t10\t3\t875693118"]
    assert test[0].nunique() == 459


def test_data_info_json(ml100k_settings: Settings) -> None:
    res = runner.invoke(app, ["data", "info", "ml-100k", "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert (info["ratings"], info["users"], info["items"]) == (100_000, 943, 1682)
    assert info["rating_scale"] == [1.0, 5.0]
    assert info["sparsity"] == pytest.approx(1 - 100_000 / (943 * 1682), abs=1e-6)


def test_unknown_dataset_is_a_clean_error(settings: Settings) -> None:
    res = runner.invoke(app, ["data", "info", "nope"])
    assert res.exit_code == 1
    assert "unknown dataset 'nope'" in res.output and "Traceback" not in res.output


def test_import_error_exit_code_and_message(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "i.csv").write_text("item_id,title\n1,A\n")
    (tmp_path / "r.csv").write_text("user_id,item_id,rating\n1,1,6\n")
    res = runner.invoke(app, ["data", "import", "mine", "--items", str(tmp_path / "i.csv"),
                              "--ratings", str(tmp_path / "r.csv")])
    assert res.exit_code == 1
    assert "r.csv row 2, column rating: 6 is outside the rating scale 1..5" in res.output
    ok = runner.invoke(app, ["data", "import", "mine", "--items", str(tmp_path / "i.csv"),
                             "--ratings", str(tmp_path / "r.csv"), "--scale", "1-10"])
    assert ok.exit_code == 0, ok.output
    info = runner.invoke(app, ["data", "info", "mine", "--json"])
    assert json.loads(info.stdout)["ratings"] == 1


def test_config_show_reports_sources(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "genrec.toml"
    toml.write_text('dataset = "shop"\nseed = 7\n')
    monkeypatch.setenv("GENREC_CONFIG", str(toml))
    monkeypatch.setenv("GENREC_SEED", "9")
    res = runner.invoke(app, ["config", "show", "--json"])
    assert res.exit_code == 0, res.output
    shown = json.loads(res.stdout)
    assert shown["seed"] == {"value": 9, "source": "env GENREC_SEED"}  # env beats toml
    assert shown["dataset"] == {"value": "shop", "source": str(toml)}
    assert shown["split"] == {"value": "u1", "source": "default"}


def test_broken_toml_is_a_clear_error(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "genrec.toml"
    toml.write_text("dataset = \n")
    monkeypatch.setenv("GENREC_CONFIG", str(toml))
    res = runner.invoke(app, ["config", "show"])
    assert res.exit_code == 2 and "not valid TOML" in res.output
