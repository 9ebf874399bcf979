"""The one wiring of an agent's parts from settings: dataset, split, trained ranker, Chroma index.

`Recommender.from_settings` and the evaluation harness both build through `build_parts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from genrec.config import Settings
from genrec.data import Catalog, Dataset, Split

if TYPE_CHECKING:
    from genrec.ranking import MFRanker
    from genrec.retrieval.store import ChromaStore


@dataclass
class AgentParts:
    """What an agent runs on: the dataset and split, its catalog, the ranker and the item index."""

    dataset: Dataset
    split: Split
    catalog: Catalog
    ranker: MFRanker
    store: ChromaStore


def build_parts(settings: Settings, *, progress: bool = True) -> AgentParts:
    """Load (building when missing or stale) the dataset, split, ranker and index per settings.

    The ranker is trained on the TRAIN part of `settings.served_split` (never on its test part):
    `settings.split` (`auto`: the dataset's default), or every rating when `serve_split = "all"`;
    the index orders blank-query matches by the same training counts.
    """
    from genrec.data import load_split
    from genrec.ranking import load_or_train_ranker
    from genrec.retrieval import open_store, rating_counts

    dataset, split = load_split(settings.dataset, settings.served_split, settings.datasets_dir,
                                seed=settings.seed)
    ranker = load_or_train_ranker(settings, dataset, split, progress=progress)
    store = open_store(settings, dataset, build=True, progress=progress,
                       popularity=rating_counts(split.train))
    return AgentParts(dataset, split, dataset.catalog, ranker, store)
