"""The wiring of a chat run: the agent's parts (through `genrec.agent.builder`), the popularity
baseline, the agent under test and the llm simulator's text backend, built from settings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from genrec.config import Settings
from genrec.data import Dataset, Split
from genrec.evaluation.protocols.replay import ChatEvalConfig

if TYPE_CHECKING:
    from genrec.agent import Recommender
    from genrec.llm import LLMBackend
    from genrec.ranking import Ranker
    from genrec.retrieval.store import ChromaStore

log = logging.getLogger(__name__)


@dataclass
class EvalComponents:
    """The real parts a run uses, built from settings (see `build_components`)."""

    dataset: Dataset
    split: Split
    agent: Recommender
    ranker: Ranker | None
    store: ChromaStore | None
    popularity_ranker: Ranker | None
    generate: Callable[[list[dict]], str] | None
    warnings: list[str] = field(default_factory=list)


def run_settings(settings: Settings, cfg: ChatEvalConfig) -> Settings:
    """The settings a run's parts are built from: `settings` with the run's dataset and split.

    The run's seed seeds the simulators only: the ranker and index are the ones `genrec up`
    serves for that dataset and split (the settings' own seed, cached, never retrained here).
    The ranker learns from the split's training part even where the app serves one trained on
    every rating (`serve_split = "all"`): evaluation keeps its held-out part.

    >>> served_all = Settings(seed=1, serve_split="all")
    >>> run_settings(served_all, ChatEvalConfig(split="u2", seed=0)).served_split
    'u2'
    >>> s = run_settings(Settings(seed=1), ChatEvalConfig(split="u2", seed=0))
    >>> s.model_dump(include={"split", "seed"})
    {'split': 'u2', 'seed': 1}
    """
    return settings.model_copy(
        update={"dataset": cfg.dataset, "split": cfg.split, "serve_split": "split"}
    )


def fingerprints(ranker: object, store: object) -> dict[str, str | None]:
    """Short hashes of the ranker's weights and of the Chroma index's rows (None when absent),
    so config.json says which trained model and index a run evaluated."""
    import hashlib

    out: dict[str, str | None] = {"ranker": None, "index": None}
    weights = getattr(ranker, "_weights", None)
    if weights is not None and hasattr(weights, "arrays"):
        h = hashlib.sha256()
        for name, arr in sorted(weights.arrays().items()):
            h.update(name.encode())
            h.update(arr.tobytes())
        out["ranker"] = h.hexdigest()[:16]
    index = getattr(store, "index", None)
    try:
        out["index"] = index.fingerprint() if index is not None else None
    except Exception as exc:  # noqa: BLE001 - recorded, not fatal
        log.warning("index fingerprint unavailable: %s", exc)
    return out


def text_generator(backend: LLMBackend | None) -> Callable[[list[dict]], str] | None:
    """chat messages -> text through a genrec LLM backend; None when it cannot write text
    (`none`)."""
    if backend is None or getattr(backend, "chat_model", object()) is None:
        return None

    def generate(messages: list[dict]) -> str:
        return backend.invoke(messages).text

    return generate


def _popularity_ranker(split: Split, warnings: list[str]) -> Ranker | None:
    try:
        from genrec.ranking import PopularityRanker

        return PopularityRanker().fit(split.train)
    except Exception as exc:  # noqa: BLE001 - the harness ranks by counts itself then
        warnings.append(
            f"PopularityRanker unavailable ({exc}); popularity ranks by training counts"
        )
        return None


def _simulator_text(
    settings: Settings, cfg: ChatEvalConfig, warnings: list[str]
) -> Callable[[list[dict]], str] | None:
    """The llm simulator's backend (``cfg.simulator_llm`` or ``cfg.llm``), None with a warning
    when it cannot write text (the run then uses the template simulator)."""
    if cfg.simulator != "llm":
        return None
    from genrec.llm import get_llm

    spec = cfg.simulator_llm or cfg.llm
    generate = None
    try:
        generate = text_generator(get_llm(spec, settings))
    except Exception as exc:  # noqa: BLE001 - fall back to the template simulator
        warnings.append(f"llm simulator backend {spec!r} failed ({exc})")
    if generate is None:
        warnings.append(
            f"llm simulator: backend {spec!r} cannot write text; using the template simulator"
        )
        log.warning(warnings[-1])
    return generate


def build_components(
    settings: Settings, cfg: ChatEvalConfig, *, progress: bool = True
) -> EvalComponents:
    """Load the dataset and split, the trained ranker, the Chroma index and the agent per settings.

    The parts come from `genrec.agent.builder.build_parts` (as for `Recommender.from_settings`),
    with the run's dataset, split and seed (`run_settings`). The agent is built with the same
    ranker and store the baselines use, ``settings.agent``, an in-memory session store, and the
    backend named by ``cfg.llm``; the llm simulator gets its own backend
    (``cfg.simulator_llm`` or ``cfg.llm``), falling back to the template simulator with a warning
    when that backend cannot write text.
    """
    from genrec.agent import Recommender, SessionStore
    from genrec.agent.builder import build_parts
    from genrec.llm import get_llm

    warnings: list[str] = []
    parts = build_parts(run_settings(settings, cfg), progress=progress)
    popularity = _popularity_ranker(parts.split, warnings)
    llm = get_llm(cfg.llm, settings)
    agent = Recommender(catalog=parts.catalog, ranker=parts.ranker, store=parts.store, llm=llm,
                        policy=cfg.policy, sessions=SessionStore(None), config=settings.agent)
    generate = _simulator_text(settings, cfg, warnings)
    return EvalComponents(
        parts.dataset, parts.split, agent, parts.ranker, parts.store, popularity, generate, warnings
    )


__all__ = ["EvalComponents", "build_components", "fingerprints", "run_settings", "text_generator"]
