"""The CF ranker: predicted ratings from an item autoencoder, top-N scores blended with EASE.

`MFRanker` is what the agent, the UI and the evaluation call; `PopularityRanker` is the baseline.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from genrec.data import Ratings, UnknownItemError
from genrec.ranking._config import RankerConfig, ScoredItem, UnknownUserError, effective_reg
from genrec.ranking._train import train_autorec, train_ease


@dataclass(frozen=True)
class UserProfile:
    """A user known only from what they said (liked, disliked, rated items); see `MFRanker.fold_in`.

    Accepted wherever a user id is. `factors`/`bias` live in the model's rating space; `implicit`
    is the EASE input row (1 for liked or rated items).
    """

    factors: np.ndarray
    bias: float
    implicit: np.ndarray
    seen: frozenset[int] = field(default_factory=frozenset)


class MFRanker:
    """Collaborative-filtering ranker trained on explicit ratings (torch; CPU, or CUDA when present).

    Two components, chosen by measurement on a validation split of MovieLens 100K u1.base
    (ablation in benchmarks/README.md):

    * ratings: an item-based autoencoder (I-AutoRec). Its decoder is a matrix factorisation
      ``rating(u, i) = H_i . w_u + b_u`` with item factors ``H`` produced by the encoder, so a
      user known only from a conversation is folded in by ridge regression against fixed ``H``.
    * ranking: EASE, a closed-form item-item model on who-rated-what. `recommend` scores an item
      by the user's EASE score (scaled to [-1, 1] per user) plus ``blend * (rating - mid) / half``,
      i.e. "will they watch it" plus "will they like it".

    Example:
        >>> ranker = MFRanker(RankerConfig(epochs=20)).fit(split.train)       # doctest: +SKIP
        >>> ranker.recommend(1, k=3)                                          # doctest: +SKIP
        [ScoredItem(item_id=318, score=1.12, predicted_rating=4.6), ...]
        >>> me = ranker.fold_in(liked=[1, 50], disliked=[288])                 # doctest: +SKIP
        >>> ranker.recommend(me, k=5, candidates=[100, 181, 258])              # doctest: +SKIP
    """

    def __init__(self, config: RankerConfig | None = None) -> None:
        self.config = config or RankerConfig()
        self.metadata: dict[str, Any] = {}
        self._fitted = False

    # ------------------------------------------------------------------ fitting

    def fit(
        self,
        ratings: Ratings,
        *,
        validation: Ratings | None = None,
        items: Iterable[int] | None = None,
        progress: bool = True,
        stop_epoch: int | None = None,
    ) -> MFRanker:
        """Train on explicit ratings.

        Args:
            ratings: training ratings (at least one; every rating inside ``ratings.scale``).
            validation: held-out ratings for early stopping (users/items unknown to training
                are skipped); without it training runs ``config.epochs`` (or ``stop_epoch``).
            items: every item id the ranker should know (e.g. ``catalog.ids``); items without
                ratings get cold predictions. Defaults to the items in ``ratings``.
            progress: show a tqdm bar.
            stop_epoch: stop after this many epochs (what a validation run found best).

        Returns:
            self, fitted. ``metadata`` gains ``fit_seconds``, ``best_epoch`` and the history.
        """
        t0 = time.perf_counter()
        df = _validated(ratings, "training ratings")
        lo, hi = ratings.scale
        self.scale = (lo, hi)
        self._shift = 1.0 - lo  # observed ratings become >= 1 so 0 can mean "unrated"
        user_ids = np.unique(df["user"].to_numpy())
        item_ids = np.unique(df["item"].to_numpy())
        if items is not None:
            item_ids = np.union1d(item_ids, np.fromiter((int(i) for i in items), dtype=np.int64))
        self.user_ids, self.item_ids = user_ids.astype(np.int64), item_ids.astype(np.int64)
        self._uidx = {int(u): j for j, u in enumerate(self.user_ids)}
        self._iidx = {int(i): j for j, i in enumerate(self.item_ids)}
        u = np.searchsorted(self.user_ids, df["user"].to_numpy())
        i = np.searchsorted(self.item_ids, df["item"].to_numpy())
        r = df["rating"].to_numpy(np.float32) + np.float32(self._shift)
        n_u, n_i = len(self.user_ids), len(self.item_ids)

        val = None
        if validation is not None:
            vdf = _validated(validation, "validation ratings")
            keep = vdf["user"].isin(self._uidx) & vdf["item"].isin(self._iidx)
            vdf = vdf[keep.to_numpy()]
            if len(vdf):
                val = (
                    np.searchsorted(self.user_ids, vdf["user"].to_numpy()),
                    np.searchsorted(self.item_ids, vdf["item"].to_numpy()),
                    vdf["rating"].to_numpy(np.float32) + np.float32(self._shift),
                )
        clip = (lo + self._shift, hi + self._shift)
        self._reg = effective_reg(self.config, len(df))
        w = train_autorec(u, i, r, n_u, n_i, self.config.model_copy(update={"reg": self._reg}),
                          validation=val, clip=clip,
                          stop_epoch=stop_epoch, progress=progress)
        self._h, self._w, self._b = w.item_codes, w.user_factors, w.user_bias
        self._train = sp.csr_matrix((r, (u, i)), shape=(n_u, n_i), dtype=np.float32)
        self._pop = np.bincount(i, minlength=n_i).astype(np.int64)
        t1 = time.perf_counter()
        self._ease: np.ndarray | None = None
        if n_i <= self.config.ease_max_items:
            self._ease = train_ease(u, i, n_u, n_i, self.config.ease_reg, self.config.device)
        self._fitted = True
        self._prep_similar()
        self.metadata.update(
            {
                "fit_seconds": round(time.perf_counter() - t0, 3),
                "autorec_seconds": round(t1 - t0, 3),
                "epochs_run": w.history[-1]["epoch"] if w.history else (stop_epoch or self.config.epochs),
                "best_epoch": w.best_epoch,
                "history": w.history,
                "seconds_per_epoch": round(float(np.mean(w.epoch_seconds)), 4) if w.epoch_seconds else None,
                "dense": w.dense,
                "best_val_rmse": min((h["val_rmse"] for h in w.history), default=None),
                "effective_reg": round(self._reg, 6),
                "n_users": n_u,
                "n_items": n_i,
                "n_ratings": int(len(df)),
                "scale": [lo, hi],
            }
        )
        return self

    def _prep_similar(self) -> None:
        c = self._h - self._h.mean(axis=0, keepdims=True)
        n = np.linalg.norm(c, axis=1, keepdims=True)
        self._hn = (c / np.where(n > 0, n, 1.0)).astype(np.float32)

    # ------------------------------------------------------------------ lookups

    def _need_fit(self) -> None:
        if not self._fitted:
            raise RuntimeError("this MFRanker is not trained yet: call fit(ratings) or MFRanker.load(path)")

    def knows_user(self, user: int) -> bool:
        self._need_fit()
        return int(user) in self._uidx

    def knows_item(self, item: int) -> bool:
        self._need_fit()
        return int(item) in self._iidx

    def popularity(self) -> dict[int, int]:
        """Training rating count per item id (0 for known items nobody rated)."""
        self._need_fit()
        return {int(i): int(c) for i, c in zip(self.item_ids, self._pop)}

    def _user_index(self, user: int) -> int:
        try:
            return self._uidx[int(user)]
        except (KeyError, TypeError, ValueError):
            raise UnknownUserError(
                f"user id {user!r} is not in the ranker's training data ({len(self._uidx)} users); "
                "fold the user in from their items with fold_in(liked=..., rated=...)"
            ) from None

    def _item_index(self, items: Iterable[int], what: str = "item") -> np.ndarray:
        out = []
        for it in items:
            j = self._iidx.get(int(it)) if isinstance(it, (int, np.integer)) else None
            if j is None:
                raise UnknownItemError(
                    f"{what} id {it!r} is unknown to the ranker ({len(self._iidx)} items known, "
                    f"ids {int(self.item_ids.min())}..{int(self.item_ids.max())})"
                )
            out.append(j)
        return np.asarray(out, dtype=np.int64)

    def _user_parts(self, user: int | UserProfile) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
        """(factors, bias, implicit EASE row, indices of items to never return)."""
        self._need_fit()
        if isinstance(user, UserProfile):
            seen = self._item_index(user.seen) if user.seen else np.zeros(0, dtype=np.int64)
            return user.factors, user.bias, user.implicit, seen
        j = self._user_index(user)
        row = self._train[j]
        implicit = np.zeros(len(self.item_ids), dtype=np.float32)
        implicit[row.indices] = 1.0
        return self._w[j], float(self._b[j]), implicit, row.indices.astype(np.int64)

    # ------------------------------------------------------------------ scoring

    def _rating_space(self, factors: np.ndarray, bias: float, idx: np.ndarray | None) -> np.ndarray:
        h = self._h if idx is None else self._h[idx]
        lo, hi = self.scale
        return np.clip(h @ factors + bias - self._shift, lo, hi)

    def predict(self, user: int | UserProfile, items: Sequence[int]) -> np.ndarray:
        """Predicted ratings (on the dataset's scale) of `items` for `user`, in the given order.

        Raises UnknownUserError / genrec.data.UnknownItemError for ids the ranker does not know.
        """
        f, b, _, _ = self._user_parts(user)
        return self._rating_space(f, b, self._item_index(items)).astype(np.float64)

    def _scores(self, user: int | UserProfile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(recommend score, predicted rating, never-return indices) over all known items."""
        f, b, implicit, seen = self._user_parts(user)
        rating = self._rating_space(f, b, None)
        lo, hi = self.scale
        mid, half = (lo + hi) / 2, max((hi - lo) / 2, 1e-9)
        score = self.config.blend * (rating - mid) / half
        if self._ease is not None and implicit.any():
            e = implicit @ self._ease
            m = np.abs(e).max()
            if m > 0:
                score = score + e / m
        return score, rating, seen

    def recommend(
        self,
        user: int | UserProfile,
        k: int = 10,
        *,
        exclude: Iterable[int] = (),
        candidates: Iterable[int] | None = None,
    ) -> list[ScoredItem]:
        """The k best items for `user`, best first: unique, at most k, never their training items.

        Args:
            user: a training user id or a `UserProfile` from `fold_in` (its items are excluded).
            k: list length (>= 1).
            exclude: more item ids to leave out (ids unknown to the ranker are ignored here).
            candidates: rank only these ids (unknown ids raise UnknownItemError).
        """
        if int(k) < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        score, rating, seen = self._scores(user)
        allowed = np.zeros(len(self.item_ids), dtype=bool)
        if candidates is None:
            allowed[:] = True
        else:
            allowed[self._item_index(list(dict.fromkeys(candidates)), "candidate item")] = True
        allowed[seen] = False
        ex = [self._iidx[int(x)] for x in exclude if int(x) in self._iidx]
        allowed[ex] = False
        return self._top(score, rating, allowed, int(k))

    def _top(self, score: np.ndarray, rating: np.ndarray | None, allowed: np.ndarray, k: int) -> list[ScoredItem]:
        idx = np.flatnonzero(allowed)
        if idx.size == 0:
            return []
        s = score[idx]
        if idx.size > k:
            part = np.argpartition(-s, k - 1)[:k]
            idx, s = idx[part], s[part]
        order = np.lexsort((self.item_ids[idx], -s))  # ties: smaller id first (deterministic)
        return [
            ScoredItem(int(self.item_ids[j]), float(score[j]),
                       None if rating is None else round(float(rating[j]), 4))
            for j in idx[order]
        ]

    def recommend_many(self, users: Iterable[int], k: int = 10) -> dict[int, list[int]]:
        """Top-k item ids for many training users (full ranking, training items excluded)."""
        return {int(u): [s.item_id for s in self.recommend(int(u), k)] for u in users}

    def similar_items(self, item: int, k: int = 10, *, candidates: Iterable[int] | None = None) -> list[ScoredItem]:
        """Items whose learned codes are closest (cosine) to `item`'s, best first, `item` left out."""
        self._need_fit()
        j = int(self._item_index([item])[0])
        sim = self._hn @ self._hn[j]
        allowed = np.zeros(len(self.item_ids), dtype=bool)
        if candidates is None:
            allowed[:] = True
        else:
            allowed[self._item_index(list(dict.fromkeys(candidates)), "candidate item")] = True
        allowed[j] = False
        if int(k) < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        return self._top(sim, None, allowed, int(k))

    # ------------------------------------------------------------------ cold start

    def fold_in(
        self,
        liked: Iterable[int] = (),
        disliked: Iterable[int] = (),
        rated: Mapping[int, float] | None = None,
    ) -> UserProfile:
        """A user representation from a few items (someone known only from a conversation).

        Liked items count as a rating of the scale maximum, disliked ones as min + a quarter of
        the range (2 on 1-5); explicit `rated` values win. The user's factors are the ridge
        solution against the fixed item codes (the same objective training uses for w_u);
        the EASE row marks liked and rated items (rated at or above the scale midpoint).
        With no items at all the profile is the average user.

        Raises UnknownItemError for unknown ids and ValueError for ratings outside the scale.
        """
        self._need_fit()
        lo, hi = self.scale
        given: dict[int, float] = {}
        for it in liked:
            given[int(it)] = hi
        for it in disliked:
            given[int(it)] = lo + (hi - lo) / 4
        for it, val in (rated or {}).items():
            v = float(val)
            if not (lo <= v <= hi) or not np.isfinite(v):
                raise ValueError(f"rating {val!r} for item {it} is outside the scale {lo:g}..{hi:g}")
            given[int(it)] = v
        ids = list(given)
        idx = self._item_index(ids)
        d = self._h.shape[1]
        w_mean, b_mean = self._w.mean(axis=0), float(self._b.mean())
        if not ids:
            return UserProfile(w_mean.astype(np.float32), b_mean,
                               np.zeros(len(self.item_ids), np.float32), frozenset())
        y = np.array([given[i] for i in ids], dtype=np.float64) + self._shift
        a = np.hstack([self._h[idx].astype(np.float64), np.ones((len(ids), 1))])
        prior = np.concatenate([w_mean, [b_mean]]).astype(np.float64)
        lam = np.full(d + 1, max(float(self.metadata.get("effective_reg", self.config.reg)), 1e-3))
        lam[-1] = 1.0  # the bias is barely regularised (towards the average user's)
        rhs = a.T @ (y - a @ prior)
        theta = prior + np.linalg.solve(a.T @ a + np.diag(lam), rhs)
        implicit = np.zeros(len(self.item_ids), dtype=np.float32)
        mid = (lo + hi) / 2
        pos = [j for j, i in zip(idx, ids) if given[i] >= mid]
        implicit[pos] = 1.0
        return UserProfile(theta[:d].astype(np.float32), float(theta[d]), implicit, frozenset(ids))

    # ------------------------------------------------------------------ persistence

    def save(self, path: Any) -> None:
        """Write the model to folder `path` (weights.npz + ranker.json); see genrec.ranking.store."""
        from genrec.ranking.store import save_ranker

        save_ranker(self, path)

    @classmethod
    def load(cls, path: Any, *, expected: Mapping[str, Any] | None = None) -> MFRanker:
        """Read a model written by `save`; `expected` metadata (e.g. dataset, split) must match."""
        from genrec.ranking.store import load_ranker

        return load_ranker(path, expected=expected)


def _validated(ratings: Ratings, what: str):  # noqa: ANN202 - returns a DataFrame
    """The ratings frame, de-duplicated (last rating of a pair wins), after sanity checks."""
    if not isinstance(ratings, Ratings):
        raise TypeError(f"{what}: expected genrec.data.Ratings, got {type(ratings).__name__}")
    df = ratings.df
    if len(df) == 0:
        raise ValueError(f"{what}: no ratings; a ranker needs at least one rating to learn from")
    lo, hi = ratings.scale
    r = df["rating"].to_numpy()
    bad = ~np.isfinite(r) | (r < lo) | (r > hi)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{what}: {int(bad.sum())} ratings outside the scale {lo:g}..{hi:g} "
            f"(first: row {row}, user {int(df['user'].iloc[row])}, item {int(df['item'].iloc[row])}, "
            f"rating {r[row]!r}); fix the data or pass the right scale to Ratings(..., scale=)"
        )
    return df.drop_duplicates(["user", "item"], keep="last")


class PopularityRanker:
    """Baseline: recommends the most-rated items the user has not rated (same verbs as MFRanker)."""

    def fit(self, ratings: Ratings, *, validation: Ratings | None = None, progress: bool = True,
            **_: Any) -> PopularityRanker:
        df = _validated(ratings, "training ratings")
        counts = df.groupby("item").size()
        self.item_ids = counts.index.to_numpy(np.int64)
        self._count = counts.to_numpy(np.float64)
        self._seen = {int(u): set(g["item"].tolist()) for u, g in df.groupby("user")}
        return self

    def knows_user(self, user: int) -> bool:
        return int(user) in self._seen

    def popularity(self) -> dict[int, int]:
        return {int(i): int(c) for i, c in zip(self.item_ids, self._count)}

    def recommend(self, user: int | UserProfile, k: int = 10, *, exclude: Iterable[int] = (),
                  candidates: Iterable[int] | None = None) -> list[ScoredItem]:
        if int(k) < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if isinstance(user, UserProfile):
            seen = set(user.seen)
        elif int(user) in self._seen:
            seen = self._seen[int(user)]
        else:
            raise UnknownUserError(f"user id {user!r} is not in the popularity baseline's training data")
        skip = seen | {int(x) for x in exclude}
        allowed = np.array([int(i) not in skip for i in self.item_ids])
        if candidates is not None:
            allowed &= np.isin(self.item_ids, np.fromiter((int(c) for c in candidates), dtype=np.int64))
        idx = np.flatnonzero(allowed)
        order = idx[np.lexsort((self.item_ids[idx], -self._count[idx]))][: int(k)]
        return [ScoredItem(int(self.item_ids[j]), float(self._count[j]), None) for j in order]
