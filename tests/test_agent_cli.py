"""`genrec chat` one-shot JSON mode: the Reply as JSON, and the session kept between calls.

Runs the real `Recommender.from_settings` on an isolated GENREC_HOME that links the session's
ML-100K files and Chroma index (the trained session ranker is handed to the loader, so the
test does not spend minutes retraining it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genrec.cli import app

pytestmark = pytest.mark.slow  # CLI subprocesses that load every component


@pytest.fixture
def cli_home(ml100k_settings, ml100k_store, ml100k_ranker, monkeypatch):
    chroma = Path(ml100k_store.client.get_settings().persist_directory)
    ml100k_settings.chroma_dir.symlink_to(chroma, target_is_directory=True)
    import genrec.ranking

    monkeypatch.setattr(genrec.ranking, "load_or_train_ranker",
                        lambda settings, dataset, split, **kw: ml100k_ranker)
    return ml100k_settings


def _chat(*args: str) -> dict:
    res = CliRunner().invoke(app, ["chat", "--llm", "none", "--json", *args])
    assert res.exit_code == 0, res.output
    out = res.stdout
    return json.loads(out[out.index("{"):])


def test_cli_chat_json_keeps_the_session(cli_home):
    first = _chat("--session", "cli1", "--message", "I loved Star Wars, no horror")
    assert first["text"] and first["recommendations"]
    rec = first["recommendations"][0]
    for key in ("item_id", "title", "year", "genres", "predicted_rating", "rationale", "verified"):
        assert key in rec
    assert all("Horror" not in r["genres"] and r["item_id"] != 50
               for r in first["recommendations"])
    second = _chat("--session", "cli1", "--message", "more please")
    ids1 = {r["item_id"] for r in first["recommendations"]}
    ids2 = {r["item_id"] for r in second["recommendations"]}
    assert ids2 and not ids1 & ids2
    assert all("Horror" not in r["genres"] for r in second["recommendations"])  # state kept
    other = _chat("--session", "cli2", "--message", "hi")
    assert other["question"] and not other["recommendations"]


def test_cli_chat_bad_options(cli_home):
    res = CliRunner().invoke(app, ["chat", "--llm", "nope", "--message", "hi"])
    assert res.exit_code == 1 and "unknown LLM backend" in res.output
    res = CliRunner().invoke(app, ["chat", "--llm", "none", "--policy", "clever", "--message", "x"])
    assert res.exit_code == 2
    res = CliRunner().invoke(app, ["chat", "--llm", "none", "--session", "  ", "--message", "x"])
    assert res.exit_code == 2 and "invalid session id" in res.output
