"""`genrec eval chat` with the default `auto` LLM records what auto meant on this machine, so a run
folder says which backend it evaluated (and a resume checks it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shelf import write_books
from test_first_run import _genrec


@pytest.mark.slow
def test_eval_chat_records_what_auto_resolved_to(tmp_path: Path) -> None:
    home = tmp_path / "home"
    items, ratings = write_books(tmp_path)
    assert _genrec(home, tmp_path, "data", "import", "shelf", "--items", str(items), "--ratings",
                   str(ratings), "--item-noun", "book").returncode == 0
    out = tmp_path / "run"
    run = _genrec(home, tmp_path, "eval", "chat", "--dataset", "shelf", "--split", "random:0.3",
                  "--users", "2", "--turns", "1", "--out", str(out), "--no-progress")
    assert run.returncode in (0, 3), run.stderr  # 3: the tiny catalog may trip the leakage guard
    assert "LLM: auto -> none (nothing answers at" in run.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["identity"]["llm"] == "none" and config["agent_backend"] == "none"
