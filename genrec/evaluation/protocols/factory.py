"""The replay of one run's users: the protocol object (taste, intent or target) with its peers,
built the same way in the harness and in every worker process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from genrec.data import Dataset, Split
from genrec.evaluation.baselines import Baselines
from genrec.evaluation.leakage import CatalogTitles
from genrec.evaluation.protocols.replay import (
    ChatAgent,
    ChatEvalConfig,
    ChatProtocol,
    SimulatorFactory,
)
from genrec.evaluation.protocols.target import TargetProtocol
from genrec.evaluation.protocols.target_peers import TargetPeers
from genrec.evaluation.simulation.behaviour_mix import BehaviourMix
from genrec.evaluation.simulation.phrasebook import Phrasebook
from genrec.evaluation.simulation.phrasebook_corpus import load_phrasebook

if TYPE_CHECKING:
    from genrec.ranking import Ranker
    from genrec.retrieval.store import ChromaStore


def make_protocol(
    cfg: ChatEvalConfig,
    dataset: Dataset,
    split: Split,
    agent: ChatAgent,
    *,
    ranker: Ranker | None = None,
    store: ChromaStore | None = None,
    popularity_ranker: Ranker | None = None,
    generate: Callable[[list[dict]], str] | None = None,
    simulator_factory: SimulatorFactory | None = None,
) -> tuple[ChatProtocol | TargetProtocol, Baselines]:
    """The protocol that replays one user of this run (taste, intent or target), and the
    baselines."""
    cat = dataset.catalog
    pop_counts = split.train.item_counts()
    baselines = Baselines(
        split.train, ranker=ranker, store=store, popularity=popularity_ranker, catalog=cat, k=cfg.k
    )
    if cfg.protocol == "target":
        peers = TargetPeers(cat, ranker, popularity=pop_counts, k=cfg.k)
        return TargetProtocol(
            cfg, dataset, split, agent, peers, pop_counts, CatalogTitles(cat)
        ), baselines
    book = phrasebook_for(cfg)
    shares = reveal_shares(book.mix()) if book is not None else None
    return ChatProtocol(
        cfg,
        dataset,
        split,
        agent,
        baselines,
        simulator_factory,
        pop_counts,
        CatalogTitles(cat),
        reveal_shares=shares,
        phrasebook=book,
        generate=generate,
    ), baselines


def phrasebook_for(cfg: ChatEvalConfig) -> Phrasebook | None:
    """The phrasebook a run's template users speak from (None for `--phrasing template`).

    Raises:
        ValueError: `real` phrasing asked for, and INSPIRED's dev.tsv is not where the settings say.
    """
    if cfg.phrasing == "template" or cfg.simulator != "template":
        return None
    book = load_phrasebook()
    if book is None and cfg.phrasing == "real":
        raise ValueError(
            "--phrasing real needs INSPIRED's dev.tsv (../shared/data/inspired/dev.tsv, or "
            "GENREC_INSPIRED_PATH); without it use --phrasing template"
        )
    return book


def reveal_shares(mix: BehaviourMix) -> dict[str, float]:
    """How intent users reveal tonight's kind, from the seekers' behaviour mix: at once as often as
    real seekers open with a genre; later (when asked) as often as they state one after the opener;
    only through reactions as often as they never state one.

    >>> m = BehaviourMix(opener_vague=0.3, opener_genre=0.5, opener_titles=0.2, states_genre=0.9,
    ...                  names_titles=0.8, answers_question=0.3, dislike_unprompted=0.1,
    ...                  only_reacts=0.4)
    >>> {k: round(v, 2) for k, v in reveal_shares(m).items()}
    {'at_once': 0.5, 'when_asked': 0.4, 'reactions': 0.1}
    """
    at_once = min(1.0, mix.opener_genre)
    later = max(0.0, min(1.0, mix.states_genre) - at_once)
    return {"at_once": at_once, "when_asked": later, "reactions": max(0.0, 1.0 - at_once - later)}


__all__ = ["make_protocol", "phrasebook_for", "reveal_shares"]
