"""How the ranker's training cost grows with the number of ratings (synthetic, MovieLens-like data).

Each size runs in its own process (so peak memory is that size's own): generate ratings with
genrec.ranking.synthetic, train the autoencoder for a few epochs, report seconds per epoch,
ratings per second and peak RSS. The EASE part (cost ~ items^3, independent of ratings) is off here.

    python benchmarks/ranker_scale.py                          # 1M and 10M, observed-cells path
    python benchmarks/ranker_scale.py --sizes 100000 1000000 --path auto
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from _machine import machine  # noqa: E402 (benchmarks/ is on sys.path when run as a script)

from genrec.provenance import provenance

RESULTS = Path(__file__).parent / "results" / "ranker_scale.json"


def one(n: int, epochs: int, path: str, threads: int, size: int) -> dict:
    import numpy as np
    import torch

    from genrec.ranking import MFRanker, RankerConfig
    from genrec.ranking.synthetic import synthetic_ratings

    torch.set_num_threads(threads)
    t = time.perf_counter()
    ratings = synthetic_ratings(n, seed=0)
    gen_s = time.perf_counter() - t
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    dense = {"auto": None, "dense": True, "sparse": False}[path]
    cfg = RankerConfig(
        epochs=epochs, embedding_size=size, ease_max_items=0, dense=dense, device="cpu"
    )
    t = time.perf_counter()
    m = MFRanker(cfg).fit(ratings, progress=False)
    fit_s = time.perf_counter() - t
    per_epoch = m.metadata["seconds_per_epoch"]
    return {
        "ratings": n,
        "users": m.metadata["n_users"],
        "items": m.metadata["n_items"],
        "density": round(n / (m.metadata["n_users"] * m.metadata["n_items"]), 5),
        "path": "dense" if m.metadata["dense"] else "sparse",
        "epochs": epochs,
        "embedding_size": size,
        "generate_s": round(gen_s, 2),
        "fit_s": round(fit_s, 2),
        "seconds_per_epoch": per_epoch,
        "ratings_per_s": round(n / per_epoch),
        "peak_rss_mb_after_data": round(rss_data),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "train_rmse_sample": float(
            np.sqrt(
                np.mean(
                    (
                        m.predict(int(ratings.df.user.iloc[0]), [int(ratings.df.item.iloc[0])])
                        - ratings.df.rating.iloc[0]
                    )
                    ** 2
                )
            )
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=float, nargs="+", default=[1e6, 1e7])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--path", choices=["auto", "dense", "sparse"], default="sparse")
    ap.add_argument("--embedding-size", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per size before giving up")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.epochs, args.path, args.threads, args.embedding_size)))
        return
    rows = []
    for n in (int(s) for s in args.sizes):
        cmd = [
            sys.executable,
            __file__,
            "--one",
            str(n),
            "--epochs",
            str(args.epochs),
            "--path",
            args.path,
            "--threads",
            str(args.threads),
            "--embedding-size",
            str(args.embedding_size),
        ]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            rows.append({"ratings": n, "error": f"did not finish in {args.timeout:.0f} s"})
            print(rows[-1], flush=True)
            continue
        if res.returncode != 0:
            rows.append(
                {
                    "ratings": n,
                    "error": res.stderr.strip().splitlines()[-1] if res.stderr else "failed",
                }
            )
        else:
            rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    ok = [r for r in rows if "error" not in r]
    base = ok[0] if ok else None
    print(
        f"\n{'ratings':>10} {'users':>7} {'items':>6} {'path':>6} {'s/epoch':>9} {'ratings/s':>10} "
        f"{'peak MB':>8} {'cost/rating vs first':>21}"
    )
    for r in rows:
        if "error" in r:
            print(f"{r['ratings']:>10} {r['error']}")
            continue
        rel = (r["seconds_per_epoch"] / r["ratings"]) / (
            base["seconds_per_epoch"] / base["ratings"]
        )
        r["cost_per_rating_vs_first"] = round(rel, 2)
        print(
            f"{r['ratings']:>10} {r['users']:>7} {r['items']:>6} {r['path']:>6} "
            f"{r['seconds_per_epoch']:>9.2f} "
            f"{r['ratings_per_s']:>10} {r['peak_rss_mb']:>8} {rel:>21.2f}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    out = {"machine": machine(), "provenance": provenance(), "args": vars(args), "results": rows}
    RESULTS.write_text(json.dumps(out, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
