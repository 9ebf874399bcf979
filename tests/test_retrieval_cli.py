"""`genrec index build / info / search` driven as a user would (real Chroma under GENREC_HOME).

These use the deterministic `hash:32` embedder so the catalog is indexed in about a second; the
search quality of the real model is tested in test_retrieval.py."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from genrec.cli import app
from genrec.config import Settings

pytestmark = pytest.mark.slow  # CLI subprocesses that build indexes

runner = CliRunner()


@pytest.fixture
def hash_env(ml100k_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("GENREC_EMBEDDER", "hash:32")
    return ml100k_settings


def test_build_then_info_then_build_is_a_no_op(hash_env: Settings) -> None:
    res = runner.invoke(app, ["index", "build", "--dataset", "ml-100k"])
    assert res.exit_code == 0, res.output
    assert "1682 items (1682 embedded, 0 reused" in res.stdout
    res = runner.invoke(app, ["index", "build", "--dataset", "ml-100k"])
    assert res.exit_code == 0 and "up to date (1682 items)" in res.stdout
    res = runner.invoke(app, ["index", "info", "--dataset", "ml-100k", "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["mode"] == "embedded" and info["location"] == str(hash_env.chroma_dir)
    [ix] = info["indexes"]
    assert ix["dataset"] == "ml-100k" and ix["embedder"] == "hash:32" and ix["count"] == 1682
    assert info["check"]["state"] == "ok"
    res = runner.invoke(app, ["index", "info"])
    assert res.exit_code == 0 and "ml-100k / hash:32" in res.stdout


@pytest.mark.parametrize(
    "args, check",
    [
        (
            ["--genre", "Comedy", "--years", "1990-1995"],
            lambda r: "Comedy" in r["genres"] and 1990 <= r["year"] <= 1995,
        ),
        (
            ["--genre", "animation", "--genre", "childrens", "--not-genre", "Musical"],
            lambda r: (
                bool({"Animation", "Children's"} & set(r["genres"]))
                and "Musical" not in r["genres"]
            ),
        ),
        (
            ["--years", "-1950", "--not-genre", "Drama"],
            lambda r: r["year"] <= 1950 and "Drama" not in r["genres"],
        ),
        (
            ["--years", "1977", "--exclude", "50"],
            lambda r: r["year"] == 1977 and r["item_id"] != 50,
        ),
    ],
)
def test_search_json_results_satisfy_the_filters(
    hash_env: Settings, args: list[str], check
) -> None:
    res = runner.invoke(
        app,
        ["index", "search", "space adventure", "--dataset", "ml-100k", "--k", "7", "--json", *args],
    )
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert 0 < len(rows) <= 7
    for r in rows:
        assert {"item_id", "title", "year", "genres", "score"} <= set(r)
        assert check(r), r
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)


def test_search_text_output_and_impossible_filter(hash_env: Settings) -> None:
    res = runner.invoke(
        app, ["index", "search", "noir", "--genre", "Film-Noir", "--years", "2000-2010"]
    )
    assert res.exit_code == 0 and "no item matches these filters" in res.stdout
    res = runner.invoke(app, ["index", "search", "", "--similar-to", "1", "--k", "3"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 3 and lines[0].lstrip().startswith("1.") and "[1]" not in res.stdout


@pytest.mark.parametrize("args, code, words", [
    (["--genre", "Telenovela"], 1, ["unknown genre 'Telenovela'", "known genres", "Comedy"]),
    (["--years", "99999"], 1, ["99999", "1800..2100"]),
    (["--years", "2000-1990"], 1, ["after", "swap"]),
    (["--years", "nineties"], 2, ["--years", "FROM-TO"]),
    (["--similar-to", "999999"], 1, ["999999", "not in catalog"]),
])
def test_bad_filters_are_one_line_errors_without_traceback(
    hash_env: Settings, args, code, words
) -> None:
    res = runner.invoke(app, ["index", "search", "x", *args])
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    for w in words:
        assert w in res.output


def test_unknown_embedder_and_unreachable_server_are_clean_errors(
    hash_env: Settings, monkeypatch
) -> None:
    res = runner.invoke(app, ["index", "build", "--embedder", "cohere:x"])
    assert res.exit_code == 1 and "unknown embedder kind 'cohere'" in res.output
    monkeypatch.setenv("GENREC_CHROMA_MODE", "server")
    monkeypatch.setenv("GENREC_CHROMA_PORT", "9")
    res = runner.invoke(app, ["index", "info"])
    assert (
        res.exit_code == 1 and "genrec index serve" in res.output and "Traceback" not in res.output
    )
