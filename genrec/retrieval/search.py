"""Filtered search over the index in use: kNN through Chroma, exact scoring over cached vectors, and
the popularity listing of a blank query. Filters are evaluated on an in-memory table of the catalog.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from genrec.data import Item, UnknownItemError
from genrec.retrieval.filters import FilterTable, SearchFilters, to_where, validate
from genrec.retrieval.index import ItemIndex
from genrec.retrieval.popularity import counts_for

if TYPE_CHECKING:
    from chromadb.api.types import QueryResult

Strategy = Literal["auto", "where"]
QUERY_CACHE_SIZE = 256


@dataclass(frozen=True)
class SearchResult:
    """One search hit. `score` is the cosine similarity to the query (higher is better)."""

    item: Item
    score: float
    text: str


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k largest scores, best first.

    >>> _top_k(np.array([0.1, 0.9, 0.5]), 2).tolist()
    [1, 2]
    """
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


def _first_hits(res: QueryResult) -> tuple[list[str], list[float], list[str] | None]:
    """The ids, distances and documents (None unless asked for) of a one-query Chroma answer."""
    distances, documents = res["distances"], res["documents"]
    assert distances is not None  # every query here asks for distances
    return res["ids"][0], distances[0], documents[0] if documents is not None else None


class Searcher:
    """Top-k search over an `ItemIndex` under `SearchFilters` (the strategy is described on
    `ChromaStore`). `popularity` (item id -> rating count) orders a blank query's matches."""

    def __init__(
        self,
        index: ItemIndex,
        popularity: Mapping[int, int],
        *,
        strategy: Strategy = "auto",
        exact_max: int = 50_000,
        vector_cache_max_bytes: int = 2 << 30,
    ) -> None:
        self.index = index
        self.catalog = index.catalog
        self.embedder = index.embedder
        self.strategy = strategy
        self.exact_max = exact_max
        self.vector_cache_max_bytes = vector_cache_max_bytes
        self.table = FilterTable.from_catalog(self.catalog)
        self.row_of = {int(i): r for r, i in enumerate(self.table.ids)}
        self.popularity = counts_for(self.table.ids, popularity)  # aligned with table rows
        self._vectors: np.ndarray | None = None  # rows aligned with the catalog, for exact scoring
        self._vectors_of: str | None = None      # the collection they were read from
        self._lock = threading.Lock()
        self._query_cache: dict[str, np.ndarray] = {}

    def search(
        self, query: str, k: int = 10, filters: SearchFilters | None = None
    ) -> list[SearchResult]:
        """Items closest in meaning to `query` that satisfy `filters`, best first (see
        ChromaStore.search)."""
        f = validate(filters, self.table.genres)
        if k <= 0:
            return []
        self.index.collection  # noqa: B018 - a missing index is reported before the query is embedded
        if not query or not query.strip():
            return self.popular(f, k)
        return self.knn(self.query_vector(query), k, f)

    def similar(
        self, item_id: int, k: int = 10, filters: SearchFilters | None = None
    ) -> list[SearchResult]:
        """Items closest to `item_id`'s stored embedding (never the item itself), best first.

        Raises:
            UnknownItemError: the item is not in the catalog.
        """
        item = self.catalog[item_id]  # raises UnknownItemError
        f = validate(filters, self.table.genres)
        if k <= 0:
            return []
        got = self.index.collection.get(ids=[str(item.item_id)], include=["embeddings"])
        if not got["ids"]:
            raise UnknownItemError(
                f"item {item_id} is in the catalog but not in the index; rebuild it"
            )
        f = f.model_copy(update={"exclude_ids": sorted(set(f.exclude_ids) | {item.item_id})})
        embeddings = got["embeddings"]
        assert embeddings is not None  # asked for with include
        return self.knn(np.asarray(embeddings[0], dtype=np.float32), k, f)

    def query_vector(self, query: str) -> np.ndarray:
        """The query's embedding; the last QUERY_CACHE_SIZE queries are remembered (agents
        repeat them)."""
        q = self._query_cache.get(query)
        if q is None:
            q = self.embedder.embed([query])[0]
            with self._lock:
                self._query_cache[query] = q
                while len(self._query_cache) > QUERY_CACHE_SIZE:
                    self._query_cache.pop(next(iter(self._query_cache)))
        return q

    def popular(self, f: SearchFilters, k: int) -> list[SearchResult]:
        """The k matching items with the most ratings (ties: lower id first), score 0.0."""
        rows = np.flatnonzero(self.table.mask(f))
        order = rows[np.lexsort((self.table.ids[rows], -self.popularity[rows]))][:k]
        ids = [int(self.table.ids[r]) for r in order]
        return self._results(ids, [0.0] * len(ids), None, sort=False)

    def knn(self, q: np.ndarray, k: int, f: SearchFilters) -> list[SearchResult]:
        """The k items nearest to vector `q` that satisfy validated filters `f`."""
        q = q.astype(np.float32)
        col = self.index.collection
        n_total = len(self.table.ids)
        if f.is_empty():
            k_eff = min(k, n_total)
            res = col.query(
                query_embeddings=q[None, :], n_results=k_eff, include=["distances", "documents"]
            )
            ids, dists, docs = _first_hits(res)
            if len(ids) >= k_eff:
                return self._results([int(i) for i in ids], [1.0 - d for d in dists], docs)
            return self.exact(q, self.table.ids, k_eff)
        mask = self.table.mask(f)
        n_match = int(mask.sum())
        if n_match == 0:
            return []
        k_eff = min(k, n_match)
        matching = self.table.ids[mask]
        if self.strategy == "where":
            res = col.query(query_embeddings=q[None, :], n_results=k_eff, where=to_where(f),
                            include=["distances", "documents"])
            ids, dists, docs = _first_hits(res)
            if len(ids) >= k_eff:
                return self._results([int(i) for i in ids], [1.0 - d for d in dists], docs)
            return self.exact(q, matching, k_eff)
        if n_match <= self.exact_max:
            vectors = self.vector_cache()
            if vectors is not None:
                rows = np.flatnonzero(mask)
                scores = vectors[rows] @ q
                top = rows[_top_k(scores, k_eff)] if len(rows) > k_eff else rows
                sc = [float(x) for x in vectors[top] @ q]
                return self._results([int(i) for i in self.table.ids[top]], sc, None)
            res = col.query(
                query_embeddings=q[None, :],
                n_results=k_eff,
                ids=[str(i) for i in matching],
                include=["distances", "documents"],
            )
            ids, dists, docs = _first_hits(res)
            if len(ids) >= k_eff:
                return self._results([int(i) for i in ids], [1.0 - d for d in dists], docs)
            return self.exact(q, matching, k_eff)
        return self._overfetch(q, k_eff, mask, matching)

    def _overfetch(
        self, q: np.ndarray, k_eff: int, mask: np.ndarray, matching: np.ndarray
    ) -> list[SearchResult]:
        """A broad filter: HNSW over-fetched by 2/(matching fraction), post-filtered, widened
        until k survive."""
        col = self.index.collection
        n_total = len(self.table.ids)
        fetch = min(n_total, math.ceil(k_eff / (len(matching) / n_total) * 2) + 16)
        while True:
            res = col.query(query_embeddings=q[None, :], n_results=fetch, include=["distances"])
            ids, dists, _ = _first_hits(res)
            keep = [(int(i), 1.0 - d) for i, d in zip(ids, dists)
                    if (r := self.row_of.get(int(i))) is not None and mask[r]]
            if len(keep) >= k_eff or fetch >= n_total:
                break
            fetch = min(n_total, fetch * 4)
        if len(keep) < k_eff:  # HNSW lost some: score the matching items exactly
            return self.exact(q, matching, k_eff)
        keep = keep[:k_eff]
        return self._results([i for i, _ in keep], [s for _, s in keep], None)

    def vector_cache(self) -> np.ndarray | None:
        """Every item's stored vector, catalog-aligned, read once per collection (None if too
        big)."""
        name = self.index.collection_name
        if self._vectors is not None and self._vectors_of == name:
            return self._vectors
        dim = self.index.dim or self.embedder.dim
        if len(self.table.ids) * dim * 4 > self.vector_cache_max_bytes:
            return None
        with self._lock:
            if self._vectors is not None and self._vectors_of == name:
                return self._vectors
            col = self.index.collection
            vectors = np.zeros((len(self.table.ids), dim), dtype=np.float32)
            step, n = 5000, col.count()
            for offset in range(0, n, step):
                got = col.get(include=["embeddings"], limit=step, offset=offset)
                embeddings = got["embeddings"]
                assert embeddings is not None  # asked for with include
                for i, e in zip(got["ids"], embeddings):
                    r = self.row_of.get(int(i))
                    if r is not None:
                        vectors[r] = e
            self._vectors, self._vectors_of = vectors, self.index.collection_name
            return vectors

    def exact(self, q: np.ndarray, ids: np.ndarray, k: int) -> list[SearchResult]:
        """Exact cosine top-k over the stored vectors of `ids` (the fallback when HNSW falls
        short)."""
        col = self.index.collection
        all_ids: list[int] = []
        scores: list[np.ndarray] = []
        step = 5000
        for start in range(0, len(ids), step):
            got = col.get(
                ids=[str(int(i)) for i in ids[start : start + step]], include=["embeddings"]
            )
            if not got["ids"]:
                continue
            emb = np.asarray(got["embeddings"], dtype=np.float32)
            all_ids.extend(int(i) for i in got["ids"])
            scores.append(emb @ q)
        if not all_ids:
            return []
        s = np.concatenate(scores)
        order = np.lexsort((np.asarray(all_ids), -s))[:k]
        return self._results([all_ids[o] for o in order], [float(s[o]) for o in order], None)

    def _results(self, ids: list[int], scores: Sequence[float], docs: list[str] | None, *,
                 sort: bool = True) -> list[SearchResult]:
        if docs is None and ids and self.index.holds_rows():
            rows = self.index.rows()  # the index holds exactly these texts: no round trip to Chroma
            docs = [rows[r].text if (r := self.row_of.get(i)) is not None else "" for i in ids]
        elif docs is None and ids:
            got = self.index.collection.get(ids=[str(i) for i in ids], include=["documents"])
            by_id = dict(zip(got["ids"], got["documents"] or []))
            docs = [by_id.get(str(i)) or "" for i in ids]
        out = []
        for i, s, d in zip(ids, scores, docs or []):
            item = self.catalog.get(i)
            if item is None:  # a stale index served on purpose can hold items the catalog dropped
                continue
            out.append(SearchResult(item, float(s), d or ""))
        if sort:
            out.sort(key=lambda r: (-r.score, r.item.item_id))
        return out
