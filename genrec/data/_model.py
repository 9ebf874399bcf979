"""The explicit data model every stage shares: items, catalogs, ratings and splits.

Item ids and user ids are integers; ratings live in one pandas DataFrame with fixed columns.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from genrec.data.titles import split_title

RATING_COLUMNS = ("user", "item", "rating", "timestamp")


class UnknownItemError(KeyError):
    """An item id that is not in the catalog."""

    def __str__(self) -> str:  # KeyError quotes its message; we want plain text
        return str(self.args[0]) if self.args else "unknown item"


@dataclass(frozen=True)
class Item:
    """One catalog entry.

    `title` is the display title ("The Shawshank Redemption"); `raw_title` is the title as the
    source wrote it ("Shawshank Redemption, The (1994)"). `year` may be None. `aliases` are other
    titles of the same item ("12 Monkeys" for "Twelve Monkeys"), shown as "also known as".
    """

    item_id: int
    title: str
    year: int | None = None
    genres: tuple[str, ...] = ()
    description: str | None = None
    raw_title: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    aliases: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """Title with year, e.g. "Toy Story (1995)"."""
        return f"{self.title} ({self.year})" if self.year else self.title

    @property
    def names(self) -> tuple[str, ...]:
        """Every name the item answers to: the title, its aliases and the main title as the source
        wrote it ("Matrix, The"), without repeats.

        >>> Item(1, "The Matrix", 1999, raw_title="Matrix, The (1999)", aliases=("Matrix",)).names
        ('The Matrix', 'Matrix', 'Matrix, The')
        """
        written = split_title(self.raw_title).written if self.raw_title else ""
        return tuple(n for n in dict.fromkeys((self.title, *self.aliases, written)) if n)

    @property
    def tags(self) -> tuple[tuple[str, int], ...]:
        """The tags viewers gave the item, most frequent first, each with how many viewers gave it
        (`extra["tags"]` as MovieLens-latest's reader stores it; () for any other shape).

        >>> Item(1, "Inception", extra={"tags": [["mind-bending", 12], ["dreams", 3]]}).tags
        (('mind-bending', 12), ('dreams', 3))
        """
        raw = self.extra.get("tags")
        if not isinstance(raw, (list, tuple)):
            return ()
        return tuple((str(t[0]), int(t[1])) for t in raw
                     if isinstance(t, (list, tuple)) and len(t) == 2 and str(t[0]).strip())

    @property
    def links(self) -> tuple[tuple[str, str], ...]:
        """(site, URL) of the item's IMDb and TMDb pages when the catalog records their ids
        (`extra["imdb_id"]`, `extra["tmdb_id"]`, as in MovieLens-latest's links.csv).

        >>> Item(1, "Toy Story", extra={"imdb_id": "tt0114709", "tmdb_id": "862"}).links
        (('IMDb', 'https://www.imdb.com/title/tt0114709/'), ('TMDb', 'https://www.themoviedb.org/movie/862'))
        """
        out = []
        imdb, tmdb = str(self.extra.get("imdb_id") or ""), str(self.extra.get("tmdb_id") or "")
        if re.fullmatch(r"tt\d{7,10}", imdb):
            out.append(("IMDb", f"https://www.imdb.com/title/{imdb}/"))
        if re.fullmatch(r"\d{1,10}", tmdb):
            out.append(("TMDb", f"https://www.themoviedb.org/movie/{tmdb}"))
        return tuple(out)


ITEM_NOUN_RULE = re.compile(r"^[A-Za-z][A-Za-z' -]{0,39}$")


def plural_noun(noun: str) -> str:
    """The plural of an English item noun: movie -> movies, series -> series, box -> boxes.

    >>> [plural_noun(n) for n in ("movie", "book", "story", "box", "series", "dish")]
    ['movies', 'books', 'stories', 'boxes', 'series', 'dishes']
    """
    if noun.endswith(("series", "species")):
        return noun
    if noun.endswith("y") and len(noun) > 1 and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + ("es" if noun.endswith(("s", "x", "z", "ch", "sh")) else "s")


def _lower_words(text: str) -> str:
    return " ".join(w if len(w) > 1 and w.isupper() else w.lower() for w in str(text).split())


def check_item_noun(noun: str, plural: str | None = None) -> tuple[str, str]:
    """(noun, plural) in lower case (acronyms kept: DVD), spaces tidied; else ValueError.

    >>> check_item_noun(" Board  Game "), check_item_noun("DVD")
    (('board game', 'board games'), ('DVD', 'DVDs'))
    """
    clean = _lower_words(noun)
    if not ITEM_NOUN_RULE.match(clean):
        raise ValueError(f"item noun {noun!r} is not usable: give a singular English noun in "
                         "letters, e.g. book, product or board game")
    many = _lower_words(plural) if plural else plural_noun(clean)
    if not ITEM_NOUN_RULE.match(many):
        raise ValueError(f"item noun plural {plural!r} is not usable: give letters, e.g. books")
    return clean, many


class Catalog:
    """An ordered, id-indexed collection of items, with the noun for one of them.

    `item_noun` says what an item is ("movie", "book", "product"), for titles, prompts and
    rationales; `item_noun_plural` is its plural ("movies").

    >>> cat = Catalog([Item(1, "Toy Story", 1995, ("Animation",))])
    >>> cat[1].title, len(cat), 1 in cat, cat.item_noun, cat.item_noun_plural
    ('Toy Story', 1, True, 'movie', 'movies')
    """

    def __init__(self, items: Iterable[Item], *, name: str = "catalog", item_noun: str = "movie",
                 item_noun_plural: str | None = None) -> None:
        self.name = name
        self.item_noun, self.item_noun_plural = check_item_noun(item_noun, item_noun_plural)
        self._items: list[Item] = list(items)
        self._by_id: dict[int, Item] = {}
        for it in self._items:
            if it.item_id in self._by_id:
                raise ValueError(f"catalog {name!r}: duplicate item id {it.item_id}")
            self._by_id[it.item_id] = it

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self._items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._by_id

    def __getitem__(self, item_id: int) -> Item:
        try:
            return self._by_id[int(item_id)]
        except (KeyError, ValueError, TypeError):
            raise UnknownItemError(
                f"item id {item_id!r} is not in catalog {self.name!r} "
                f"({len(self)} items, ids {self.min_id}..{self.max_id})"
            ) from None

    def get(self, item_id: int) -> Item | None:
        return self._by_id.get(item_id)

    @property
    def ids(self) -> np.ndarray:
        return np.fromiter((it.item_id for it in self._items), dtype=np.int64, count=len(self))

    @property
    def min_id(self) -> int | None:
        return min(self._by_id) if self._by_id else None

    @property
    def max_id(self) -> int | None:
        return max(self._by_id) if self._by_id else None

    @property
    def genres(self) -> list[str]:
        """Every genre used in the catalog, sorted."""
        return sorted({g for it in self._items for g in it.genres})

    def fingerprint(self) -> str:
        """A short content hash; changes when any item's id, title, year, genres or text change."""
        h = hashlib.sha256()
        for it in self._items:
            h.update(
                json.dumps(
                    [it.item_id, it.title, it.year, list(it.genres), it.description],
                    ensure_ascii=False,
                ).encode()
            )
        return h.hexdigest()[:16]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "item_id": [it.item_id for it in self._items],
                "title": [it.title for it in self._items],
                "year": pd.array([it.year for it in self._items], dtype="Int64"),
                "genres": ["|".join(it.genres) for it in self._items],
                "description": [it.description for it in self._items],
            }
        )


class Ratings:
    """Explicit ratings: a DataFrame with columns user, item, rating, timestamp.

    Row order is kept as given (MovieLens splits depend on the original u.data order).
    `scale` is the (min, max) rating scale.

    >>> r = Ratings(pd.DataFrame({"user": [1], "item": [2], "rating": [4.0], "timestamp": [0]}))
    >>> len(r), r.n_users
    (1, 1)
    """

    def __init__(self, df: pd.DataFrame, *, scale: tuple[float, float] = (1.0, 5.0)) -> None:
        missing = [c for c in RATING_COLUMNS if c not in df.columns]
        if missing:
            raise ValueError(
                f"ratings frame is missing columns {missing}; it has {list(df.columns)}"
            )
        self.df = pd.DataFrame(
            {
                "user": df["user"].to_numpy(dtype=np.int64),
                "item": df["item"].to_numpy(dtype=np.int64),
                "rating": df["rating"].to_numpy(dtype=np.float32),
                "timestamp": df["timestamp"].to_numpy(dtype=np.int64),
            }
        )
        self.scale = (float(scale[0]), float(scale[1]))

    def __len__(self) -> int:
        return len(self.df)

    @property
    def users(self) -> np.ndarray:
        return np.unique(self.df["user"].to_numpy())

    @property
    def items(self) -> np.ndarray:
        return np.unique(self.df["item"].to_numpy())

    @property
    def n_users(self) -> int:
        return int(self.df["user"].nunique())

    @property
    def n_items(self) -> int:
        return int(self.df["item"].nunique())

    def item_counts(self) -> dict[int, int]:
        """Number of ratings per item id, by item id (items nobody rated are absent)."""
        return {int(i): int(n) for i, n in self.df.groupby("item").size().items()}

    def subset(self, mask: np.ndarray | pd.Series) -> Ratings:
        return Ratings(self.df[np.asarray(mask)], scale=self.scale)

    def sorted(self) -> Ratings:
        """Sorted by user then item (stable), as GroupLens's split files are."""
        df = self.df.sort_values(["user", "item"], kind="stable")
        return Ratings(df, scale=self.scale)

    def for_user(self, user: int) -> pd.DataFrame:
        return self.df[self.df["user"] == user]

    def by_user(self) -> dict[int, pd.DataFrame]:
        return {int(u): g for u, g in self.df.groupby("user", sort=True)}


@dataclass(frozen=True)
class Split:
    """A train/test partition of one dataset's ratings, with a name that says how it was made."""

    train: Ratings
    test: Ratings
    name: str

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "train_ratings": len(self.train),
            "test_ratings": len(self.test),
            "train_users": self.train.n_users,
            "test_users": self.test.n_users,
        }


@dataclass(frozen=True)
class Dataset:
    """A named catalog plus its ratings (and optional user attributes)."""

    name: str
    catalog: Catalog
    ratings: Ratings
    users: pd.DataFrame | None = None

    @property
    def item_noun(self) -> str:
        """What one item is ("movie", "book"): the catalog's `item_noun`."""
        return self.catalog.item_noun

    def info(self) -> dict[str, Any]:
        n_u, n_i = self.ratings.n_users, len(self.catalog)
        density = len(self.ratings) / (n_u * n_i) if n_u and n_i else 0.0
        return {
            "name": self.name,
            "ratings": len(self.ratings),
            "users": n_u,
            "items": n_i,
            "item_noun": self.catalog.item_noun,
            "rated_items": self.ratings.n_items,
            "rating_scale": list(self.ratings.scale),
            "density": round(density, 6),
            "sparsity": round(1 - density, 6),
            "catalog_fingerprint": self.catalog.fingerprint(),
        }
