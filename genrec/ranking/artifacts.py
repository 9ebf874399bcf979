"""The trained-ranker artifact: where it is cached, what it must match, and training it when stale.

A cached model records what it was built from (dataset, split, catalog and training-ratings
fingerprints, params, versions, provenance) and its engine (`torch`, or `spark-als` from
`genrec train --engine spark`); `load_or_train_ranker` retrains when any of the data differs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genrec.knobs import RankerConfig
from genrec.ranking.files import read_metadata
from genrec.ranking.ranker import MFRanker
from genrec.ranking.types import ModelFileError

if TYPE_CHECKING:
    from genrec.config import Settings
    from genrec.data import Dataset, Ratings, Split

__all__ = [
    "SPARK_ENGINE",
    "TORCH_ENGINE",
    "cached_ranker",
    "expected_metadata",
    "load_or_train_ranker",
    "model_dir",
    "ranker_config",
    "ratings_fingerprint",
    "reusable",
    "train_ranker",
]

TORCH_ENGINE, SPARK_ENGINE = "torch", "spark-als"


def ratings_fingerprint(ratings: Ratings) -> str:
    """A short hash of the (user, item, rating) triples, order-independent."""
    df = ratings.df.sort_values(["user", "item"], kind="stable")
    h = hashlib.sha256()
    for col in ("user", "item", "rating"):
        h.update(np.ascontiguousarray(df[col].to_numpy()).tobytes())
    return h.hexdigest()[:16]


def model_dir(settings: Settings, dataset: str, split: str) -> Path:
    """Where the cached ranker of (dataset, split) lives: models_dir/<dataset>/<split>/ranker."""
    safe = split.replace(":", "_").replace("/", "_")
    return settings.models_dir / dataset / safe / "ranker"


def ranker_config(settings: Settings) -> RankerConfig:
    """The ranker config settings ask for: `settings.ranker`, whose `seed` and `device` follow
    `settings.seed` / `settings.device` unless the [ranker] table sets them itself.

    >>> from genrec.config import Settings
    >>> ranker_config(Settings(seed=7)) == RankerConfig(seed=7)
    True
    """
    cfg = settings.ranker
    update: dict[str, Any] = {}
    if "seed" not in cfg.model_fields_set:
        update["seed"] = settings.seed
    if "device" not in cfg.model_fields_set:
        update["device"] = settings.device if settings.device in ("auto", "cpu", "cuda") else "auto"
    return cfg.model_copy(update=update)


def expected_metadata(dataset: Dataset, split: Split, config: RankerConfig) -> dict[str, Any]:
    """What a cached model of this dataset/split/config must record to be reused."""
    return {
        "dataset": dataset.name,
        "split": split.name,
        "catalog_fingerprint": dataset.catalog.fingerprint(),
        "train_fingerprint": ratings_fingerprint(split.train),
        "params": config.model_dump(),
    }


def train_ranker(
    dataset: Dataset,
    split: Split,
    *,
    config: RankerConfig | None = None,
    seed: int = 42,
    progress: bool = True,
) -> MFRanker:
    """Train the production model: a validation run (early stopping) then a refit on all of train.

    The validation split is carved out of `split.train` (never the test part); the refit runs for
    the best validation epoch count. Validation figures are kept in ``metadata["validation"]``,
    where the model came from (git commit, machine, versions) in ``metadata["provenance"]``.
    """
    from genrec.data import validation_split
    from genrec.provenance import provenance

    config = config or RankerConfig(seed=seed)
    val = validation_split(split.train, seed=seed)
    probe = MFRanker(config).fit(val.train, validation=val.test, items=dataset.catalog.ids,
                                 progress=progress, desc="ranker 1/2: picking epochs", ease=False)
    ranker = MFRanker(config).fit(split.train, items=dataset.catalog.ids, progress=progress,
                                  stop_epoch=int(probe.metadata["best_epoch"]) or None,
                                  desc="ranker 2/2: final fit")
    ranker.metadata.update(expected_metadata(dataset, split, config))
    ranker.metadata["validation"] = {
        "split": val.name,
        "val_rmse": probe.metadata["best_val_rmse"],
        "best_epoch": probe.metadata["best_epoch"],
        "history": probe.metadata["history"],
        "fit_seconds": probe.metadata["fit_seconds"],
    }
    ranker.metadata["provenance"] = provenance()
    ranker.metadata["engine"] = TORCH_ENGINE
    return ranker


def reusable(where: Path, expected: dict[str, Any]) -> dict[str, Any]:
    """What a cached model at `where` must match: everything for a torch model; only the data
    (dataset, split, catalog and training fingerprints) for one another engine trained, whose
    hyperparameters are its own (retrain it with `genrec train --engine ... --force`)."""
    try:
        engine = read_metadata(where).get("engine", TORCH_ENGINE)
    except ModelFileError:
        return expected
    return (
        expected if engine == TORCH_ENGINE else {k: v for k, v in expected.items() if k != "params"}
    )


def cached_ranker(settings: Settings, dataset: Dataset, split: Split, *,
                  config: RankerConfig | None = None) -> MFRanker | None:
    """The cached ranker for (dataset, split) when it is there and up to date (see
    `load_or_train_ranker`), else None."""
    config = config or ranker_config(settings)
    where = model_dir(settings, dataset.name, split.name)
    try:
        return MFRanker.load(
            where, expected=reusable(where, expected_metadata(dataset, split, config))
        )
    except ModelFileError:
        return None


def load_or_train_ranker(
    settings: Settings,
    dataset: Dataset,
    split: Split,
    *,
    config: RankerConfig | None = None,
    progress: bool = True,
) -> MFRanker:
    """The cached ranker for (dataset, split) under settings.models_dir, (re)trained with torch when
    missing or stale (dataset, split, catalog, training ratings, params or genrec version differ;
    a Spark-trained model is kept whatever the torch params, see `reusable`).

    `config` defaults to `ranker_config(settings)`.
    """
    config = config or ranker_config(settings)
    cached = cached_ranker(settings, dataset, split, config=config)
    if cached is not None:
        return cached
    where = model_dir(settings, dataset.name, split.name)
    ranker = train_ranker(dataset, split, config=config, seed=settings.seed, progress=progress)
    ranker.save(where)
    return ranker
