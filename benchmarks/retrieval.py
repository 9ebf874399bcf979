"""Retrieval benchmark: index build time, query latency (with/without filters, embedded and server
Chroma) and recall@10 of HNSW against exact search, on a dataset (ML-100K by default) and
synthetic 100k / 1M catalogs; on a catalog with viewer tags, search by tag words with and without
tags in the item text, and how well search reaches cold items (benchmarks/_tag_queries.py).

    python benchmarks/retrieval.py                         # ML-100K + synthetic 100k
    python benchmarks/retrieval.py --sizes 100000,1000000 --dim 64
    python benchmarks/retrieval.py --sections synthetic --sizes 1000000 --dim 32
    python benchmarks/retrieval.py --dataset ml-latest-small --sections dataset,tags --skip-server

Prints a table and writes benchmarks/results/retrieval.json (merged with earlier sections; the
dataset section is keyed by the dataset's name, the tag section by "tags:NAME").
Synthetic catalogs use deterministic random unit vectors (`hash:DIM`), 8 genres and random years.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import _tag_queries as tq  # noqa: E402 (benchmarks/ is on sys.path)
from _machine import machine as shared_machine  # noqa: E402 (benchmarks/ is on sys.path)

from genrec.config import Settings  # noqa: E402
from genrec.data import Catalog, Dataset, Item, Ratings, load_dataset  # noqa: E402
from genrec.retrieval import (  # noqa: E402
    ChromaServer,
    ChromaStore,
    HashEmbedder,
    SearchFilters,
    get_embedder,
    make_client,
    validate,
)
from genrec.retrieval.server import free_port  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "retrieval.json"
QUERIES = [
    "animated movie for children",
    "a funny romantic comedy",
    "scary horror film with a monster",
    "space adventure with aliens",
    "gritty crime drama about the mafia",
    "war film about soldiers",
    "classic western with cowboys",
    "musical with songs and dancing",
    "a detective solving a murder",
    "science fiction about robots",
    "tearjerker family drama",
    "action movie with explosions",
    "documentary about real events",
    "film noir in the 1940s",
    "teen comedy in high school",
    "a love story set in paris",
    "fantasy adventure with magic",
    "psychological thriller",
    "a heist movie",
    "sports movie about an underdog team",
    "disaster movie",
    "political thriller",
    "costume drama from a novel",
    "martial arts action",
    "buddy cop comedy",
    "vampire horror",
    "road trip movie",
    "courtroom drama",
    "biography of a musician",
    "christmas family film",
]


def machine() -> dict[str, Any]:
    """The shared machine description plus the chromadb version and the load at the start."""
    import chromadb

    return {
        **shared_machine(),
        "chromadb": chromadb.__version__,
        "load_avg_at_start": list(os.getloadavg()),
    }


def pct(ts: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(ts) * 1000.0, p))


def timed(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t)
    return out


def latency(
    store: ChromaStore,
    qvecs: np.ndarray,
    filters: dict[str, SearchFilters | None],
    n: int,
    strategies: tuple[str, ...] = ("auto",),
    where_n: int | None = None,
) -> dict[str, Any]:
    """p50/p95 of the store's search path on precomputed query vectors (embedding excluded)."""
    out = {}
    for strat in strategies:
        store.strategy = strat
        for fname, f in filters.items():
            if strat == "where" and f is None:
                continue
            vf = validate(f, store.searcher.table.genres)
            reps = n if strat == "auto" else (where_n or n)
            store.searcher.knn(qvecs[0], 10, vf)  # warm (loads the vector cache on the exact path)
            ts = timed(lambda i, vf=vf: store.searcher.knn(qvecs[i % len(qvecs)], 10, vf), reps)
            n_match = int(store.searcher.table.mask(vf).sum())
            out[f"{strat}:{fname}"] = {
                "p50_ms": round(pct(ts, 50), 2),
                "p95_ms": round(pct(ts, 95), 2),
                "n": reps,
                "matching_items": n_match,
            }
    store.strategy = "auto"
    return out


def recall(
    store: ChromaStore, qvecs: np.ndarray, filters: dict[str, SearchFilters | None], k: int = 10
) -> dict:
    """recall@k of Chroma's HNSW query (unfiltered) and of the store's filtered search, vs exact."""
    vectors = store.searcher.vector_cache()
    if vectors is None:
        return {"note": "vectors too large to score exactly in memory"}
    col = store.collection
    ids = store.searcher.table.ids
    out: dict[str, float] = {}
    hits = []
    for q in qvecs:
        res = col.query(query_embeddings=q[None, :], n_results=k, include=[])
        exact = set(ids[np.argsort(-(vectors @ q))[:k]].tolist())
        hits.append(len(exact & {int(i) for i in res["ids"][0]}) / k)
    out["hnsw_unfiltered"] = round(float(np.mean(hits)), 4)
    for fname, f in filters.items():
        if f is None:
            continue
        vf = validate(f, store.searcher.table.genres)
        m = store.searcher.table.mask(vf)
        rows = np.flatnonzero(m)
        hits = []
        for q in qvecs:
            kk = min(k, len(rows))
            exact = set(ids[rows[np.argsort(-(vectors[rows] @ q))[:kk]]].tolist())
            got = {r.item.item_id for r in store.searcher.knn(q, k, vf)}
            hits.append(len(exact & got) / kk)
        out[f"filtered:{fname}"] = round(float(np.mean(hits)), 4)
    return out


def server_latency(store: ChromaStore, data_dir: Path, qvecs, filters, n) -> dict[str, Any]:
    """The same queries through a `chroma run` server on the same data directory (HttpClient)."""
    import chromadb
    from chromadb.config import Settings as CS

    with ChromaServer(data_dir, port=free_port()) as srv:
        http = chromadb.HttpClient(
            host=srv.host, port=srv.port, settings=CS(anonymized_telemetry=False)
        )
        remote = ChromaStore(http, store.dataset, store.embedder, exact_max=store.exact_max)
        remote.index.share_rows(store.index)
        assert remote.status().state == "ok", remote.status()
        return latency(remote, qvecs, filters, n)


def dataset_section(args, results: dict) -> None:
    s0 = Settings()
    ds = load_dataset(args.dataset, s0.datasets_dir)
    home = Path(tempfile.mkdtemp(prefix="genrec-bench-"))
    s = Settings(home=home, embedder="all-MiniLM-L6-v2")
    t = time.perf_counter()
    emb = get_embedder(s.embedder, s)
    load_s = time.perf_counter() - t
    store = ChromaStore(make_client(s), ds, emb)
    t, c = time.perf_counter(), time.process_time()
    report = store.build(progress=False)
    build_s, build_cpu_s = time.perf_counter() - t, time.process_time() - c
    t = time.perf_counter()
    store2 = ChromaStore(store.client, ds, emb)
    noop = store2.build(progress=False)
    noop_s = time.perf_counter() - t
    qvecs = emb.embed(QUERIES)
    qe = timed(lambda i: emb.embed([QUERIES[i % len(QUERIES)] + f" #{i}"]), args.queries)
    filters = {
        "none": None,
        "broad(Drama|Comedy)": SearchFilters(genres_any=["Drama", "Comedy"]),
        "mid(Sci-Fi,1970-1999,-Horror)": SearchFilters(
            genres_any=["Sci-Fi"], genres_none=["Horror"], year_min=1970, year_max=1999
        ),
        "selective(Film-Noir)": SearchFilters(genres_any=["Film-Noir"]),
    }
    lat = latency(store, qvecs, filters, args.queries, strategies=("auto", "where"))
    e2e = timed(
        lambda i: store.search(
            QUERIES[i % len(QUERIES)] + f" ({i})", 10, filters["mid(Sci-Fi,1970-1999,-Horror)"]
        ),
        args.queries,
    )
    lat["auto:end-to-end search() incl. query embedding, mid filter"] = {
        "p50_ms": round(pct(e2e, 50), 2), "p95_ms": round(pct(e2e, 95), 2), "n": args.queries}
    rec = recall(store, qvecs, filters)
    server = (
        {}
        if args.skip_server
        else server_latency(store, s.chroma_dir, qvecs, filters, args.queries)
    )
    results[ds.name] = {
        "items": len(ds.catalog),
        "embedder": emb.name,
        "dim": emb.dim,
        "hnsw": store.hnsw,
        "model_load_s": round(load_s, 2),
        "build_s": round(build_s, 2),
        "build_cpu_s": round(build_cpu_s, 2),
        "embedded_items": report.embedded,
        "query_embedding_ms": {"p50": round(pct(qe, 50), 2), "p95": round(pct(qe, 95), 2)},
        "rebuild_when_up_to_date_s": round(noop_s, 3),
        "noop_up_to_date": noop.up_to_date,
        "latency_embedded": lat,
        "latency_server": server,
        "recall@10": rec,
    }


def tags_section(args, results: dict) -> None:
    """Tag words as queries, with and without tags in the item text; cold items found by search."""
    ds = load_dataset(args.dataset, Settings().datasets_dir)
    queries = tq.query_tags(ds.catalog, min_items=args.tag_min_items, seed=42)
    held = {(i, tag) for tag, (out, _) in queries.items() for i in out}
    emb = get_embedder("all-MiniLM-L6-v2", Settings())
    cold = tq.cold_items(tq.with_tags(ds, held), args.cold_max)  # searched by a tag they keep
    entry: dict[str, Any] = {
        "protocol": tq.__doc__.strip().split("\n\n", 1)[1].replace("\n", " "),
        "query_tags": len(queries),
        "held_out_pairs": len(held),
        "min_items_per_tag": args.tag_min_items,
        "cold_max_ratings": args.cold_max,
        "examples": sorted(queries)[:12],
    }
    for variant, drop in (("with_tags", held), ("without_tags", None)):
        home = Path(tempfile.mkdtemp(prefix=f"genrec-bench-{variant}-"))
        store = ChromaStore(make_client(Settings(home=home)), tq.with_tags(ds, drop), emb)
        t = time.perf_counter()
        store.build(progress=True)
        entry[variant] = {
            "build_s": round(time.perf_counter() - t, 1),
            **tq.score_queries(store, queries),
            "cold": tq.cold_reach(store, cold),
        }
        print(variant, entry[variant], flush=True)
    results[f"tags:{ds.name}"] = entry


def synthetic_dataset(n: int, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    genres = np.array(
        ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Thriller", "Documentary"]
    )
    p = np.array([0.15, 0.25, 0.3, 0.06, 0.1, 0.06, 0.07, 0.01])
    years = rng.integers(1900, 2025, size=n)
    n_g = rng.integers(1, 4, size=n)
    items = []
    for i in range(n):
        g = tuple(sorted(set(rng.choice(genres, size=n_g[i], p=p).tolist())))
        items.append(Item(i + 1, f"Item {i + 1}", int(years[i]), g))
    ratings = Ratings(pd.DataFrame({"user": [1], "item": [1], "rating": [4.0], "timestamp": [0]}))
    return Dataset(f"synthetic-{n}", Catalog(items, name=f"synthetic-{n}"), ratings)


def synthetic_section(n: int, args, results: dict, save: Callable[[], None] = lambda: None) -> None:
    t = time.perf_counter()
    ds = synthetic_dataset(n)
    make_s = time.perf_counter() - t
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix=f"genrec-bench-{n}-"))
    s = Settings(home=home)
    store = ChromaStore(make_client(s), ds, HashEmbedder(args.dim), batch_size=5000)
    t = time.perf_counter()
    store.rows()
    rows_s = time.perf_counter() - t
    t, c = time.perf_counter(), time.process_time()
    report = store.build(progress=True)
    build_s, build_cpu_s = time.perf_counter() - t, time.process_time() - c
    entry: dict[str, Any] = results.setdefault(f"synthetic-{n}", {})
    entry.update({"items": n, "embedder": f"hash:{args.dim} (random unit vectors)", "dim": args.dim,
                  "hnsw": store.hnsw, "catalog_s": round(make_s, 1), "rows_and_hashes_s": None,
                  "latency_embedded": {}, "latency_server": {}, "recall@10": {}})
    if report.up_to_date:  # --home of an earlier run: keep the build time that run measured
        entry.setdefault("build_s", None)
        entry["build_note"] = (
            f"index built by an earlier run in {home}; this run found it up to date"
        )
    else:
        entry.update(
            {
                "build_s": round(build_s, 1),
                "build_cpu_s_client_process": round(build_cpu_s, 1),
                "embedded_items": report.embedded,
                "kept_from_unfinished_build": report.kept,
            }
        )
    save()
    rng = np.random.default_rng(1)
    qvecs = rng.standard_normal((args.queries, args.dim)).astype(np.float32)
    qvecs /= np.linalg.norm(qvecs, axis=1, keepdims=True)
    filters = {
        "none": None,
        "broad(Drama|Comedy)": SearchFilters(genres_any=["Drama", "Comedy"]),
        "mid(Sci-Fi,1970-1999,-Horror)": SearchFilters(
            genres_any=["Sci-Fi"], genres_none=["Horror"], year_min=1970, year_max=1999
        ),
        "selective(Documentary,2000-2005)": SearchFilters(
            genres_any=["Documentary"], year_min=2000, year_max=2005
        ),
    }
    strategies = ("auto", "where") if args.where_queries > 0 else ("auto",)
    entry["latency_embedded"] = latency(store, qvecs, filters, args.queries, strategies=strategies,
                                        where_n=args.where_queries)
    save()
    entry["recall@10"] = recall(store, qvecs[: min(50, args.queries)], filters)
    save()
    if not args.skip_server:
        entry["latency_server"] = server_latency(store, s.chroma_dir, qvecs, filters, args.queries)
    entry["rows_and_hashes_s"] = round(rows_s, 1)
    save()


def table(results: dict) -> str:
    lines = [f"machine: {results['machine']}", ""]
    for name, r in results.items():
        if name.startswith("tags:"):
            lines.append(f"== {name}: {r['query_tags']} tag queries; with tags {r['with_tags']}; "
                         f"without tags {r['without_tags']}")
            continue
        if name.startswith("machine") or not isinstance(r, dict) or "items" not in r:
            continue
        cpu = r.get("build_cpu_s", r.get("build_cpu_s_client_process", "?"))
        if r.get("build_note"):
            lines.append(f"   note: {r['build_note']}")
        lines.append(f"== {name}: {r['items']} items, {r['embedder']}, dim {r['dim']}, "
                     f"build {r['build_s']} s wall ({cpu} s CPU)")
        if "query_embedding_ms" in r:
            lines.append(f"   query embedding ms: {r['query_embedding_ms']}")
        lines.append(f"   recall@10: {r['recall@10']}")
        lines.append(
            f"   {'mode':<9} {'path:filter':<58} {'matching':>9} {'p50 ms':>8} {'p95 ms':>8}"
        )
        for mode in ("embedded", "server"):
            for key, v in r[f"latency_{mode}"].items():
                lines.append(f"   {mode:<9} {key:<58} {v.get('matching_items', ''):>9} "
                             f"{v['p50_ms']:>8} {v['p95_ms']:>8}")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--sections",
        default="dataset,synthetic",
        help="dataset (ml-100k, the old name, still works), synthetic, tags; comma-separated",
    )
    ap.add_argument("--dataset", default="ml-100k", help="dataset of the dataset and tags sections")
    ap.add_argument(
        "--tag-min-items", type=int, default=8, help="tags on at least this many items are queries"
    )
    ap.add_argument(
        "--cold-max", type=int, default=2, help="cold items: rated by at most this many users"
    )
    ap.add_argument("--sizes", default="100000", help="synthetic catalog sizes, comma-separated")
    ap.add_argument("--dim", type=int, default=64, help="dimension of the synthetic vectors")
    ap.add_argument("--queries", type=int, default=100, help="queries per latency cell")
    ap.add_argument("--where-queries", type=int, default=10,
                    help="queries per cell for the slow `where` strategy on synthetic catalogs")
    ap.add_argument("--skip-server", action="store_true", help="embedded mode only")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument(
        "--home",
        default=None,
        help="GENREC_HOME for the synthetic store (reuse or resume an earlier run's index)",
    )
    args = ap.parse_args()
    results: dict[str, Any] = json.loads(args.out.read_text()) if args.out.is_file() else {}
    results["machine"] = machine()
    sections = args.sections.split(",")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if "dataset" in sections or "ml-100k" in sections:
        dataset_section(args, results)
        args.out.write_text(json.dumps(results, indent=2))
    if "tags" in sections:
        tags_section(args, results)
        results.setdefault("machine_per_run", {})[f"tags:{args.dataset}"] = {
            **results["machine"], "load_avg_at_end": list(os.getloadavg())}
        args.out.write_text(json.dumps(results, indent=2))
    if "synthetic" in sections:
        def save() -> None:
            results["machine"]["load_avg_at_end"] = list(os.getloadavg())
            args.out.write_text(json.dumps(results, indent=2))

        for n in (int(x) for x in args.sizes.split(",") if x):
            synthetic_section(n, args, results, save)
            save()
    results["machine"]["load_avg_at_end"] = list(os.getloadavg())
    args.out.write_text(json.dumps(results, indent=2))
    print(table(results))
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
