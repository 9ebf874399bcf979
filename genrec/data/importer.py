"""Bring-your-own data: validate item and rating files and install them as a named dataset.

Every problem names the file, row and column; nothing half-written is left behind.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from genrec.data._model import Catalog, Dataset, Item, Ratings
from genrec.data.titles import parse_title

ITEMS_FILE, RATINGS_FILE, META_FILE = "items.parquet", "ratings.parquet", "dataset.json"


class ImportError_(ValueError):
    """A user file that cannot be imported; the message says where and why."""


@dataclass(frozen=True)
class ColumnMap:
    """Which columns of the user's files hold each field (defaults are the field names)."""

    item_id: str = "item_id"
    title: str = "title"
    year: str = "year"
    genres: str = "genres"
    description: str = "description"
    user: str = "user_id"
    item: str = "item_id"
    rating: str = "rating"
    timestamp: str = "timestamp"
    genre_separator: str = "|"


@dataclass(frozen=True)
class ImportOptions:
    columns: ColumnMap = field(default_factory=ColumnMap)
    scale: tuple[float, float] = (1.0, 5.0)


def _read_table(path: Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise ImportError_(f"{path}: file not found")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, skipinitialspace=True)
    except ImportError_:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure is a bad file
        raise ImportError_(f"{path}: cannot be read as a table ({exc})") from exc


def _row(i: int, path: Path) -> str:
    """Human row number: the header is line 1 in a CSV, so data row i is line i+2."""
    return f"row {i + 2}" if path.suffix.lower() not in (".parquet", ".pq") else f"row {i + 1}"


def _require(df: pd.DataFrame, cols: list[str], path: Path) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ImportError_(
            f"{path}: missing column(s) {missing}; found {list(df.columns)}. "
            "Map your column names with --item-id-col/--title-col/--user-col/--rating-col ..."
        )


def _ints(series: pd.Series, path: Path, col: str) -> np.ndarray:
    vals = pd.to_numeric(series.astype(str).str.strip(), errors="coerce")
    bad = vals.isna() | (vals != vals.round())
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ImportError_(f"{path} {_row(i, path)}, column {col}: {series.iloc[i]!r} is not an integer id")
    return vals.to_numpy(dtype=np.int64)


def read_items(path: Path, cols: ColumnMap) -> Catalog:
    df = _read_table(path)
    _require(df, [cols.item_id, cols.title], path)
    ids = _ints(df[cols.item_id], path, cols.item_id)
    dup = pd.Series(ids).duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise ImportError_(f"{path} {_row(i, path)}, column {cols.item_id}: duplicate item id {ids[i]}")
    items = []
    for i, rec in enumerate(df.to_dict("records")):
        raw = str(rec[cols.title]).strip()
        if not raw:
            raise ImportError_(f"{path} {_row(i, path)}, column {cols.title}: empty title")
        title, year = parse_title(raw)
        y = str(rec.get(cols.year, "") or "").strip()
        if y:
            try:
                year = int(float(y))
            except ValueError:
                raise ImportError_(f"{path} {_row(i, path)}, column {cols.year}: {y!r} is not a year") from None
        g = str(rec.get(cols.genres, "") or "").strip()
        genres = tuple(x.strip() for x in g.split(cols.genre_separator) if x.strip()) if g else ()
        desc = str(rec.get(cols.description, "") or "").strip() or None
        known = {cols.item_id, cols.title, cols.year, cols.genres, cols.description}
        extra = {k: v for k, v in rec.items() if k not in known and v not in ("", None)}
        items.append(Item(int(ids[i]), title, year, genres, desc, raw, extra))
    return Catalog(items)


def read_ratings(path: Path, cols: ColumnMap, scale: tuple[float, float], catalog: Catalog) -> Ratings:
    df = _read_table(path)
    _require(df, [cols.user, cols.item, cols.rating], path)
    users = _ints(df[cols.user], path, cols.user)
    items = _ints(df[cols.item], path, cols.item)
    rating = pd.to_numeric(df[cols.rating].astype(str).str.strip(), errors="coerce")
    if rating.isna().any():
        i = int(np.flatnonzero(rating.isna().to_numpy())[0])
        raise ImportError_(f"{path} {_row(i, path)}, column {cols.rating}: {df[cols.rating].iloc[i]!r} is not a number")
    out = (rating < scale[0]) | (rating > scale[1])
    if out.any():
        i = int(np.flatnonzero(out.to_numpy())[0])
        raise ImportError_(
            f"{path} {_row(i, path)}, column {cols.rating}: {rating.iloc[i]:g} is outside the rating "
            f"scale {scale[0]:g}..{scale[1]:g} (set --scale MIN-MAX)"
        )
    unknown = ~np.isin(items, catalog.ids)
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise ImportError_(
            f"{path} {_row(i, path)}, column {cols.item}: item {items[i]} is not in the items file "
            f"({int(unknown.sum())} rating(s) name unknown items)"
        )
    if cols.timestamp in df.columns:
        ts = _ints(df[cols.timestamp], path, cols.timestamp)
    else:
        ts = np.arange(len(df), dtype=np.int64)
    frame = pd.DataFrame({"user": users, "item": items, "rating": rating.to_numpy(), "timestamp": ts})
    dup = frame.duplicated(["user", "item"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise ImportError_(
            f"{path} {_row(i, path)}: user {users[i]} rated item {items[i]} twice; keep one rating per pair"
        )
    return Ratings(frame, scale=scale)


def import_dataset(
    name: str, items_path: Path, ratings_path: Path, datasets_dir: Path, options: ImportOptions | None = None
) -> Dataset:
    """Validate both files and install them as datasets_dir/NAME (atomically).

    Raises:
        ImportError_: with the file, row and column of the first problem found.
    """
    options = options or ImportOptions()
    if not name or "/" in name or name.startswith("."):
        raise ImportError_(f"dataset name {name!r} is not a simple folder name")
    lo, hi = options.scale
    if lo >= hi:
        raise ImportError_(f"rating scale {lo:g}..{hi:g} is empty; give MIN < MAX")
    catalog = read_items(Path(items_path), options.columns)
    catalog.name = name
    ratings = read_ratings(Path(ratings_path), options.columns, options.scale, catalog)
    datasets_dir = Path(datasets_dir)
    datasets_dir.mkdir(parents=True, exist_ok=True)
    target = datasets_dir / name
    with tempfile.TemporaryDirectory(dir=datasets_dir, prefix=f".import-{name}-") as tmp:
        work = Path(tmp) / name
        work.mkdir()
        items_frame = catalog.to_frame()
        items_frame["extra"] = [json.dumps(it.extra, ensure_ascii=False, default=str) for it in catalog]
        items_frame.to_parquet(work / ITEMS_FILE, index=False)
        ratings.df.to_parquet(work / RATINGS_FILE, index=False)
        meta = {
            "name": name,
            "source": {"items": str(Path(items_path).resolve()), "ratings": str(Path(ratings_path).resolve())},
            "scale": list(options.scale),
            "catalog_fingerprint": catalog.fingerprint(),
        }
        (work / META_FILE).write_text(json.dumps(meta, indent=2))
        old = datasets_dir / f".{name}.old"
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
        work.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    return Dataset(name, catalog, ratings)


def load_imported(path: Path) -> Dataset:
    """Read a dataset written by import_dataset."""
    meta = json.loads((path / META_FILE).read_text())
    items = pd.read_parquet(path / ITEMS_FILE)
    cat = Catalog(
        (
            Item(
                int(r["item_id"]), r["title"], None if pd.isna(r["year"]) else int(r["year"]),
                tuple(g for g in (r["genres"] or "").split("|") if g), r["description"] or None, None,
                json.loads(r["extra"]) if r.get("extra") else {},
            )
            for r in items.to_dict("records")
        ),
        name=meta["name"],
    )
    return Dataset(meta["name"], cat, Ratings(pd.read_parquet(path / RATINGS_FILE), scale=tuple(meta["scale"])))
