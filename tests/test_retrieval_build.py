"""Index builds on real Chroma, embedded and server mode: idempotent, atomic, resumable, rebuilt
when the catalog changes; server-mode search with the real MiniLM vectors; `genrec index serve`."""

from __future__ import annotations

import logging
import subprocess
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings as ChromaSettings

from genrec.config import Settings
from genrec.data import Catalog, Dataset, Item, Ratings
from genrec.data.splits import ratio_split
from genrec.retrieval import (
    ChromaServer,
    ChromaStore,
    HashEmbedder,
    SearchFilters,
    StoreError,
    list_indexes,
    make_client,
    open_store,
    rating_counts,
)
from genrec.retrieval.server import free_port, wait_ready

pytestmark = pytest.mark.slow  # Chroma servers and killed index builds


class BuildKilled(Exception):
    """Stands in for the process dying half way through a build."""


class CountingEmbedder:
    """A hash embedder counting the texts it embeds; it can fail after N calls (a killed build)."""

    def __init__(self, dim: int = 32, fail_after_calls: int | None = None) -> None:
        self.inner = HashEmbedder(dim)
        self.name = self.inner.name
        self.texts = 0
        self.calls = 0
        self.fail_after_calls = fail_after_calls

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if self.fail_after_calls is not None and self.calls >= self.fail_after_calls:
            raise BuildKilled("build killed half way (simulated)")
        self.calls += 1
        self.texts += len(texts)
        return self.inner.embed(texts)


class TableEmbedder:
    """The real MiniLM vectors of the session index for item texts, the real model for queries."""

    def __init__(self, store: ChromaStore) -> None:
        got = store.collection.get(include=["documents", "embeddings"])
        self.table = {
            d: np.asarray(e, dtype=np.float32) for d, e in zip(got["documents"], got["embeddings"])
        }
        self.real = store.embedder
        self.name = store.embedder.name

    @property
    def dim(self) -> int:
        return self.real.dim

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if all(t in self.table for t in texts):
            return (
                np.stack([self.table[t] for t in texts])
                if texts
                else np.zeros((0, self.dim), np.float32)
            )
        return self.real.embed(texts)


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory):
    """A real `chroma run` subprocess on a free 127.0.0.1 port, stopped after the module."""
    d = tmp_path_factory.mktemp("chroma-server")
    with ChromaServer(d / "data", port=free_port(), log_path=d / "server.log") as srv:
        yield srv


@pytest.fixture(params=["embedded", "server"])
def client(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "embedded":
        return make_client(Settings(home=tmp_path / "home"))
    srv = request.getfixturevalue("chroma_server")
    return make_client(Settings(home=tmp_path / "home", chroma_mode="server", chroma_host=srv.host,
                                chroma_port=srv.port))


def mini(ml100k: Dataset, n: int = 300, *, name: str | None = None, edit=None) -> Dataset:
    """The first n ML-100K items (and their ratings) under a unique dataset name."""
    items = [it for it in ml100k.catalog if it.item_id <= n]
    if edit is not None:
        items = edit(items)
    ids = {it.item_id for it in items}
    df = ml100k.ratings.df
    return Dataset(name or f"mini-{uuid.uuid4().hex[:8]}", Catalog(items, name="mini"),
                   Ratings(df[df["item"].isin(ids)], scale=(1, 5)))


def _retitle(items: list[Item], ids: set[int], suffix: str = " (Director's Cut)") -> list[Item]:
    return [
        Item(
            it.item_id,
            it.title + suffix,
            it.year,
            it.genres,
            it.description,
            it.raw_title,
            it.extra,
        )
        if it.item_id in ids
        else it
        for it in items
    ]


def test_build_is_idempotent_and_unchanged_items_are_not_reembedded(client, ml100k) -> None:
    ds = mini(ml100k)
    emb = CountingEmbedder()
    store = ChromaStore(client, ds, emb, batch_size=64)
    assert store.status().state == "missing"
    r1 = store.build(progress=False)
    assert (r1.embedded, r1.reused, r1.items) == (300, 0, 300) and emb.texts == 300
    assert store.status().state == "ok"
    r2 = store.build(progress=False)
    assert r2.up_to_date and emb.texts == 300
    r3 = store.build(force=True, progress=False)
    assert (
        (r3.embedded, r3.reused) == (0, 300) and emb.texts == 300 and r3.collection != r1.collection
    )
    assert [c for c in _names(client) if c.startswith(store.base_name)] == [r3.collection]
    hit = store.search(store.rows()[41].text, 1)[0]  # hash vectors: a text finds itself
    assert hit.item.item_id == store.rows()[41].item_id and hit.score == pytest.approx(
        1.0, abs=1e-4
    )


def test_stale_store_is_reported_and_rebuilt_after_a_catalog_change(client, ml100k, caplog) -> None:
    name = f"mini-{uuid.uuid4().hex[:8]}"
    old = mini(ml100k, name=name)
    ChromaStore(client, old, CountingEmbedder()).build(progress=False)

    def edit(items: list[Item]) -> list[Item]:
        items = [it for it in _retitle(items, {1}) if it.item_id != 2]
        return items + [Item(9001, "A Brand New Film", 2024, ("Documentary",), "About bees.")]

    new = mini(ml100k, name=name, edit=edit)
    emb = CountingEmbedder()
    store = ChromaStore(client, new, emb)
    st = store.status()
    assert st.state == "stale" and "fingerprint" in st.reason and st.count == 300
    with caplog.at_level(logging.WARNING, logger="genrec.retrieval"):
        assert store.ensure(progress=False).state == "ok"
    assert any("stale" in r.getMessage() for r in caplog.records)
    assert emb.texts == 2  # the retitled item and the new one; 298 vectors were reused
    assert store.status().count == 300
    assert store.search("A Brand New Film", 1, SearchFilters(year_min=2020))[0].item.item_id == 9001
    assert store.search("anything", 5, SearchFilters(include_ids=[2])) == []
    assert (
        store.search("x", 3, SearchFilters(genres_any=["Documentary"], year_min=2024))[
            0
        ].item.item_id
        == 9001
    )
    got = store.collection.get(ids=["1"], include=["documents"])
    assert "Director's Cut" in got["documents"][0]


def test_ratings_are_not_part_of_the_index(client, ml100k) -> None:
    """A change of ratings (another split, new ratings) leaves the index up to date."""
    name = f"mini-{uuid.uuid4().hex[:8]}"
    ChromaStore(client, mini(ml100k, name=name), CountingEmbedder()).build(progress=False)
    ds = mini(ml100k, name=name)
    df = ds.ratings.df
    fewer = Dataset(name, ds.catalog, Ratings(df[df["item"] != 50], scale=(1, 5)))
    store = ChromaStore(client, fewer, CountingEmbedder())
    assert store.status().state == "ok"
    assert store.popularity[50] == 0 and store.popularity[1] == int((df["item"] == 1).sum())
    assert (
        "popularity" not in store.collection.get(ids=["50"], include=["metadatas"])["metadatas"][0]
    )


def test_open_store_orders_a_blank_query_by_the_counts_it_is_given(tmp_path, ml100k) -> None:
    ds = mini(ml100k, n=100)
    train = rating_counts(ratio_split(ds.ratings, test_fraction=0.5, seed=0).train)
    store = open_store(
        Settings(home=tmp_path / "home"),
        ds,
        progress=False,
        embedder=CountingEmbedder(),
        popularity=train,
    )
    ids = [it.item_id for it in ds.catalog]
    assert dict(store.popularity) == {i: train.get(i, 0) for i in ids}
    assert [r.item.item_id for r in store.search(" ", 10)] == sorted(
        ids, key=lambda i: (-train.get(i, 0), i)
    )[:10]
    assert all(r.score == 0.0 for r in store.search("", 3))


def test_an_index_of_schema_1_is_stale_and_rebuilt_without_reembedding(client, ml100k) -> None:
    """An index from before popularity left the metadata (schema 1) is never served as current."""
    from genrec.retrieval.client import POINTER_COLLECTION, read_pointer, write_pointer

    ds = mini(ml100k)
    store = ChromaStore(client, ds, CountingEmbedder())
    store.build(progress=False)
    old = store.collection  # turn it into what the previous version wrote: popularity in, no schema
    counts = ds.ratings.df["item"].value_counts()
    got = old.get(include=["metadatas"])
    old.update(ids=got["ids"], metadatas=[dict(md, popularity=int(counts.get(int(i), 0)))
                                          for i, md in zip(got["ids"], got["metadatas"])])
    ptr = read_pointer(client, store.key)
    assert ptr is not None
    client.get_collection(POINTER_COLLECTION).delete(
        ids=[store.key]
    )  # an upsert would keep "schema"
    write_pointer(
        client,
        store.key,
        {k: v for k, v in ptr.items() if k != "schema"} | {"fingerprint": "0" * 16},
    )
    emb = CountingEmbedder()
    again = ChromaStore(client, ds, emb)
    st = again.status()
    assert st.state == "stale" and "schema 1" in st.reason
    assert again.ensure(progress=False).state == "ok"
    assert emb.texts == 0  # vectors were copied from the schema-1 generation
    assert (
        "popularity" not in again.collection.get(ids=["1"], include=["metadatas"])["metadatas"][0]
    )


def test_killed_build_leaves_the_old_index_serving_and_the_next_build_finishes(
    client, ml100k
) -> None:
    name = f"mini-{uuid.uuid4().hex[:8]}"
    v1 = mini(ml100k, name=name)
    ChromaStore(client, v1, CountingEmbedder()).build(progress=False)
    changed = set(range(1, 101))
    v2 = mini(ml100k, name=name, edit=lambda items: _retitle(items, changed))

    dying = CountingEmbedder(fail_after_calls=2)
    store = ChromaStore(client, v2, dying, batch_size=20)
    with pytest.raises(BuildKilled):
        store.build(progress=False)
    assert dying.texts == 40
    # the old generation is still the index in use and answers with the old texts
    st = store.status()
    assert st.state == "stale" and st.collection.endswith("-v1") and st.count == 300
    serving = ChromaStore(client, v1, CountingEmbedder())
    assert serving.status().state == "ok"
    hit = serving.search(serving.rows()[0].text, 1)[0]
    assert hit.item.item_id == 1 and "Director's Cut" not in hit.text
    assert any(not ix["in_use"] and ix["collection"].endswith("-v2") for ix in list_indexes(client))

    emb = CountingEmbedder()
    report = ChromaStore(client, v2, emb, batch_size=20).build(progress=False)
    # the unchanged 200 vectors were copied and 40 items embedded before the kill: all kept
    assert (report.kept, report.embedded, report.reused) == (240, 60, 0) and emb.texts == 60
    fresh = ChromaStore(client, v2, CountingEmbedder())
    assert fresh.status().state == "ok" and fresh.status().collection.endswith("-v2")
    assert "Director's Cut" in fresh.search(fresh.rows()[0].text, 1)[0].text
    assert not any(c.endswith("-v1") for c in _names(client) if c.startswith(fresh.base_name))


def test_first_build_killed_means_no_index_until_a_build_completes(client, ml100k) -> None:
    ds = mini(ml100k, n=120)
    store = ChromaStore(client, ds, CountingEmbedder(fail_after_calls=1), batch_size=50)
    with pytest.raises(BuildKilled):
        store.build(progress=False)
    assert store.status().state == "missing"
    with pytest.raises(StoreError, match="genrec index build"):
        store.search("comedy", 5)
    emb = CountingEmbedder()
    report = ChromaStore(client, ds, emb, batch_size=50).build(progress=False)
    assert (report.kept, report.embedded) == (50, 70) and emb.texts == 70


def test_server_mode_search_with_real_minilm_vectors_matches_embedded(
    chroma_server, tmp_path, ml100k, ml100k_store
) -> None:
    s = Settings(home=tmp_path / "home", chroma_mode="server", chroma_host=chroma_server.host,
                 chroma_port=chroma_server.port)
    ds = Dataset(f"ml-100k-{uuid.uuid4().hex[:6]}", ml100k.catalog, ml100k.ratings)
    store = open_store(s, ds, progress=False, embedder=TableEmbedder(ml100k_store))
    assert isinstance(store.client, chromadb.api.ClientAPI) and store.status().state == "ok"
    res = store.search("animated movie for children", 10)
    assert sum(bool({"Animation", "Children's"} & set(r.item.genres)) for r in res) >= 7
    for f in (SearchFilters(genres_any=["Comedy"], year_min=1990, year_max=1995),
              SearchFilters(genres_none=["Drama", "Comedy"], year_max=1970),
              SearchFilters(genres_any=["Film-Noir"], exclude_ids=[642])):
        served = store.search("a dark story of crime and betrayal", 10, f)
        local = ml100k_store.search("a dark story of crime and betrayal", 10, f)
        assert len(set(r.item.item_id for r in served) & set(r.item.item_id for r in local)) >= 9
        assert all(validates(r.item, f) for r in served)


def validates(item: Item, f: SearchFilters) -> bool:
    return ((not f.genres_any or bool(set(f.genres_any) & set(item.genres)))
            and not set(f.genres_none) & set(item.genres)
            and (f.year_min is None or (item.year or 0) >= f.year_min)
            and (f.year_max is None or (item.year is not None and item.year <= f.year_max))
            and item.item_id not in f.exclude_ids)


def test_server_mode_unreachable_is_a_clear_error(tmp_path) -> None:
    s = Settings(
        home=tmp_path, chroma_mode="server", chroma_host="127.0.0.1", chroma_port=free_port()
    )
    with pytest.raises(StoreError, match="genrec index serve"):
        make_client(s)


def test_index_serve_command_serves_the_data_dir(tmp_path, ml100k) -> None:
    """`genrec index serve` runs a real Chroma server on GENREC_HOME/chroma; a built index is
    served from it."""
    home = tmp_path / "home"
    ds = mini(ml100k, n=50, name="served")
    ChromaStore(make_client(Settings(home=home)), ds, CountingEmbedder()).build(progress=False)
    port = free_port()
    env = {"GENREC_HOME": str(home), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "genrec.cli", "index", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_ready("127.0.0.1", port, timeout=30, proc=proc)
        http = chromadb.HttpClient(
            host="127.0.0.1", port=port, settings=ChromaSettings(anonymized_telemetry=False)
        )
        store = ChromaStore(http, ds, CountingEmbedder())
        assert store.status().state == "ok" and store.status().count == 50
        assert store.search(store.rows()[3].text, 1)[0].item.item_id == store.rows()[3].item_id
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _names(client) -> list[str]:
    return [c if isinstance(c, str) else c.name for c in client.list_collections()]
