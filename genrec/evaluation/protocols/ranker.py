"""The ranker-evaluation protocol behind `genrec eval ranker`: rating error and top-N quality on a
split.

Predictions for every test rating; top-k over every catalog item the user has not rated in train;
relevant = test rating >= threshold; means over test users with a relevant item; peers (by default
the popularity baseline) scored on the same users with the same code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genrec.data import Dataset, Split
from genrec.evaluation.metrics import (
    catalog_coverage,
    intra_list_diversity,
    mae,
    novelty,
    rmse,
    topn_metrics,
)
from genrec.ranking import PopularityRanker, Ranker, RatingRanker, UserProfile

__all__ = ["RankerEvaluation", "RankerProtocol", "SystemScores", "evaluate_ranker", "format_table",
           "write_predictions", "write_topn"]

CANDIDATES = "every catalog item the user has not rated in train"


@dataclass
class SystemScores:
    """One ranker under the protocol: its metrics, its top-k lists and (if it predicts) its
    ratings."""

    metrics: dict[str, float]  # rmse, mae (rating rankers), top-N and beyond-accuracy metrics
    topn: dict[int, list[int]]  # test user -> recommended item ids, best first
    predictions: np.ndarray | None = None  # one per test rating, in the test frame's order


@dataclass
class RankerProtocol:
    """The fixed part of one evaluation: who is tested on what, and the reference counts.

    Build it once (`RankerProtocol.of(dataset, split)`) and `score` as many rankers as needed.
    """

    dataset: str
    split: str
    k: int
    threshold: float
    test: pd.DataFrame = field(repr=False)  # user, item, rating (the split's test part)
    relevant: dict[int, set[int]] = field(repr=False)  # every test user -> items rated >= threshold
    seen: dict[int, set[int]] = field(
        repr=False
    )  # user -> items rated in train (never recommended)
    popularity: dict[int, int] = field(repr=False)  # training rating count per item (for novelty)
    n_train_users: int
    catalog_size: int
    genres: dict[int, tuple[str, ...]] = field(repr=False)  # item -> genres (for diversity)

    @classmethod
    def of(
        cls, dataset: Dataset, split: Split, *, k: int = 10, threshold: float = 4.0
    ) -> RankerProtocol:
        """The protocol for `split` of `dataset` at list length `k`."""
        if int(k) < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        test = split.test.df
        train = split.train.df.drop_duplicates(["user", "item"], keep="last")
        return cls(
            dataset=dataset.name, split=split.name, k=int(k), threshold=float(threshold), test=test,
            relevant={int(u): set(g.loc[g["rating"] >= threshold, "item"].astype(int))
                      for u, g in test.groupby("user")},
            seen={int(u): set(g["item"].astype(int)) for u, g in train.groupby("user")},
            popularity={int(i): int(c) for i, c in train.groupby("item").size().items()},
            n_train_users=split.train.n_users, catalog_size=len(dataset.catalog),
            genres={it.item_id: it.genres for it in dataset.catalog},
        )

    def describe(self) -> dict[str, Any]:
        """What was measured (the "protocol" block of metrics.json)."""
        return {"dataset": self.dataset, "split": self.split, "k": self.k,
                "relevant": f"test rating >= {self.threshold:g}", "candidates": CANDIDATES,
                "test_ratings": len(self.test), "test_users": len(self.relevant)}

    def list_metrics(self, topn: Mapping[int, list[int]]) -> dict[str, float]:
        """Top-N accuracy plus coverage, novelty and genre diversity of given lists (any source)."""
        k = self.k
        return {
            **topn_metrics(topn, self.relevant, k),
            f"coverage@{k}": catalog_coverage(topn, self.catalog_size, k),
            f"novelty@{k}": novelty(topn, self.popularity, self.n_train_users, k),
            f"ild_genre@{k}": float(
                np.mean([intra_list_diversity(v, self.genres, k) for v in topn.values()])
            ),
        }

    def score(
        self, ranker: Ranker, *, profiles: Mapping[int, UserProfile] | None = None
    ) -> SystemScores:
        """Run `ranker` through the protocol.

        A test user is ranked as `profiles[user]` when given (cold-start protocols), else by id
        when the ranker knows them, else as the ranker's average user (`fold_in()`). Rating
        rankers also predict every test rating (RMSE, MAE).
        """
        avg: list[UserProfile] = []

        def who(user: int) -> int | UserProfile:
            if profiles is not None and user in profiles:
                return profiles[user]
            if ranker.knows_user(user):
                return user
            if not avg:
                avg.append(ranker.fold_in())
            return avg[0]

        topn = {
            u: [s.item_id for s in ranker.recommend(who(u), self.k, exclude=self.seen.get(u, ()))]
            for u in self.relevant
        }
        metrics = self.list_metrics(topn)
        preds = None
        if isinstance(ranker, RatingRanker):
            preds = np.empty(len(self.test), dtype=np.float64)
            items = self.test["item"].to_numpy()
            for user, idx in self.test.groupby("user").indices.items():
                preds[idx] = ranker.predict(who(int(user)), items[idx].tolist())
            metrics = {
                "rmse": rmse(preds, self.test["rating"]),
                "mae": mae(preds, self.test["rating"]),
                **metrics,
            }
        return SystemScores(metrics, topn, preds)


@dataclass
class RankerEvaluation:
    """What `genrec eval ranker` reports: metrics per system, the protocol, the ranker's outputs."""

    final: dict[str, dict[str, float]]  # system ("ranker", "popularity", ...) -> metric -> value
    protocol: dict[str, Any]  # RankerProtocol.describe()
    topn: dict[int, list[int]]  # the ranker's lists, test user -> item ids
    predictions: pd.DataFrame | None  # user, item, predicted_rating for every test rating

    def payload(self) -> dict[str, Any]:
        """The JSON form: ``{"final": ..., "protocol": ...}`` (metrics.json, --json)."""
        return {"final": self.final, "protocol": self.protocol}


def evaluate_ranker(
    ranker: Ranker,
    dataset: Dataset,
    split: Split,
    *,
    k: int = 10,
    threshold: float = 4.0,
    peers: Mapping[str, Ranker] | None = None,
) -> RankerEvaluation:
    """Score `ranker` and its `peers` (default: the popularity baseline fitted on `split.train`)
    on `split.test` under the protocol (see the module docstring)."""
    proto = RankerProtocol.of(dataset, split, k=k, threshold=threshold)
    if peers is None:
        peers = {"popularity": PopularityRanker().fit(split.train)}
    main = proto.score(ranker)
    final = {
        "ranker": main.metrics,
        **{name: proto.score(peer).metrics for name, peer in peers.items()},
    }
    predictions = None
    if main.predictions is not None:
        predictions = proto.test[["user", "item"]].assign(predicted_rating=main.predictions)
    return RankerEvaluation(
        final=final, protocol=proto.describe(), topn=main.topn, predictions=predictions
    )


def format_table(result: RankerEvaluation) -> list[str]:
    """The printed report: one line on the protocol, then metric rows with a column per system."""
    p = result.protocol
    lines = [
        f"{p['dataset']} split {p['split']}: {p['test_ratings']} test ratings, "
        f"{p['test_users']} test users; relevant = {p['relevant']}; candidates = {p['candidates']}"
    ]
    systems = list(result.final)
    widths = [max(9, len(s)) for s in systems]
    lines.append("  ".join([f"{'metric':>14}", *(f"{s:>{w}}" for s, w in zip(systems, widths))]))
    for metric in result.final[systems[0]]:
        cells = [f"{metric:>14}"]
        for s, w in zip(systems, widths):
            v = result.final[s].get(metric)
            cells.append("" if v is None else f"{v:>{w}.4f}")
        lines.append("  ".join(cells))
    return lines


def write_predictions(result: RankerEvaluation, path: Path) -> None:
    """`user item predicted_rating` (TSV, no header) for every test rating."""
    if result.predictions is None:
        raise ValueError("this ranker predicts no ratings; there are no predictions to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    result.predictions.to_csv(path, sep="\t", header=False, index=False, float_format="%.6f")


def write_topn(result: RankerEvaluation, path: Path) -> None:
    """`user item rank` (TSV, no header, rank 1..k) for every test user."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for user in sorted(result.topn):
            for rank, item in enumerate(result.topn[user], start=1):
                fh.write(f"{user}\t{item}\t{rank}\n")
