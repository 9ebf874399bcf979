"""Provenance: where a result came from (git commit, machine, library versions), recorded one way.

Evaluation runs, trained artifacts and benchmarks all call `provenance()` and store its dict.
"""

from __future__ import annotations

import os
import platform
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

_LIBRARIES = ("torch", "numpy", "chromadb", "sentence-transformers", "langchain-core", "gradio")


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The commit of the genrec checkout, when it is a git checkout (None otherwise).

    >>> git_commit() is None or len(git_commit()) == 40
    True
    """
    try:
        root = Path(__file__).resolve().parents[1]
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def _first_line(path: str, prefix: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine() -> dict[str, Any]:
    """CPU model, core count, RAM (GiB), platform and the 1-minute load average.

    >>> sorted(machine())[:3]
    ['cores', 'cpu', 'load_avg_1m']
    """
    mem = _first_line("/proc/meminfo", "MemTotal")
    return {
        "cpu": _first_line("/proc/cpuinfo", "model name") or platform.processor() or "",
        "cores": os.cpu_count(),
        "ram_gib": round(int(mem.split()[0]) / 1024 / 1024, 1) if mem else None,
        "platform": platform.platform(),
        "load_avg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def versions() -> dict[str, str | None]:
    """Python, genrec and the main libraries' installed versions (None when not installed)."""
    import genrec

    out: dict[str, str | None] = {"python": platform.python_version(), "genrec": genrec.__version__}
    for lib in _LIBRARIES:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = None
    return out


def provenance() -> dict[str, Any]:
    """{"git_commit", "machine", "versions"}: the one record every run, artifact and benchmark
    keeps.

    >>> sorted(provenance())
    ['git_commit', 'machine', 'versions']
    """
    return {"git_commit": git_commit(), "machine": machine(), "versions": versions()}
