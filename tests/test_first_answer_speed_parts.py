"""The parts that make the first answer fast give the same results as the slow way: EASE over rated
items from a Cholesky factor, the epoch-picking run without EASE, embedding in worker threads with
texts sorted by length, and the index without tags when asked. No timings here (see
benchmarks/first_answer.py)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from genrec.config import Settings
from genrec.data import Catalog, Dataset, Item, Ratings
from genrec.ranking import MFRanker, RankerConfig
from genrec.ranking._train import train_ease
from genrec.retrieval import ChromaStore, HashEmbedder, make_client, open_store
from genrec.retrieval.embedders import embed_chunks
from genrec.retrieval.rows import index_rows


def _lu_ease(
    users: np.ndarray, items: np.ndarray, n_users: int, n_items: int, reg: float
) -> np.ndarray:
    """EASE as first written: every item, an LU inverse."""
    x = np.zeros((n_users, n_items))
    x[users, items] = 1.0
    p = np.linalg.inv(x.T @ x + reg * np.eye(n_items))
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    return b.astype(np.float32)


def test_ease_over_rated_items_equals_the_full_inverse_and_leaves_unrated_items_zero() -> None:
    rng = np.random.default_rng(0)
    n_users, n_items = 40, 30
    pairs = {
        (int(u), int(i)) for u, i in zip(rng.integers(0, n_users, 300), rng.integers(0, 25, 300))
    }
    users, items = (np.array(a) for a in zip(*sorted(pairs)))  # items 25..29: nobody rated them
    b = train_ease(users, items, n_users, n_items, reg=5.0, device="cpu")
    np.testing.assert_allclose(b, _lu_ease(users, items, n_users, n_items, 5.0), atol=1e-6)
    unrated = np.setdiff1d(np.arange(n_items), items)
    assert len(unrated) and not b[unrated].any() and not b[:, unrated].any()


def test_fit_without_ease_has_the_same_rating_model() -> None:
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"user": rng.integers(1, 30, 400), "item": rng.integers(1, 60, 400),
                       "rating": rng.integers(1, 6, 400).astype(float), "timestamp": 0})
    ratings = Ratings(df.drop_duplicates(["user", "item"]))
    config = RankerConfig(epochs=6, embedding_size=8, device="cpu")
    full = MFRanker(config).fit(ratings, progress=False)
    light = MFRanker(config).fit(ratings, progress=False, ease=False)
    assert full.weights.ease is not None and light.weights.ease is None
    np.testing.assert_array_equal(full.weights.item_codes, light.weights.item_codes)


class RecordingEmbedder(HashEmbedder):
    """Hash vectors; records which threads embedded."""

    def __init__(self) -> None:
        super().__init__(16)
        self.threads: set[str] = set()

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.threads.add(threading.current_thread().name)
        return super().embed(texts, progress=progress)


def test_embed_chunks_in_workers_keeps_the_order_and_the_vectors() -> None:
    chunks = [[f"text {i} {j}" for j in range(i % 5 + 1)] for i in range(12)]
    one = list(embed_chunks(HashEmbedder(16), chunks, workers=1))
    emb = RecordingEmbedder()
    threads_before = torch.get_num_threads()
    many = list(embed_chunks(emb, chunks, workers=3))
    assert [v.shape for v in many] == [v.shape for v in one]
    for a, b in zip(one, many):
        np.testing.assert_array_equal(a, b)
    assert all(t.startswith("genrec-embed") for t in emb.threads)
    assert torch.get_num_threads() == threads_before


def _dataset() -> Dataset:
    items = [
        Item(
            i,
            f"Film {i}" + " long words" * (i % 7),
            1990 + i % 20,
            ("Drama",) if i % 2 else ("Comedy",),
            extra={"tags": [["twist ending", 3]] if i % 3 == 0 else []},
        )
        for i in range(1, 41)
    ]
    df = pd.DataFrame(
        {"user": [1, 1, 2], "item": [1, 2, 3], "rating": [4.0, 5.0, 3.0], "timestamp": 0}
    )
    return Dataset("tiny-tags", Catalog(items), Ratings(df))


def test_an_index_built_by_workers_holds_every_item_with_its_own_vector(tmp_path: Path) -> None:
    ds, emb = _dataset(), HashEmbedder(16)
    client = make_client(Settings(home=tmp_path))
    store = ChromaStore(client, ds, emb, batch_size=7)
    store.index.workers = 3
    store.build(progress=False)
    got = store.collection.get(include=["documents", "embeddings"])
    assert sorted(map(int, got["ids"])) == list(range(1, 41))
    for doc, vec in zip(got["documents"], got["embeddings"]):
        np.testing.assert_allclose(vec, emb.embed([doc])[0], atol=1e-6)


def test_index_without_tags_leaves_them_out_of_the_text_and_is_another_index(
    tmp_path: Path,
) -> None:
    ds = _dataset()
    assert any("Tags: twist ending." in r.text for r in index_rows(ds.catalog))
    assert not any(
        "Tags:" in r.text or "twist" in r.text for r in index_rows(ds.catalog, tags=False)
    )
    with_tags = open_store(Settings(home=tmp_path / "a", embedder="hash:16"), ds, progress=False)
    without = open_store(
        Settings(home=tmp_path / "b", embedder="hash:16", index_tags=False), ds, progress=False
    )
    assert with_tags.fingerprint() != without.fingerprint()
    assert not any("Tags:" in d for d in without.collection.get(include=["documents"])["documents"])


@pytest.mark.parametrize("value", ["false", "0"])
def test_index_tags_setting_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("GENREC_INDEX_TAGS", value)
    assert Settings().index_tags is False
