"""genrec's ranker against peers on MovieLens 100K u1, one run, one protocol.

Peers: popularity, Surprise SVD and SVD++ (ratings), implicit ALS and BPR (top-N), EASE
(closed form). Every model is tuned on the same validation split carved from u1.base
(genrec.data.validation_split, seed 42), refit on all of u1.base, then scored once on u1.test.

Protocol: RMSE/MAE over every u1.test rating; top-10 over every catalog item the user has not
rated in u1.base; relevant = test rating >= 4; means over test users with a relevant item.
Cold start: genrec's fold-in given only each test user's 10 highest-rated training items.

    python benchmarks/ranker_peers.py            # full run (writes benchmarks/results/ranker_peers.json)
    python benchmarks/ranker_peers.py --quick    # fewer grid points, for a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from _machine import machine  # noqa: E402 (benchmarks/ is on sys.path when run as a script)

from genrec.config import get_settings
from genrec.data import Ratings, load_split, validation_split
from genrec.evaluation.metrics import mae, rmse, topn_metrics
from genrec.ranking import MFRanker, RankerConfig

K = 10
RESULTS = Path(__file__).parent / "results" / "ranker_peers.json"


class Space:
    """Dense index space of one (train, test) pair: all users x all catalog items."""

    def __init__(self, train: Ratings, test: Ratings, item_ids: np.ndarray, user_ids: np.ndarray) -> None:
        self.item_ids, self.user_ids = item_ids, user_ids
        self.train, self.test = train, test
        self.iu = np.searchsorted(user_ids, train.df["user"].to_numpy())
        self.ii = np.searchsorted(item_ids, train.df["item"].to_numpy())
        self.x = sp.csr_matrix((np.ones(len(self.iu), np.float32), (self.iu, self.ii)),
                               shape=(len(user_ids), len(item_ids)))
        t = test.df
        self.relevant = {int(u): set(g.loc[g["rating"] >= 4, "item"].astype(int)) for u, g in t.groupby("user")}
        self.eval_users = sorted(u for u, r in self.relevant.items() if r)

    def topn(self, scores: np.ndarray) -> dict[int, list[int]]:
        """scores: (len(eval_users), n_items) -> top-K ids with training items excluded."""
        rows = np.searchsorted(self.user_ids, self.eval_users)
        s = np.array(scores, dtype=np.float64, copy=True)
        sub = self.x[rows]
        s[sub.nonzero()] = -np.inf
        top = np.argpartition(-s, K, axis=1)[:, :K]
        order = np.argsort(-np.take_along_axis(s, top, 1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, 1)
        return {u: [int(self.item_ids[j]) for j in top[r]] for r, u in enumerate(self.eval_users)}

    def score(self, scores: np.ndarray) -> dict[str, float]:
        return topn_metrics(self.topn(scores), self.relevant, K)

    def rows(self) -> np.ndarray:
        return np.searchsorted(self.user_ids, self.eval_users)


def rating_metrics(pred: np.ndarray, test: Ratings) -> dict[str, float]:
    return {"rmse": rmse(pred, test.df["rating"]), "mae": mae(pred, test.df["rating"])}


# ------------------------------------------------------------------------------------ peers


def popularity(space: Space) -> np.ndarray:
    pop = np.asarray(space.x.sum(axis=0)).ravel()
    return np.tile(pop, (len(space.eval_users), 1))


def ease_scores(space: Space, lam: float) -> np.ndarray:
    g = (space.x.T @ space.x).toarray().astype(np.float64)
    g[np.diag_indices_from(g)] += lam
    p = np.linalg.inv(g)
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    return space.x[space.rows()] @ b


def surprise_fit(train: Ratings, algo_name: str, params: dict):
    from surprise import SVD, Dataset, Reader, SVDpp

    reader = Reader(rating_scale=train.scale)
    data = Dataset.load_from_df(train.df[["user", "item", "rating"]], reader).build_full_trainset()
    algo = (SVD if algo_name == "svd" else SVDpp)(random_state=0, **params)
    algo.fit(data)
    return algo


def surprise_predict(algo, test: Ratings) -> np.ndarray:
    return np.array([algo.predict(int(u), int(i)).est for u, i in zip(test.df["user"], test.df["item"])])


def svd_scores(algo, space: Space) -> np.ndarray:
    ts = algo.trainset
    out = np.full((len(space.eval_users), len(space.item_ids)), ts.global_mean)
    inner_items = {ts.to_raw_iid(j): j for j in ts.all_items()}
    cols = np.array([inner_items.get(int(i), -1) for i in space.item_ids])
    known = cols >= 0
    for r, u in enumerate(space.eval_users):
        iu = ts.to_inner_uid(u)
        out[r, known] = (ts.global_mean + algo.bu[iu] + algo.bi[cols[known]]
                         + algo.qi[cols[known]] @ algo.pu[iu])
    return out


def implicit_scores(space: Space, kind: str, params: dict) -> np.ndarray:
    from implicit.als import AlternatingLeastSquares
    from implicit.bpr import BayesianPersonalizedRanking

    cls = AlternatingLeastSquares if kind == "als" else BayesianPersonalizedRanking
    model = cls(random_state=0, **params)
    x = space.x.tocsr()
    if kind == "als" and "alpha" not in params:
        pass
    model.fit(x, show_progress=False)
    uf, itf = model.user_factors, model.item_factors
    if hasattr(uf, "to_numpy"):
        uf, itf = uf.to_numpy(), itf.to_numpy()
    return np.asarray(uf)[space.rows()] @ np.asarray(itf).T


# ------------------------------------------------------------------------------------ genrec


def genrec_scores(model: MFRanker, space: Space, *, blend: float | None = None,
                  use_ease: bool = True) -> np.ndarray:
    """recommend()'s score for every eval user and catalog item, with components toggled."""
    cfg = model.config
    saved, saved_e = cfg, model._ease
    try:
        if blend is not None:
            model.config = cfg.model_copy(update={"blend": blend})
        if not use_ease:
            model._ease = None
        cols = np.searchsorted(model.item_ids, space.item_ids)
        return np.stack([model._scores(u)[0][cols] for u in space.eval_users])
    finally:
        model.config, model._ease = saved, saved_e


def genrec_predict(model: MFRanker, test: Ratings) -> np.ndarray:
    out = np.empty(len(test))
    for u, idx in test.df.groupby("user").indices.items():
        out[idx] = model.predict(int(u), test.df["item"].to_numpy()[idx].tolist())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller grids (smoke run)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    settings = get_settings()
    t_start, load_start = time.perf_counter(), os.getloadavg()
    ds, split = load_split("ml-100k", "u1", settings.datasets_dir)
    val = validation_split(split.train, seed=42)
    item_ids = np.sort(ds.catalog.ids)
    user_ids = np.sort(ds.ratings.users)
    vs = Space(val.train, val.test, item_ids, user_ids)  # tuning
    ts = Space(split.train, split.test, item_ids, user_ids)  # final, scored once
    rows: dict[str, dict] = {}
    grids: dict[str, list] = {}

    def timed(fn, *a, **kw):
        t = time.perf_counter()
        out = fn(*a, **kw)
        return out, round(time.perf_counter() - t, 2)

    # popularity
    s, t = timed(popularity, ts)
    rows["popularity"] = {**ts.score(s), "fit_s": t, "params": {}}
    print("popularity", rows["popularity"]["ndcg@10"], flush=True)

    # EASE: lambda on validation NDCG
    lams = [200, 500, 1000] if args.quick else [100, 200, 400, 800, 1600]
    grids["ease"] = [(lam, vs.score(ease_scores(vs, lam))["ndcg@10"]) for lam in lams]
    best_lam = max(grids["ease"], key=lambda g: g[1])[0]
    s, t = timed(ease_scores, ts, best_lam)
    rows["ease"] = {**ts.score(s), "fit_s": t, "params": {"lambda": best_lam}}
    print("ease", grids["ease"], rows["ease"]["ndcg@10"], flush=True)

    # implicit ALS and BPR: validation NDCG
    als_grid = [{"factors": f, "regularization": r, "alpha": a, "iterations": 15}
                for f in ([64] if args.quick else [32, 64, 128]) for r in (0.01, 0.1) for a in (1.0, 10.0)]
    grids["als"] = [(p, vs.score(implicit_scores(vs, "als", p))["ndcg@10"]) for p in als_grid]
    best = max(grids["als"], key=lambda g: g[1])[0]
    s, t = timed(implicit_scores, ts, "als", best)
    rows["implicit_als"] = {**ts.score(s), "fit_s": t, "params": best}
    print("als", rows["implicit_als"]["ndcg@10"], best, flush=True)
    bpr_grid = [{"factors": f, "learning_rate": lr, "regularization": 0.01, "iterations": 100}
                for f in ([64] if args.quick else [64, 128]) for lr in (0.01, 0.05)]
    grids["bpr"] = [(p, vs.score(implicit_scores(vs, "bpr", p))["ndcg@10"]) for p in bpr_grid]
    best = max(grids["bpr"], key=lambda g: g[1])[0]
    s, t = timed(implicit_scores, ts, "bpr", best)
    rows["implicit_bpr"] = {**ts.score(s), "fit_s": t, "params": best}
    print("bpr", rows["implicit_bpr"]["ndcg@10"], best, flush=True)

    # Surprise SVD (grid on validation RMSE) and SVD++ (library defaults: one grid point, it is slow)
    svd_grid = [{"n_factors": f, "reg_all": r, "lr_all": 0.005, "n_epochs": 20}
                for f in ([100] if args.quick else [50, 100]) for r in (0.02, 0.05, 0.1)]
    grids["svd"] = [(p, rmse(surprise_predict(surprise_fit(val.train, "svd", p), val.test), val.test.df["rating"]))
                    for p in svd_grid]
    best = min(grids["svd"], key=lambda g: g[1])[0]
    algo, t = timed(surprise_fit, split.train, "svd", best)
    rows["surprise_svd"] = {**rating_metrics(surprise_predict(algo, split.test), split.test),
                            **ts.score(svd_scores(algo, ts)), "fit_s": t, "params": best}
    print("svd", rows["surprise_svd"]["rmse"], best, flush=True)
    pp = {"n_factors": 20, "n_epochs": 20, "cache_ratings": True}
    algo, t = timed(surprise_fit, val.train, "svdpp", pp)
    grids["svdpp"] = [(pp, rmse(surprise_predict(algo, val.test), val.test.df["rating"]))]
    algo, t = timed(surprise_fit, split.train, "svdpp", pp)
    rows["surprise_svdpp"] = {**rating_metrics(surprise_predict(algo, split.test), split.test),
                              "fit_s": t, "params": pp}
    print("svd++", rows["surprise_svdpp"]["rmse"], flush=True)

    # genrec: autoencoder (reg fixed by the exploration recorded in README) + EASE (lambda from
    # the EASE grid above) + blend weight, all on validation; then refit on all of u1.base
    base = RankerConfig(ease_reg=float(best_lam), device="cpu", seed=42)
    probe, t_probe = timed(lambda: MFRanker(base).fit(val.train, validation=val.test, items=item_ids,
                                                      progress=False))
    blends = [0.0, 0.2, 0.4, 0.6, 1.0]
    grids["genrec_blend"] = [(b, vs.score(genrec_scores(probe, vs, blend=b))["ndcg@10"]) for b in blends]
    best_blend = max(grids["genrec_blend"], key=lambda g: g[1])[0]
    cfg = base.model_copy(update={"blend": best_blend})
    model, t = timed(lambda: MFRanker(cfg).fit(split.train, items=item_ids, progress=False,
                                               stop_epoch=probe.metadata["best_epoch"]))
    rows["genrec"] = {**rating_metrics(genrec_predict(model, split.test), split.test),
                      **ts.score(genrec_scores(model, ts)), "fit_s": t,
                      "fit_s_autorec": model.metadata["autorec_seconds"],
                      "epochs": probe.metadata["best_epoch"],
                      "seconds_per_epoch": round(model.metadata["autorec_seconds"] / probe.metadata["best_epoch"], 3),
                      "validation_fit_s": t_probe, "val_rmse": probe.metadata["best_val_rmse"],
                      "params": cfg.model_dump()}
    print("genrec", rows["genrec"]["rmse"], rows["genrec"]["ndcg@10"], flush=True)

    # ablation on the final model (test), components toggled
    ablation = {
        "autoencoder rating only (score = predicted rating)": ts.score(genrec_scores(model, ts, blend=1.0, use_ease=False))["ndcg@10"],
        "EASE only (blend 0)": ts.score(genrec_scores(model, ts, blend=0.0))["ndcg@10"],
        f"EASE + {best_blend} x rating (shipped)": rows["genrec"]["ndcg@10"],
    }
    mu = split.train.df["rating"].mean()
    ablation_rmse = {
        "global mean": rmse(np.full(len(split.test), mu), split.test.df["rating"]),
        "autoencoder (shipped)": rows["genrec"]["rmse"],
    }

    # cold start: fold-in from each test user's 10 highest-rated training items
    tr = split.train.df
    cold_topn, cold_pred = {}, np.empty(len(split.test))
    t0 = time.perf_counter()
    profiles = {}
    for u, g in tr.groupby("user"):
        top10 = g.sort_values(["rating", "timestamp"], ascending=[False, False], kind="stable").head(10)
        profiles[int(u)] = model.fold_in(rated=dict(zip(top10["item"].astype(int), top10["rating"])))
    for u in ts.eval_users:
        seen = set(tr.loc[tr["user"] == u, "item"].astype(int))
        cold_topn[u] = [s.item_id for s in model.recommend(profiles[u], K, exclude=seen)]
    test = split.test.df
    for u, idx in test.groupby("user").indices.items():
        cold_pred[idx] = model.predict(profiles[int(u)], test["item"].to_numpy()[idx].tolist())
    rows["genrec_cold_start_10_items"] = {
        **rating_metrics(cold_pred, split.test), **topn_metrics(cold_topn, ts.relevant, K),
        "fit_s": round(time.perf_counter() - t0, 2), "params": {"items_per_user": 10},
    }
    print("cold", rows["genrec_cold_start_10_items"]["ndcg@10"], flush=True)

    # table
    cols = ["rmse", "mae", "ndcg@10", "recall@10", "precision@10", "map@10", "hit_rate@10", "fit_s"]
    print(f"\n{'model':<28}" + "".join(f"{c:>13}" for c in cols))
    for name, r in rows.items():
        cells = "".join(f"{r[c]:>13.4f}" if isinstance(r.get(c), float) else f"{'-':>13}" for c in cols)
        print(f"{name:<28}{cells}")
    print("\nablation NDCG@10 (u1.test):", json.dumps(ablation, indent=1))
    print("ablation RMSE (u1.test):", json.dumps(ablation_rmse, indent=1))
    out = {
        "protocol": {"dataset": "ml-100k", "split": "u1", "k": K, "relevant": "test rating >= 4",
                     "candidates": "all catalog items not rated in u1.base",
                     "tuning": "validation_split(u1.base, fraction=0.1, seed=42)"},
        "machine": {**machine(), "torch_threads": torch.get_num_threads(), "load_average_at_start": load_start,
                    "load_average_at_end": os.getloadavg()},
        "total_seconds": round(time.perf_counter() - t_start, 1),
        "results": rows, "grids": {k: [[p, v] for p, v in g] for k, g in grids.items()},
        "ablation_ndcg@10": ablation, "ablation_rmse": ablation_rmse,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, default=str))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
