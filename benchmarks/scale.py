"""genrec at MovieLens-25M size on existing engines: Spark ALS vs the torch ranker, the Chroma
index, the agent's per-turn overhead on that catalog, and session-store throughput (PostgreSQL vs
SQLite).

`--scale 1` is MovieLens 25M's shape (162,541 users, 62,423 items, 25,000,095 ratings); smaller
scales shrink all three (`--scale 0.01`: 1.6k users, 624 items, 250k ratings). Ratings come from
genrec.ranking.synthetic (power-law items, log-normal users, low-rank tastes, seeded), with a
matching synthetic catalog imported as a dataset; held-out split `random:0.1`. Each step runs in
its own process (its peak memory: that process tree, a JVM included).

Steps: data (generate + import), spark (ALS on --spark-master, fixed params from the ML-100K
tuning; its artifact is what the later steps serve), torch (the shipped ranker, --torch-epochs),
index (Chroma build), agent (turn overhead, LLM `none`), sessions (50 concurrent sessions:
store-only and through the HTTP API, two replicas on a throwaway PostgreSQL vs one on SQLite).

    python benchmarks/scale.py --scale 0.01                       # everything, small (minutes)
    nice -n 19 python benchmarks/scale.py --scale 1 --steps data,spark,torch --torch-epochs 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from _machine import machine  # noqa: E402 (benchmarks/ is on sys.path when run as a script)

ML25M = (162_541, 62_423, 25_000_095)
SPLIT = "random:0.1"
STEPS = ["data", "spark", "torch", "index", "agent", "sessions"]
TESTS = Path(__file__).resolve().parents[1] / "tests"
RESULTS = Path(__file__).parent / "results"
GENRES = ["Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
          "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
          "War", "Western"]
WORDS = [
    "Silent",
    "River",
    "Night",
    "Golden",
    "Empire",
    "Last",
    "Summer",
    "Stone",
    "Shadow",
    "Glass",
    "Winter",
    "Iron",
    "Broken",
    "Secret",
    "Wild",
    "Paper",
    "Crimson",
    "Distant",
    "Electric",
    "Hidden",
    "Lonely",
    "Midnight",
    "Northern",
    "Quiet",
    "Burning",
    "Falling",
    "Little",
    "Great",
]


def shape(scale: float) -> tuple[int, int, int]:
    return tuple(max(50, int(round(x * scale))) for x in ML25M)  # type: ignore[return-value]


def dataset_name(scale: float) -> str:
    return f"synthetic-ml25m-x{scale:g}"


class PeakMemory:
    """Peak resident memory of this process and its children (a JVM too), sampled every 0.2 s."""

    def __init__(self) -> None:
        import psutil

        self.proc, self.peak, self._stop = psutil.Process(), 0, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = self.proc.memory_info().rss + sum(
                    c.memory_info().rss for c in self.proc.children(recursive=True))
                self.peak = max(self.peak, rss)
            except Exception:  # noqa: BLE001 - a child that just exited
                pass
            self._stop.wait(0.2)

    def __enter__(self) -> PeakMemory:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()

    @property
    def gib(self) -> float:
        return round(self.peak / 2**30, 2)


def settings_for(work: Path) -> Any:
    from genrec.config import Settings

    return Settings(home=work / "home", dataset=dataset_name(ARGS.scale), split=SPLIT, llm="none",
                    seed=42, embedder=ARGS.embedder)


def load(work: Path) -> tuple[Any, Any, Any]:
    from genrec.data import load_split

    s = settings_for(work)
    ds, split = load_split(s.dataset, SPLIT, s.datasets_dir, seed=42)
    return s, ds, split


# ------------------------------------------------------------------------------------------ steps


def step_data(work: Path) -> dict:
    import numpy as np
    import pandas as pd

    from genrec.data.importer import import_dataset
    from genrec.ranking.synthetic import synthetic_ratings

    n_users, n_items, n_ratings = shape(ARGS.scale)
    t = time.perf_counter()
    ratings = synthetic_ratings(n_ratings, n_users=n_users, n_items=n_items, seed=ARGS.seed)
    gen_s = time.perf_counter() - t
    rng = np.random.default_rng(ARGS.seed)
    ids = np.arange(1, n_items + 1)
    w = rng.integers(0, len(WORDS), (n_items, 2))
    items = pd.DataFrame({
        "item_id": ids,
        "title": [f"The {WORDS[a]} {WORDS[b]} {i}" for i, (a, b) in zip(ids, w)],
        "year": rng.integers(1930, 2024, n_items),
        "genres": ["|".join(sorted(set(rng.choice(GENRES, rng.integers(1, 4), replace=False))))
                   for _ in ids]})
    src = work / "src"
    src.mkdir(parents=True, exist_ok=True)
    items.to_parquet(src / "items.parquet", index=False)
    ratings.df.rename(columns={"user": "user_id", "item": "item_id"}).to_parquet(
        src / "ratings.parquet", index=False)
    del ratings
    t = time.perf_counter()
    s = settings_for(work)
    ds = import_dataset(s.dataset, src / "items.parquet", src / "ratings.parquet", s.datasets_dir)
    return {"users": int(ds.ratings.n_users), "items": len(ds.catalog), "ratings": len(ds.ratings),
            "generate_s": round(gen_s, 1), "import_s": round(time.perf_counter() - t, 1)}


def heldout_ndcg(ranker: Any, split: Any, users: int) -> float:
    """Mean NDCG@10 of `ranker.recommend` over a seeded sample of test users with a rating >= 4."""
    import numpy as np

    test = split.test.df[split.test.df["rating"] >= 4]
    rel = test.groupby("user")["item"].apply(set)
    known = [u for u in rel.index if ranker.knows_user(int(u))]
    pick = np.random.default_rng(0).choice(known, min(users, len(known)), replace=False)
    disc = 1 / np.log2(np.arange(2, 12))
    total = 0.0
    for u in pick:
        got = [x.item_id for x in ranker.recommend(int(u), k=10)]
        hits = np.array([i in rel[u] for i in got], dtype=float)
        total += float(hits @ disc[:len(hits)] / disc[:min(len(rel[u]), 10)].sum())
    return round(total / len(pick), 4)


def step_spark(work: Path) -> dict:
    from genrec.ranking import MFRanker, model_dir, ranker_config
    from genrec.ranking.als_artifact import als_weights
    from genrec.ranking.artifacts import SPARK_ENGINE, expected_metadata
    from genrec.ranking.files import write_model
    from genrec.ranking.spark_als import SparkALSConfig, fit_als, spark_session, write_parquet

    s, ds, split = load(work)
    params = {"rank": ARGS.als_rank, "regParam": ARGS.als_reg, "alpha": ARGS.als_alpha}
    cfg = SparkALSConfig(master=ARGS.spark_master, implicit=True, max_iter=ARGS.als_iter,
                         driver_memory=ARGS.spark_memory, seed=42)
    parquet = write_parquet(split.train, work / "spark" / "train.parquet")
    with PeakMemory() as mem:
        with spark_session(cfg, work / "spark" / "checkpoints") as spark:
            t = time.perf_counter()
            factors = fit_als(spark, parquet, params, cfg)
            fit_s = time.perf_counter() - t
            version = spark.version
    weights, calib = als_weights(factors, split.train, ds.catalog.ids, implicit=True,
                                 reg=params["regParam"])
    where = model_dir(s, ds.name, split.name)
    write_model(where, weights.arrays(), {
        **expected_metadata(ds, split, ranker_config(s)), "engine": SPARK_ENGINE,
        "scale": list(split.train.scale), "effective_reg": calib["effective_reg"],
        "spark": {**cfg.model_dump(), "best": params, "calibration": calib}})
    ranker = MFRanker.load(where)
    return {"engine": f"Spark {version} ALS ({ARGS.spark_master})", "params": params,
            "iterations": ARGS.als_iter, "fit_s": round(fit_s, 1),
            "s_per_iteration": round(fit_s / ARGS.als_iter, 2), "peak_gib": mem.gib,
            "ndcg@10": heldout_ndcg(ranker, split, ARGS.eval_users)}


def step_torch(work: Path) -> dict:
    import torch

    from genrec.ranking import MFRanker, RankerConfig

    torch.set_num_threads(2)
    _, ds, split = load(work)
    cfg = RankerConfig(epochs=ARGS.torch_epochs, device="cpu", seed=42)
    with PeakMemory() as mem:
        t = time.perf_counter()
        ranker = MFRanker(cfg).fit(split.train, items=ds.catalog.ids, progress=False)
        fit_s = time.perf_counter() - t
    m = ranker.metadata
    return {"engine": "torch autoencoder" + (" + EASE" if ranker.weights.ease is not None else
                                             " (EASE skipped: too many items)"),
            "epochs": ARGS.torch_epochs, "fit_s": round(fit_s, 1),
            "s_per_epoch": m["seconds_per_epoch"], "peak_gib": mem.gib,
            "ndcg@10": heldout_ndcg(ranker, split, ARGS.eval_users)}


def step_index(work: Path) -> dict:
    from genrec.retrieval import open_store, rating_counts

    s, ds, split = load(work)
    with PeakMemory() as mem:
        t = time.perf_counter()
        open_store(s, ds, build=True, progress=False, popularity=rating_counts(split.train))
        build_s = time.perf_counter() - t
    return {"items": len(ds.catalog), "embedder": s.embedder, "build_s": round(build_s, 1),
            "items_per_s": round(len(ds.catalog) / build_s, 1), "peak_gib": mem.gib}


def step_agent(work: Path) -> dict:
    import numpy as np
    import torch

    from genrec.agent import Recommender, SessionStore, build_parts
    from genrec.llm import get_llm

    torch.set_num_threads(1)
    if ARGS.blas_threads:  # set here, in the main thread, before any turn (see --blas-threads)
        from threadpoolctl import threadpool_limits
        threadpool_limits(ARGS.blas_threads, user_api="blas")
    s, ds, _ = load(work)
    parts = build_parts(s, progress=False)
    rec = Recommender(catalog=parts.catalog, ranker=parts.ranker, store=parts.store,
                      llm=get_llm("none", s), policy="guided", sessions=SessionStore(None))
    titles = [it.title for it in list(parts.catalog)[:200]]
    rng = np.random.default_rng(0)
    overhead, cpu, stages, load_before = [], [], {}, os.getloadavg()[0]
    for c in range(ARGS.conversations + 2):
        a, b = rng.choice(titles, 2, replace=False)
        script = [f"I loved {a}", "something from the 90s, no horror", f"I also liked {b}",
                  "more please", "any comedies?"]
        for msg in script:
            c0 = time.process_time()
            r = rec.chat(f"c{c}", msg)
            if c >= 2:  # two warm-up conversations
                overhead.append(r.timings["overhead"])
                cpu.append((time.process_time() - c0) * 1000)
                for k, v in r.timings.items():
                    stages.setdefault(k, []).append(v)
    def pct(v: list, q: int) -> float:
        return round(float(np.percentile(v, q)), 1)
    return {"ranker_engine": parts.ranker.metadata.get("engine"), "turns": len(overhead),
            "overhead_p50_ms": pct(overhead, 50), "overhead_p95_ms": pct(overhead, 95),
            "cpu_p50_ms": pct(cpu, 50), "cpu_p95_ms": pct(cpu, 95),
            "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],  # before, after
            "blas_threads": ARGS.blas_threads or "library default",
            "timings_p50_ms": {k: pct(v, 50) for k, v in stages.items()},
            "timings_p95_ms": {k: pct(v, 95) for k, v in stages.items()}}


def store_throughput(urls: list[str], sessions: int, turns: int) -> dict:
    """Turns/s of lock + load + save alone, `sessions` threads over the stores at `urls`."""
    from concurrent.futures import ThreadPoolExecutor

    from genrec.agent import SessionStore

    stores = [SessionStore(u) for u in urls]

    def conv(n: int) -> bool:
        sid = f"store-{n}"
        for t in range(turns):
            st = stores[(n + t) % len(stores)]
            with st.lock(sid):
                state = st.load_state(sid)
                state.turns += 1
                st.save_turn(sid, state, [("user", f"{n}/{t}"), ("assistant", "ok")])
        return stores[0].load_state(sid).turns == turns and [
            m["content"] for m in stores[0].history(sid)
        ][::2] == [f"{n}/{t}" for t in range(turns)]

    t0 = time.perf_counter()
    with ThreadPoolExecutor(sessions) as pool:
        ok = list(pool.map(conv, range(sessions)))
    wall = time.perf_counter() - t0
    for st in stores:
        st.close()
    return {"turns_per_s": round(sessions * turns / wall, 1), "bad_sessions": ok.count(False)}


def api_throughput(work: Path, url: str, replicas: int, sessions: int, turns: int) -> dict:
    """Turns/s through the HTTP API: `replicas` processes sharing the session store at `url`."""
    import shutil
    from concurrent.futures import ThreadPoolExecutor

    import httpx
    from pg_cluster import _free_port

    procs, bases, secret = [], [], os.urandom(32).hex()
    for i in range(replicas):  # each its own home: shared data and model, its own index copy
        home = work / f"replica{i}"
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir()
        for sub in ("datasets", "models"):
            (home / sub).symlink_to(work / "home" / sub)
        shutil.copytree(work / "home" / "chroma", home / "chroma")
        (home / "api-session-secret").write_text(secret)  # the replicas' shared session-hash key
        env = {**os.environ, "GENREC_HOME": str(home), "GENREC_DATASET": dataset_name(ARGS.scale),
               "GENREC_EMBEDDER": ARGS.embedder,
               "GENREC_SPLIT": SPLIT, "GENREC_SESSIONS_URL": url, "HF_HUB_OFFLINE": "1"}
        port = _free_port()
        procs.append(subprocess.Popen(
            [sys.executable, "-c", "from genrec.cli import app; app()", "up", "--llm", "none",
             "--policy", "guided", "--port", str(port)],
            env=env, stdout=(home / "up.log").open("w"), stderr=subprocess.STDOUT))
        bases.append(f"http://127.0.0.1:{port}")
    try:
        for p, b in zip(procs, bases):
            deadline = time.monotonic() + 900
            while True:
                if p.poll() is not None:
                    raise RuntimeError(f"replica exited with {p.returncode}: "
                                       f"{(work / 'replica0' / 'up.log').read_text()[-1500:]}")
                try:
                    if httpx.get(b + "/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
                if time.monotonic() > deadline:
                    raise RuntimeError("replica did not start")
        titles = ["I loved Star Wars", "something from the 90s", "more please", "no horror"]

        def conv(n: int) -> bool:
            sid = httpx.post(bases[n % replicas] + "/api/sessions", timeout=60).json()["session_id"]
            sent = []
            for t in range(turns):
                msg = f"{titles[t % len(titles)]} (session {n} turn {t})"
                r = httpx.post(f"{bases[(n + t) % replicas]}/api/sessions/{sid}/messages",
                               json={"message": msg}, timeout=300)
                if r.status_code != 200:
                    return False
                sent.append(msg)
            view = httpx.get(f"{bases[0]}/api/sessions/{sid}", timeout=60).json()
            return view["state"]["turns"] == turns and \
                [m["content"] for m in view["history"] if m["role"] == "user"] == sent

        t0 = time.perf_counter()
        with ThreadPoolExecutor(sessions) as pool:
            ok = list(pool.map(conv, range(sessions)))
        wall = time.perf_counter() - t0
    finally:
        for p in procs:
            p.terminate()
            p.wait(60)
    return {"replicas": replicas, "turns_per_s": round(sessions * turns / wall, 2),
            "bad_sessions": ok.count(False), "wall_s": round(wall, 1)}


def step_sessions(work: Path) -> dict:
    sys.path.insert(0, str(TESTS))
    from pg_cluster import TemporaryPostgres

    n, turns = ARGS.sessions, ARGS.session_turns
    out: dict[str, Any] = {"sessions": n, "turns_per_session": turns}
    sqlite = f"sqlite:///{work / 'home' / 'sessions-bench.sqlite'}"
    with TemporaryPostgres() as pg:
        out["store_only"] = {
            "postgres_2_replicas": store_throughput([pg.url, pg.url], n, turns * 4),
            "sqlite_1": store_throughput([sqlite], n, turns * 4),
        }
        if not ARGS.skip_api:
            out["api"] = {"postgres_2_replicas": api_throughput(work, pg.url, 2, n, turns),
                          "sqlite_1": api_throughput(work, sqlite, 1, n, turns)}
    return out


# ------------------------------------------------------------------------------------------ driver


def child(step: str, work: Path) -> None:
    result = {"data": step_data, "spark": step_spark, "torch": step_torch, "index": step_index,
              "agent": step_agent, "sessions": step_sessions}[step](work)
    print("RESULT " + json.dumps(result), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--scale", type=float, default=0.01, help="fraction of ML-25M's shape (1 = full)"
    )
    ap.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated, of {STEPS}")
    ap.add_argument(
        "--work", type=Path, default=None, help="work folder (default /tmp/genrec-scale-xSCALE)"
    )
    ap.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    ap.add_argument("--spark-master", default="local[2]")
    ap.add_argument("--spark-memory", default="12g", help="spark.driver.memory")
    ap.add_argument("--als-rank", type=int, default=32)
    ap.add_argument("--als-reg", type=float, default=0.1)
    ap.add_argument("--als-alpha", type=float, default=1.0)
    ap.add_argument("--als-iter", type=int, default=10)
    ap.add_argument("--torch-epochs", type=int, default=5)
    ap.add_argument(
        "--embedder",
        default="all-MiniLM-L6-v2",
        help="index and agent steps: all-MiniLM-L6-v2, or hash:384 (no neural model: "
        "Chroma's own cost, for a catalog too big to embed on the machine at hand)",
    )
    ap.add_argument("--eval-users", type=int, default=2000, help="held-out users scored per ranker")
    ap.add_argument(
        "--conversations", type=int, default=20, help="agent step: 5-turn conversations"
    )
    ap.add_argument(
        "--blas-threads", type=int, default=0, help="agent step: BLAS threads (0 = default)"
    )
    ap.add_argument("--tag", default="", help="suffix of the steps' keys in the JSON (e.g. _blas1)")
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--session-turns", type=int, default=3)
    ap.add_argument("--skip-api", action="store_true", help="sessions step: store-only figures")
    ap.add_argument(
        "--out", type=Path, default=None, help="JSON (default results/scale_xSCALE.json)"
    )
    ap.add_argument("--step", help=argparse.SUPPRESS)  # child mode
    global ARGS
    ARGS = ap.parse_args()
    work = ARGS.work or Path(f"/tmp/genrec-scale-x{ARGS.scale:g}")
    if ARGS.step:
        child(ARGS.step, work)
        return
    work.mkdir(parents=True, exist_ok=True)
    out_path = ARGS.out or RESULTS / f"scale_x{ARGS.scale:g}.json"
    report: dict[str, Any] = json.loads(out_path.read_text()) if out_path.exists() else {}
    report.update(
        {
            "scale": ARGS.scale,
            "shape": dict(zip(("users", "items", "ratings"), shape(ARGS.scale))),
            "seed": ARGS.seed,
            "machine": machine(),
        }
    )
    report.setdefault("steps", {})
    for step in [s.strip() for s in ARGS.steps.split(",") if s.strip()]:
        t = time.perf_counter()
        cmd = [sys.executable, __file__, "--step", step, "--work", str(work),
               *[a for a in sys.argv[1:] if a not in ("--steps", ARGS.steps)]]
        done = subprocess.run(cmd, capture_output=True, text=True)
        line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
        key, took = step + ARGS.tag, round(time.perf_counter() - t, 1)
        report["steps"][key] = (
            {"error": (done.stderr or done.stdout)[-1500:]}
            if done.returncode or not line
            else {**json.loads(line[-1][7:]), "step_s": took}
        )
        print(key, json.dumps(report["steps"][key])[:600], flush=True)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(report, indent=2))
    table(report)
    print(f"wrote {out_path}")


def table(report: dict) -> None:
    st = report["steps"]
    sh = report["shape"]
    print(
        f"\nscale x{report['scale']:g}: {sh['users']} users, {sh['items']} items, "
        f"{sh['ratings']} ratings (seed {report['seed']}); "
        f"{report['machine']['cores']} cores, load {report['machine']['load_avg_1m']}"
    )
    print(f"{'ranker':<44}{'fit s':>9}{'s/iter|epoch':>14}{'peak GiB':>10}{'NDCG@10':>9}")
    for key, per in (("spark", "s_per_iteration"), ("torch", "s_per_epoch")):
        r = st.get(key, {})
        if "fit_s" in r:
            print(f"{r['engine'][:43]:<44}{r['fit_s']:>9}{r[per]:>14}{r['peak_gib']:>10}{r['ndcg@10']:>9}")
    for key in [k for k in st if k not in ("spark", "torch")]:
        print(f"{key}: {json.dumps(st[key])}")


ARGS: argparse.Namespace

if __name__ == "__main__":
    main()
