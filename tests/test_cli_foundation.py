"""The `genrec` command for data and config, driven as a user would (real files, real output)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from genrec.cli import app
from genrec.config import Settings, get_settings

runner = CliRunner()


def test_export_u1_gives_grouplens_files(ml100k_settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "u1"
    res = runner.invoke(app, ["data", "export", "ml-100k", "--split", "u1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "80000 train, 20000 test ratings (459 test users)" in res.output
    train = pd.read_csv(out / "train.tsv", sep="\t", header=None)
    test = pd.read_csv(out / "test.tsv", sep="\t", header=None)
    assert train.shape == (80_000, 4) and test.shape == (20_000, 4)
    assert (out / "test.tsv").read_text().splitlines()[:2] == [
        "1\t6\t5\t887431973",
        "1\t10\t3\t875693118",
    ]
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


def test_config_show_reports_sources(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "genrec.toml"
    toml.write_text('dataset = "shop"\nseed = 7\n')
    monkeypatch.setenv("GENREC_CONFIG", str(toml))
    monkeypatch.setenv("GENREC_SEED", "9")
    res = runner.invoke(app, ["config", "show", "--json"])
    assert res.exit_code == 0, res.output
    shown = json.loads(res.stdout)
    assert shown["seed"] == {"value": 9, "source": "env GENREC_SEED"}  # env beats toml
    assert shown["dataset"] == {"value": "shop", "source": str(toml)}
    assert shown["split"] == {
        "value": "auto",
        "source": "default",
    }  # the dataset's default
    assert shown["served.split"]["value"] == "auto"  # shop is not imported: decided when it is read
    assert shown["served.train_ratings"]["value"] is None
    assert "unknown dataset 'shop'" in shown["served.train_ratings"]["source"]


def test_broken_toml_is_a_clear_error(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "genrec.toml"
    toml.write_text("dataset = \n")
    monkeypatch.setenv("GENREC_CONFIG", str(toml))
    res = runner.invoke(app, ["config", "show"])
    assert res.exit_code == 2 and "not valid TOML" in res.output


def test_component_configs_from_toml_env_and_show(settings: Settings, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """[agent], [agent.candidates.personal] and [ranker] tables, GENREC_AGENT__K-style variables
    (flat GENREC_LLM too), and `config show` listing every nested value with its source."""
    toml = tmp_path / "genrec.toml"
    toml.write_text('llm = "none"\n[agent]\nk = 5\nmax_message_chars = 500\n'
                    "[agent.candidates.personal]\nrank = 0.5\n[ranker]\nlearning_rate = 0.01\n")
    monkeypatch.setenv("GENREC_CONFIG", str(toml))
    monkeypatch.setenv("GENREC_AGENT__K", "7")
    monkeypatch.setenv("GENREC_AGENT__CANDIDATES__SHRINK", "2.5")
    monkeypatch.setenv("GENREC_LLM_MODEL", "tiny")
    s = get_settings()
    assert (s.agent.k, s.agent.max_message_chars, s.agent.candidates.shrink) == (7, 500, 2.5)
    assert s.agent.candidates.personal.rank == 0.5 and s.ranker.learning_rate == 0.01
    assert (s.llm, s.llm_model) == ("none", "tiny")
    res = runner.invoke(app, ["config", "show", "--json"])
    assert res.exit_code == 0, res.output
    shown = json.loads(res.stdout)
    assert shown["agent.k"] == {"value": 7, "source": "env GENREC_AGENT__K"}  # env beats toml
    assert shown["agent.max_message_chars"] == {"value": 500, "source": str(toml)}
    assert shown["agent.candidates.shrink"] == {"value": 2.5,
                                                "source": "env GENREC_AGENT__CANDIDATES__SHRINK"}
    assert shown["agent.candidates.personal.rank"] == {"value": 0.5, "source": str(toml)}
    assert shown["agent.candidates.personal.search"]["source"] == "default"
    assert shown["ranker.learning_rate"] == {"value": 0.01, "source": str(toml)}
    assert shown["ranker.epochs"] == {"value": 150, "source": "default"}
    assert shown["llm_model"] == {"value": "tiny", "source": "env GENREC_LLM_MODEL"}
    assert "agent" not in shown and "ranker" not in shown  # one row per value
    table = runner.invoke(app, ["config", "show"])
    assert table.exit_code == 0 and "agent.candidates.personal.rank" in table.output
    # the same under a [genrec] table; an argument beats both
    toml.write_text('[genrec]\nseed = 3\n[genrec.agent]\nk = 4\n[genrec.ranker]\nepochs = 9\n')
    monkeypatch.delenv("GENREC_AGENT__K")
    s = get_settings(seed=11)
    assert (s.seed, s.agent.k, s.ranker.epochs) == (11, 4, 9)
    assert s.sources()["seed"] == "argument" and s.sources()["ranker.epochs"] == str(toml)


@pytest.mark.parametrize(
    ("toml_text", "env", "expected"),
    [
        ("[agent]\nkk = 5\n", {}, "agent.kk (did you mean agent.k?)"),
        ("[agent.candidates.personl]\nrank = 1\n", {}, "did you mean agent.candidates.personal?"),
        ("[ranker]\nepochs = 0\n", {}, "ranker.epochs = 0 ("),
        ('[genrec]\nllm = "none"\n[agent]\nk = 5\n', {}, "keys outside the [genrec] table: agent"),
        ("", {"GENREC_AGENT__KK": "5"}, "GENREC_AGENT__KK: unknown setting agent.kk"),
        ("", {"GENREC_AGENT__K": "many"}, "agent.k = 'many' (env GENREC_AGENT__K)"),
        ("", {"GENREC_LLM__MODEL": "x"}, "GENREC_LLM__MODEL: llm has no sub-settings"),
        ("", {"GENREC_AGENT": '{"k": 3, "speed": 1}'}, "GENREC_AGENT: unknown setting agent.speed"),
    ],
)
def test_unknown_keys_and_bad_values_are_clear_errors(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    toml_text: str, env: dict[str, str], expected: str,
) -> None:
    toml = tmp_path / "genrec.toml"
    toml.write_text(toml_text)
    monkeypatch.setenv("GENREC_CONFIG", str(toml))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValueError, match=re.escape(expected)):
        get_settings()
    res = runner.invoke(app, ["config", "show"])
    assert res.exit_code == 2 and expected in res.output.replace("\n", "")
