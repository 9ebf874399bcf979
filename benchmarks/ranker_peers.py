"""genrec's ranker against peers on one dataset and split (MovieLens 100K u1 by default), one run,
one protocol.

Peers: popularity, Surprise SVD and SVD++ (ratings), implicit ALS and BPR (top-N), EASE
(closed form), Spark MLlib ALS (implicit feedback, scored as the artifact `genrec train --engine
spark` writes). Every model is tuned on the same validation split carved from the split's training
part (genrec.data.validation_split, seed 42), refit on all of it, then scored once on its test part
(u1.base / u1.test on ML-100K; `--dataset ml-latest-small` takes that dataset's default split, a
seeded 80/20 random one, unless `--split` says otherwise).

Protocol: `genrec eval ranker`'s own (genrec.evaluation.protocols.ranker): RMSE/MAE over every
test rating; top-10 over every catalog item the user has not rated in training; relevant = test
rating >= 4; means over test users with a relevant item. Peers that give a score per (user, item)
enter it through `ScoreTable`, a `Ranker`, so every row is listed and scored by the same code.
Cold start: genrec's fold-in given only each test user's 10 highest-rated training items.
Peers whose library is missing (implicit, scikit-surprise, pyspark or Java) are skipped and named
in the output.

    python benchmarks/ranker_peers.py   # full run (writes benchmarks/results/ranker_peers.json)
    python benchmarks/ranker_peers.py --quick --out /tmp/peers.json   # fewer grid points, smoke run
    python benchmarks/ranker_peers.py --only implicit_als,spark_als --out /tmp/als.json  # some rows
    python benchmarks/ranker_peers.py --dataset ml-latest-small
        # -> results/ranker_peers_ml-latest-small.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from _machine import machine  # noqa: E402 (benchmarks/ is on sys.path when run as a script)

from genrec.config import get_settings
from genrec.data import Ratings, load_split, validation_split
from genrec.evaluation.metrics import mae, rmse
from genrec.evaluation.protocols.ranker import RankerProtocol
from genrec.provenance import provenance
from genrec.ranking import MFRanker, PopularityRanker, RankerConfig, ScoredItem, UserProfile

K = 10
RESULTS = Path(__file__).parent / "results" / "ranker_peers.json"


class ScoreTable:
    """A peer's score for every (training user, catalog item), behind genrec's `Ranker` protocol,
    so the shared evaluation protocol lists and scores it exactly as it does genrec's ranker.

    Ties go to the smaller item id (as in genrec); an unknown user (or a folded-in profile) is
    ranked by the mean score over users. `RatedScoreTable` adds rating predictions.
    """

    def __init__(self, scores: np.ndarray, train: Ratings, item_ids: np.ndarray) -> None:
        self.user_ids = np.unique(train.df["user"].to_numpy()).astype(np.int64)
        self.item_ids = item_ids
        assert scores.shape == (len(self.user_ids), len(item_ids)), scores.shape
        self.scores = np.asarray(scores, dtype=np.float64)
        self._row = {int(u): j for j, u in enumerate(self.user_ids)}
        self._col = {int(i): j for j, i in enumerate(item_ids)}
        self._seen = {int(u): set(g["item"].astype(int)) for u, g in train.df.groupby("user")}
        counts = train.df.groupby("item").size()
        self._pop = {int(i): int(c) for i, c in counts.items()}

    def knows_user(self, user: int) -> bool:
        return int(user) in self._row

    def knows_item(self, item: int) -> bool:
        return int(item) in self._col

    def popularity(self) -> dict[int, int]:
        return dict(self._pop)

    def fold_in(self, liked=(), disliked=(), rated=None) -> UserProfile:  # noqa: ANN001
        empty = np.zeros(0, dtype=np.float32)
        return UserProfile(
            empty, 0.0, empty, frozenset({*map(int, liked), *map(int, disliked), *(rated or {})})
        )

    def recommend(self, user, k: int = 10, *, exclude=(), candidates=None) -> list[ScoredItem]:  # noqa: ANN001
        if isinstance(user, UserProfile):
            s, skip = self.scores.mean(axis=0), set(user.seen)
        else:
            s, skip = self.scores[self._row[int(user)]], self._seen.get(int(user), set())
        allowed = np.ones(len(self.item_ids), dtype=bool)
        if candidates is not None:
            allowed[:] = False
            allowed[[self._col[int(c)] for c in candidates]] = True
        allowed[[self._col[i] for i in skip | {int(x) for x in exclude} if i in self._col]] = False
        idx = np.flatnonzero(allowed)
        order = idx[np.lexsort((self.item_ids[idx], -s[idx]))][:k]
        return [ScoredItem(int(self.item_ids[j]), float(s[j])) for j in order]


class RatedScoreTable(ScoreTable):
    """A ScoreTable whose model also predicts ratings (Surprise SVD)."""

    def __init__(self, scores: np.ndarray, train: Ratings, item_ids: np.ndarray, algo) -> None:  # noqa: ANN001
        super().__init__(scores, train, item_ids)
        self.algo = algo

    def predict(self, user, items) -> np.ndarray:  # noqa: ANN001
        return np.array([self.algo.predict(int(user), int(i)).est for i in items])


def binary_matrix(train: Ratings, item_ids: np.ndarray) -> sp.csr_matrix:
    """Who rated what: training users (sorted ids) x catalog items, 1 where rated."""
    users = np.unique(train.df["user"].to_numpy())
    rows = np.searchsorted(users, train.df["user"].to_numpy())
    cols = np.searchsorted(item_ids, train.df["item"].to_numpy())
    return sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(users), len(item_ids))
    )


def rating_metrics(pred: np.ndarray, test: Ratings) -> dict[str, float]:
    return {"rmse": rmse(pred, test.df["rating"]), "mae": mae(pred, test.df["rating"])}


# ------------------------------------------------------------------------------------ peers


def ease_scores(x: sp.csr_matrix, lam: float) -> np.ndarray:
    g = (x.T @ x).toarray().astype(np.float64)
    g[np.diag_indices_from(g)] += lam
    p = np.linalg.inv(g)
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    return np.asarray(x @ b)


def surprise_fit(train: Ratings, algo_name: str, params: dict):  # noqa: ANN201
    from surprise import SVD, Dataset, Reader, SVDpp

    reader = Reader(rating_scale=train.scale)
    data = Dataset.load_from_df(train.df[["user", "item", "rating"]], reader).build_full_trainset()
    algo = (SVD if algo_name == "svd" else SVDpp)(random_state=0, **params)
    algo.fit(data)
    return algo


def surprise_predict(algo, test: Ratings) -> np.ndarray:  # noqa: ANN001
    return np.array(
        [algo.predict(int(u), int(i)).est for u, i in zip(test.df["user"], test.df["item"])]
    )


def svd_scores(algo, train: Ratings, item_ids: np.ndarray) -> np.ndarray:  # noqa: ANN001
    """SVD's estimate for every training user x catalog item (global mean for unrated items)."""
    ts = algo.trainset
    users = np.unique(train.df["user"].to_numpy())
    out = np.full((len(users), len(item_ids)), ts.global_mean)
    inner_items = {ts.to_raw_iid(j): j for j in ts.all_items()}
    cols = np.array([inner_items.get(int(i), -1) for i in item_ids])
    known = cols >= 0
    for r, u in enumerate(users):
        iu = ts.to_inner_uid(u)
        out[r, known] = (ts.global_mean + algo.bu[iu] + algo.bi[cols[known]]
                         + algo.qi[cols[known]] @ algo.pu[iu])
    return out


def implicit_scores(x: sp.csr_matrix, kind: str, params: dict) -> np.ndarray:
    from implicit.als import AlternatingLeastSquares
    from implicit.bpr import BayesianPersonalizedRanking

    cls = AlternatingLeastSquares if kind == "als" else BayesianPersonalizedRanking
    model = cls(random_state=0, **params)
    model.fit(x.tocsr(), show_progress=False)
    uf, itf = model.user_factors, model.item_factors
    if hasattr(uf, "to_numpy"):
        uf, itf = uf.to_numpy(), itf.to_numpy()
    return np.asarray(uf) @ np.asarray(itf).T


def timed(fn, *a, **kw):  # noqa: ANN001, ANN202
    t = time.perf_counter()
    out = fn(*a, **kw)
    return out, round(time.perf_counter() - t, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller grids (smoke run)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"results file (default {RESULTS}, ranker_peers_DATASET.json for another dataset)",
    )
    ap.add_argument(
        "--dataset", default="ml-100k", help="dataset name (default ml-100k; any installed one)"
    )
    ap.add_argument(
        "--split",
        default="auto",
        help="split (default auto: u1 on ml-100k, else seeded random:0.2; temporal[:K] too)",
    )
    ap.add_argument("--seed", type=int, default=42, help="seed of a random split (default 42)")
    ap.add_argument("--only", default="", help="comma-separated rows to run (popularity, ease, "
                    "implicit_als, implicit_bpr, surprise_svd, spark_als, genrec); default all")
    ap.add_argument("--spark-master", default="local[2]", help="Spark master for the spark_als row")
    args = ap.parse_args()
    if args.out is None:
        args.out = (
            RESULTS
            if args.dataset == "ml-100k"
            else RESULTS.with_name(f"ranker_peers_{args.dataset}.json")
        )
    only = {x.strip() for x in args.only.split(",") if x.strip()}

    def want(*names: str) -> bool:
        return not only or bool(only & set(names))

    torch.set_num_threads(args.threads)
    settings = get_settings()
    t_start, load_start = time.perf_counter(), os.getloadavg()
    ds, split = load_split(args.dataset, args.split, settings.datasets_dir, seed=args.seed)
    val = validation_split(split.train, seed=42)
    item_ids = np.sort(ds.catalog.ids)
    vp = RankerProtocol.of(ds, val, k=K)  # tuning
    tp = RankerProtocol.of(ds, split, k=K)  # final, scored once
    vx, tx = binary_matrix(val.train, item_ids), binary_matrix(split.train, item_ids)
    rows: dict[str, dict] = {}
    grids: dict[str, list] = {}
    skipped: dict[str, str] = {}

    def val_ndcg(scores: np.ndarray) -> float:
        return vp.score(ScoreTable(scores, val.train, item_ids)).metrics[f"ndcg@{K}"]

    # popularity: genrec's own baseline
    pop, t = timed(lambda: PopularityRanker().fit(split.train))
    rows["popularity"] = {**tp.score(pop).metrics, "fit_s": t, "params": {}}
    print("popularity", rows["popularity"]["ndcg@10"], flush=True)
    if want("spark_als"):
        spark_row(args, ds, split, val, vp, tp, rows, grids, skipped)

    # EASE: lambda on validation NDCG (its lambda is genrec's EASE weight too)
    lams = (
        [200, 500, 1000] if args.quick or not want("ease", "genrec") else [100, 200, 400, 800, 1600]
    )
    grids["ease"] = [(lam, val_ndcg(ease_scores(vx, lam))) for lam in lams]
    best_lam = max(grids["ease"], key=lambda g: g[1])[0]
    s, t = timed(ease_scores, tx, best_lam)
    rows["ease"] = {**tp.score(ScoreTable(s, split.train, item_ids)).metrics, "fit_s": t,
                    "params": {"lambda": best_lam}}
    print("ease", grids["ease"], rows["ease"]["ndcg@10"], flush=True)

    # implicit ALS and BPR: validation NDCG
    try:
        import implicit  # noqa: F401
    except ImportError:
        skipped["implicit_als"] = skipped["implicit_bpr"] = (
            "implicit is not installed (pip install implicit)"
        )
    if "implicit" in sys.modules and want("implicit_als", "implicit_bpr"):
        als_grid = [
            {"factors": f, "regularization": r, "alpha": a, "iterations": 15}
            for f in ([64] if args.quick else [32, 64, 128])
            for r in (0.01, 0.1)
            for a in (1.0, 10.0)
        ]
        grids["als"] = [(p, val_ndcg(implicit_scores(vx, "als", p))) for p in als_grid]
        best = max(grids["als"], key=lambda g: g[1])[0]
        s, t = timed(implicit_scores, tx, "als", best)
        rows["implicit_als"] = {
            **tp.score(ScoreTable(s, split.train, item_ids)).metrics,
            "fit_s": t,
            "params": best,
        }
        print("als", rows["implicit_als"]["ndcg@10"], best, flush=True)
    if "implicit" in sys.modules and want("implicit_bpr"):
        bpr_grid = [{"factors": f, "learning_rate": lr, "regularization": 0.01, "iterations": 100}
                    for f in ([64] if args.quick else [64, 128]) for lr in (0.01, 0.05)]
        grids["bpr"] = [(p, val_ndcg(implicit_scores(vx, "bpr", p))) for p in bpr_grid]
        best = max(grids["bpr"], key=lambda g: g[1])[0]
        s, t = timed(implicit_scores, tx, "bpr", best)
        rows["implicit_bpr"] = {
            **tp.score(ScoreTable(s, split.train, item_ids)).metrics,
            "fit_s": t,
            "params": best,
        }
        print("bpr", rows["implicit_bpr"]["ndcg@10"], best, flush=True)

    # Surprise SVD (grid on validation RMSE) and SVD++ (library defaults: one grid point, it is
    # slow)
    try:
        import surprise  # noqa: F401
    except ImportError:
        skipped["surprise_svd"] = skipped["surprise_svdpp"] = \
            "scikit-surprise is not installed (pip install scikit-surprise)"
    if "surprise" in sys.modules and want("surprise_svd", "surprise_svdpp"):
        svd_grid = [{"n_factors": f, "reg_all": r, "lr_all": 0.005, "n_epochs": 20}
                    for f in ([100] if args.quick else [50, 100]) for r in (0.02, 0.05, 0.1)]
        grids["svd"] = [(p, rmse(surprise_predict(surprise_fit(val.train, "svd", p), val.test),
                                 val.test.df["rating"])) for p in svd_grid]
        best = min(grids["svd"], key=lambda g: g[1])[0]
        algo, t = timed(surprise_fit, split.train, "svd", best)
        svd = RatedScoreTable(svd_scores(algo, split.train, item_ids), split.train, item_ids, algo)
        rows["surprise_svd"] = {**tp.score(svd).metrics, "fit_s": t, "params": best}
        print("svd", rows["surprise_svd"]["rmse"], best, flush=True)
        pp = {"n_factors": 20, "n_epochs": 20, "cache_ratings": True}
        algo, t = timed(surprise_fit, val.train, "svdpp", pp)
        grids["svdpp"] = [(pp, rmse(surprise_predict(algo, val.test), val.test.df["rating"]))]
        algo, t = timed(surprise_fit, split.train, "svdpp", pp)
        rows["surprise_svdpp"] = {
            **rating_metrics(surprise_predict(algo, split.test), split.test),
            "fit_s": t,
            "params": pp,
        }  # ratings only: a full score table is too slow
        print("svd++", rows["surprise_svdpp"]["rmse"], flush=True)

    out_extra: dict = {}
    if want("genrec"):
        genrec_rows(args, item_ids, best_lam, val, split, vp, tp, rows, grids, out_extra)
    table(rows, skipped)
    out = {
        "protocol": {
            **tp.describe(),
            "tuning": f"validation_split({split.name} train, fraction=0.1, seed=42)",
            "metrics": "genrec.evaluation.protocols.ranker.RankerProtocol.score "
            "(every row but svd++)",
        },
        "machine": {
            **machine(),
            "torch_threads": torch.get_num_threads(),
            "load_average_at_start": load_start,
            "load_average_at_end": os.getloadavg(),
        },
        "provenance": provenance(),
        "total_seconds": round(time.perf_counter() - t_start, 1),
        "results": rows,
        "skipped": skipped,
        "grids": {k: [[p, v] for p, v in g] for k, g in grids.items()},
        **out_extra,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, default=str))
    print(f"wrote {args.out}")


def genrec_rows(args, item_ids, best_lam, val, split, vp, tp, rows, grids, out_extra) -> None:  # noqa: ANN001
    """genrec's ranker, its ablation and its cold start (fills rows, grids and out_extra)."""
    # genrec: autoencoder (reg fixed by the exploration recorded in README) + EASE (lambda from
    # the EASE grid above) + blend weight, all on validation; then refit on all of u1.base
    base = RankerConfig(ease_reg=float(best_lam), device="cpu", seed=42)
    probe, t_probe = timed(
        lambda: MFRanker(base).fit(val.train, validation=val.test, items=item_ids, progress=False)
    )
    blends = [0.0, 0.2, 0.4, 0.6, 1.0]
    grids["genrec_blend"] = [
        (b, vp.score(probe.variant(blend=b)).metrics[f"ndcg@{K}"]) for b in blends
    ]
    best_blend = max(grids["genrec_blend"], key=lambda g: g[1])[0]
    cfg = base.model_copy(update={"blend": best_blend})
    model, t = timed(lambda: MFRanker(cfg).fit(split.train, items=item_ids, progress=False,
                                               stop_epoch=probe.metadata["best_epoch"]))
    rows["genrec"] = {
        **tp.score(model).metrics,
        "fit_s": t,
        "fit_s_autorec": model.metadata["autorec_seconds"],
        "epochs": probe.metadata["best_epoch"],
        "seconds_per_epoch": round(
            model.metadata["autorec_seconds"] / probe.metadata["best_epoch"], 3
        ),
        "validation_fit_s": t_probe,
        "val_rmse": probe.metadata["best_val_rmse"],
        "params": cfg.model_dump(),
    }
    print("genrec", rows["genrec"]["rmse"], rows["genrec"]["ndcg@10"], flush=True)

    # ablation on the final model (test), components toggled
    ablation = {
        "autoencoder rating only (score = predicted rating)":
            tp.score(model.variant(blend=1.0, ease=False)).metrics["ndcg@10"],
        "EASE only (blend 0)": tp.score(model.variant(blend=0.0)).metrics["ndcg@10"],
        f"EASE + {best_blend} x rating (shipped)": rows["genrec"]["ndcg@10"],
    }
    mu = split.train.df["rating"].mean()
    ablation_rmse = {
        "global mean": rmse(np.full(len(split.test), mu), split.test.df["rating"]),
        "autoencoder (shipped)": rows["genrec"]["rmse"],
    }

    # cold start: fold-in from each test user's 10 highest-rated training items
    t0 = time.perf_counter()
    profiles = {}
    for u, g in split.train.df.groupby("user"):
        top10 = g.sort_values(
            ["rating", "timestamp"], ascending=[False, False], kind="stable"
        ).head(10)
        profiles[int(u)] = model.fold_in(
            rated=dict(zip(top10["item"].astype(int), top10["rating"]))
        )
    rows["genrec_cold_start_10_items"] = {
        **tp.score(model, profiles=profiles).metrics,
        "fit_s": round(time.perf_counter() - t0, 2), "params": {"items_per_user": 10},
    }
    print("cold", rows["genrec_cold_start_10_items"]["ndcg@10"], flush=True)

    out_extra.update({"ablation_ndcg@10": ablation, "ablation_rmse": ablation_rmse})
    print("\nablation NDCG@10 (the split's test part):", json.dumps(ablation, indent=1))
    print("ablation RMSE (the split's test part):", json.dumps(ablation_rmse, indent=1))


def table(rows: dict[str, dict], skipped: dict[str, str]) -> None:
    cols = ["rmse", "mae", "ndcg@10", "recall@10", "precision@10", "map@10", "hit_rate@10", "fit_s"]
    print(f"\n{'model':<28}" + "".join(f"{c:>13}" for c in cols))
    for name, r in rows.items():
        cells = "".join(
            f"{r[c]:>13.4f}" if isinstance(r.get(c), float) else f"{'-':>13}" for c in cols
        )
        print(f"{name:<28}{cells}")
    for name, why in skipped.items():
        print(f"{name:<28}skipped: {why}")


def spark_row(args, ds, split, val, vp, tp, rows, grids, skipped) -> None:  # noqa: ANN001
    """Spark MLlib ALS (implicit feedback) on `--spark-master`: rank / regParam / alpha on the same
    validation NDCG@10, refit on u1.base, scored as the artifact genrec serves (an MFRanker)."""
    import shutil
    import tempfile

    if shutil.which("java") is None:
        skipped["spark_als"] = "Java is not installed (apt-get install default-jre-headless)"
        return
    try:
        from genrec.ranking.spark_als import SparkALSConfig, fit_als, spark_session, write_parquet
    except ImportError:
        skipped["spark_als"] = "pyspark is not installed (pip install 'genrec[spark]')"
        return
    from genrec.ranking.als_artifact import als_weights
    from genrec.ranking.files import write_model

    cfg = SparkALSConfig(master=args.spark_master, implicit=True, max_iter=15, blocks=2, seed=42,
                         ranks=[32] if args.quick else [16, 32, 64],
                         regs=[0.1, 0.3] if args.quick else [0.05, 0.1, 0.2, 0.5],
                         alphas=[1.0] if args.quick else [0.5, 1.0, 2.0])
    work = Path(tempfile.mkdtemp(prefix="genrec-spark-peers-"))
    item_ids = np.sort(ds.catalog.ids)

    def artifact(factors, train: Ratings, reg: float) -> MFRanker:  # noqa: ANN001
        weights, _ = als_weights(factors, train, item_ids, implicit=True, reg=reg)
        write_model(work / "model", weights.arrays(), {"params": RankerConfig().model_dump(),
                                                       "scale": list(train.scale)})
        return MFRanker.load(work / "model")

    try:
        with spark_session(cfg, work / "checkpoints") as spark:
            vpath = write_parquet(val.train, work / "val.parquet")
            grid = []
            for r in cfg.ranks:
                for reg in cfg.regs:
                    for a in cfg.alphas:
                        p = {"rank": r, "regParam": reg, "alpha": a}
                        ndcg = vp.score(
                            artifact(fit_als(spark, vpath, p, cfg), val.train, reg)
                        ).metrics[f"ndcg@{K}"]
                        grid.append((p, ndcg))
                        print("spark_als", p, round(ndcg, 4), flush=True)
            best = max(grid, key=lambda g: g[1])[0]
            t = time.perf_counter()
            factors = fit_als(spark, write_parquet(split.train, work / "train.parquet"), best, cfg)
            fit_s = round(time.perf_counter() - t, 2)
            version = spark.version
        model = artifact(factors, split.train, best["regParam"])
        grids["spark_als"] = grid
        rows["spark_als"] = {**tp.score(model).metrics, "fit_s": fit_s,
                             "params": {**best, "maxIter": cfg.max_iter, "implicitPrefs": True,
                                        "master": cfg.master, "spark": version}}
        print("spark_als", rows["spark_als"]["ndcg@10"], best, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
