"""The on-disk form of a saved ranker: named arrays in weights.npz plus ranker.json metadata in
a folder.

Written atomically; read back only when the format and genrec versions (and any expected
metadata) match, so a stale or foreign model is refused, never silently misread.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

import genrec
from genrec.ranking.types import ModelFileError

__all__ = ["FORMAT_VERSION", "META_FILE", "WEIGHTS_FILE", "check_metadata", "read_metadata",
           "read_model", "write_model"]

FORMAT_VERSION = 1
META_FILE, WEIGHTS_FILE = "ranker.json", "weights.npz"


def write_model(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray],
                metadata: Mapping[str, Any]) -> None:
    """Write `arrays` and `metadata` (plus format and genrec version) into folder `path`.

    The folder is built next to `path` and renamed into place, so a half-written model is never
    left behind; an existing folder at `path` is replaced.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        np.savez(tmp / WEIGHTS_FILE, **arrays)  # type: ignore[arg-type]  # numpy's stub is too narrow
        meta = {**metadata, "format_version": FORMAT_VERSION, "genrec_version": genrec.__version__}
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
        raise ModelFileError(
            f"{path}: no saved ranker here (missing {META_FILE}); train one with `genrec train`"
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelFileError(
            f"{meta_path}: unreadable ({exc}); delete the folder and retrain"
        ) from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"{meta_path}: not a JSON object; delete the folder and retrain")
    return meta


def check_metadata(
    meta: Mapping[str, Any], expected: Mapping[str, Any] | None, where: str | os.PathLike[str]
) -> None:
    """Raise ModelFileError when the format/genrec version or any `expected` key differs."""
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{where}: ranker file format {meta.get('format_version')!r}, this genrec reads "
            f"{FORMAT_VERSION}; retrain with `genrec train`"
        )
    if meta.get("genrec_version") != genrec.__version__:
        raise ModelFileError(
            f"{where}: saved by genrec {meta.get('genrec_version')!r}, "
            f"this is {genrec.__version__}; "
            "retrain with `genrec train`"
        )
    diffs = [
        f"{k}: file has {meta.get(k)!r}, expected {v!r}"
        for k, v in (expected or {}).items()
        if meta.get(k) != v
    ]
    if diffs:
        raise ModelFileError(
            f"{where}: saved ranker does not match ({'; '.join(diffs)}); retrain it"
        )


def read_model(
    path: str | os.PathLike[str], *, expected: Mapping[str, Any] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(arrays, metadata) of a folder written by `write_model`; see `check_metadata` for
    refusals."""
    meta = read_metadata(path)
    check_metadata(meta, expected, path)
    try:
        with np.load(Path(path) / WEIGHTS_FILE) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:  # noqa: BLE001 - any corruption is the same user error
        raise ModelFileError(
            f"{path}: weights unreadable ({exc}); delete the folder and retrain"
        ) from None
    return arrays, meta
