"""Install genrec with the torch build this machine can use: `python install.py [EXTRA ...]`.

PyPI's torch for Linux is the CUDA build: with its CUDA libraries about 3 GB of wheels (a 7 GB
virtualenv), useless on a machine without an NVIDIA GPU. This script looks for one first:

* an NVIDIA GPU (`nvidia-smi -L`, else /proc/driver/nvidia/gpus): `pip install -e .` as usual,
  torch from PyPI (the CUDA build);
* none, on Linux: torch is pinned to a CPU build (`torch==X+cpu`) before pip resolves anything,
  so no CUDA wheel is ever downloaded: the one already installed when it is a CPU build, else the
  newest in genrec's range that pip can reach (PyTorch's CPU index when it answers, a local
  wheel or a mirror pip is set up with; GENREC_TORCH_CPU_INDEX names another index of CPU
  builds). When none can be reached it stops and says so, having installed nothing;
* macOS and Windows: as usual (PyPI's torch there brings no CUDA libraries).

It says which on one line, then runs pip. `--cpu` / `--cuda` decide instead of the detection;
arguments after `--` go to pip (`python install.py test -- --dry-run --report r.json`).

    python install.py && genrec up                    # the app
    python install.py test && python -m pytest -q     # the tests, as CI runs them

Only the standard library: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: PyTorch's index of CPU builds; GENREC_TORCH_CPU_INDEX names a mirror ("" = none).
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
#: genrec's torch range (pyproject.toml), as (lowest, first too new) release tuples.
TORCH_RANGE = ((2, 4), (2, 15))
_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?(?:\+(.+))?$")


def nvidia_gpus(proc: Path = Path("/proc/driver/nvidia/gpus")) -> list[str]:
    """The NVIDIA GPUs this machine shows (their names), [] when none: `nvidia-smi -L`, else the
    driver's entries under `proc`."""
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            out = None
        if out is not None and out.returncode == 0:
            gpus = [ln.split(":", 1)[1].split("(")[0].strip() for ln in out.stdout.splitlines()
                    if ln.startswith("GPU ") and ":" in ln]
            if gpus:
                return gpus
    names = []
    for info in sorted(proc.glob("*/information")):
        model = [ln.split(":", 1)[1].strip() for ln in info.read_text(errors="replace").splitlines()
                 if ln.startswith("Model:")]
        names.append(model[0] if model else "NVIDIA GPU")
    return names


def _key(version: str) -> tuple[int, int, int] | None:
    m = _VERSION.match(version)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)) if m else None


def in_range(version: str) -> bool:
    """Whether a torch version is one genrec takes (>=2.4, <2.15).

    >>> in_range("2.13.0+cpu"), in_range("2.15.0+cpu"), in_range("2.3.1+cpu")
    (True, False, False)
    """
    key = _key(version)
    return key is not None and TORCH_RANGE[0] <= key[:2] < TORCH_RANGE[1]


def is_cpu_build(version: str) -> bool:
    """A torch version from PyTorch's CPU builds ("2.13.0+cpu", "2.5.1+cpu.cxx11.abi").

    >>> is_cpu_build("2.13.0+cpu"), is_cpu_build("2.13.0"), is_cpu_build("2.13.0+cu126")
    (True, False, False)
    """
    m = _VERSION.match(version)
    return bool(m and m.group(4) and m.group(4).split(".")[0] == "cpu")


def choose_cpu_torch(available: list[str], installed: str | None) -> str | None:
    """The CPU build to pin: the installed one when it is a CPU build in range, else the newest
    CPU build in range among `available`; None when there is none.

    >>> choose_cpu_torch(["2.15.0+cpu", "2.14.1", "2.14.1+cpu", "2.13.0+cpu"], None)
    '2.14.1+cpu'
    >>> choose_cpu_torch(["2.14.1+cpu"], "2.13.0+cpu"), choose_cpu_torch(["2.14.1"], "2.14.1")
    ('2.13.0+cpu', None)
    """
    if installed and is_cpu_build(installed) and in_range(installed):
        return installed
    cpu = [v for v in available if is_cpu_build(v) and in_range(v)]
    return max(cpu, key=lambda v: _key(v) or (0, 0, 0)) if cpu else None


def installed_torch() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return None


def reachable(url: str, timeout: float = 5.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - fixed https URL
            return resp.status == 200
    except (OSError, ValueError):
        return False


def torch_versions(pip: list[str], index_args: list[str]) -> list[str]:
    """Every torch version pip can reach for this interpreter (its indexes, find-links, mirrors):
    `pip index versions torch` reads the index pages only, no wheel is downloaded."""
    out = subprocess.run([*pip, "index", "versions", "torch", "--pre", *index_args],
                         capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.strip().startswith("Available versions:"):
            return [v.strip() for v in line.split(":", 1)[1].split(",") if v.strip()]
    return []


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pip_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, pip_args = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("extras", nargs="*", help="extras of genrec to install too (test, bench, "
                                                  "postgres, spark, vllm)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--cpu", action="store_true", help="the CPU build of torch, GPU or not")
    which.add_argument("--cuda", action="store_true", help="PyPI's torch (the CUDA build on Linux)")
    args = parser.parse_args(argv)

    pip = [sys.executable, "-m", "pip"]
    target = str(HERE) + (f"[{','.join(args.extras)}]" if args.extras else "")
    command = [*pip, "install", "-e", target, *pip_args]
    gpus = [] if args.cpu else nvidia_gpus()
    say = "install.py:"
    if args.cuda or gpus or (not args.cpu and not sys.platform.startswith("linux")):
        why = ("--cuda" if args.cuda else f"NVIDIA GPU found ({', '.join(gpus)})" if gpus
               else f"{sys.platform}: PyPI's torch brings no CUDA libraries there")
        print(f"{say} {why}: torch from PyPI", flush=True)
        return subprocess.call(command)

    cpu_index = os.environ.get("GENREC_TORCH_CPU_INDEX", CPU_INDEX).rstrip("/")
    index_args = (["--extra-index-url", cpu_index]
                  if cpu_index and reachable(cpu_index + "/torch/") else [])
    have = installed_torch()
    pinned = choose_cpu_torch(torch_versions(pip, index_args), have)
    why = "--cpu" if args.cpu else "no NVIDIA GPU here"
    if pinned is None:
        print(f"{say} {why}, and no CPU build of torch {'.'.join(map(str, TORCH_RANGE[0]))} or "
              f"newer (below {'.'.join(map(str, TORCH_RANGE[1]))}) can be reached "
              f"({cpu_index or 'no CPU index'} {'answers' if index_args else 'does not answer'}"
              "; pip's other sources have none). Install one first (`pip install torch "
              f"--index-url {CPU_INDEX}`, or a wheel file), or use --cuda for PyPI's CUDA build.",
              file=sys.stderr)
        return 2
    kept = " (installed)" if pinned == have else ""
    print(f"{say} {why}: torch {pinned}{kept}, the CPU build (no CUDA wheels)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        pins = Path(tmp) / "cpu-torch.txt"
        pins.write_text(f"torch=={pinned}\n")  # with pip's own constraints, if it has any
        return subprocess.call([*command[:4], *index_args, *command[4:], "-c", str(pins)])


if __name__ == "__main__":
    sys.exit(main())
