"""The Chroma item store: one object that builds, checks and searches a dataset's item index.

`ChromaStore` composes an `ItemIndex` (collections, builds, status) and a `Searcher` (filtered
kNN, exact scoring, popularity listing); `open_store` wires one from settings.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from genrec.config import Settings
from genrec.data import Catalog, Dataset
from genrec.retrieval.client import POINTER_COLLECTION, StoreError, list_indexes, make_client
from genrec.retrieval.embedders import Embedder, get_embedder
from genrec.retrieval.filters import SearchFilters
from genrec.retrieval.index import POINTER_TTL_S, BuildReport, IndexStatus, ItemIndex
from genrec.retrieval.popularity import rating_counts
from genrec.retrieval.rows import SCHEMA_VERSION, IndexRow
from genrec.retrieval.search import QUERY_CACHE_SIZE, Searcher, SearchResult, Strategy

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.collection_configuration import CreateHNSWConfiguration
    from chromadb.api.models.Collection import Collection


class ChromaStore:
    """Filtered semantic search over one dataset's catalog, backed by a Chroma collection.

    Set up and search (embedded Chroma under GENREC_HOME/chroma)::

        from genrec.config import Settings
        from genrec.data import load_split
        from genrec.retrieval import SearchFilters, open_store, rating_counts

        settings = Settings()
        dataset, split = load_split("ml-100k", "u1", settings.datasets_dir)
        store = open_store(settings, dataset, popularity=rating_counts(split.train))
        hits = store.search("animated movie for children", k=5,
                            filters=SearchFilters(year_min=1990, genres_none=["Horror"]))
        for h in hits:
            print(h.item.label, round(h.score, 3))
        store.similar(hits[0].item.item_id, k=5)   # nearest items to a given one
        store.search("", k=5)                      # blank query: most rated (in split.train) first

    Or wire it yourself: ``ChromaStore(make_client(settings), dataset, embedder).build()``.

    Filtered search returns the true top-k among the items that satisfy the filters. Filters
    are validated and evaluated on an in-memory table of the catalog (the index is checked
    against the catalog, so the two agree). Then, with `strategy="auto"`:

    - no filter: one HNSW query;
    - a selective filter (at most `exact_max` matching items): exact cosine scoring of the
      matching items' stored vectors, read once from Chroma into memory (skipped, in favour of
      a Chroma query restricted to the matching ids, when the vectors would take more than
      `vector_cache_max_bytes`);
    - a broad filter: an HNSW query over-fetched by 2/(matching fraction), post-filtered,
      widened until k survive.

    HNSW parameters (`max_neighbors`, `ef_construction`, `ef_search`) are fixed when a
    generation is created; the defaults (32, 128, 256) favour recall (see benchmarks/README.md).

    `strategy="where"` sends the translated `where` clause (`to_where`) to Chroma instead, and
    scores exactly when Chroma returns fewer hits than match. Chroma evaluates `where` by
    scanning metadata, so it is the slower path on large catalogs (see benchmarks/README.md).

    Popularity (the order of a blank query's matches) is not part of the index: it comes from
    `popularity` (item id -> rating count), by default the counts over all of
    `dataset.ratings`. When the store serves a train/test split, pass the training counts
    (`rating_counts(split.train)`) so held-out ratings never shape a ranking. `tags=False` indexes
    the item text without viewer tags (`Settings.index_tags`; another fingerprint, so a rebuild).
    """

    def __init__(
        self,
        client: ClientAPI,
        dataset: Dataset,
        embedder: Embedder,
        *,
        strategy: Strategy = "auto",
        batch_size: int = 256,
        exact_max: int = 50_000,
        vector_cache_max_bytes: int = 2 << 30,
        max_neighbors: int = 32,
        ef_construction: int = 128,
        ef_search: int = 256,
        popularity: Mapping[int, int] | None = None,
        tags: bool = True,
    ) -> None:
        self.index = ItemIndex(
            client,
            dataset,
            embedder,
            batch_size=batch_size,
            max_neighbors=max_neighbors,
            ef_construction=ef_construction,
            ef_search=ef_search,
            tags=tags,
        )
        counts = rating_counts(dataset.ratings) if popularity is None else popularity
        self._popularity = MappingProxyType(
            {it.item_id: int(counts.get(it.item_id, 0)) for it in dataset.catalog}
        )
        self.searcher = Searcher(
            self.index,
            self._popularity,
            strategy=strategy,
            exact_max=exact_max,
            vector_cache_max_bytes=vector_cache_max_bytes,
        )

    # ------------------------------------------------------------------ what it is over

    @property
    def client(self) -> ClientAPI:
        return self.index.client

    @property
    def dataset(self) -> Dataset:
        return self.index.dataset

    @property
    def catalog(self) -> Catalog:
        return self.index.catalog

    @property
    def embedder(self) -> Embedder:
        return self.index.embedder

    @property
    def key(self) -> str:
        """"dataset|embedder": the pointer id of this index."""
        return self.index.key

    @property
    def base_name(self) -> str:
        """Collection name prefix of this index's generations (`<base_name>-v<n>`)."""
        return self.index.base_name

    @property
    def hnsw(self) -> CreateHNSWConfiguration:
        return self.index.hnsw

    @property
    def strategy(self) -> Strategy:
        return self.searcher.strategy

    @strategy.setter
    def strategy(self, value: Strategy) -> None:
        self.searcher.strategy = value

    @property
    def exact_max(self) -> int:
        return self.searcher.exact_max

    @property
    def popularity(self) -> Mapping[int, int]:
        """Rating count per catalog item that orders a blank query (read-only; 0 for unrated
        items)."""
        return self._popularity

    # ------------------------------------------------------------------ index

    def rows(self) -> list[IndexRow]:
        """Text, hashes and metadata of every catalog item, as the index should hold them."""
        return self.index.rows()

    def fingerprint(self) -> str:
        """Hash of everything the index should hold (items, texts, metadata, embedder, schema)."""
        return self.index.fingerprint()

    def status(self) -> IndexStatus:
        """Compare what the store holds with the catalog (schema, fingerprint and count)."""
        return self.index.status()

    def build(self, *, force: bool = False, progress: bool = True) -> BuildReport:
        """Bring the index in line with the catalog, atomically (see `ItemIndex.build`)."""
        return self.index.build(force=force, progress=progress)

    def ensure(self, *, build: bool = True, progress: bool = True,
               more_workers_after: threading.Event | None = None) -> IndexStatus:
        """Check the index against the catalog; report a stale or missing one and (re)build it
        (`more_workers_after`: see `ItemIndex.build`)."""
        return self.index.ensure(
            build=build, progress=progress, more_workers_after=more_workers_after
        )

    @property
    def collection(self) -> Collection:
        """The collection in use (re-read from the pointer when a build switched it)."""
        return self.index.collection

    def info(self) -> dict[str, Any]:
        """Status of this (dataset, embedder) index as plain data."""
        return self.index.info()

    # ------------------------------------------------------------------ search

    def search(
        self, query: str, k: int = 10, filters: SearchFilters | None = None
    ) -> list[SearchResult]:
        """Items closest in meaning to `query` that satisfy `filters`, best first.

        Args:
            query: free text ("a funny animated film for kids"). A blank query ranks the matching
                items by `popularity` (score 0.0; ties by item id).
            k: most results to return.
            filters: hard constraints; invalid ones raise InvalidFilterError, impossible ones
                (nothing matches) return [].

        Returns:
            At most k results, unique, sorted by cosine similarity (descending).

        Raises:
            StoreError: the index is missing (build it with `genrec index build`).
        """
        return self.searcher.search(query, k, filters)

    def similar(
        self, item_id: int, k: int = 10, filters: SearchFilters | None = None
    ) -> list[SearchResult]:
        """Items closest to `item_id`'s stored embedding (never the item itself), best first.

        Raises:
            UnknownItemError: the item is not in the catalog.
        """
        return self.searcher.similar(item_id, k, filters)


def open_store(settings: Settings, dataset: Dataset, *, build: bool = True, progress: bool = True,
               embedder: Embedder | None = None, popularity: Mapping[int, int] | None = None,
               more_workers_after: threading.Event | None = None) -> ChromaStore:
    """The item index for `dataset` per settings, checked against the catalog.

    Embedded (PersistentClient under settings.chroma_dir) or server (HttpClient at
    chroma_host:chroma_port) per settings.chroma_mode. A missing or stale index is reported and
    (re)built when `build` is true; with `build=False` a missing index raises StoreError and a
    stale one is served with a warning.

    Args:
        popularity: rating count per item id, used to order a blank query's matches. Pass the
            training split's counts (`rating_counts(split.train)` or a fitted ranker's
            `popularity()`) whenever a split is in use; None counts every rating in
            `dataset.ratings` (right for serving a whole dataset, a leak when evaluating on a
            split).
        embedder: overrides settings.embedder.
        more_workers_after: a build embeds with one worker until this event is set (see
            `ItemIndex.build`).
    """
    store = ChromaStore(
        make_client(settings),
        dataset,
        embedder or get_embedder(settings.embedder, settings),
        popularity=popularity,
        tags=settings.index_tags,
    )
    store.ensure(build=build, progress=progress, more_workers_after=more_workers_after)
    return store


def iter_ids(results: Iterable[SearchResult]) -> list[int]:
    """Item ids of results, in order."""
    return [r.item.item_id for r in results]


__all__ = [
    "POINTER_COLLECTION",
    "POINTER_TTL_S",
    "QUERY_CACHE_SIZE",
    "SCHEMA_VERSION",
    "BuildReport",
    "ChromaStore",
    "IndexStatus",
    "SearchResult",
    "StoreError",
    "Strategy",
    "iter_ids",
    "list_indexes",
    "make_client",
    "open_store",
]
