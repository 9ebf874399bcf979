"""Bring-your-own data: validate item and rating files and install them as a named dataset.

Every problem names the file, row and column; nothing half-written is left behind.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from genrec.data import _swap
from genrec.data._model import Catalog, Dataset, Item, Ratings, check_item_noun
from genrec.data.titles import parse_title

ITEMS_FILE, RATINGS_FILE, META_FILE = "items.parquet", "ratings.parquet", "dataset.json"
#: What an imported item is called when the import does not say (--item-noun).
DEFAULT_ITEM_NOUN = "item"


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
    """How to read the files, the rating scale, and what one item is ("book"; plural derived)."""

    columns: ColumnMap = field(default_factory=ColumnMap)
    scale: tuple[float, float] = (1.0, 5.0)
    item_noun: str = DEFAULT_ITEM_NOUN
    item_noun_plural: str | None = None


NAME_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: Built-in datasets and `auto`: an import must not shadow one.
RESERVED = {"ml-100k", "ml-latest-small", "ml-25m", "ml-32m", "auto"}
INT64_MAX = "9223372036854775807"


def check_name(name: str) -> str:
    """The dataset name when usable as a folder: 1-64 of letters, digits, `.`, `_`, `-`
    (starting with a letter or digit), and not a built-in dataset's name."""
    if not isinstance(name, str) or not NAME_RULE.match(name):
        shown = name if len(str(name)) <= 40 else str(name)[:40] + "..."
        raise ImportError_(
            f"dataset name {shown!r} ({len(str(name))} characters) is not usable: "
            "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    if name.lower() in RESERVED:
        raise ImportError_(f"dataset name {name!r} is a built-in dataset; choose another name")
    return name


def _read_table(path: Path) -> pd.DataFrame:
    """The file as strings (CSV/TSV) or as stored (Parquet); the index is each row's line number.

    Bytes that are not UTF-8, ragged rows, unterminated quotes, an empty file or a repeated
    header name are errors naming the line and column."""
    path = Path(path)
    if not path.is_file():
        raise ImportError_(f"{path}: file not found")
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            df = pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - any parser failure is a bad file
            raise ImportError_(f"{path}: cannot be read as Parquet ({exc})") from exc
        df.index = pd.RangeIndex(1, len(df) + 1)
        return df
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ImportError_(f"{path} line {line}, column {col}: byte 0x{raw[exc.start]:02x} is not "
                           "UTF-8; save the file as UTF-8") from None
    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True,
                        skipinitialspace=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for row in reader:
            if row:
                rows.append(row)
                lines.append(reader.line_num)
    except csv.Error as exc:
        line = (lines[-1] if lines else 0) + 1
        where = text.split("\n")[line - 1] if line - 1 < len(text.split("\n")) else ""
        col = where.find('"') + 1 or 1
        raise ImportError_(
            f"{path} line {line}, column {col}: {exc} (an unterminated quote?)"
        ) from None
    if not rows:
        raise ImportError_(f"{path}: the file is empty; it needs a header line and data rows")
    header = [h.strip() for h in rows[0]]
    dup = [h for h in header if header.count(h) > 1]
    if dup:
        raise ImportError_(f"{path} line {lines[0]}: column {dup[0]!r} appears twice in the header")
    for row, line in zip(rows[1:], lines[1:]):
        if len(row) != len(header):
            raise ImportError_(f"{path} line {line}: {len(row)} fields, but the header has "
                               f"{len(header)} (a stray {sep!r} or a missing quote?)")
    return pd.DataFrame(rows[1:], columns=header, index=lines[1:], dtype=str)


def _row(df: pd.DataFrame | pd.Series, i: int) -> str:
    """The file line (CSV, header = line 1) or row number (Parquet) of data row i."""
    return f"row {df.index[i]}"


def _not_empty(df: pd.DataFrame, path: Path, what: str) -> None:
    if len(df) == 0:
        raise ImportError_(f"{path}: no {what}, only a header; add one row per {what[:-1]}")


def _require(df: pd.DataFrame, cols: list[str], path: Path) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ImportError_(
            f"{path}: missing column(s) {missing}; found {list(df.columns)}. "
            "Map your column names with --item-id-col/--title-col/--user-col/--rating-col ..."
        )


def _ints(series: pd.Series, path: Path, col: str) -> np.ndarray:
    """Whole numbers ("12", "-3", "12.0") that fit in 64 bits; else the first bad row."""
    text = pd.Series([str(x).strip() for x in series.to_numpy()], index=series.index, dtype=str)
    form = text.str.fullmatch(r"[+-]?\d+(?:\.0*)?")
    bad = ~form
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ImportError_(f"{path} {_row(series, i)}, column {col}: {series.iloc[i]!r} is not an "
                           "integer id")
    digits = text.str.lstrip("+-").str.split(".").str[0].str.lstrip("0")
    big = (digits.str.len() > len(INT64_MAX)) | ((digits.str.len() == len(INT64_MAX))
                                                  & (digits > INT64_MAX))
    if big.any():
        i = int(np.flatnonzero(big.to_numpy())[0])
        raise ImportError_(f"{path} {_row(series, i)}, column {col}: {series.iloc[i]!r} is outside "
                           "the 64-bit integer range (-9223372036854775807..9223372036854775807)")
    return np.array([int(x.split(".")[0]) for x in text], dtype=np.int64)


def read_items(path: Path, cols: ColumnMap, item_noun: str = DEFAULT_ITEM_NOUN,
               item_noun_plural: str | None = None) -> Catalog:
    df = _read_table(path)
    _require(df, [cols.item_id, cols.title], path)
    _not_empty(df, path, "items")
    ids = _ints(df[cols.item_id], path, cols.item_id)
    dup = pd.Series(ids).duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise ImportError_(
            f"{path} {_row(df, i)}, column {cols.item_id}: duplicate item id {ids[i]}"
        )
    items = []
    for i, rec in enumerate(df.to_dict("records")):
        raw = str(rec[cols.title]).strip()
        if not raw:
            raise ImportError_(f"{path} {_row(df, i)}, column {cols.title}: empty title")
        title, year = parse_title(raw)
        y = str(rec.get(cols.year, "") or "").strip()
        if y:
            try:
                year = int(float(y))
                if not 0 < year < 10000:
                    raise ValueError(y)
            except (ValueError, OverflowError):
                raise ImportError_(
                    f"{path} {_row(df, i)}, column {cols.year}: {y!r} is not a year"
                ) from None
        g = str(rec.get(cols.genres, "") or "").strip()
        genres = tuple(x.strip() for x in g.split(cols.genre_separator) if x.strip()) if g else ()
        desc = str(rec.get(cols.description, "") or "").strip() or None
        known = {cols.item_id, cols.title, cols.year, cols.genres, cols.description}
        extra = {k: v for k, v in rec.items() if k not in known and v not in ("", None)}
        items.append(Item(int(ids[i]), title, year, genres, desc, raw, extra))
    return Catalog(items, item_noun=item_noun, item_noun_plural=item_noun_plural)


def read_ratings(
    path: Path, cols: ColumnMap, scale: tuple[float, float], catalog: Catalog
) -> Ratings:
    df = _read_table(path)
    _require(df, [cols.user, cols.item, cols.rating], path)
    _not_empty(df, path, "ratings")
    users = _ints(df[cols.user], path, cols.user)
    items = _ints(df[cols.item], path, cols.item)
    rating = pd.to_numeric(df[cols.rating].astype(str).str.strip(), errors="coerce")
    rating = rating.where(np.isfinite(rating))
    if rating.isna().any():
        i = int(np.flatnonzero(rating.isna().to_numpy())[0])
        raise ImportError_(
            f"{path} {_row(df, i)}, column {cols.rating}: {df[cols.rating].iloc[i]!r} "
            "is not a number"
        )
    out = (rating < scale[0]) | (rating > scale[1])
    if out.any():
        i = int(np.flatnonzero(out.to_numpy())[0])
        raise ImportError_(
            f"{path} {_row(df, i)}, column {cols.rating}: {rating.iloc[i]:g} is outside the rating "
            f"scale {scale[0]:g}..{scale[1]:g} (set --scale MIN-MAX)"
        )
    unknown = ~np.isin(items, catalog.ids)
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise ImportError_(
            f"{path} {_row(df, i)}, column {cols.item}: item {items[i]} is not in the items file "
            f"({int(unknown.sum())} rating(s) name unknown items)"
        )
    if cols.timestamp in df.columns:
        ts = _ints(df[cols.timestamp], path, cols.timestamp)
    else:
        ts = np.arange(len(df), dtype=np.int64)
    frame = pd.DataFrame(
        {"user": users, "item": items, "rating": rating.to_numpy(), "timestamp": ts}
    )
    dup = frame.duplicated(["user", "item"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise ImportError_(
            f"{path} {_row(df, i)}: user {users[i]} rated item {items[i]} twice; "
            "keep one rating per pair"
        )
    return Ratings(frame, scale=scale)


def import_dataset(
    name: str,
    items_path: Path,
    ratings_path: Path,
    datasets_dir: Path,
    options: ImportOptions | None = None,
) -> Dataset:
    """Validate both files and install them as datasets_dir/NAME (atomically).

    Raises:
        ImportError_: with the file, row and column of the first problem found.
    """
    options = options or ImportOptions()
    check_name(name)
    lo, hi = options.scale
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
        raise ImportError_(f"rating scale {lo:g}..{hi:g} is not usable; give finite MIN < MAX")
    try:
        check_item_noun(options.item_noun, options.item_noun_plural)
    except ValueError as exc:
        raise ImportError_(str(exc)) from None
    catalog = read_items(Path(items_path), options.columns, options.item_noun,
                         options.item_noun_plural)
    catalog.name = name
    ratings = read_ratings(Path(ratings_path), options.columns, options.scale, catalog)
    datasets_dir = Path(datasets_dir)
    datasets_dir.mkdir(parents=True, exist_ok=True)
    target = datasets_dir / name
    _swap.clean_leftovers(datasets_dir)
    _swap.recover(target, META_FILE)
    with tempfile.TemporaryDirectory(dir=datasets_dir, prefix=_swap.work_prefix(name)) as tmp:
        work = Path(tmp) / name
        work.mkdir()
        items_frame = catalog.to_frame()
        items_frame["extra"] = [
            json.dumps(it.extra, ensure_ascii=False, default=str) for it in catalog
        ]
        items_frame.to_parquet(work / ITEMS_FILE, index=False)
        ratings.df.to_parquet(work / RATINGS_FILE, index=False)
        meta = {
            "name": name,
            "source": {
                "items": str(Path(items_path).resolve()),
                "ratings": str(Path(ratings_path).resolve()),
            },
            "scale": list(options.scale),
            "item_noun": catalog.item_noun,
            "item_noun_plural": catalog.item_noun_plural,
            "catalog_fingerprint": catalog.fingerprint(),
        }
        (work / META_FILE).write_text(json.dumps(meta, indent=2))
        _swap.install(work, target)
    return Dataset(name, catalog, ratings)


def load_imported(path: Path) -> Dataset:
    """Read a dataset written by import_dataset."""
    meta = json.loads((path / META_FILE).read_text())
    items = pd.read_parquet(path / ITEMS_FILE)
    cat = Catalog(
        (
            Item(
                int(r["item_id"]),
                r["title"],
                None if pd.isna(r["year"]) else int(r["year"]),
                tuple(g for g in (r["genres"] or "").split("|") if g),
                r["description"] or None,
                None,
                json.loads(r["extra"]) if r.get("extra") else {},
            )
            for r in items.to_dict("records")
        ),
        name=meta["name"],
        item_noun=meta.get("item_noun", DEFAULT_ITEM_NOUN),
        item_noun_plural=meta.get("item_noun_plural"),
    )
    return Dataset(
        meta["name"], cat, Ratings(pd.read_parquet(path / RATINGS_FILE), scale=tuple(meta["scale"]))
    )
