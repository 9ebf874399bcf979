"""Baselines scored next to the agent on the same users, turns and split.

Peers (popularity, mentioned_fold_in, content_only, constrained_fold_in) live under the agent's
rules: they know only the conversation and show only new items each turn, and keep a standing
best-k list. Oracles (oracle_popularity, full_history) know the user's id and training items.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from genrec.agent.preferences import Preferences
from genrec.data import Catalog, Ratings
from genrec.retrieval.filters import FilterTable, SearchFilters, validate

if TYPE_CHECKING:
    from genrec.ranking import Ranker
    from genrec.retrieval.store import ChromaStore

log = logging.getLogger(__name__)

PEERS = ("popularity", "mentioned_fold_in", "content_only", "constrained_fold_in")
"""Know only the conversation, show only new items (the agent's rules). constrained_fold_in is
mentioned_fold_in showing only items that meet every constraint the user stated: avoided genres
and year bounds (what `constraint_violations` counts) and the genre of the request in force
("what about a drama?", the simulated user's `requested_genres`; its favourite genres stay a
taste). The named titles plus obedience, none of the rest of the dialogue."""
ORACLES = ("oracle_popularity", "full_history")
"""Know the user's training items: references, not the bar."""


class Baselines:
    """Top-k lists of the peers and oracles.

    Args:
        train: the training ratings (popularity counts, users' training items).
        ranker: the CF ranker (`recommend`, `fold_in`), or None to skip the ranker baselines.
        store: the Chroma store (`search`), or None to skip content_only.
        popularity: a fitted PopularityRanker, or None to rank by training counts here.
        catalog: the items' genres and years, or None to skip constrained_fold_in.
        k: list length.
    """

    def __init__(
        self,
        train: Ratings,
        *,
        ranker: Ranker | None = None,
        store: ChromaStore | None = None,
        popularity: Ranker | None = None,
        catalog: Catalog | None = None,
        k: int = 10,
    ) -> None:
        self.k = k
        self.ranker = ranker
        self.store = store
        self.popularity_ranker = popularity
        self._table: FilterTable | None = None
        if catalog is not None and ranker is not None:
            self._table = FilterTable.from_catalog(catalog)
            self._rankable = np.array(
                [bool(ranker.knows_item(int(i))) for i in self._table.ids]
            )  # it can score
        counts = train.df.groupby("item").size()
        order = sorted(
            zip(counts.index.to_numpy(), counts.to_numpy()), key=lambda x: (-int(x[1]), int(x[0]))
        )
        self._pop_order = np.array([int(i) for i, _ in order], dtype=np.int64)
        self._train_items = {u: set(g["item"].astype(int)) for u, g in train.df.groupby("user")}
        self.errors: dict[str, str] = {}

    @property
    def names(self) -> list[str]:
        out = ["popularity", "oracle_popularity"]
        if self.ranker is not None:
            out += ["full_history", "mentioned_fold_in"]
        if self.store is not None:
            out.append("content_only")
        if self._table is not None:
            out.append("constrained_fold_in")
        return out

    def conversation(self) -> PeerConversation:
        """The peers of one conversation (each remembers what it has shown)."""
        return PeerConversation(self)

    def _popular(self, exclude: set[int] | list[int], n: int | None = None) -> list[int]:
        n = self.k if n is None else n
        out: list[int] = []
        for i in self._pop_order:
            if int(i) not in exclude:
                out.append(int(i))
                if len(out) == n:
                    break
        return out

    def _safe(
        self, name: str, fn: Callable[[], Iterable[int]], n: int | None = None
    ) -> list[int] | None:
        try:
            return [int(x) for x in fn()][: self.k if n is None else n]
        except Exception as exc:  # noqa: BLE001 - a failing baseline is reported, not fatal
            if name not in self.errors:
                log.warning("baseline %s failed: %s", name, exc)
            self.errors[name] = f"{type(exc).__name__}: {exc}"
            return None

    def constant(self, user_id: int) -> dict[str, list[int]]:
        """The oracles, oracle_popularity and full_history, for a known user (the same every
        turn)."""
        out: dict[str, list[int]] = {}
        seen = self._train_items.get(int(user_id), set())

        def pop() -> list[int]:
            if self.popularity_ranker is not None and self.popularity_ranker.knows_user(
                int(user_id)
            ):
                return [
                    s.item_id
                    for s in self.popularity_ranker.recommend(int(user_id), self.k, exclude=seen)
                ]
            return self._popular(
                seen
            )  # same ranking (count, then id) for a user with no training items

        lists = {"oracle_popularity": self._safe("oracle_popularity", pop)}
        ranker = self.ranker
        if ranker is not None:
            lists["full_history"] = self._safe(
                "full_history",
                lambda: [s.item_id for s in ranker.recommend(int(user_id), self.k)],
            )
        out.update({k: v for k, v in lists.items() if v is not None})
        return out

    def ranked(
        self,
        name: str,
        stated: Preferences,
        user_texts: Sequence[str],
        exclude: set[int],
        *,
        n: int | None = None,
    ) -> list[int] | None:
        """One peer's best `n` (default k) from the conversation so far, without `exclude` and the
        items the user named or reacted to (None: it cannot rank)."""
        # the agent's rule: nothing the user named or reacted to ("the ninth sounds good", "not that
        # one")
        blocked = set(stated.mentioned()) | set(stated.interested) | set(stated.rejected) | exclude
        n = self.k if n is None else n
        if name == "popularity":
            return self._safe(name, lambda: self._popular(blocked, n), n)
        if name == "mentioned_fold_in" and self.ranker is not None:
            return self._safe(name, lambda: self._fold_in(stated, sorted(blocked), n), n)
        if name == "constrained_fold_in" and self._table is not None:
            return self._safe(
                name, lambda: self._fold_in(stated, sorted(blocked), n, self._obeying(stated)), n
            )
        if name == "content_only" and self.store is not None:
            query = " ".join(t for t in user_texts if t).strip()
            return (
                self._safe(name, lambda: self._content(query, sorted(blocked), n), n)
                if query
                else None
            )
        return None

    def _fold_in(
        self, stated: Preferences, exclude: list[int], n: int, candidates: list[int] | None = None
    ) -> list[int]:
        ranker = self.ranker
        if ranker is None:
            raise ValueError("a fold-in peer needs the ranker; build Baselines with ranker=...")
        profile = ranker.fold_in(liked=stated.liked, disliked=stated.disliked)
        if candidates is not None and not candidates:
            return []
        return [
            s.item_id for s in ranker.recommend(profile, n, exclude=exclude, candidates=candidates)
        ]

    def _obeying(self, stated: Preferences) -> list[int]:
        """The rankable items that meet the user's stated constraints (avoided genres, years, the
        requested genre)."""
        assert self._table is not None
        filters = validate(
            SearchFilters(
                genres_any=list(getattr(stated, "requested_genres", [])),
                genres_none=list(stated.avoided_genres),
                year_min=stated.year_min,
                year_max=stated.year_max,
            ),
            self._table.genres,
        )
        return self._table.ids[self._table.mask(filters) & self._rankable].tolist()

    def _content(self, query: str, exclude: list[int], n: int) -> list[int]:
        if self.store is None:
            raise ValueError("content_only needs the Chroma store; build Baselines with store=...")
        return [
            r.item.item_id
            for r in self.store.search(query, n, filters=SearchFilters(exclude_ids=exclude))
        ]


@dataclass
class PeerTurn:
    """What the peers did after one turn: the new items each showed, and each one's standing best
    k."""

    shown: dict[str, list[int]]
    standing: dict[str, list[int]]


@dataclass
class PeerConversation:
    """The conversational peers of one user: each shows only items it has not shown before and
    keeps a standing list (its best k now, excluding only what the user named or reacted to)."""

    baselines: Baselines
    shown: dict[str, set[int]] = field(default_factory=dict)

    def turn(self, stated: Preferences, user_texts: Sequence[str]) -> PeerTurn:
        """The peers' lists after a turn in which the user has said `user_texts` and `stated`."""
        b, k = self.baselines, self.baselines.k
        new: dict[str, list[int]] = {}
        standing: dict[str, list[int]] = {}
        for name in PEERS:
            shown = self.shown.setdefault(name, set())
            # one ranking serves both lists: its best k, and its best k not shown before
            order = b.ranked(name, stated, user_texts, set(), n=k + len(shown))
            if order is None:
                continue
            new[name] = [i for i in order if i not in shown][:k]
            standing[name] = order[:k]
            shown.update(new[name])
        return PeerTurn(new, standing)


__all__ = ["ORACLES", "PEERS", "Baselines", "PeerConversation", "PeerTurn"]
