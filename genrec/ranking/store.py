"""Saving, loading and caching trained rankers: weights.npz plus ranker.json metadata in a folder.

A model records what it was built from (dataset, split, catalog fingerprint, params, versions);
`load_or_train_ranker` retrains when any of that differs from what is asked for.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

import genrec
from genrec.ranking._config import ModelFileError, RankerConfig

if TYPE_CHECKING:
    from genrec.config import Settings
    from genrec.data import Dataset, Ratings, Split
    from genrec.ranking.ranker import MFRanker

FORMAT_VERSION = 1
META_FILE, WEIGHTS_FILE = "ranker.json", "weights.npz"


def ratings_fingerprint(ratings: Ratings) -> str:
    """A short hash of the (user, item, rating) triples, order-independent."""
    df = ratings.df.sort_values(["user", "item"], kind="stable")
    h = hashlib.sha256()
    for col in ("user", "item", "rating"):
        h.update(np.ascontiguousarray(df[col].to_numpy()).tobytes())
    return h.hexdigest()[:16]


def save_ranker(ranker: MFRanker, path: str | os.PathLike[str]) -> None:
    """Write `ranker` into folder `path` atomically (a half-written model is never left behind)."""
    ranker._need_fit()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        arrays = {
            "user_ids": ranker.user_ids, "item_ids": ranker.item_ids,
            "item_codes": ranker._h, "user_factors": ranker._w, "user_bias": ranker._b,
            "train_indptr": ranker._train.indptr, "train_indices": ranker._train.indices,
            "train_data": ranker._train.data, "popularity": ranker._pop,
        }
        if ranker._ease is not None:
            arrays["ease"] = ranker._ease
        np.savez(tmp / WEIGHTS_FILE, **arrays)
        meta = {
            **ranker.metadata,
            "format_version": FORMAT_VERSION,
            "genrec_version": genrec.__version__,
            "params": ranker.config.model_dump(),
            "scale": list(ranker.scale),
        }
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ranker.json of a saved model; ModelFileError when missing or unreadable."""
    meta_path = Path(path) / META_FILE
    if not meta_path.is_file():
        raise ModelFileError(f"{path}: no saved ranker here (missing {META_FILE}); train one with `genrec train`")
    try:
        return json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{meta_path}: unreadable ({exc}); delete the folder and retrain") from None


def check_metadata(meta: Mapping[str, Any], expected: Mapping[str, Any] | None, where: Any) -> None:
    """Raise ModelFileError when the format/genrec version or any `expected` key differs."""
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{where}: ranker file format {meta.get('format_version')!r}, this genrec reads "
            f"{FORMAT_VERSION}; retrain with `genrec train`"
        )
    if meta.get("genrec_version") != genrec.__version__:
        raise ModelFileError(
            f"{where}: saved by genrec {meta.get('genrec_version')!r}, this is {genrec.__version__}; "
            "retrain with `genrec train`"
        )
    diffs = [
        f"{k}: file has {meta.get(k)!r}, expected {v!r}"
        for k, v in (expected or {}).items()
        if meta.get(k) != v
    ]
    if diffs:
        raise ModelFileError(f"{where}: saved ranker does not match ({'; '.join(diffs)}); retrain it")


def load_ranker(path: str | os.PathLike[str], *, expected: Mapping[str, Any] | None = None) -> MFRanker:
    """Read a model folder written by `save_ranker`; see `check_metadata` for what is refused."""
    from genrec.ranking.ranker import MFRanker

    meta = read_metadata(path)
    check_metadata(meta, expected, path)
    try:
        with np.load(Path(path) / WEIGHTS_FILE) as z:
            a = {k: z[k] for k in z.files}
        ranker = MFRanker(RankerConfig(**meta["params"]))
    except Exception as exc:  # noqa: BLE001 - any corruption is the same user error
        raise ModelFileError(f"{path}: weights unreadable ({exc}); delete the folder and retrain") from None
    lo, hi = meta["scale"]
    ranker.scale, ranker._shift = (float(lo), float(hi)), 1.0 - float(lo)
    ranker.user_ids, ranker.item_ids = a["user_ids"], a["item_ids"]
    ranker._uidx = {int(u): j for j, u in enumerate(ranker.user_ids)}
    ranker._iidx = {int(i): j for j, i in enumerate(ranker.item_ids)}
    ranker._h, ranker._w, ranker._b = a["item_codes"], a["user_factors"], a["user_bias"]
    ranker._train = sp.csr_matrix(
        (a["train_data"], a["train_indices"], a["train_indptr"]),
        shape=(len(ranker.user_ids), len(ranker.item_ids)),
    )
    ranker._pop = a["popularity"]
    ranker._ease = a.get("ease")
    ranker.metadata = dict(meta)
    ranker._fitted = True
    ranker._prep_similar()
    return ranker


def model_dir(settings: Settings, dataset: str, split: str) -> Path:
    """Where the cached ranker of (dataset, split) lives: models_dir/<dataset>/<split>/ranker."""
    safe = split.replace(":", "_").replace("/", "_")
    return settings.models_dir / dataset / safe / "ranker"


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
    the best validation epoch count. Validation figures are kept in ``metadata["validation"]``.
    """
    from genrec.data import validation_split
    from genrec.ranking.ranker import MFRanker

    config = config or RankerConfig(seed=seed)
    val = validation_split(split.train, seed=seed)
    probe = MFRanker(config).fit(val.train, validation=val.test, items=dataset.catalog.ids, progress=progress)
    ranker = MFRanker(config).fit(split.train, items=dataset.catalog.ids, progress=progress,
                                  stop_epoch=int(probe.metadata["best_epoch"]) or None)
    ranker.metadata.update(expected_metadata(dataset, split, config))
    ranker.metadata["validation"] = {
        "split": val.name,
        "val_rmse": probe.metadata["best_val_rmse"],
        "best_epoch": probe.metadata["best_epoch"],
        "history": probe.metadata["history"],
        "fit_seconds": probe.metadata["fit_seconds"],
    }
    return ranker


def load_or_train_ranker(
    settings: Settings,
    dataset: Dataset,
    split: Split,
    *,
    config: RankerConfig | None = None,
    progress: bool = True,
) -> MFRanker:
    """The cached ranker for (dataset, split) under settings.models_dir, (re)trained when missing
    or stale (dataset, split, catalog, training ratings, params or genrec version differ)."""
    from genrec.ranking.ranker import MFRanker

    config = config or RankerConfig(seed=settings.seed, device=_device(settings))
    where = model_dir(settings, dataset.name, split.name)
    try:
        return MFRanker.load(where, expected=expected_metadata(dataset, split, config))
    except ModelFileError:
        pass
    ranker = train_ranker(dataset, split, config=config, seed=settings.seed, progress=progress)
    ranker.save(where)
    return ranker


def _device(settings: Settings) -> str:
    return settings.device if settings.device in ("auto", "cpu", "cuda") else "auto"
