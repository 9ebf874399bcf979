"""`genrec train --engine spark`: Spark MLlib ALS on a Spark master, saved as the ranker artifact.

Ratings go to Parquet, Spark reads them; rank / regParam / alpha are chosen on a validation split
carved from the training part (NDCG@10 for implicit feedback, RMSE for explicit), the best is
refit on the whole training part and its factors are written in `MFRanker`'s format.
"""

from __future__ import annotations

import itertools
import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from genrec.knobs import RankerConfig
from genrec.ranking.als_artifact import ALSFactors, als_weights, ndcg_at_k, rmse
from genrec.ranking.artifacts import SPARK_ENGINE, expected_metadata
from genrec.ranking.files import write_model
from genrec.ranking.ranker import MFRanker

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from genrec.data import Dataset, Ratings, Split

class SparkALSConfig(BaseModel):
    """Where and how Spark trains ALS; the grid's lists are tried in every combination."""

    model_config = ConfigDict(extra="forbid")

    master: str = Field("local[*]", description="Spark master: local[N], spark://HOST:7077, yarn, k8s://...")
    implicit: bool = Field(
        True, description="Implicit feedback (who rated what) or explicit ratings."
    )
    ranks: list[int] = Field([16, 32, 64], description="Factor sizes to try.")
    regs: list[float] = Field([0.05, 0.1, 0.2], description="regParam values to try.")
    alphas: list[float] = Field(
        [0.5, 1.0, 2.0],
        description=(
            "Confidence alphas to try (implicit). The default grid brackets the best point on "
            "ML-100K u1 validation (rank 32, regParam 0.1, alpha 0.5; "
            "benchmarks/results/ranker_peers_als.json)."
        ),
    )
    max_iter: int = Field(15, ge=1, description="ALS iterations per fit.")
    blocks: int = Field(
        0, ge=0, description="User and item blocks; 0 = Spark's default parallelism."
    )
    checkpoint_dir: str = Field("", description="Checkpoint folder (shared storage on a cluster).")
    checkpoint_interval: int = Field(5, ge=1, description="Iterations between checkpoints.")
    data_dir: str = Field(
        "", description="Where the ratings Parquet is staged (shared on a cluster)."
    )
    driver_memory: str = Field(
        "4g", description="spark.driver.memory (local mode: all the memory)."
    )
    max_val_users: int = Field(5000, ge=1, description="Validation users scored (a seeded sample).")
    seed: int = Field(42, description="ALS seed (and the validation split's).")


def _grid(cfg: SparkALSConfig) -> list[dict[str, float]]:
    alphas = cfg.alphas if cfg.implicit else [1.0]
    return [{"rank": int(r), "regParam": float(g), "alpha": float(a)}
            for r, g, a in itertools.product(cfg.ranks, cfg.regs, alphas)]


@contextmanager
def spark_session(cfg: SparkALSConfig, checkpoint_dir: Path | str) -> Iterator[SparkSession]:
    """A SparkSession on `cfg.master` with the checkpoint folder set; stopped on exit.

    Raises:
        ImportError: pyspark is missing (pip install 'genrec[spark]'; Spark needs Java 17+).
    """
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ImportError(
            "`--engine spark` needs pyspark: pip install 'genrec[spark]' (and Java 17+, "
            "e.g. apt-get install default-jre-headless)"
        ) from exc
    builder = (SparkSession.builder.master(cfg.master).appName("genrec-als")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.driver.memory", cfg.driver_memory)
               .config("spark.sql.shuffle.partitions", str(max(cfg.blocks, 2) * 2)))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir(str(checkpoint_dir))
    try:
        yield spark
    finally:
        spark.stop()


def write_parquet(ratings: Ratings, path: Path) -> Path:
    """The ratings as Parquet (user, item as int32; rating as float32) for Spark to read."""
    df = ratings.df[["user", "item", "rating"]].astype({"user": "int32", "item": "int32",
                                                        "rating": "float32"})
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path, index=False)
    return path


def fit_als(
    spark: SparkSession, parquet: Path | str, params: dict[str, float], cfg: SparkALSConfig
) -> ALSFactors:
    """One ALS fit on the ratings at `parquet` (binary preferences when implicit)."""
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import functions as F

    df = spark.read.parquet(str(parquet))
    if cfg.implicit:
        df = df.withColumn("rating", F.lit(1.0))
    blocks = cfg.blocks or spark.sparkContext.defaultParallelism
    als = ALS(
        rank=int(params["rank"]),
        regParam=params["regParam"],
        alpha=params["alpha"],
        implicitPrefs=cfg.implicit,
        maxIter=cfg.max_iter,
        seed=cfg.seed,
        numUserBlocks=blocks,
        numItemBlocks=blocks,
        checkpointInterval=cfg.checkpoint_interval,
        userCol="user",
        itemCol="item",
        ratingCol="rating",
        coldStartStrategy="drop",
    )
    model = als.fit(df)
    return ALSFactors(*_collect(model.userFactors), *_collect(model.itemFactors))


def _collect(frame: DataFrame) -> tuple[np.ndarray, np.ndarray]:
    rows = sorted(frame.collect(), key=lambda r: r["id"])
    ids = np.fromiter((r["id"] for r in rows), dtype=np.int64, count=len(rows))
    return ids, np.asarray([r["features"] for r in rows], dtype=np.float32)


def tune_als(spark: SparkSession, val: Split, work: Path, cfg: SparkALSConfig,
             log: Callable[[str], None] = print) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """(best params, every grid point with its validation score and seconds)."""
    path = write_parquet(val.train, work / "validation_train.parquet")
    grid = []
    for params in _grid(cfg):
        t = time.perf_counter()
        factors = fit_als(spark, path, params, cfg)
        score = (ndcg_at_k(factors, val.train, val.test, max_users=cfg.max_val_users, seed=cfg.seed)
                 if cfg.implicit else rmse(factors, val.test))
        grid.append({**params, ("val_ndcg@10" if cfg.implicit else "val_rmse"): round(score, 5),
                     "seconds": round(time.perf_counter() - t, 2)})
        log(f"  {params}: {'NDCG@10' if cfg.implicit else 'RMSE'} {score:.4f}")
    key = "val_ndcg@10" if cfg.implicit else "val_rmse"
    best = (max if cfg.implicit else min)(grid, key=lambda g: g[key])
    return {k: best[k] for k in ("rank", "regParam", "alpha")}, grid


def train_spark_ranker(dataset: Dataset, split: Split, out: Path, *, config: SparkALSConfig,
                       ranker_config: RankerConfig | None = None, work_dir: Path,
                       log: Callable[[str], None] = print) -> MFRanker:
    """Tune on validation, refit on `split.train`, write the artifact to `out`, and load it.

    The artifact is `MFRanker`'s (weights.npz + ranker.json) and records `engine: spark-als`, the
    Spark settings, the grid and the data fingerprints (`artifacts.expected_metadata`).
    """
    from genrec.data import validation_split
    from genrec.provenance import provenance

    rcfg = ranker_config or RankerConfig(seed=config.seed)
    data = Path(config.data_dir) if config.data_dir else work_dir / "data"
    checkpoints = Path(config.checkpoint_dir) if config.checkpoint_dir else work_dir / "checkpoints"
    val = validation_split(split.train, seed=config.seed)
    t0 = time.perf_counter()
    with spark_session(config, checkpoints) as spark:
        log(f"spark {spark.version} on {config.master}: tuning {len(_grid(config))} grid points "
            f"on {val.name}")
        best, grid = tune_als(spark, val, data, config, log)
        t1 = time.perf_counter()
        factors = fit_als(spark, write_parquet(split.train, data / "train.parquet"), best, config)
        fit_seconds = time.perf_counter() - t1
    shutil.rmtree(checkpoints, ignore_errors=True)
    weights, calib = als_weights(
        factors, split.train, dataset.catalog.ids, implicit=config.implicit, reg=best["regParam"]
    )
    meta = {
        **expected_metadata(dataset, split, rcfg),
        "engine": SPARK_ENGINE,
        "scale": list(split.train.scale),
        "spark": {**config.model_dump(), "best": best, "calibration": calib},
        "validation": {"split": val.name, "grid": grid, "tuning_seconds": round(t1 - t0, 2)},
        "fit_seconds": round(fit_seconds, 3),
        "effective_reg": calib["effective_reg"],
        "seconds_per_iteration": round(fit_seconds / config.max_iter, 4),
        "n_users": len(weights.user_ids),
        "n_items": len(weights.item_ids),
        "n_ratings": len(split.train),
        "provenance": provenance(),
    }
    write_model(out, weights.arrays(), meta)
    return MFRanker.load(out)
