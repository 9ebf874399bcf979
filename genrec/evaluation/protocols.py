"""The replay of one run's users: the protocol object (taste or target) with its peers, built the
same way in the harness and in every worker process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genrec.data import Dataset, Split
from genrec.evaluation.baselines import Baselines
from genrec.evaluation.chat_protocol import ChatEvalConfig, ChatProtocol, SimulatorFactory
from genrec.evaluation.leakage import CatalogTitles
from genrec.evaluation.persona import Persona
from genrec.evaluation.simulator import UserSimulator, make_simulator
from genrec.evaluation.target_peers import TargetPeers
from genrec.evaluation.target_protocol import TargetProtocol


def make_protocol(cfg: ChatEvalConfig, dataset: Dataset, split: Split, agent: Any, *, ranker: Any | None = None,
                  store: Any | None = None, popularity_ranker: Any | None = None,
                  generate: Callable[[list[dict]], str] | None = None,
                  simulator_factory: SimulatorFactory | None = None) -> tuple[ChatProtocol | TargetProtocol, Baselines]:
    """The protocol that replays one user of this run (taste or target), and the taste baselines."""
    cat = dataset.catalog

    def default_factory(persona: Persona, seed: int) -> UserSimulator:
        return make_simulator(cfg.simulator, persona, cat, seed=seed, generate=generate)

    pop_counts = split.train.item_counts()
    baselines = Baselines(split.train, ranker=ranker, store=store, popularity=popularity_ranker, catalog=cat,
                          k=cfg.k)
    if cfg.protocol == "target":
        peers = TargetPeers(cat, ranker, popularity=pop_counts, k=cfg.k)
        return TargetProtocol(cfg, dataset, split, agent, peers, pop_counts, CatalogTitles(cat)), baselines
    return ChatProtocol(cfg, dataset, split, agent, baselines, simulator_factory or default_factory,
                        pop_counts, CatalogTitles(cat)), baselines


__all__ = ["make_protocol"]
