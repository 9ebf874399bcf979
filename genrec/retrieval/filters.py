"""Search filters: the typed model the agent fills in, its validation, and its two evaluations.

A `SearchFilters` is checked against the catalog, then either translated to a Chroma `where`
clause or evaluated as a boolean mask over an in-memory table of the catalog's metadata.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, Field

from genrec.data import Catalog

YEAR_MIN, YEAR_MAX = 1800, 2100
UNKNOWN_YEAR = 0  # stored for items without a year; never matches a year filter
GENRE_KEY_PREFIX = "g_"


class InvalidFilterError(ValueError):
    """A filter that cannot mean anything: unknown genre, year out of range, min > max."""


class FilterableItem(Protocol):
    """What a filter reads of an item (a catalog `Item` has it)."""

    @property
    def item_id(self) -> int: ...

    @property
    def genres(self) -> Sequence[str]: ...

    @property
    def year(self) -> int | None: ...


class SearchFilters(BaseModel):
    """Hard constraints on a search. Every field is optional; all given fields must hold.

    >>> SearchFilters(genres_any=["Comedy"], year_min=1990, year_max=1999).is_empty()
    False
    """

    genres_any: list[str] = Field(
        default_factory=list, description="Item has at least one of these genres."
    )
    genres_none: list[str] = Field(
        default_factory=list, description="Item has none of these genres."
    )
    year_min: int | None = Field(None, description="Earliest release year (inclusive).")
    year_max: int | None = Field(None, description="Latest release year (inclusive).")
    exclude_ids: list[int] = Field(default_factory=list, description="Item ids never to return.")
    include_ids: list[int] | None = Field(None, description="Only these item ids (None: any item).")

    def is_empty(self) -> bool:
        return (not self.genres_any and not self.genres_none and self.year_min is None
                and self.year_max is None and not self.exclude_ids and self.include_ids is None)

    def allows(self, item: FilterableItem) -> bool:
        """True when one catalog item (with `item_id`, `genres`, `year`) meets every filter.

        The same rule as `FilterTable.mask` and `to_where`, item by item: the final guard on
        anything an LLM or a tool proposes. An item without a year fails any year bound.

        >>> from types import SimpleNamespace as Item
        >>> f = SearchFilters(genres_none=["Horror"], year_min=1980)
        >>> dated = Item(item_id=1, genres=["Comedy"], year=1985)
        >>> undated = Item(item_id=2, genres=["Comedy"], year=None)
        >>> f.allows(dated), f.allows(undated)
        (True, False)
        """
        genres = set(item.genres)
        if self.genres_any and not genres & set(self.genres_any):
            return False
        if genres & set(self.genres_none):
            return False
        if self.year_min is not None and (item.year is None or item.year < self.year_min):
            return False
        if self.year_max is not None and (item.year is None or item.year > self.year_max):
            return False
        if self.include_ids is not None and item.item_id not in self.include_ids:
            return False
        return item.item_id not in self.exclude_ids


def _genre_norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def genre_key(genre: str) -> str:
    """The boolean metadata key of a genre, e.g. "g_Comedy"."""
    return f"{GENRE_KEY_PREFIX}{genre}"


def validate(filters: SearchFilters | None, genres: list[str]) -> SearchFilters:
    """Check filters against the catalog's genre vocabulary and return them with canonical genres.

    Genres match case- and punctuation-insensitively ("childrens" -> "Children's", "sci fi" ->
    "Sci-Fi").

    Raises:
        InvalidFilterError: unknown genre (the message lists the known ones), a year outside
            1800..2100, or year_min > year_max.
    """
    f = filters or SearchFilters()
    by_norm = {_genre_norm(g): g for g in genres}

    def canon(names: list[str], field: str) -> list[str]:
        out = []
        for g in names:
            c = by_norm.get(_genre_norm(str(g)))
            if c is None:
                raise InvalidFilterError(
                    f"{field}: unknown genre {g!r}; known genres: {', '.join(genres) or '(none)'}"
                )
            if c not in out:
                out.append(c)
        return out

    for field in ("year_min", "year_max"):
        y = getattr(f, field)
        if y is not None and not YEAR_MIN <= y <= YEAR_MAX:
            raise InvalidFilterError(
                f"{field}={y} is not a plausible year; give a year in {YEAR_MIN}..{YEAR_MAX}"
            )
    if f.year_min is not None and f.year_max is not None and f.year_min > f.year_max:
        raise InvalidFilterError(f"year_min={f.year_min} is after year_max={f.year_max}; swap them")
    return f.model_copy(update={
        "genres_any": canon(f.genres_any, "genres_any"),
        "genres_none": canon(f.genres_none, "genres_none"),
        "exclude_ids": sorted({int(i) for i in f.exclude_ids}),
        "include_ids": None if f.include_ids is None else sorted({int(i) for i in f.include_ids}),
    })


def to_where(filters: SearchFilters) -> dict[str, Any] | None:
    """Translate (validated) filters to a Chroma `where` clause; None when there is no filter.

    Every item stores one boolean key per catalog genre (`g_<Genre>`), its year (0 when
    unknown) and its id, so: genres_any -> `$or` of `g_X == True`; genres_none -> `g_X == False`
    each; years -> `$gte` / `$lte` (a year_max alone also excludes unknown years); ids -> `$in` /
    `$nin` on `item_id`.

    >>> to_where(SearchFilters(genres_any=["Comedy"], year_max=1999))
    {'$and': [{'g_Comedy': True}, {'year': {'$gte': 1800}}, {'year': {'$lte': 1999}}]}
    """
    clauses: list[dict[str, Any]] = []
    if filters.genres_any:
        ors = [{genre_key(g): True} for g in filters.genres_any]
        clauses.append(ors[0] if len(ors) == 1 else {"$or": ors})
    clauses.extend({genre_key(g): False} for g in filters.genres_none)
    if filters.year_min is not None or filters.year_max is not None:
        clauses.append(
            {"year": {"$gte": filters.year_min if filters.year_min is not None else YEAR_MIN}}
        )
    if filters.year_max is not None:
        clauses.append({"year": {"$lte": filters.year_max}})
    if filters.include_ids is not None:
        clauses.append({"item_id": {"$in": list(filters.include_ids)}})
    if filters.exclude_ids:
        clauses.append({"item_id": {"$nin": list(filters.exclude_ids)}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


@dataclass
class FilterTable:
    """The catalog's filterable metadata as arrays, so a filter is a vectorised mask (µs at 1M
    items)."""

    ids: np.ndarray          # int64, catalog order
    years: np.ndarray        # int32, UNKNOWN_YEAR when missing
    genres: list[str]
    genre_matrix: np.ndarray  # bool (n_items, n_genres)

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> FilterTable:
        genres = catalog.genres
        col = {g: j for j, g in enumerate(genres)}
        n = len(catalog)
        years = np.full(n, UNKNOWN_YEAR, dtype=np.int32)
        gm = np.zeros((n, len(genres)), dtype=bool)
        for i, it in enumerate(catalog):
            if it.year is not None:
                years[i] = it.year
            for g in it.genres:
                gm[i, col[g]] = True
        return cls(catalog.ids, years, genres, gm)

    def mask(self, filters: SearchFilters) -> np.ndarray:
        """Boolean mask over catalog rows for validated filters."""
        m = np.ones(len(self.ids), dtype=bool)
        col = {g: j for j, g in enumerate(self.genres)}
        if filters.genres_any:
            m &= self.genre_matrix[:, [col[g] for g in filters.genres_any]].any(axis=1)
        if filters.genres_none:
            m &= ~self.genre_matrix[:, [col[g] for g in filters.genres_none]].any(axis=1)
        if filters.year_min is not None or filters.year_max is not None:
            m &= self.years >= (filters.year_min if filters.year_min is not None else YEAR_MIN)
        if filters.year_max is not None:
            m &= self.years <= filters.year_max
        if filters.include_ids is not None:
            m &= np.isin(self.ids, np.asarray(filters.include_ids, dtype=np.int64))
        if filters.exclude_ids:
            m &= ~np.isin(self.ids, np.asarray(filters.exclude_ids, dtype=np.int64))
        return m
