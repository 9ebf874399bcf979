"""Baselines scored next to the agent on the same users, turns and split.

popularity and full_history know the user's id (so their training items are excluded);
mentioned_fold_in and content_only know only what the simulated user said, as the agent does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from genrec.agent.preferences import Preferences
from genrec.data import Ratings

log = logging.getLogger(__name__)


class Baselines:
    """Top-k lists of the four baselines.

    Args:
        train: the training ratings (popularity counts, users' training items).
        ranker: the CF ranker (`recommend`, `fold_in`), or None to skip the ranker baselines.
        store: the Chroma store (`search`), or None to skip content_only.
        popularity: a fitted PopularityRanker, or None to rank by training counts here.
        k: list length.
    """

    def __init__(self, train: Ratings, *, ranker: Any | None = None, store: Any | None = None,
                 popularity: Any | None = None, k: int = 10) -> None:
        self.k = k
        self.ranker: Any = ranker
        self.store: Any = store
        self.popularity_ranker = popularity
        counts = train.df.groupby("item").size()
        order = sorted(zip(counts.index.to_numpy(), counts.to_numpy()), key=lambda x: (-int(x[1]), int(x[0])))
        self._pop_order = np.array([int(i) for i, _ in order], dtype=np.int64)
        self._train_items = {u: set(g["item"].astype(int)) for u, g in train.df.groupby("user")}
        self._fold_cache: dict[tuple, list[int]] = {}
        self.errors: dict[str, str] = {}

    @property
    def names(self) -> list[str]:
        out = ["popularity"]
        if self.ranker is not None:
            out += ["full_history", "mentioned_fold_in"]
        if self.store is not None:
            out.append("content_only")
        return out

    def _popular(self, exclude: set[int]) -> list[int]:
        out: list[int] = []
        for i in self._pop_order:
            if int(i) not in exclude:
                out.append(int(i))
                if len(out) == self.k:
                    break
        return out

    def _safe(self, name: str, fn: Any) -> list[int] | None:
        try:
            return [int(x) for x in fn()][: self.k]
        except Exception as exc:  # noqa: BLE001 - a failing baseline is reported, not fatal
            if name not in self.errors:
                log.warning("baseline %s failed: %s", name, exc)
            self.errors[name] = f"{type(exc).__name__}: {exc}"
            return None

    def constant(self, user_id: int) -> dict[str, list[int]]:
        """popularity and full_history for a known user (the same after every turn)."""
        out: dict[str, list[int]] = {}
        seen = self._train_items.get(int(user_id), set())

        def pop() -> list[int]:
            if self.popularity_ranker is not None and self.popularity_ranker.knows_user(int(user_id)):
                return [s.item_id for s in self.popularity_ranker.recommend(int(user_id), self.k, exclude=seen)]
            return self._popular(seen)  # same ranking (count, then id) for a user with no training items

        lists = {"popularity": self._safe("popularity", pop)}
        if self.ranker is not None:
            lists["full_history"] = self._safe(
                "full_history", lambda: [s.item_id for s in self.ranker.recommend(int(user_id), self.k)]
            )
        out.update({k: v for k, v in lists.items() if v is not None})
        return out

    def conversational(self, stated: Preferences, user_texts: Sequence[str]) -> dict[str, list[int]]:
        """mentioned_fold_in and content_only from what the simulated user has said so far."""
        out: dict[str, list[int]] = {}
        mentioned = stated.mentioned()
        if self.ranker is not None:
            key = (tuple(stated.liked), tuple(stated.disliked), tuple(stated.seen))
            if key not in self._fold_cache:
                lst = self._safe("mentioned_fold_in", lambda: self._fold_in(stated, mentioned))
                if lst is None:
                    return out | self._content(mentioned, user_texts)
                self._fold_cache[key] = lst
                if len(self._fold_cache) > 4096:
                    self._fold_cache.pop(next(iter(self._fold_cache)))
            out["mentioned_fold_in"] = list(self._fold_cache[key])
        return out | self._content(mentioned, user_texts)

    def _fold_in(self, stated: Preferences, mentioned: list[int]) -> list[int]:
        profile = self.ranker.fold_in(liked=stated.liked, disliked=stated.disliked)
        return [s.item_id for s in self.ranker.recommend(profile, self.k, exclude=mentioned)]

    def _content(self, mentioned: list[int], user_texts: Sequence[str]) -> dict[str, list[int]]:
        if self.store is None:
            return {}
        from genrec.retrieval import SearchFilters

        query = " ".join(t for t in user_texts if t).strip()
        if not query:
            return {}
        lst = self._safe(
            "content_only",
            lambda: [r.item.item_id for r in self.store.search(
                query, self.k, filters=SearchFilters(exclude_ids=list(mentioned)))],
        )
        return {"content_only": lst} if lst is not None else {}


__all__ = ["Baselines"]
