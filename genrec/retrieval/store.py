"""The Chroma item index: atomic, idempotent builds and filtered semantic search over a catalog.

One collection per (dataset, embedder) holds each item's embedding, its text and filterable
metadata; a small pointer collection names the generation in use, so builds switch atomically.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import math
import re
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from tqdm.auto import tqdm

from genrec.config import Settings
from genrec.data import Catalog, Dataset, Item, UnknownItemError
from genrec.retrieval.embedders import Embedder, get_embedder
from genrec.retrieval.filters import (
    UNKNOWN_YEAR,
    FilterTable,
    SearchFilters,
    genre_key,
    to_where,
    validate,
)
from genrec.retrieval.text import TEXT_VERSION, item_text, text_hash

log = logging.getLogger("genrec.retrieval")

SCHEMA_VERSION = "1"
POINTER_COLLECTION = "genrec-index-pointers"
Strategy = Literal["auto", "where"]
QUERY_CACHE_SIZE = 256
POINTER_TTL_S = 2.0  # a search re-reads the pointer at most this often (another process may switch it)


class StoreError(RuntimeError):
    """The index cannot be used: not built, server unreachable, or inconsistent."""


@dataclass(frozen=True)
class SearchResult:
    """One search hit. `score` is the cosine similarity to the query (higher is better)."""

    item: Item
    score: float
    text: str


@dataclass(frozen=True)
class IndexStatus:
    """What the store holds for (dataset, embedder) compared with the catalog."""

    state: Literal["ok", "missing", "stale"]
    reason: str
    collection: str | None
    count: int
    expected_count: int
    fingerprint: str | None
    expected_fingerprint: str
    built_at: str | None = None


@dataclass(frozen=True)
class BuildReport:
    """What one build did. `embedded` items went through the embedder; `reused` took their
    vector from the previous index; `kept` were already complete in a resumed staging build."""

    collection: str
    items: int
    embedded: int
    reused: int
    kept: int
    deleted: int
    seconds: float
    up_to_date: bool = False


@dataclass
class _Row:
    item_id: int
    text: str
    text_hash: str
    row_hash: str
    metadata: dict[str, Any] = field(repr=False)


def _slug(s: str, n: int) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", s).strip("-")[:n] or "x"


def make_client(settings: Settings):
    """A Chroma client per settings: PersistentClient under settings.chroma_dir, or HttpClient.

    Raises:
        StoreError: server mode and no Chroma server answers at chroma_host:chroma_port.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    cs = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_mode == "server":
        try:
            client = chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=cs)
            client.heartbeat()
        except Exception as exc:  # noqa: BLE001 - any connection failure means the same to the user
            raise StoreError(
                f"no Chroma server at {settings.chroma_host}:{settings.chroma_port} ({type(exc).__name__}: {exc}); "
                "start one with `genrec index serve` or set GENREC_CHROMA_MODE=embedded"
            ) from None
        return client
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=cs)


class ChromaStore:
    """Filtered semantic search over one dataset's catalog, backed by a Chroma collection.

    Set up and search (embedded Chroma under GENREC_HOME/chroma)::

        from genrec.config import Settings
        from genrec.data import load_dataset
        from genrec.retrieval import SearchFilters, open_store

        settings = Settings()
        store = open_store(settings, load_dataset("ml-100k", settings.datasets_dir))
        hits = store.search("animated movie for children", k=5,
                            filters=SearchFilters(year_min=1990, genres_none=["Horror"]))
        for h in hits:
            print(h.item.label, round(h.score, 3))
        store.similar(hits[0].item.item_id, k=5)   # nearest items to a given one

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
    """

    def __init__(self, client: Any, dataset: Dataset, embedder: Embedder, *, strategy: Strategy = "auto",
                 batch_size: int = 256, exact_max: int = 50_000, vector_cache_max_bytes: int = 2 << 30,
                 max_neighbors: int = 32, ef_construction: int = 128, ef_search: int = 256) -> None:
        self.client = client
        self.dataset = dataset
        self.catalog: Catalog = dataset.catalog
        self.embedder = embedder
        self.strategy = strategy
        self.batch_size = batch_size
        self.exact_max = exact_max
        self.hnsw = {"space": "cosine", "max_neighbors": max_neighbors, "ef_construction": ef_construction,
                     "ef_search": ef_search}
        self.vector_cache_max_bytes = vector_cache_max_bytes
        self._vectors: np.ndarray | None = None  # rows aligned with the catalog, for exact scoring
        self._vectors_of: str | None = None      # the collection they were read from
        self._lock = threading.Lock()
        self._dim = 0
        self._query_cache: dict[str, np.ndarray] = {}
        self._synced: str | None = None  # a collection verified to hold exactly rows() (texts known)
        self.key = f"{dataset.name}|{embedder.name}"
        self.base_name = (f"gr-{_slug(dataset.name, 40)}-{_slug(embedder.name, 60)}-"
                          f"{hashlib.sha256(self.key.encode()).hexdigest()[:8]}")
        self._table = FilterTable.from_catalog(self.catalog)
        self._row_of = {int(i): r for r, i in enumerate(self._table.ids)}
        counts = dataset.ratings.df["item"].value_counts()
        self._popularity = np.array([int(counts.get(int(i), 0)) for i in self._table.ids], dtype=np.int64)
        self._rows: list[_Row] | None = None
        self._fingerprint: str | None = None
        self._collection = None
        self._collection_name: str | None = None
        self._checked_at = 0.0

    # ------------------------------------------------------------------ rows and fingerprint

    def _metadata(self, item: Item, popularity: int) -> dict[str, Any]:
        md: dict[str, Any] = {
            "item_id": item.item_id,
            "title": item.title,
            "year": item.year if item.year is not None else UNKNOWN_YEAR,
            "genres": "|".join(item.genres),
            "popularity": popularity,
        }
        gset = set(item.genres)
        for g in self._table.genres:
            md[genre_key(g)] = g in gset
        return md

    def rows(self) -> list[_Row]:
        """Text, hashes and metadata of every catalog item, as the index should hold them."""
        if self._rows is None:
            rows = []
            for item, pop in zip(self.catalog, self._popularity):
                text = item_text(item)
                md = self._metadata(item, int(pop))
                th = text_hash(text)
                rh = hashlib.sha256(f"{th}\0{json.dumps(md, sort_keys=True)}".encode()).hexdigest()[:16]
                md["text_hash"], md["row_hash"] = th, rh
                rows.append(_Row(item.item_id, text, th, rh, md))
            self._rows = rows
        return self._rows

    def fingerprint(self) -> str:
        """Hash of everything the index should hold (items, texts, metadata, embedder, schema)."""
        if self._fingerprint is None:
            h = hashlib.sha256(f"{SCHEMA_VERSION}\0{TEXT_VERSION}\0{self.embedder.name}".encode())
            for r in self.rows():
                h.update(f"{r.item_id}:{r.row_hash};".encode())
            self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint

    # ------------------------------------------------------------------ pointer

    def _pointers(self):
        return self.client.get_or_create_collection(POINTER_COLLECTION, embedding_function=None)

    def _read_pointer(self) -> dict[str, Any] | None:
        got = self._pointers().get(ids=[self.key], include=["metadatas"])
        return dict(got["metadatas"][0]) if got["ids"] else None

    def _write_pointer(self, md: dict[str, Any]) -> None:
        self._pointers().upsert(ids=[self.key], embeddings=[[1.0]], metadatas=[md], documents=[self.key])

    def _get_collection(self, name: str):
        try:
            return self.client.get_collection(name, embedding_function=None)
        except Exception:  # noqa: BLE001 - chroma raises NotFoundError / ValueError by version
            return None

    # ------------------------------------------------------------------ status and build

    def status(self) -> IndexStatus:
        """Compare what the store holds with the catalog (count and fingerprint)."""
        expected_fp, expected_n = self.fingerprint(), len(self.catalog)
        ptr = self._read_pointer()
        if ptr is None:
            return IndexStatus("missing", f"no index for {self.key} yet", None, 0, expected_n, None, expected_fp)
        col = self._get_collection(ptr["collection"])
        if col is None:
            return IndexStatus("missing", f"collection {ptr['collection']} is gone", ptr["collection"], 0,
                               expected_n, ptr.get("fingerprint"), expected_fp)
        n = col.count()
        st = IndexStatus("ok", "up to date", ptr["collection"], n, expected_n, ptr.get("fingerprint"),
                         expected_fp, ptr.get("built_at"))
        if ptr.get("fingerprint") != expected_fp:
            return _replace(st, state="stale", reason=f"catalog fingerprint changed ({ptr.get('fingerprint')} -> {expected_fp})")
        if n != expected_n:
            return _replace(st, state="stale", reason=f"index holds {n} items, catalog has {expected_n}")
        self._synced = ptr["collection"]
        return st

    def build(self, *, force: bool = False, progress: bool = True) -> BuildReport:
        """Bring the index in line with the catalog, atomically.

        Writes into a staging collection (the next generation) in batches: items whose row is
        already there are kept (a killed build resumes), items whose text is unchanged take their
        vector from the index in use, the rest are embedded. Only when the staging collection
        holds exactly the catalog does the pointer switch to it; the old generation is then
        dropped. A build that dies half way leaves the index in use untouched.

        Args:
            force: rebuild even when the index is up to date (vectors are still reused).
            progress: show a progress bar on stderr.
        """
        t0 = time.perf_counter()
        status = self.status()
        if status.state == "ok" and not force:
            return BuildReport(status.collection or "", len(self.catalog), 0, 0, 0, 0,
                               time.perf_counter() - t0, up_to_date=True)
        ptr = self._read_pointer()
        gen = int(ptr["generation"]) + 1 if ptr else 1
        active = self._get_collection(ptr["collection"]) if ptr else None
        name = f"{self.base_name}-v{gen}"
        staging = self.client.get_or_create_collection(
            name, embedding_function=None,
            configuration={"hnsw": dict(self.hnsw)},
            metadata={"genrec_key": self.key, "genrec_dataset": self.dataset.name,
                      "genrec_embedder": self.embedder.name},
        )
        rows = self.rows()
        wanted = {str(r.item_id) for r in rows}
        have_staging = _hash_map(staging, "row_hash")
        have_active = _hash_map(active, "text_hash") if active is not None else {}
        todo = [r for r in rows if have_staging.get(str(r.item_id)) != r.row_hash]
        kept = len(rows) - len(todo)
        reusable = [r for r in todo if have_active.get(str(r.item_id)) == r.text_hash]
        fresh = [r for r in todo if have_active.get(str(r.item_id)) != r.text_hash]
        stale_ids = [i for i in have_staging if i not in wanted]
        batch = max(1, min(self.batch_size, _max_batch(self.client)))
        if status.state != "ok":
            log.info("building index %s for %s: %d to embed, %d reused, %d kept", name, self.key,
                     len(fresh), len(reusable), kept)
        with tqdm(total=len(todo), desc=f"index {self.dataset.name}", unit="item",
                  disable=not progress, file=sys.stderr) as bar:
            for start in range(0, len(reusable), batch):
                chunk = reusable[start:start + batch]
                ids = [str(r.item_id) for r in chunk]
                got = active.get(ids=ids, include=["embeddings"])
                vec = dict(zip(got["ids"], got["embeddings"]))
                staging.upsert(ids=ids, embeddings=np.asarray([vec[i] for i in ids], dtype=np.float32),
                               documents=[r.text for r in chunk], metadatas=[r.metadata for r in chunk])
                bar.update(len(chunk))
            for start in range(0, len(fresh), batch):
                chunk = fresh[start:start + batch]
                emb = self.embedder.embed([r.text for r in chunk])
                staging.upsert(ids=[str(r.item_id) for r in chunk], embeddings=emb,
                               documents=[r.text for r in chunk], metadatas=[r.metadata for r in chunk])
                bar.update(len(chunk))
        for start in range(0, len(stale_ids), batch):
            staging.delete(ids=stale_ids[start:start + batch])
        n = staging.count()
        if n != len(rows):
            raise StoreError(f"staging collection {name} holds {n} items after the build, expected {len(rows)}")
        self._write_pointer({
            "collection": name, "generation": gen, "fingerprint": self.fingerprint(), "count": n,
            "dataset": self.dataset.name, "embedder": self.embedder.name, "dim": int(self.embedder.dim),
            "catalog_fingerprint": self.catalog.fingerprint(),
            "built_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        })
        self._collection, self._collection_name, self._checked_at = staging, name, time.monotonic()
        self._synced = name
        deleted = 0
        for c in self.client.list_collections():
            cname = c if isinstance(c, str) else c.name
            if cname.startswith(self.base_name + "-v") and cname != name:
                self.client.delete_collection(cname)
                deleted += 1
        return BuildReport(name, n, len(fresh), len(reusable), kept, deleted, time.perf_counter() - t0)

    def ensure(self, *, build: bool = True, progress: bool = True) -> IndexStatus:
        """Check the index against the catalog; report a stale or missing one and (re)build it."""
        st = self.status()
        if st.state == "ok":
            return st
        if st.state == "stale":
            log.warning("index %s for %s is stale: %s; %s", st.collection, self.key, st.reason,
                        "rebuilding" if build else "serving it anyway (build disabled)")
        if not build:
            if st.state == "missing":
                raise StoreError(f"{st.reason}; build it with `genrec index build --dataset {self.dataset.name}`")
            return st
        report = self.build(progress=progress)
        log.info("index %s ready: %d items (%d embedded, %d reused) in %.1fs", report.collection,
                 report.items, report.embedded, report.reused, report.seconds)
        return self.status()

    # ------------------------------------------------------------------ search

    @property
    def collection(self):
        """The collection in use (re-read from the pointer when a build switched it)."""
        now = time.monotonic()
        if self._collection is not None and now - self._checked_at < POINTER_TTL_S:
            return self._collection
        ptr = self._read_pointer()
        if ptr is None:
            raise StoreError(f"no index for {self.key}; build it with `genrec index build --dataset {self.dataset.name}`")
        self._checked_at = now
        self._dim = int(ptr.get("dim") or 0)
        if self._collection is None or self._collection_name != ptr["collection"]:
            col = self._get_collection(ptr["collection"])
            if col is None:
                raise StoreError(f"collection {ptr['collection']} named by the pointer is gone; rebuild the index")
            self._collection, self._collection_name = col, ptr["collection"]
        return self._collection

    def search(self, query: str, k: int = 10, filters: SearchFilters | None = None) -> list[SearchResult]:
        """Items closest in meaning to `query` that satisfy `filters`, best first.

        Args:
            query: free text ("a funny animated film for kids"). A blank query ranks the matching
                items by popularity (score 0.0).
            k: most results to return.
            filters: hard constraints; invalid ones raise InvalidFilterError, impossible ones
                (nothing matches) return [].

        Returns:
            At most k results, unique, sorted by cosine similarity (descending).
        """
        f = validate(filters, self._table.genres)
        if k <= 0:
            return []
        self.collection  # noqa: B018 - a missing index is reported before the query is embedded
        if not query or not query.strip():
            return self._popular(f, k)
        return self._knn(self._query_vector(query), k, f)

    def _query_vector(self, query: str) -> np.ndarray:
        """The query's embedding; the last QUERY_CACHE_SIZE queries are remembered (agents repeat them)."""
        q = self._query_cache.get(query)
        if q is None:
            q = self.embedder.embed([query])[0]
            with self._lock:
                self._query_cache[query] = q
                while len(self._query_cache) > QUERY_CACHE_SIZE:
                    self._query_cache.pop(next(iter(self._query_cache)))
        return q

    def similar(self, item_id: int, k: int = 10, filters: SearchFilters | None = None) -> list[SearchResult]:
        """Items closest to `item_id`'s stored embedding (never the item itself), best first.

        Raises:
            UnknownItemError: the item is not in the catalog.
        """
        item = self.catalog[item_id]  # raises UnknownItemError
        f = validate(filters, self._table.genres)
        if k <= 0:
            return []
        got = self.collection.get(ids=[str(item.item_id)], include=["embeddings"])
        if not got["ids"]:
            raise UnknownItemError(f"item {item_id} is in the catalog but not in the index; rebuild it")
        f = f.model_copy(update={"exclude_ids": sorted(set(f.exclude_ids) | {item.item_id})})
        return self._knn(np.asarray(got["embeddings"][0], dtype=np.float32), k, f)

    def _popular(self, f: SearchFilters, k: int) -> list[SearchResult]:
        mask = self._table.mask(f)
        rows = np.flatnonzero(mask)
        order = rows[np.lexsort((self._table.ids[rows], -self._popularity[rows]))][:k]
        ids = [int(self._table.ids[r]) for r in order]
        return self._results(ids, [0.0] * len(ids), None, sort=False)

    def _knn(self, q: np.ndarray, k: int, f: SearchFilters) -> list[SearchResult]:
        q = q.astype(np.float32)
        col = self.collection
        n_total = len(self._table.ids)
        if f.is_empty():
            k_eff = min(k, n_total)
            res = col.query(query_embeddings=q[None, :], n_results=k_eff, include=["distances", "documents"])
            ids, dists, docs = res["ids"][0], res["distances"][0], res["documents"][0]
            if len(ids) >= k_eff:
                return self._results([int(i) for i in ids], [1.0 - d for d in dists], docs)
            return self._exact(q, self._table.ids, k_eff)
        mask = self._table.mask(f)
        n_match = int(mask.sum())
        if n_match == 0:
            return []
        k_eff = min(k, n_match)
        matching = self._table.ids[mask]
        if self.strategy == "where":
            where = to_where(f)
            res = col.query(query_embeddings=q[None, :], n_results=k_eff, where=where,
                            include=["distances", "documents"])
            ids, dists, docs = res["ids"][0], res["distances"][0], res["documents"][0]
            if len(ids) >= k_eff:
                return self._results([int(i) for i in ids], [1.0 - d for d in dists], docs)
            return self._exact(q, matching, k_eff)
        if n_match <= self.exact_max:
            vectors = self._vector_cache()
            if vectors is not None:
                rows = np.flatnonzero(mask)
                scores = vectors[rows] @ q
                top = rows[_top_k(scores, k_eff)] if len(rows) > k_eff else rows
                ids = [int(i) for i in self._table.ids[top]]
                sc = [float(x) for x in vectors[top] @ q]
                return self._results(ids, sc, None)
            res = col.query(query_embeddings=q[None, :], n_results=k_eff, ids=[str(i) for i in matching],
                            include=["distances", "documents"])
            ids, dists, docs = res["ids"][0], res["distances"][0], res["documents"][0]
            if len(ids) >= k_eff:
                return self._results([int(i) for i in ids], [1.0 - d for d in dists], docs)
            return self._exact(q, matching, k_eff)
        frac = n_match / n_total
        fetch = min(n_total, math.ceil(k_eff / frac * 2) + 16)
        while True:
            res = col.query(query_embeddings=q[None, :], n_results=fetch, include=["distances"])
            keep = [(int(i), 1.0 - d) for i, d in zip(res["ids"][0], res["distances"][0])
                    if (r := self._row_of.get(int(i))) is not None and mask[r]]
            if len(keep) >= k_eff or fetch >= n_total:
                break
            fetch = min(n_total, fetch * 4)
        if len(keep) < k_eff:  # HNSW lost some: score the matching items exactly
            return self._exact(q, matching, k_eff)
        keep = keep[:k_eff]
        return self._results([i for i, _ in keep], [s for _, s in keep], None)

    def _vector_cache(self) -> np.ndarray | None:
        """Every item's stored vector, catalog-aligned, read once per collection (None if too big)."""
        name = self._collection_name
        if self._vectors is not None and self._vectors_of == name:
            return self._vectors
        dim = self._dim or self.embedder.dim
        if len(self._table.ids) * dim * 4 > self.vector_cache_max_bytes:
            return None
        with self._lock:
            if self._vectors is not None and self._vectors_of == name:
                return self._vectors
            col = self.collection
            vectors = np.zeros((len(self._table.ids), dim), dtype=np.float32)
            step, n = 5000, col.count()
            for offset in range(0, n, step):
                got = col.get(include=["embeddings"], limit=step, offset=offset)
                for i, e in zip(got["ids"], got["embeddings"]):
                    r = self._row_of.get(int(i))
                    if r is not None:
                        vectors[r] = e
            self._vectors, self._vectors_of = vectors, self._collection_name
            return vectors

    def _exact(self, q: np.ndarray, ids: np.ndarray, k: int) -> list[SearchResult]:
        """Exact cosine top-k over the stored vectors of `ids` (the fallback when HNSW falls short)."""
        col = self.collection
        all_ids: list[int] = []
        scores: list[np.ndarray] = []
        step = 5000
        for start in range(0, len(ids), step):
            got = col.get(ids=[str(int(i)) for i in ids[start:start + step]], include=["embeddings"])
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
        if docs is None and ids and self._synced is not None and self._synced == self._collection_name:
            rows = self.rows()  # the index holds exactly these texts: no round trip to Chroma
            docs = [rows[r].text if (r := self._row_of.get(i)) is not None else "" for i in ids]
        elif docs is None and ids:
            got = self.collection.get(ids=[str(i) for i in ids], include=["documents"])
            by_id = dict(zip(got["ids"], got["documents"]))
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

    # ------------------------------------------------------------------ info

    def info(self) -> dict[str, Any]:
        """Status of this (dataset, embedder) index as plain data."""
        st = self.status()
        return {
            "dataset": self.dataset.name, "embedder": self.embedder.name, "state": st.state,
            "reason": st.reason, "collection": st.collection, "items": st.count,
            "catalog_items": st.expected_count, "fingerprint": st.fingerprint,
            "expected_fingerprint": st.expected_fingerprint, "built_at": st.built_at,
        }


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k largest scores, best first."""
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


def _replace(st: IndexStatus, **kw: Any) -> IndexStatus:
    from dataclasses import replace

    return replace(st, **kw)


def _hash_map(col: Any, key: str) -> dict[str, str]:
    """id -> metadata[key] for every record of a collection (paged)."""
    if col is None:
        return {}
    out: dict[str, str] = {}
    n, step = col.count(), 5000
    for offset in range(0, n, step):
        got = col.get(include=["metadatas"], limit=step, offset=offset)
        for i, md in zip(got["ids"], got["metadatas"]):
            out[i] = (md or {}).get(key)
    return out


def _max_batch(client: Any) -> int:
    try:
        return int(client.get_max_batch_size())
    except Exception:  # noqa: BLE001 - older clients: the documented default
        return 5000


def list_indexes(client: Any) -> list[dict[str, Any]]:
    """Every (dataset, embedder) index the pointer collection knows, plus leftover staging builds."""
    try:
        pointers = client.get_collection(POINTER_COLLECTION, embedding_function=None)
    except Exception:  # noqa: BLE001 - no pointer collection: nothing was ever built
        return []
    got = pointers.get(include=["metadatas"])
    active = {md["collection"] for md in got["metadatas"]}
    out = [dict(md, key=k, in_use=True) for k, md in zip(got["ids"], got["metadatas"])]
    for c in client.list_collections():
        cname = c if isinstance(c, str) else c.name
        if cname.startswith("gr-") and cname not in active:
            out.append({"collection": cname, "in_use": False, "note": "staging build not finished (resumed by the next build)"})
    return out


def open_store(settings: Settings, dataset: Dataset, *, build: bool = True, progress: bool = True,
               embedder: Embedder | None = None) -> ChromaStore:
    """The item index for `dataset` per settings, checked against the catalog.

    Embedded (PersistentClient under settings.chroma_dir) or server (HttpClient at
    chroma_host:chroma_port) per settings.chroma_mode. A missing or stale index is reported and
    (re)built when `build` is true; with `build=False` a missing index raises StoreError and a
    stale one is served with a warning.
    """
    store = ChromaStore(make_client(settings), dataset, embedder or get_embedder(settings.embedder, settings))
    store.ensure(build=build, progress=progress)
    return store


def iter_ids(results: Iterable[SearchResult]) -> list[int]:
    """Item ids of results, in order."""
    return [r.item.item_id for r in results]
