"""The item index of one (dataset, embedder): atomic, resumable builds and its status against
the catalog.

Each build writes a new generation (collection `<base>-v<n>`); a pointer record names the
generation in use, so readers switch atomically and a build that dies leaves the old one serving.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import re
import sys
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from tqdm.auto import tqdm

from genrec.data import Catalog, Dataset
from genrec.retrieval.client import (
    StoreError,
    collection_names,
    get_collection,
    max_batch,
    read_pointer,
    write_pointer,
)
from genrec.retrieval.embedders import Embedder, default_workers, embed_chunks
from genrec.retrieval.rows import SCHEMA_VERSION, IndexRow, fingerprint, index_rows

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.collection_configuration import CreateHNSWConfiguration
    from chromadb.api.models.Collection import Collection

log = logging.getLogger("genrec.retrieval")

POINTER_TTL_S = 2.0  # the collection in use is re-read from the pointer at most this often
_SCHEMA_NOTES = {"1": "schema 1 stored item popularity counted over the whole dataset"}


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


def _slug(s: str, n: int) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", s).strip("-")[:n] or "x"


def _hash_map(col: Collection | None, key: str) -> dict[str, object]:
    """id -> metadata[key] for every record of a collection (paged)."""
    if col is None:
        return {}
    out: dict[str, object] = {}
    n, step = col.count(), 5000
    for offset in range(0, n, step):
        got = col.get(include=["metadatas"], limit=step, offset=offset)
        for i, md in zip(got["ids"], got["metadatas"] or []):
            out[i] = (md or {}).get(key)
    return out


class ItemIndex:
    """The Chroma collections of one (dataset, embedder): rows, fingerprint, status, build, and
    the collection in use. `ChromaStore` composes it with a `Searcher`; on its own::

        index = ItemIndex(make_client(settings), dataset, get_embedder("hash:32", settings))
        index.ensure().state           # 'ok' after building what was missing or stale
        index.collection.count()       # the Chroma collection of the generation in use
    """

    def __init__(
        self,
        client: ClientAPI,
        dataset: Dataset,
        embedder: Embedder,
        *,
        batch_size: int = 256,
        max_neighbors: int = 32,
        ef_construction: int = 128,
        ef_search: int = 256,
        workers: int | None = None,
        tags: bool = True,
    ) -> None:
        self.client = client
        self.dataset = dataset
        self.catalog: Catalog = dataset.catalog
        self.embedder = embedder
        self.batch_size = batch_size
        self.workers = (
            default_workers(embedder) if workers is None else max(1, workers)
        )  # embedding threads
        self.tags = tags  # viewer tags in the item text
        self.hnsw: CreateHNSWConfiguration = {
            "space": "cosine",
            "max_neighbors": max_neighbors,
            "ef_construction": ef_construction,
            "ef_search": ef_search,
        }
        self.key = f"{dataset.name}|{embedder.name}"
        self.base_name = (f"gr-{_slug(dataset.name, 40)}-{_slug(embedder.name, 60)}-"
                          f"{hashlib.sha256(self.key.encode()).hexdigest()[:8]}")
        self.dim = 0                          # vector length the pointer records (0: not read yet)
        self.synced: str | None = None        # a collection verified to hold exactly rows()
        self._rows: list[IndexRow] | None = None
        self._fingerprint: str | None = None
        self._collection: Collection | None = None
        self._collection_name: str | None = None
        self._checked_at = 0.0

    # ------------------------------------------------------------------ what it should hold

    def rows(self) -> list[IndexRow]:
        """Text, hashes and metadata of every catalog item, as the index should hold them."""
        if self._rows is None:
            self._rows = index_rows(self.catalog, tags=self.tags)
        return self._rows

    def fingerprint(self) -> str:
        """Hash of everything the index should hold (items, texts, metadata, embedder, schema)."""
        if self._fingerprint is None:
            self._fingerprint = fingerprint(self.rows(), self.embedder.name)
        return self._fingerprint

    def share_rows(self, other: ItemIndex) -> None:
        """Take `other`'s computed rows and fingerprint (same catalog and embedder: skips the
        hashing)."""
        self._rows, self._fingerprint = other.rows(), other.fingerprint()

    # ------------------------------------------------------------------ status and build

    def status(self) -> IndexStatus:
        """Compare what the store holds with the catalog (schema, fingerprint and count)."""
        expected_fp, expected_n = self.fingerprint(), len(self.catalog)
        ptr = read_pointer(self.client, self.key)
        if ptr is None:
            return IndexStatus(
                "missing", f"no index for {self.key} yet", None, 0, expected_n, None, expected_fp
            )
        col = get_collection(self.client, ptr["collection"])
        if col is None:
            return IndexStatus(
                "missing",
                f"collection {ptr['collection']} is gone",
                ptr["collection"],
                0,
                expected_n,
                ptr.get("fingerprint"),
                expected_fp,
            )
        n = col.count()
        st = IndexStatus(
            "ok",
            "up to date",
            ptr["collection"],
            n,
            expected_n,
            ptr.get("fingerprint"),
            expected_fp,
            ptr.get("built_at"),
        )
        schema = str(ptr.get("schema", "1"))
        if schema != SCHEMA_VERSION:
            note = _SCHEMA_NOTES.get(schema, "an unknown layout")
            return replace(st, state="stale", reason=f"built with index schema {schema} ({note}); "
                                                      f"this version reads schema {SCHEMA_VERSION}")
        if ptr.get("fingerprint") != expected_fp:
            return replace(
                st,
                state="stale",
                reason=f"catalog fingerprint changed ({ptr.get('fingerprint')} -> {expected_fp})",
            )
        if n != expected_n:
            return replace(
                st, state="stale", reason=f"index holds {n} items, catalog has {expected_n}"
            )
        self.synced = ptr["collection"]
        return st

    def build(self, *, force: bool = False, progress: bool = True,
              more_workers_after: threading.Event | None = None) -> BuildReport:
        """Bring the index in line with the catalog, atomically.

        Writes into a staging collection (the next generation) in batches: items whose row is
        already there are kept (a killed build resumes), items whose text is unchanged take their
        vector from the index in use, the rest are embedded. Only when the staging collection
        holds exactly the catalog does the pointer switch to it; the old generation is then
        dropped. A build that dies half way leaves the index in use untouched.

        Args:
            force: rebuild even when the index is up to date (vectors are still reused).
            progress: show a progress bar on stderr.
            more_workers_after: embed with one worker until this event is set, then with all
                (`workers`): another job (the ranker's training) has the other cores until then.
        """
        t0 = time.perf_counter()
        status = self.status()
        if status.state == "ok" and not force:
            return BuildReport(status.collection or "", len(self.catalog), 0, 0, 0, 0,
                               time.perf_counter() - t0, up_to_date=True)
        ptr = read_pointer(self.client, self.key)
        gen = int(ptr["generation"]) + 1 if ptr else 1
        active = get_collection(self.client, ptr["collection"]) if ptr else None
        name = f"{self.base_name}-v{gen}"
        staging = self.client.get_or_create_collection(
            name, embedding_function=None,
            configuration={"hnsw": self.hnsw.copy()},
            metadata={"genrec_key": self.key, "genrec_dataset": self.dataset.name,
                      "genrec_embedder": self.embedder.name},
        )
        rows = self.rows()
        wanted = {str(r.item_id) for r in rows}
        have_staging = _hash_map(staging, "row_hash")
        have_active = _hash_map(
            active, "text_hash"
        )  # empty without an active index: nothing reusable
        todo = [r for r in rows if have_staging.get(str(r.item_id)) != r.row_hash]
        kept = len(rows) - len(todo)
        reusable = [r for r in todo if have_active.get(str(r.item_id)) == r.text_hash]
        fresh = [r for r in todo if have_active.get(str(r.item_id)) != r.text_hash]
        stale_ids = [i for i in have_staging if i not in wanted]
        batch = max(1, min(self.batch_size, max_batch(self.client)))
        if status.state != "ok":
            log.info("building index %s for %s: %d to embed, %d reused, %d kept", name, self.key,
                     len(fresh), len(reusable), kept)
        self._fill(staging, active, reusable, fresh, batch, progress, more_workers_after)
        for start in range(0, len(stale_ids), batch):
            staging.delete(ids=stale_ids[start:start + batch])
        n = staging.count()
        if n != len(rows):
            raise StoreError(
                f"staging collection {name} holds {n} items after the build, expected {len(rows)}"
            )
        write_pointer(
            self.client,
            self.key,
            {
                "collection": name,
                "generation": gen,
                "fingerprint": self.fingerprint(),
                "count": n,
                "dataset": self.dataset.name,
                "embedder": self.embedder.name,
                "dim": int(self.embedder.dim),
                "catalog_fingerprint": self.catalog.fingerprint(),
                "schema": SCHEMA_VERSION,
                "built_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            },
        )
        self._collection, self._collection_name, self._checked_at = staging, name, time.monotonic()
        self.synced = name
        deleted = 0
        for cname in collection_names(self.client):
            if cname.startswith(self.base_name + "-v") and cname != name:
                self.client.delete_collection(cname)
                deleted += 1
        return BuildReport(
            name, n, len(fresh), len(reusable), kept, deleted, time.perf_counter() - t0
        )

    def _fill(
        self,
        staging: Collection,
        active: Collection | None,
        reusable: list[IndexRow],
        fresh: list[IndexRow],
        batch: int,
        progress: bool,
        more_workers_after: threading.Event | None = None,
    ) -> None:
        """Write rows into `staging`: `reusable` with their vectors copied from `active`,
        `fresh` embedded."""
        with tqdm(total=len(reusable) + len(fresh), desc=f"index {self.dataset.name}", unit="item",
                  disable=not progress, file=sys.stderr) as bar:
            for start in range(0, len(reusable), batch):
                chunk = reusable[start:start + batch]
                ids = [str(r.item_id) for r in chunk]
                assert active is not None  # rows are reusable only from an active collection
                got = active.get(ids=ids, include=["embeddings"])
                embeddings = got["embeddings"]
                assert embeddings is not None  # asked for with include
                vec = dict(zip(got["ids"], embeddings))
                staging.upsert(
                    ids=ids,
                    embeddings=np.asarray([vec[i] for i in ids], dtype=np.float32),
                    documents=[r.text for r in chunk],
                    metadatas=[r.metadata for r in chunk],
                )
                bar.update(len(chunk))
            # texts of like length share a batch (less padding); a chunk is stored once embedded
            fresh = sorted(fresh, key=lambda r: len(r.text))
            chunks = [fresh[start:start + batch] for start in range(0, len(fresh), batch)]
            vectors = embed_chunks(
                self.embedder,
                [[r.text for r in c] for c in chunks],
                workers=self.workers,
                more_workers_after=more_workers_after,
            )
            for chunk, emb in zip(chunks, vectors):
                staging.upsert(
                    ids=[str(r.item_id) for r in chunk],
                    embeddings=emb,
                    documents=[r.text for r in chunk],
                    metadatas=[r.metadata for r in chunk],
                )
                bar.update(len(chunk))

    def ensure(self, *, build: bool = True, progress: bool = True,
               more_workers_after: threading.Event | None = None) -> IndexStatus:
        """Check the index against the catalog; report a stale or missing one and (re)build it."""
        st = self.status()
        if st.state == "ok":
            return st
        if st.state == "stale":
            log.warning("index %s for %s is stale: %s; %s", st.collection, self.key, st.reason,
                        "rebuilding" if build else "serving it anyway (build disabled)")
        if not build:
            if st.state == "missing":
                raise StoreError(
                    f"{st.reason}; build it with `genrec index build --dataset {self.dataset.name}`"
                )
            return st
        report = self.build(progress=progress, more_workers_after=more_workers_after)
        log.info("index %s ready: %d items (%d embedded, %d reused) in %.1fs", report.collection,
                 report.items, report.embedded, report.reused, report.seconds)
        return self.status()

    # ------------------------------------------------------------------ the collection in use

    @property
    def collection(self) -> Collection:
        """The collection in use (re-read from the pointer when a build switched it).

        Raises:
            StoreError: nothing was built for (dataset, embedder), or the pointer names a
                collection that is gone.
        """
        now = time.monotonic()
        if self._collection is not None and now - self._checked_at < POINTER_TTL_S:
            return self._collection
        ptr = read_pointer(self.client, self.key)
        if ptr is None:
            raise StoreError(
                f"no index for {self.key}; "
                f"build it with `genrec index build --dataset {self.dataset.name}`"
            )
        self._checked_at = now
        self.dim = int(ptr.get("dim") or 0)
        if self._collection is None or self._collection_name != ptr["collection"]:
            col = get_collection(self.client, ptr["collection"])
            if col is None:
                raise StoreError(
                    f"collection {ptr['collection']} named by the pointer is gone; "
                    "rebuild the index"
                )
            self._collection, self._collection_name = col, ptr["collection"]
        return self._collection

    @property
    def collection_name(self) -> str | None:
        """Name of the collection last resolved by `collection` (None before the first use)."""
        return self._collection_name

    def holds_rows(self) -> bool:
        """True when the collection in use is known to hold exactly `rows()` (texts need no
        read)."""
        return self.synced is not None and self.synced == self._collection_name

    def info(self) -> dict[str, Any]:
        """Status of this (dataset, embedder) index as plain data."""
        st = self.status()
        return {
            "dataset": self.dataset.name, "embedder": self.embedder.name, "state": st.state,
            "reason": st.reason, "collection": st.collection, "items": st.count,
            "catalog_items": st.expected_count, "fingerprint": st.fingerprint,
            "expected_fingerprint": st.expected_fingerprint, "built_at": st.built_at,
        }
