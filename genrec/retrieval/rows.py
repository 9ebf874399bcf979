"""What the index should hold for a catalog: one row per item (text, filter metadata, hashes) and
the fingerprint of them all, which says whether a stored index is up to date.

The rows depend on the catalog, the text template and the embedder only, never on ratings: item
popularity is not stored in the index (schema 2; schema 1 stored whole-dataset rating counts).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from genrec.data import Catalog, Item
from genrec.retrieval.filters import UNKNOWN_YEAR, genre_key
from genrec.retrieval.text import TEXT_VERSION, item_text, text_hash

# 1: metadata carried "popularity" (rating counts over the whole dataset);
# 2: no ratings in the index
SCHEMA_VERSION = "2"


@dataclass
class IndexRow:
    """One item as the index stores it. `text_hash` decides whether its vector can be reused,
    `row_hash` (text and metadata) whether a staging build already holds it."""

    item_id: int
    text: str
    text_hash: str
    row_hash: str
    metadata: dict[str, Any] = field(repr=False)


def item_metadata(item: Item, genres: list[str]) -> dict[str, Any]:
    """The filterable metadata of one item: id, title, year (0 if unknown), genres, one
    boolean `g_<Genre>` key per catalog genre.

    >>> from genrec.data import Item
    >>> item_metadata(Item(1, "Heat", 1995, ("Action",)), ["Action", "Drama"])
    ... # doctest: +NORMALIZE_WHITESPACE
    {'item_id': 1, 'title': 'Heat', 'year': 1995, 'genres': 'Action', 'g_Action': True,
     'g_Drama': False}
    """
    md: dict[str, Any] = {
        "item_id": item.item_id,
        "title": item.title,
        "year": item.year if item.year is not None else UNKNOWN_YEAR,
        "genres": "|".join(item.genres),
    }
    gset = set(item.genres)
    for g in genres:
        md[genre_key(g)] = g in gset
    return md


def index_rows(catalog: Catalog, *, tags: bool = True) -> list[IndexRow]:
    """Text, hashes and metadata of every catalog item, in catalog order (`tags`: see
    `item_text`)."""
    genres = catalog.genres
    rows = []
    for item in catalog:
        text = item_text(item, tags=tags)
        md = item_metadata(item, genres)
        th = text_hash(text)
        rh = hashlib.sha256(f"{th}\0{json.dumps(md, sort_keys=True)}".encode()).hexdigest()[:16]
        md["text_hash"], md["row_hash"] = th, rh
        rows.append(IndexRow(item.item_id, text, th, rh, md))
    return rows


def fingerprint(rows: list[IndexRow], embedder_name: str) -> str:
    """Hash of everything the index should hold (items, texts, metadata, embedder, schema),
    16 hex."""
    h = hashlib.sha256(f"{SCHEMA_VERSION}\0{TEXT_VERSION}\0{embedder_name}".encode())
    for r in rows:
        h.update(f"{r.item_id}:{r.row_hash};".encode())
    return h.hexdigest()[:16]
