"""The CF ranker: predicted ratings from an item autoencoder, top-N scores blended with EASE.

`MFRanker` is what the agent, the UI and the evaluation call; it owns its fitted fields
(`MFWeights`) and writes them itself (`save` / `load`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from genrec.data import Ratings, UnknownItemError
from genrec.knobs import RankerConfig
from genrec.ranking._train import effective_reg, index_ratings, train_autorec, train_ease
from genrec.ranking.files import read_model, write_model
from genrec.ranking.types import ModelFileError, ScoredItem, UnknownUserError, UserProfile
from genrec.ranking.weights import MFWeights

__all__ = ["MFRanker", "MFWeights", "UserProfile"]


FOLD_IN_BIAS_REG = 50.0
"""Ridge weight pulling a folded-in user's rating bias towards the average user's. A person names
favourites first, so a handful of 5s would otherwise read as someone who rates everything 5."""
FOLD_IN_SUPPORT = 30.0
"""Items at which a folded-in user's predicted ratings and the average user's weigh the same: with
n items said, shown ratings are avg + n / (n + FOLD_IN_SUPPORT) * (folded-in - avg). Chosen on the
validation split carved from u1.base (cold-start RMSE from 10 items: 1.37 -> 1.03); ranking is
unchanged (it uses the folded-in ratings)."""


class MFRanker:
    """Collaborative-filtering ranker trained on explicit ratings (torch; CPU, or CUDA when
    present).

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
        >>> ranker.save("model/"); MFRanker.load("model/")                    # doctest: +SKIP
    """

    def __init__(self, config: RankerConfig | None = None) -> None:
        self.config = config or RankerConfig()
        self.metadata: dict[str, Any] = {}
        self._weights: MFWeights | None = None
        self.scale: tuple[float, float] = (1.0, 5.0)
        self.user_ids = self.item_ids = np.zeros(0, dtype=np.int64)

    # ------------------------------------------------------------------ fitting

    def fit(
        self,
        ratings: Ratings,
        *,
        validation: Ratings | None = None,
        items: Iterable[int] | None = None,
        progress: bool = True,
        stop_epoch: int | None = None,
        desc: str = "training ranker",
        ease: bool = True,
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
            desc: the progress bar's label (e.g. "ranker 1/2: picking epochs").
            ease: fit the EASE ranking component too (a run that only picks the number of
                epochs skips it: it is the slow part on a catalog of thousands of items).

        Returns:
            self, fitted. ``metadata`` gains ``fit_seconds``, ``best_epoch`` and the history.
        """
        t0 = time.perf_counter()
        lo, hi = ratings.scale
        shift = 1.0 - lo  # observed ratings become >= 1 so 0 can mean "unrated"
        data = index_ratings(ratings, validation, items, shift)
        u, i, r = data.users, data.items, data.ratings
        n_u, n_i = len(data.user_ids), len(data.item_ids)
        clip = (lo + shift, hi + shift)
        reg = effective_reg(self.config, data.n_ratings)
        w = train_autorec(u, i, r, n_u, n_i, self.config.model_copy(update={"reg": reg}),
                          validation=data.validation, clip=clip,
                          stop_epoch=stop_epoch, progress=progress, desc=desc)
        t1 = time.perf_counter()
        ease_b = None
        if ease and n_i <= self.config.ease_max_items:
            ease_b = train_ease(u, i, n_u, n_i, self.config.ease_reg, self.config.device)
        self._set_weights(
            MFWeights(
                user_ids=data.user_ids,
                item_ids=data.item_ids,
                item_codes=w.item_codes,
                user_factors=w.user_factors,
                user_bias=w.user_bias,
                train=sp.csr_matrix((r, (u, i)), shape=(n_u, n_i), dtype=np.float32),
                popularity=np.bincount(i, minlength=n_i).astype(np.int64),
                ease=ease_b,
            ),
            (lo, hi),
        )
        self.metadata.update(
            {
                "fit_seconds": round(time.perf_counter() - t0, 3),
                "autorec_seconds": round(t1 - t0, 3),
                "epochs_run": w.history[-1]["epoch"]
                if w.history
                else (stop_epoch or self.config.epochs),
                "best_epoch": w.best_epoch,
                "history": w.history,
                "seconds_per_epoch": round(float(np.mean(w.epoch_seconds)), 4)
                if w.epoch_seconds
                else None,
                "dense": w.dense,
                "best_val_rmse": min((h["val_rmse"] for h in w.history), default=None),
                "effective_reg": round(reg, 6),
                "n_users": n_u,
                "n_items": n_i,
                "n_ratings": data.n_ratings,
                "scale": [lo, hi],
            }
        )
        return self

    def _set_weights(self, weights: MFWeights, scale: tuple[float, float]) -> None:
        """Install fitted (or loaded) weights and the lookups derived from them."""
        self._weights = weights
        self.scale = (float(scale[0]), float(scale[1]))
        self._shift = 1.0 - self.scale[0]
        self.user_ids, self.item_ids = weights.user_ids, weights.item_ids
        self._uidx = {int(u): j for j, u in enumerate(weights.user_ids)}
        self._iidx = {int(i): j for j, i in enumerate(weights.item_ids)}
        self._iorder = np.argsort(weights.item_ids, kind="stable")  # id lookups by searchsorted
        self._isorted = weights.item_ids[self._iorder].astype(np.int64)
        self._average: tuple[np.ndarray, float, np.ndarray] | None = None  # see _average_user
        h = weights.item_codes
        c = h - h.mean(axis=0, keepdims=True)
        n = np.linalg.norm(c, axis=1, keepdims=True)
        self._hn = (c / np.where(n > 0, n, 1.0)).astype(np.float32)  # for similar_items

    # ------------------------------------------------------------------ lookups

    def _fitted(self) -> MFWeights:
        if self._weights is None:
            raise RuntimeError(
                "this MFRanker is not trained yet: call fit(ratings) or MFRanker.load(path)"
            )
        return self._weights

    @property
    def weights(self) -> MFWeights:
        """The fitted fields (read them, do not change them); RuntimeError before `fit`/`load`."""
        return self._fitted()

    def knows_user(self, user: int) -> bool:
        """Whether `user` was in the training data (otherwise fold them in from their items)."""
        self._fitted()
        return int(user) in self._uidx

    def knows_item(self, item: int) -> bool:
        """Whether the ranker can score `item` (every catalog item given to `fit`)."""
        self._fitted()
        return int(item) in self._iidx

    def popularity(self) -> dict[int, int]:
        """Training rating count per item id (0 for known items nobody rated)."""
        m = self._fitted()
        return {int(i): int(c) for i, c in zip(m.item_ids, m.popularity)}

    def _user_index(self, user: int) -> int:
        try:
            return self._uidx[int(user)]
        except (KeyError, TypeError, ValueError):
            raise UnknownUserError(
                f"user id {user!r} is not in the ranker's training data ({len(self._uidx)} users); "
                "fold the user in from their items with fold_in(liked=..., rated=...)"
            ) from None

    def _item_index(self, items: Iterable[int], what: str = "item") -> np.ndarray:
        items = items if isinstance(items, (list, tuple, np.ndarray)) else list(items)
        if len(items) > 32:  # vectorised; the loop below finds and names an unknown id
            arr = np.asarray(items)
            if arr.dtype.kind in "iu" and arr.ndim == 1 and len(self._isorted):
                at = np.minimum(np.searchsorted(self._isorted, arr), len(self._isorted) - 1)
                if np.array_equal(self._isorted[at], arr):
                    return self._iorder[at].astype(np.int64)
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

    def _user_parts(
        self, user: int | UserProfile
    ) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
        """(factors, bias, implicit EASE row, indices of items to never return)."""
        m = self._fitted()
        if isinstance(user, UserProfile):
            seen = self._item_index(user.seen) if user.seen else np.zeros(0, dtype=np.int64)
            return user.factors, user.bias, user.implicit, seen
        j = self._user_index(user)
        row = m.train[j]
        implicit = np.zeros(len(self.item_ids), dtype=np.float32)
        implicit[row.indices] = 1.0
        return m.user_factors[j], float(m.user_bias[j]), implicit, row.indices.astype(np.int64)

    # ------------------------------------------------------------------ scoring

    def _rating_space(self, factors: np.ndarray, bias: float, idx: np.ndarray | None) -> np.ndarray:
        h = self._fitted().item_codes
        h = h if idx is None else h[idx]
        lo, hi = self.scale
        return np.clip(h @ factors + bias - self._shift, lo, hi)

    def predict(self, user: int | UserProfile, items: Sequence[int]) -> np.ndarray:
        """Predicted ratings (on the dataset's scale) of `items` for `user`, in the given order.

        Raises UnknownUserError / genrec.data.UnknownItemError for ids the ranker does not know.
        """
        f, b, _, _ = self._user_parts(user)
        idx = self._item_index(items)
        return self._calibrated(user, self._rating_space(f, b, idx), idx).astype(np.float64)

    def _calibrated(
        self, user: int | UserProfile, rating: np.ndarray, idx: np.ndarray | None
    ) -> np.ndarray:
        """Shown ratings: a folded-in user's shrunk towards the average user's by its support."""
        if not isinstance(user, UserProfile):
            return rating
        w, b, everything = self._average_user()
        base = everything if idx is None else self._rating_space(w, b, idx)
        n = len(user.seen)
        return base + n / (n + FOLD_IN_SUPPORT) * (rating - base)

    def _average_user(self) -> tuple[np.ndarray, float, np.ndarray]:
        """The average user's (factors, bias, rating of every item), computed once per model."""
        if self._average is None:
            m = self._fitted()
            w, b = m.user_factors.mean(axis=0), float(m.user_bias.mean())
            self._average = (w, b, self._rating_space(w, b, None))
        return self._average

    def _scores(self, user: int | UserProfile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(recommend score, shown predicted rating, never-return indices) over all known items."""
        f, b, implicit, seen = self._user_parts(user)
        rating = self._rating_space(f, b, None)
        lo, hi = self.scale
        mid, half = (lo + hi) / 2, max((hi - lo) / 2, 1e-9)
        score = self.config.blend * (rating - mid) / half
        ease = self._fitted().ease
        if ease is not None and implicit.any():
            e = implicit @ ease
            m = np.abs(e).max()
            if m > 0:
                score = score + e / m
        return score, self._calibrated(user, rating, None), seen

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
        ex = np.asarray(list(exclude) if not isinstance(exclude, np.ndarray) else exclude)
        if ex.dtype.kind in "iu" and ex.ndim == 1 and len(ex) and len(self._isorted):
            at = np.minimum(np.searchsorted(self._isorted, ex), len(self._isorted) - 1)
            allowed[self._iorder[at[self._isorted[at] == ex]]] = False  # unknown ids ignored
        elif len(ex):
            allowed[[self._iidx[int(x)] for x in ex if int(x) in self._iidx]] = False
        return self._top(score, rating, allowed, int(k))

    def _top(
        self, score: np.ndarray, rating: np.ndarray | None, allowed: np.ndarray, k: int
    ) -> list[ScoredItem]:
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

    def similar_items(
        self, item: int, k: int = 10, *, candidates: Iterable[int] | None = None
    ) -> list[ScoredItem]:
        """Items whose learned codes are closest (cosine) to `item`'s, best first, `item` left
        out."""
        self._fitted()
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
        m = self._fitted()
        lo, hi = self.scale
        given: dict[int, float] = {}
        for it in liked:
            given[int(it)] = hi
        for it in disliked:
            given[int(it)] = lo + (hi - lo) / 4
        for it, val in (rated or {}).items():
            v = float(val)
            if not (lo <= v <= hi) or not np.isfinite(v):
                raise ValueError(
                    f"rating {val!r} for item {it} is outside the scale {lo:g}..{hi:g}"
                )
            given[int(it)] = v
        ids = list(given)
        idx = self._item_index(ids)
        d = m.item_codes.shape[1]
        w_mean, b_mean, _ = self._average_user()
        if not ids:
            return UserProfile(w_mean.astype(np.float32), b_mean,
                               np.zeros(len(self.item_ids), np.float32), frozenset())
        y = np.array([given[i] for i in ids], dtype=np.float64) + self._shift
        a = np.hstack([m.item_codes[idx].astype(np.float64), np.ones((len(ids), 1))])
        prior = np.concatenate([w_mean, [b_mean]]).astype(np.float64)
        lam = np.full(d + 1, max(float(self.metadata.get("effective_reg", self.config.reg)), 1e-3))
        lam[-1] = FOLD_IN_BIAS_REG  # the bias shrinks towards the average user's
        # ridge towards the prior, solved in the n-item dual (Woodbury): n x n instead of (d+1)^2
        scaled = a / lam  # a @ diag(1/lam)
        dual = np.linalg.solve(scaled @ a.T + np.eye(len(ids)), y - a @ prior)
        theta = prior + scaled.T @ dual
        implicit = np.zeros(len(self.item_ids), dtype=np.float32)
        mid = (lo + hi) / 2
        pos = [j for j, i in zip(idx, ids) if given[i] >= mid]
        implicit[pos] = 1.0
        return UserProfile(theta[:d].astype(np.float32), float(theta[d]), implicit, frozenset(ids))

    # ------------------------------------------------------------------ variants and persistence

    def variant(self, *, blend: float | None = None, ease: bool = True) -> MFRanker:
        """This fitted model with another recommend `blend`, or without its EASE part (ablations).

        Nothing is retrained: the variant shares this model's arrays.
        """
        m = self._fitted()
        out = MFRanker(
            self.config if blend is None else self.config.model_copy(update={"blend": blend})
        )
        out.metadata = dict(self.metadata)
        out._set_weights(m if ease else replace(m, ease=None), self.scale)
        return out

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model to folder `path`: its `MFWeights` fields in weights.npz; config, scale
        and metadata in ranker.json (see genrec.ranking.files for the format)."""
        m = self._fitted()
        write_model(path, m.arrays(), {**self.metadata, "params": self.config.model_dump(),
                                       "scale": list(self.scale)})

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, expected: Mapping[str, Any] | None = None
    ) -> MFRanker:
        """Read a model written by `save`; `expected` metadata (e.g. dataset, split) must match.

        Raises ModelFileError when the folder is missing, corrupt, of another format or genrec
        version, or records other `expected` values (the caller retrains).
        """
        arrays, meta = read_model(path, expected=expected)
        try:
            ranker = cls(RankerConfig(**meta["params"]))
            lo, hi = meta["scale"]
            ranker._set_weights(MFWeights.from_arrays(arrays), (float(lo), float(hi)))
        except Exception as exc:  # noqa: BLE001 - any inconsistency is the same user error
            raise ModelFileError(f"{path}: saved ranker unusable ({type(exc).__name__}: {exc}); "
                                 "delete the folder and retrain") from None
        ranker.metadata = dict(meta)
        return ranker
