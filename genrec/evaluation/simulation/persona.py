"""What a simulated user knows about its own taste, built from one real user's TRAINING ratings.

`build_persona` never sees held-out ratings: it takes the training rows of one user and the catalog;
`persona_for_user` takes the training `Ratings` alone (rows and popularity both come from it).
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from genrec.data import Catalog, Item, Ratings

LIKED_MIN = 4.0
DISLIKED_MAX = 2.0


@dataclass(frozen=True)
class Persona:
    """A simulated user's knowledge: its training ratings and the tastes derived from them.

    >>> p = Persona(liked=(1,), disliked=(), ratings={1: 5.0})
    >>> p.rating_of(1), p.rating_of(2)
    (5.0, None)
    """

    liked: tuple[int, ...]
    """Items rated >= 4, best first (ties in a seeded order)."""
    disliked: tuple[int, ...]
    """Items rated <= 2, worst first."""
    ratings: Mapping[int, float] = field(default_factory=dict)
    """Every training rating of the user: item id -> rating."""
    favourite_genres: tuple[str, ...] = ()
    """Genres with the highest rating-weighted score (sum of rating - 3), best first."""
    avoided_genres: tuple[str, ...] = ()
    """Genres rated low on average, then genres the user never watches though they are common."""
    decades: tuple[int, ...] = ()
    """Decades (e.g. 1990) holding the largest share of the liked items, most first."""
    low_genres: tuple[str, ...] = ()
    """Genres it rated below the midpoint on average (a milder signal than `avoided_genres`)."""

    def rating_of(self, item_id: int) -> float | None:
        return self.ratings.get(int(item_id))

    def opinion(self, item: Item) -> Opinion | None:
        """What it thinks of an item it has NOT rated, from its tastes alone (None: no opinion).

        An avoided genre is a no; otherwise a favourite genre, or a favourite decade with no genre
        it rated low, is a yes.

        >>> from genrec.data import Item
        >>> p = Persona(liked=(), disliked=(), favourite_genres=("Comedy",),
        ...             avoided_genres=("Western",), decades=(1980,))
        >>> (p.opinion(Item(9, "X", 1995, ("Comedy", "Western"))).verdict,
        ...  p.opinion(Item(9, "X", 1995, ("Comedy",))))
        ('negative', Opinion(verdict='positive', genre='Comedy', decade=None))
        >>> (p.opinion(Item(9, "X", 1984, ("Drama",))).decade,
        ...  p.opinion(Item(9, "X", 1995, ("Drama",))))
        (1980, None)
        """
        avoided = [g for g in self.avoided_genres if g in item.genres]
        if avoided:
            return Opinion("negative", genre=avoided[0])
        decade = (item.year // 10) * 10 if item.year else None
        in_decade = decade if decade is not None and decade in self.decades else None
        fav = [g for g in self.favourite_genres if g in item.genres]
        if fav:
            return Opinion("positive", genre=fav[0], decade=in_decade)
        if in_decade is not None and not set(item.genres) & set(self.low_genres):
            return Opinion("positive", decade=in_decade)
        return None


@dataclass(frozen=True)
class Opinion:
    """A persona's opinion of an item it has not seen, and the taste it comes from."""

    verdict: Literal["positive", "negative"]
    genre: str | None = None
    """The favourite (positive) or avoided (negative) genre behind it."""
    decade: int | None = None
    """The favourite decade the item is from, if any."""


def build_persona(
    train_rows: pd.DataFrame | Mapping[int, float],
    catalog: Catalog,
    *,
    seed: int = 0,
    popularity: Mapping[int, int] | None = None,
    n_genres: int = 3,
    n_avoided: int = 2,
) -> Persona:
    """Derive a persona from one user's training ratings.

    Args:
        train_rows: the user's TRAINING ratings, as a frame with columns item, rating (other columns
            ignored) or a mapping item id -> rating. Held-out ratings must never be passed here.
        catalog: item metadata (genres, years).
        seed: orders liked items of equal rating (deterministic for a given seed).
        popularity: training rating counts per item (an aggregate of the training split, never
            the test part); when given, well-known items come first among equal ratings, with
            seeded jitter, as a person names famous favourites first.
        n_genres: how many favourite genres to keep.
        n_avoided: how many avoided genres to keep.

    Returns:
        The persona. Items missing from the catalog are ignored.
    """
    if isinstance(train_rows, pd.DataFrame):
        ratings = {int(i): float(r) for i, r in zip(train_rows["item"], train_rows["rating"])}
    else:
        ratings = {int(i): float(r) for i, r in train_rows.items()}
    ratings = {i: r for i, r in sorted(ratings.items()) if i in catalog}
    rng = random.Random(seed)

    def ordered(ids: list[int], best_first: bool) -> tuple[int, ...]:
        ids = sorted(ids)
        rng.shuffle(ids)
        if popularity is not None:
            fame = {i: math.log1p(popularity.get(i, 0)) + rng.uniform(0.0, 1.5) for i in ids}
            ids.sort(key=lambda i: -fame[i])
        sign = -1.0 if best_first else 1.0
        return tuple(sorted(ids, key=lambda i: sign * ratings[i]))  # stable: ties keep that order

    liked = [i for i, r in ratings.items() if r >= LIKED_MIN]
    if not liked and ratings:  # nobody is left without a favourite: the best above the midpoint
        top = max(ratings.values())
        liked = [i for i, r in ratings.items() if r == top and r >= 3.0]
    disliked = [i for i, r in ratings.items() if r <= DISLIKED_MAX]

    favourites, avoided, low_genres = _genre_tastes(ratings, catalog, n_genres, n_avoided)
    return Persona(
        liked=ordered(liked, best_first=True),
        disliked=ordered(disliked, best_first=False),
        ratings=ratings,
        favourite_genres=tuple(favourites),
        avoided_genres=tuple(avoided),
        decades=tuple(_preferred_decade(liked, catalog)),
        low_genres=low_genres,
    )


def _genre_tastes(
    ratings: Mapping[int, float], catalog: Catalog, n_genres: int, n_avoided: int
) -> tuple[list[str], list[str], tuple[str, ...]]:
    """Favourite genres (rated above the midpoint overall, best first), avoided genres (watched
    and rated low, then common ones never watched) and every genre rated below 3 on average."""
    score: dict[str, float] = defaultdict(float)
    count: Counter[str] = Counter()
    total: dict[str, float] = defaultdict(float)
    for i, r in ratings.items():
        for g in catalog[i].genres:
            score[g] += r - 3.0
            count[g] += 1
            total[g] += r
    favourites = [g for g, s in sorted(score.items(), key=lambda kv: (-kv[1], kv[0])) if s > 0][
        :n_genres
    ]

    # avoided: genres watched at least twice and rated low on average, worst first ...
    low = sorted(
        (g for g in count if count[g] >= 2 and total[g] / count[g] <= 2.75 and g not in favourites),
        key=lambda g: (total[g] / count[g], g),
    )
    # ... then common genres the user (almost) never watches: expected >= 3 ratings, got none.
    share = Counter(g for it in catalog for g in it.genres)
    n_cat = max(len(catalog), 1)
    never = sorted(
        (g for g in share if count[g] == 0 and share[g] / n_cat * len(ratings) >= 3.0),
        key=lambda g: (-share[g], g),
    )
    avoided = (low + [g for g in never if g not in low])[:n_avoided]
    return favourites, avoided, tuple(sorted(g for g in count if total[g] / count[g] < 3.0))


def _preferred_decade(liked: list[int], catalog: Catalog) -> list[int]:
    """The decade of at least 40% of the dated liked items (the most common; ties: the later), or
    none."""
    decades: Counter[int] = Counter()
    for i in liked:
        y = catalog[i].year
        if y:
            decades[(y // 10) * 10] += 1
    n_liked_dated = sum(decades.values())
    return [
        d for d, c in sorted(decades.items(), key=lambda kv: (-kv[1], -kv[0]))
        if n_liked_dated and c / n_liked_dated >= 0.4
    ][:1]


def training_popularity(train: Ratings) -> dict[int, int]:
    """Rating counts per item in the TRAINING ratings (how well known each item is)."""
    return train.item_counts()


def persona_for_user(
    train: Ratings,
    user_id: int,
    catalog: Catalog,
    *,
    seed: int = 0,
    popularity: Mapping[int, int] | None = None,
) -> Persona:
    """The persona of one user of a split, from the split's TRAINING ratings only.

    It takes no held-out data by construction: its rows and (unless given) its popularity both
    come from `train`. A given `popularity` must also be computed from training ratings.
    """
    pop = training_popularity(train) if popularity is None else popularity
    return build_persona(train.for_user(int(user_id)), catalog, seed=seed, popularity=pop)


def persona_seed(seed: int, key: int) -> int:
    """A per-user seed derived from the run seed (stable across Python processes)."""
    return int((seed * 1_000_003 + key * 7_919 + 12_345) % (2**31 - 1)) or 1


__all__ = [
    "DISLIKED_MAX",
    "LIKED_MIN",
    "Opinion",
    "Persona",
    "build_persona",
    "persona_for_user",
    "persona_seed",
    "training_popularity",
]
