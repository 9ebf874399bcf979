"""Ranking: the trained CF ranker (fit, predict, recommend, fold-in, similar items, save/load)."""

from genrec.ranking._config import ModelFileError, RankerConfig, ScoredItem, UnknownUserError
from genrec.ranking.ranker import MFRanker, PopularityRanker, UserProfile
from genrec.ranking.store import load_or_train_ranker, model_dir, train_ranker

__all__ = [
    "MFRanker", "ModelFileError", "PopularityRanker", "RankerConfig", "ScoredItem",
    "UnknownUserError", "UserProfile", "load_or_train_ranker", "model_dir", "train_ranker",
]
