"""install.py, the README's set-up route: on a machine without an NVIDIA GPU it pins a CPU build of
torch before pip resolves anything, so following the two commands never brings CUDA wheels; with
a GPU it leaves torch to PyPI. Checked with pip's own resolution (`--dry-run --report`), the real
pip and this machine's package sources; a download of any CUDA wheel stops the run and fails."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ROOT / "install.py"
CUDA_NAMES = ("nvidia-", "nvidia_", "cuda-", "cuda_", "triton")
DOWNLOAD = re.compile(r"Downloading (\S+)")


def _module():
    spec = importlib.util.spec_from_file_location("genrec_install", INSTALL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _is_cuda(name: str, version: str = "") -> bool:
    name = name.lower()
    return name.startswith(CUDA_NAMES) or (name == "torch" and "+cpu" not in version)


def _run(python: str, *args: str, env: dict[str, str] | None = None,
         timeout: float = 900) -> tuple[int, str]:
    """Run install.py; stop it at the first CUDA wheel it starts downloading."""
    proc = subprocess.Popen([python, str(INSTALL), *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        m = DOWNLOAD.search(line)
        if m and not m.group(1).endswith(".metadata"):
            wheel = m.group(1).rsplit("/", 1)[-1]
            if wheel.lower().startswith(CUDA_NAMES) or (
                    wheel.startswith("torch-") and "+cpu" not in wheel and "%2Bcpu" not in wheel):
                proc.kill()
                pytest.fail(f"install.py started downloading a CUDA wheel: {line.strip()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("install.py took too long:\n" + "".join(lines[-20:]))
    return proc.wait(), "".join(lines)


def _report(path: Path) -> list[tuple[str, str]]:
    report = json.loads(path.read_text())
    return [(i["metadata"]["name"].lower(), i["metadata"]["version"]) for i in report["install"]]


# ------------------------------------------------------------------ the decision


def test_the_cpu_build_chosen_is_the_installed_one_or_the_newest_in_range() -> None:
    m = _module()
    offered = ["2.15.0+cpu", "2.15.0", "2.14.1", "2.14.1+cpu", "2.13.0+cpu", "2.3.1+cpu"]
    assert m.choose_cpu_torch(offered, None) == "2.14.1+cpu"       # 2.15 is out of range
    assert m.choose_cpu_torch(offered, "2.13.0+cpu") == "2.13.0+cpu"  # kept, not upgraded
    assert m.choose_cpu_torch(offered, "2.14.1") == "2.14.1+cpu"   # a CUDA build is replaced
    assert m.choose_cpu_torch(["2.14.1", "2.13.0"], None) is None  # PyPI's Linux builds only
    assert m.choose_cpu_torch(["2.5.1+cpu.cxx11.abi"], None) == "2.5.1+cpu.cxx11.abi"


def test_a_gpu_is_found_from_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1234)'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    proc = tmp_path / "proc-gpus"
    assert _module().nvidia_gpus(proc) == ["NVIDIA H100 80GB HBM3"]
    fake.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    assert _module().nvidia_gpus(proc) == []  # no driver entries either: no GPU
    (proc / "0000:01:00.0").mkdir(parents=True)
    (proc / "0000:01:00.0" / "information").write_text("Model: \t Tesla T4\nIRQ: 42\n")
    assert _module().nvidia_gpus(proc) == ["Tesla T4"]


# ------------------------------------------------------------------ the real route, here


@pytest.mark.slow
def test_here_the_set_up_puts_no_cuda_wheel(tmp_path: Path) -> None:
    """This machine has no NVIDIA GPU: the README's first command (with the tests' extra, as
    the second) resolves to a CPU torch and no CUDA package."""
    report = tmp_path / "report.json"
    rc, out = _run(sys.executable, "test", "--", "--dry-run", "--report", str(report), "-q")
    assert rc == 0, out[-3000:]
    assert out.splitlines()[0].startswith("install.py: no NVIDIA GPU here: torch 2."), out[:500]
    assert "+cpu" in out.splitlines()[0] and "the CPU build (no CUDA wheels)" in out
    planned = _report(report)
    assert not [p for p in planned if _is_cuda(*p)], planned


@pytest.mark.slow
def test_a_fresh_environment_gets_the_cpu_torch_and_no_cuda_package(tmp_path: Path) -> None:
    """A new virtualenv without torch, as a new user has: pip's whole resolution of genrec
    holds a +cpu torch and not one nvidia-*, cuda-* or triton package."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    report = tmp_path / "report.json"
    rc, out = _run(python, "--", "--dry-run", "--report", str(report), "-q")
    assert rc == 0, out[-3000:]
    planned = dict(_report(report))
    assert planned["torch"].endswith("+cpu"), planned.get("torch")
    assert not [p for p in planned.items() if _is_cuda(*p)], sorted(planned)
    assert {"genrec", "chromadb", "gradio", "sentence-transformers"} <= set(planned)


@pytest.mark.slow
def test_with_a_gpu_torch_is_left_to_pypi(tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "nvidia-smi"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1234)'\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}"}
    rc, out = _run(sys.executable, "--", "--dry-run", "--no-deps", "-q", env=env)
    assert rc == 0, out[-2000:]
    assert out.splitlines()[0] == ("install.py: NVIDIA GPU found (NVIDIA H100 80GB HBM3): "
                                   "torch from PyPI")


@pytest.mark.slow
def test_without_any_cpu_build_in_reach_it_stops_and_installs_nothing(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    empty = tmp_path / "empty-index"
    empty.mkdir()
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": "",
           "PIP_INDEX_URL": empty.as_uri(), "PIP_EXTRA_INDEX_URL": "",
           "GENREC_TORCH_CPU_INDEX": ""}
    rc, out = _run(str(venv / "bin" / "python"), env=env, timeout=300)
    assert rc == 2, out[-2000:]
    assert "no CPU build of torch 2.4 or newer (below 2.15) can be reached" in out
    assert "Would install" not in out and "Successfully installed" not in out
    check = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list"],
                           capture_output=True, text=True, env=env)
    assert "torch" not in check.stdout and "genrec" not in check.stdout
