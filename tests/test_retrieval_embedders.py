"""Embedders: the registry, the local MiniLM model, and the OpenAI-compatible /v1/embeddings client
against a real HTTP server on 127.0.0.1 that answers in the exact OpenAI/vLLM response shape."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest

from genrec.config import Settings
from genrec.data import Catalog, Dataset, Item, Ratings
from genrec.retrieval import (
    ChromaStore,
    EmbeddingError,
    HashEmbedder,
    OpenAIEmbedder,
    SearchFilters,
    SentenceTransformerEmbedder,
    UnknownEmbedderError,
    get_embedder,
    make_client,
)

DIM = 16


def fake_vector(text: str) -> list[float]:
    """Deterministic, unnormalised vector for a text (the server's 'model')."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return (np.random.default_rng(seed).standard_normal(DIM) * 3.0).round(6).tolist()


class EmbeddingsServer:
    """POST /v1/embeddings -> {"object": "list", "data": [{"object": "embedding", "index": i,
    "embedding": [...]}], "model": ..., "usage": {...}}; data are returned in reverse order to
    check that the client sorts by index. Records every request body and Authorization header."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.auth: list[str] = []
        self.fail_with: int | None = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                outer.auth.append(self.headers.get("Authorization", ""))
                if self.path != "/v1/embeddings":
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                if outer.fail_with:
                    return self._send(
                        outer.fail_with,
                        {"error": {"message": "model overloaded", "type": "server_error"}},
                    )
                inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
                data = [
                    {"object": "embedding", "index": i, "embedding": fake_vector(t)}
                    for i, t in enumerate(inputs)
                ]
                self._send(
                    200,
                    {
                        "object": "list",
                        "data": data[::-1],
                        "model": body["model"],
                        "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
                    },
                )

            def _send(self, code: int, obj: dict) -> None:
                raw = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                       kwargs={"poll_interval": 0.02})  # shutdown() at once

    def __enter__(self) -> EmbeddingsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[EmbeddingsServer]:
    with EmbeddingsServer() as srv:
        yield srv


def test_openai_embedder_batches_normalises_and_keeps_order(server: EmbeddingsServer) -> None:
    emb = OpenAIEmbedder("test-embed", base_url=server.base_url, api_key="sk-test", batch_size=3)
    texts = [f"text number {i}" for i in range(7)]
    out = emb.embed(texts, progress=True)
    assert out.shape == (7, DIM) and out.dtype == np.float32
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    for i, t in enumerate(texts):
        v = np.asarray(fake_vector(t), dtype=np.float32)
        assert np.allclose(out[i], v / np.linalg.norm(v), atol=1e-5)
    assert [len(r["input"]) for r in server.requests] == [3, 3, 1]
    assert all(r["model"] == "test-embed" for r in server.requests)
    assert set(server.auth) == {"Bearer sk-test"}
    assert emb.name == "openai:test-embed" and emb.dim == DIM


def test_openai_embedder_errors_are_clear(server: EmbeddingsServer) -> None:
    server.fail_with = 503
    emb = OpenAIEmbedder("test-embed", base_url=server.base_url)
    with pytest.raises(EmbeddingError, match="HTTP 503.*overloaded"):
        emb.embed(["hello"])
    bad = OpenAIEmbedder("m", base_url=server.base_url.replace("/v1", "/nope"))
    server.fail_with = None
    with pytest.raises(EmbeddingError, match="HTTP 404"):
        bad.embed(["hello"])
    down = OpenAIEmbedder("m", base_url="http://127.0.0.1:9/v1", timeout=2.0)
    with pytest.raises(EmbeddingError, match="unreachable"):
        down.embed(["hello"])


def test_registry_builds_openai_embedder_from_settings(server: EmbeddingsServer, tmp_path) -> None:
    s = Settings(
        home=tmp_path,
        embedder="openai:test-embed",
        embedder_base_url=server.base_url,
        llm_api_key="k1",
    )
    emb = get_embedder(s.embedder, s)
    assert (
        isinstance(emb, OpenAIEmbedder) and emb.base_url == server.base_url and emb.api_key == "k1"
    )
    s2 = Settings(home=tmp_path, llm_base_url="http://127.0.0.1:8000/v1")
    assert (
        get_embedder("openai:other", s2).base_url == "http://127.0.0.1:8000/v1"
    )  # falls back to llm_base_url


def test_store_built_with_the_openai_embedder_searches_by_meaning_of_the_server(
    server, tmp_path
) -> None:
    items = [
        Item(i, f"Film {i}", 1990 + i, ("Drama",) if i % 2 else ("Comedy",)) for i in range(1, 41)
    ]
    ds = Dataset(
        "tiny",
        Catalog(items, name="tiny"),
        Ratings(pd.DataFrame({"user": [1], "item": [1], "rating": [4.0], "timestamp": [0]})),
    )
    s = Settings(home=tmp_path, embedder_base_url=server.base_url)
    store = ChromaStore(make_client(s), ds, get_embedder("openai:test-embed", s), batch_size=16)
    report = store.build(progress=False)
    assert report.embedded == 40 and [len(r["input"]) for r in server.requests][:3] == [16, 16, 8]
    target = store.rows()[16]  # Film 17 (a Drama)
    hit = store.search(target.text, 1)[0]
    assert hit.item.item_id == 17 and hit.score == pytest.approx(1.0, abs=1e-4)
    assert 17 not in [
        r.item.item_id for r in store.search(target.text, 5, SearchFilters(genres_any=["Comedy"]))
    ]


@pytest.mark.parametrize("name, match", [
    ("", "empty embedder name"),
    ("hash:abc", "integer DIM"),
    ("cohere:embed-v3", "unknown embedder kind 'cohere'"),
    ("/no/such/model-dir-xyz", "does not exist"),
])
def test_unknown_embedders_are_clear_errors(name: str, match: str, tmp_path) -> None:
    with pytest.raises(UnknownEmbedderError, match=match):
        get_embedder(name, Settings(home=tmp_path))


def test_hash_embedder_is_deterministic_and_normalised() -> None:
    a, b = HashEmbedder(8).embed(["x", "y"]), HashEmbedder(8).embed(["x", "y"])
    assert np.array_equal(a, b) and np.allclose(np.linalg.norm(a, axis=1), 1.0)
    assert not np.allclose(a[0], a[1])


@pytest.mark.slow
def test_default_minilm_loads_offline_once_and_embeds_by_meaning(tmp_path) -> None:
    emb = get_embedder("all-MiniLM-L6-v2", Settings(home=tmp_path, device="cpu"))
    assert isinstance(emb, SentenceTransformerEmbedder) and emb.dim == 384
    again = get_embedder(
        "sentence-transformers/all-MiniLM-L6-v2", Settings(home=tmp_path, device="cpu")
    )
    assert again._st is emb._st and again.name == "all-MiniLM-L6-v2"  # cached per process
    v = emb.embed(["a cartoon for kids", "an animated children's film", "a brutal war documentary"])
    assert v.dtype == np.float32 and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2
    assert emb.embed([]).shape == (0, 384)
