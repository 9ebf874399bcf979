"""The wiring of a chat run: dataset, split, trained ranker, Chroma index, popularity baseline,
the agent under test and the llm simulator's text backend, built from settings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from genrec.data import Dataset, Split
from genrec.evaluation.chat_protocol import ChatEvalConfig

log = logging.getLogger(__name__)


@dataclass
class EvalComponents:
    """The real parts a run uses, built from settings (see `build_components`)."""

    dataset: Dataset
    split: Split
    agent: Any
    ranker: Any | None
    store: Any | None
    popularity_ranker: Any | None
    generate: Callable[[list[dict]], str] | None
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Parts:
    """What the agent is built from: the same fields as `genrec.agent.builder.AgentParts`."""

    dataset: Dataset
    split: Split
    ranker: Any
    store: Any


def _load_parts(settings: Any, cfg: ChatEvalConfig, *, progress: bool) -> _Parts:
    """The run's dataset and split (named by `cfg`), the ranker trained on its train part, the index.

    The one place that repeats `Recommender.from_settings`'s wiring: when
    `genrec.agent.builder.build_parts(settings, progress=...)` exists, this body becomes that call
    (with `settings` carrying cfg's dataset, split and seed).
    """
    from genrec.data import load_split
    from genrec.ranking import load_or_train_ranker
    from genrec.retrieval import open_store

    dataset, split = load_split(cfg.dataset, cfg.split, settings.datasets_dir, seed=cfg.seed)
    ranker = load_or_train_ranker(settings, dataset, split, progress=progress)
    store = open_store(settings, dataset, progress=progress)
    return _Parts(dataset, split, ranker, store)


def text_generator(backend: Any) -> Callable[[list[dict]], str] | None:
    """chat messages -> text through a genrec LLM backend; None when it cannot write text (`none`)."""
    if backend is None or getattr(backend, "chat_model", object()) is None:
        return None

    def generate(messages: list[dict]) -> str:
        return backend.invoke(messages).text

    return generate


def _popularity_ranker(split: Split, warnings: list[str]) -> Any | None:
    try:
        from genrec.ranking import PopularityRanker

        return PopularityRanker().fit(split.train)
    except Exception as exc:  # noqa: BLE001 - the harness ranks by counts itself then
        warnings.append(f"PopularityRanker unavailable ({exc}); popularity ranks by training counts")
        return None


def _simulator_text(settings: Any, cfg: ChatEvalConfig, warnings: list[str]) -> Callable[[list[dict]], str] | None:
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
        warnings.append(f"llm simulator: backend {spec!r} cannot write text; using the template simulator")
        log.warning(warnings[-1])
    return generate


def build_components(settings: Any, cfg: ChatEvalConfig, *, progress: bool = True) -> EvalComponents:
    """Load the dataset and split, the trained ranker, the Chroma index and the agent per settings.

    The agent is built with the same ranker and store the baselines use, an in-memory session
    store, and the backend named by ``cfg.llm``; the llm simulator gets its own backend
    (``cfg.simulator_llm`` or ``cfg.llm``), falling back to the template simulator with a warning
    when that backend cannot write text.
    """
    from genrec.agent import Recommender, SessionStore
    from genrec.llm import get_llm

    warnings: list[str] = []
    parts = _load_parts(settings, cfg, progress=progress)
    popularity = _popularity_ranker(parts.split, warnings)
    llm = get_llm(cfg.llm, settings)
    agent = Recommender(catalog=parts.dataset.catalog, ranker=parts.ranker, store=parts.store, llm=llm,
                        policy=cfg.policy, sessions=SessionStore(None))
    generate = _simulator_text(settings, cfg, warnings)
    return EvalComponents(parts.dataset, parts.split, agent, parts.ranker, parts.store, popularity, generate,
                          warnings)


__all__ = ["EvalComponents", "build_components", "text_generator"]
