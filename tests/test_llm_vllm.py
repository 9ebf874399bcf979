"""The vLLM launcher: command building per model family, and start / health wait / stop against a
fake `vllm` executable on PATH that runs the vLLM-like test server (real process, real HTTP)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from openai_test_server import OpenAITestServer, Reply
from typer.testing import CliRunner

from genrec.cli import app
from genrec.llm import LLMResponseError, get_llm
from genrec.llm.vllm_server import (
    TOOL_CALL_PARSERS,
    VLLMNotInstalledError,
    VLLMServer,
    VLLMStartError,
    build_vllm_command,
    find_vllm,
    tool_call_parser_for,
)

TESTS_DIR = Path(__file__).parent
REPO = TESTS_DIR.parent

FAKE_VLLM = f"""\
#!{sys.executable}
# A stand-in for `vllm serve MODEL --host H --port P ...`: records its argv, "loads" for
# FAKE_VLLM_DELAY seconds, then serves the vLLM-like test server until terminated.
import json, os, sys, time
args = sys.argv[1:]
with open(os.environ["FAKE_VLLM_LOG"], "a") as f:
    f.write(json.dumps({{"pid": os.getpid(), "argv": args}}) + "\\n")
print("INFO: loading weights", flush=True)
if os.environ.get("FAKE_VLLM_FAIL"):
    print("RuntimeError: CUDA error: no CUDA-capable device is detected",
          file=sys.stderr, flush=True)
    sys.exit(3)
time.sleep(float(os.environ.get("FAKE_VLLM_DELAY", "0.2")))
sys.path.insert(0, {str(TESTS_DIR)!r})
from openai_test_server import OpenAITestServer
host = args[args.index("--host") + 1]
port = int(args[args.index("--port") + 1])
OpenAITestServer(args[1], host=host, port=port,
                 auto_tool_choice="--enable-auto-tool-choice" in args).serve_forever()
"""


@pytest.fixture
def fake_vllm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `vllm` executable first on PATH; returns the file its launches are logged to."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "vllm"
    exe.write_text(FAKE_VLLM)
    exe.chmod(0o755)
    log = tmp_path / "vllm-launches.jsonl"
    log.touch()
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_VLLM_LOG", str(log))
    monkeypatch.setenv("FAKE_VLLM_DELAY", "0.2")
    return log


def _launches(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) is not alive
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


@pytest.mark.parametrize(
    ("model", "parser"),
    [
        ("Qwen/Qwen2.5-7B-Instruct", "hermes"),
        ("Qwen/Qwen3-8B", "hermes"),
        ("NousResearch/Hermes-3-Llama-3.1-8B", "hermes"),
        ("meta-llama/Llama-3.1-8B-Instruct", "llama3_json"),
        ("meta-llama/Llama-3.2-3B-Instruct", "llama3_json"),
        ("meta-llama/Meta-Llama-3-8B-Instruct", "llama3_json"),
        ("meta-llama/Llama-4-Scout-17B-16E-Instruct", "llama4_pythonic"),
        ("mistralai/Mistral-7B-Instruct-v0.3", "mistral"),
        ("Qwen/Qwen3-Coder-30B-A3B-Instruct", "qwen3_coder"),
        ("Salesforce/Llama-xLAM-2-8b-fc-r", "xlam"),
        ("openai/gpt-oss-20b", "openai"),
        ("facebook/opt-125m", None),
    ],
)
def test_tool_call_parser_per_family(model, parser):
    assert tool_call_parser_for(model) == parser


def test_parser_table_is_documented():
    assert all(rule.family and rule.parser for rule in TOOL_CALL_PARSERS)


def test_build_command():
    cmd = build_vllm_command(
        "Qwen/Qwen2.5-7B-Instruct",
        port=8123,
        tensor_parallel_size=2,
        extra_args=["--max-model-len", "8192"],
        api_key="k",
        executable="vllm",
    )
    assert cmd == [
        "vllm",
        "serve",
        "Qwen/Qwen2.5-7B-Instruct",
        "--host",
        "127.0.0.1",
        "--port",
        "8123",
        "--tensor-parallel-size",
        "2",
        "--enable-auto-tool-choice",
        "--tool-call-parser",
        "hermes",
        "--api-key",
        "k",
        "--max-model-len",
        "8192",
    ]
    unknown = build_vllm_command("facebook/opt-125m", executable="vllm", api_key="EMPTY")
    assert "--enable-auto-tool-choice" not in unknown and "--api-key" not in unknown
    forced = build_vllm_command("facebook/opt-125m", tool_call_parser="pythonic", executable="vllm")
    assert forced[-3:] == ["--enable-auto-tool-choice", "--tool-call-parser", "pythonic"]
    off = build_vllm_command("Qwen/Qwen2.5-7B-Instruct", tool_call_parser=None, executable="vllm")
    assert "--tool-call-parser" not in off


def test_vllm_not_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(VLLMNotInstalledError, match=r"pip install 'genrec\[vllm\]'"):
        find_vllm()
    result = CliRunner().invoke(app, ["llm", "serve", "--model", "Qwen/Qwen2.5-7B-Instruct"])
    assert result.exit_code == 1
    assert "pip install 'genrec[vllm]'" in result.output


def test_cli_dry_run_prints_the_command():
    result = CliRunner().invoke(
        app,
        [
            "llm",
            "serve",
            "--model",
            "meta-llama/Llama-3.1-8B-Instruct",
            "--port",
            "9001",
            "--tensor-parallel-size",
            "4",
            "--extra",
            "--max-model-len 4096",
            "--dry-run",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "vllm serve meta-llama/Llama-3.1-8B-Instruct --host 127.0.0.1 --port 9001 "
        "--tensor-parallel-size 4 --enable-auto-tool-choice --tool-call-parser llama3_json "
        "--max-model-len 4096"
    )


def test_cli_parsers_table():
    result = CliRunner().invoke(app, ["llm", "parsers"])
    assert result.exit_code == 0
    assert "llama3_json" in result.output and "hermes" in result.output


def test_server_starts_waits_for_health_and_stops(fake_vllm, tmp_path, settings):
    port = _free_port()
    waited: list[float] = []
    with VLLMServer(
        "Qwen/Qwen2.5-7B-Instruct",
        port=port,
        log_path=tmp_path / "vllm.log",
        progress=waited.append,
        progress_every=0.1,
    ) as srv:
        assert srv.running and srv.base_url == f"http://127.0.0.1:{port}/v1"
        assert httpx.get(srv.root_url + "/health").status_code == 200
        (launch,) = _launches(fake_vllm)
        assert launch["argv"][:2] == ["serve", "Qwen/Qwen2.5-7B-Instruct"]
        assert launch["argv"][-2:] == ["--tool-call-parser", "hermes"]
        assert waited, "progress is reported while vLLM loads"
        backend = get_llm("openai", settings.model_copy(update={"llm_base_url": srv.base_url}))
        assert backend.name == "openai:Qwen/Qwen2.5-7B-Instruct"
        res = backend.invoke(
            "hi", tools=[{"type": "function", "function": {"name": "t", "parameters": {}}}]
        )
        assert (
            res.text
        )  # the fake answers with its default text; tools were accepted (auto tool choice)
        pid = launch["pid"]
    assert not srv.running
    assert not _pid_alive(pid) and not _port_open(port)
    assert "loading weights" in (tmp_path / "vllm.log").read_text()


def test_server_that_exits_reports_its_log(fake_vllm, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_VLLM_FAIL", "1")
    srv = VLLMServer("Qwen/Qwen2.5-7B-Instruct", port=_free_port(), log_path=tmp_path / "v.log")
    with pytest.raises(VLLMStartError, match=r"(?s)exited with code 3.*CUDA error"):
        srv.start()
    assert not srv.running


def test_server_that_never_gets_healthy_times_out_and_is_stopped(fake_vllm, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_VLLM_DELAY", "60")
    srv = VLLMServer(
        "Qwen/Qwen2.5-7B-Instruct",
        port=_free_port(),
        startup_timeout=0.4,
        log_path=tmp_path / "v.log",
    )
    with pytest.raises(VLLMStartError, match="did not answer .*/health within 0.4 s"):
        srv.start()
    (launch,) = _launches(fake_vllm)
    assert not srv.running and not _pid_alive(launch["pid"])


def test_busy_port_is_refused_before_launch(fake_vllm):
    with OpenAITestServer("Qwen/Qwen2.5-7B-Instruct") as other:
        srv = VLLMServer("Qwen/Qwen2.5-7B-Instruct", port=other.port)
        with pytest.raises(VLLMStartError, match=f"port {other.port} is already in use"):
            srv.start()
    assert _launches(fake_vllm) == []


def test_vllm_spec_starts_a_child_and_close_stops_it(fake_vllm, settings):
    port = _free_port()
    s = settings.model_copy(update={"llm_base_url": f"http://127.0.0.1:{port}/v1"})
    backend = get_llm("vllm:mistralai/Mistral-7B-Instruct-v0.3", s)
    try:
        assert (
            backend.name == "openai:mistralai/Mistral-7B-Instruct-v0.3" and backend.supports_tools
        )
        (launch,) = _launches(fake_vllm)
        assert "mistral" in launch["argv"] and str(port) in launch["argv"]
        assert backend.invoke("hi").text
    finally:
        backend.close()
    assert not _port_open(port) and not _pid_alive(launch["pid"])
    assert (s.home / "logs" / f"vllm-{port}.log").is_file()


def test_vllm_spec_reuses_a_running_server(fake_vllm, settings):
    with OpenAITestServer("Qwen/Qwen2.5-7B-Instruct") as srv:
        s = settings.model_copy(update={"llm_base_url": srv.base_url})
        srv.enqueue(Reply.say("from the running server"))
        backend = get_llm("vllm:Qwen/Qwen2.5-7B-Instruct", s)
        assert backend.invoke("hi").text == "from the running server"
        assert _launches(fake_vllm) == []
        with pytest.raises(
            LLMResponseError, match="serves Qwen/Qwen2.5-7B-Instruct, not other/model"
        ):
            get_llm("vllm:other/model", s)


def test_cli_serve_runs_until_terminated(fake_vllm, tmp_path):
    port = _free_port()
    env = {**os.environ, "GENREC_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "genrec.cli",
            "llm",
            "serve",
            "--model",
            "Qwen/Qwen2.5-7B-Instruct",
            "--port",
            str(port),
            "--timeout",
            "60",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert (
            line.strip()
            == f"vLLM is serving Qwen/Qwen2.5-7B-Instruct at http://127.0.0.1:{port}/v1"
        )
        assert "GENREC_LLM_BASE_URL=" in proc.stdout.readline()
        models = httpx.get(f"http://127.0.0.1:{port}/v1/models").json()
        assert models["data"][0]["id"] == "Qwen/Qwen2.5-7B-Instruct"
        (launch,) = _launches(fake_vllm)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read()
    assert "starting: " in err and "--tool-call-parser hermes" in err and "stopping vLLM" in err
    deadline = time.monotonic() + 10
    while _pid_alive(launch["pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _pid_alive(launch["pid"]) and not _port_open(port)
