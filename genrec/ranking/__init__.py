"""Ranking: the trained CF ranker and the popularity baseline behind one `Ranker` protocol,
and the cached, provenance-stamped model artifact (`load_or_train_ranker`)."""

from genrec.knobs import RankerConfig
from genrec.ranking.artifacts import (
    cached_ranker,
    load_or_train_ranker,
    model_dir,
    ranker_config,
    train_ranker,
)
from genrec.ranking.interfaces import Ranker, RatingRanker
from genrec.ranking.popularity import PopularityRanker
from genrec.ranking.ranker import MFRanker
from genrec.ranking.types import ModelFileError, ScoredItem, UnknownUserError, UserProfile
from genrec.ranking.weights import MFWeights

__all__ = [
    "MFRanker",
    "MFWeights",
    "ModelFileError",
    "PopularityRanker",
    "Ranker",
    "RankerConfig",
    "RatingRanker",
    "ScoredItem",
    "UnknownUserError",
    "UserProfile",
    "cached_ranker",
    "load_or_train_ranker",
    "model_dir",
    "ranker_config",
    "train_ranker",
]
