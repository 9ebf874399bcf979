"""Clean shutdown of the real commands, as a user (Ctrl+C) or a service manager (SIGTERM) stops
them: `genrec up` with a chat tab open exits within seconds, with no traceback, also on a second
Ctrl+C; `genrec index serve` passes the signal to its `chroma run` child, so nothing is left
listening. Each command runs in its own process group, which the test checks (and cleans up)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from shelf import write_books

pytestmark = pytest.mark.slow

PROMPT_S = 6.0  # "promptly": the most seconds from the signal to the exit


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENREC_")}
    env.update(GENREC_HOME=str(home), GENREC_LLM_BASE_URL=f"http://127.0.0.1:{_port()}/v1",
               PYTHONUNBUFFERED="1", **extra)
    return env


def _spawn(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "genrec.cli", *args], env=env, cwd=cwd,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _group_alive(pgid):
            return True
        time.sleep(0.1)
    return not _group_alive(pgid)


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 420.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the command exited early:\n{log.read_text()[-3000:]}"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} never answered:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen, *signals: signal.Signals, gap: float = 0.3) -> float:
    """Send the signals to the command's main process only (as `kill` does); seconds to its exit."""
    started = time.monotonic()
    for i, sig in enumerate(signals):
        if i:
            time.sleep(gap)
        if proc.poll() is None:
            proc.send_signal(sig)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pass
    return time.monotonic() - started


@pytest.fixture
def reaper() -> Iterator[list[subprocess.Popen]]:
    """Process groups this test started; whatever is left of them is killed at the end."""
    procs: list[subprocess.Popen] = []
    yield procs
    for proc in procs:
        if _group_alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)




@pytest.fixture(scope="module")
def small_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A GENREC_HOME holding a 40-book catalog, its ranker and a hash-embedder index."""
    tmp = tmp_path_factory.mktemp("shutdown")
    home = tmp / "home"
    env = _env(home, GENREC_DATASET="shelf", GENREC_SPLIT="random:0.2", GENREC_EMBEDDER="hash:32")
    items, ratings = write_books(tmp)
    for args in (["data", "import", "shelf", "--items", str(items), "--ratings", str(ratings),
                  "--item-noun", "book"], ["prepare", "--llm", "none"]):
        done = subprocess.run([sys.executable, "-m", "genrec.cli", *args], env=env, cwd=tmp,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    return home, env


def _hold_a_tab_open(base: str) -> tuple[threading.Thread, list[bytes]]:
    """What an open chat tab holds: the page, then Gradio's heartbeat stream (never ends alone)."""
    assert httpx.get(base, timeout=30).status_code == 200
    got: list[bytes] = []
    opened = threading.Event()

    def listen() -> None:
        try:
            with httpx.stream("GET", base + "gradio_api/heartbeat/shutdowntab1",
                              timeout=httpx.Timeout(120, connect=10)) as resp:
                for chunk in resp.iter_bytes():
                    got.append(chunk)
                    opened.set()
        except httpx.HTTPError:
            pass
        opened.set()

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert opened.wait(30) and got, "the heartbeat stream did not open"
    return thread, got


def _clean(output: str) -> None:
    for noise in ("Traceback", "CancelledError", "KeyboardInterrupt", "Exception in ASGI"):
        assert noise not in output, output[-4000:]


@pytest.mark.parametrize("signals", [(signal.SIGINT,), (signal.SIGINT, signal.SIGINT),
                                     (signal.SIGTERM,)], ids=["ctrl-c", "ctrl-c-twice", "sigterm"])
def test_up_with_a_tab_open_stops_promptly_and_quietly(small_home, tmp_path: Path, reaper,
                                                       signals) -> None:
    home, env = small_home
    port = _port()
    log = tmp_path / "up.log"
    proc = _spawn(["up", "--llm", "none", "--port", str(port)], env, tmp_path, log)
    reaper.append(proc)
    base = f"http://127.0.0.1:{port}/"
    _wait_http(base + "readyz", proc, log)
    listener, _ = _hold_a_tab_open(base)
    # a turn over the API too, so the server has done real work
    r = httpx.post(base + "v1/chat/completions", timeout=60,
                   json={"messages": [{"role": "user", "content": "a mystery book please"}]})
    assert r.status_code == 200, r.text

    took = _stop(proc, *signals)
    assert proc.returncode is not None, f"still running {took:.1f} s after {signals}"
    assert took < PROMPT_S, f"took {took:.1f} s to stop"
    assert proc.returncode == 0, (proc.returncode, log.read_text()[-3000:])
    assert _wait_group_gone(proc.pid, 5), "a child process of `genrec up` outlived it"
    listener.join(10)
    assert not listener.is_alive(), "the tab's stream was left hanging"
    output = log.read_text()
    _clean(output)
    assert output.rstrip().endswith("genrec stopped."), output[-500:]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP],
                         ids=["sigterm", "sigint", "sighup"])
def test_index_serve_passes_the_signal_to_its_chroma_child(tmp_path: Path, reaper, sig) -> None:
    port = _port()
    log = tmp_path / "serve.log"
    proc = _spawn(["index", "serve", "--port", str(port)], _env(tmp_path / "home"), tmp_path, log)
    reaper.append(proc)
    _wait_http(f"http://127.0.0.1:{port}/api/v2/heartbeat", proc, log, timeout=120)

    took = _stop(proc, sig)
    assert proc.returncode is not None and took < PROMPT_S, f"took {took:.1f} s to stop"
    assert proc.returncode == 0, (proc.returncode, log.read_text()[-3000:])
    # nothing of its process group is left: no orphaned `chroma run`, nothing on the port
    assert _wait_group_gone(proc.pid, 5), "an orphaned `chroma run` is still alive"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2)
    _clean(log.read_text())


def test_up_stops_promptly_while_a_slow_llm_turn_runs(small_home, tmp_path: Path, reaper) -> None:
    """A turn waiting on a slow LLM does not hold the exit, and nothing is printed about it."""
    from openai_test_server import OpenAITestServer

    home, env = small_home
    port = _port()
    log = tmp_path / "up.log"
    with OpenAITestServer("slow/model", delay=45.0) as llm:
        env = {**env, "GENREC_LLM_BASE_URL": llm.base_url, "GENREC_LLM_TIMEOUT": "60"}
        proc = _spawn(["up", "--llm", "openai", "--port", str(port)], env, tmp_path, log)
        reaper.append(proc)
        base = f"http://127.0.0.1:{port}/"
        _wait_http(base + "readyz", proc, log)
        _hold_a_tab_open(base)
        answered: list[int | str] = []

        def ask() -> None:
            try:
                r = httpx.post(base + "v1/chat/completions", timeout=90, json={
                    "messages": [{"role": "user", "content": "a mystery book please"}]})
                answered.append(r.status_code)
            except httpx.HTTPError as exc:
                answered.append(type(exc).__name__)

        turn = threading.Thread(target=ask, daemon=True)
        turn.start()
        deadline = time.monotonic() + 30
        while not llm.chat_requests and time.monotonic() < deadline:
            time.sleep(0.1)
        assert llm.chat_requests, "the turn never reached the LLM"

        took = _stop(proc, signal.SIGINT)
        assert proc.returncode == 0 and took < PROMPT_S, (proc.returncode, f"{took:.1f} s")
        assert _wait_group_gone(proc.pid, 5)
        turn.join(10)
        assert answered and answered[0] != 200  # cut off, never acknowledged
        output = log.read_text()
        _clean(output)
        assert "genrec stopped" in output.splitlines()[-1], output[-500:]
