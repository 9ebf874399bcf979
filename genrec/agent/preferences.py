"""Preferences: what a person has said they like, dislike, want and avoid, in one typed shape.

The dialogue state, the understanding of one message and the simulated user all use this type,
so scoring compares preferences field by field instead of string-keyed dicts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from genrec.retrieval.filters import SearchFilters

Polarity = Literal["liked", "disliked", "seen", "excluded", "interested", "rejected"]
POLARITIES: tuple[Polarity, ...] = (
    "liked",
    "disliked",
    "seen",
    "excluded",
    "interested",
    "rejected",
)
"""Verdicts on items: `interested` / `rejected` are reactions to shown items the user has not
seen ("the third one sounds good", "not that one"), weaker than a like or a dislike."""


class Preferences(BaseModel):
    """Items by polarity, genres asked for / avoided / preferred, years and free-text wishes.

    Hard constraints (`wanted_genres` any-of, `avoided_genres`, `year_min`/`year_max`) are stated
    once, as `constraints()`; `preferred_genres` and `preferred_decades` only boost.

    >>> p = Preferences()
    >>> p.add_item(50, "liked"); p.add_item(50, "disliked"); p.liked, p.disliked
    ([], [50])
    >>> p.want_genre("Comedy", True); p.constraints().genres_any
    ['Comedy']
    """

    liked: list[int] = Field(default_factory=list, description="Items the user likes.")
    disliked: list[int] = Field(default_factory=list, description="Items the user dislikes.")
    seen: list[int] = Field(default_factory=list, description="Items the user has already seen.")
    excluded: list[int] = Field(
        default_factory=list, description="Items the user said not to show."
    )
    wanted_genres: list[str] = Field(default_factory=list,
                                     description="Genres asked for now: a hard any-of constraint.")
    avoided_genres: list[str] = Field(default_factory=list, description="Genres never to show.")
    year_min: int | None = None
    year_max: int | None = None
    preferred_genres: list[str] = Field(
        default_factory=list, description="Genres of the user's taste ('I usually enjoy drama'): "
        "a boost, not a filter.")
    preferred_decades: list[int] = Field(
        default_factory=list, description="Decades of the user's taste ('most of my favourites are "
        "from the 90s'): a boost, not a filter.")
    mood_genres: list[str] = Field(
        default_factory=list,
        description="Genres the user's mood leans to ('something light, I had a long "
        "day' -> Comedy): a boost, not a filter; the next mood replaces it.",
    )
    anchors: list[int] = Field(
        default_factory=list,
        description="Items the user asked for more like ('something like Toy Story'): "
        "the newest one ranks by item-to-item similarity.",
    )
    wishes: list[str] = Field(default_factory=list, description="Recent free-text wishes.")
    interested: list[int] = Field(
        default_factory=list,
        description="Shown items not seen yet that the user reacted to positively.",
    )
    rejected: list[int] = Field(default_factory=list,
                                description="Shown items not seen yet that the user turned down.")

    # ---- reading -----------------------------------------------------------------------------
    def mentioned(self) -> list[int]:
        """Every item named with any polarity, in first-mention order."""
        return list(dict.fromkeys([*self.liked, *self.disliked, *self.seen, *self.excluded]))

    def taste_genres(self) -> list[str]:
        """Genres to boost: asked-for ones first, then the user's general taste."""
        return list(dict.fromkeys([*self.wanted_genres, *self.preferred_genres, *self.mood_genres]))

    def constraints(self) -> SearchFilters:
        """The hard constraints as the SearchFilters retrieval evaluates (not yet validated)."""
        return SearchFilters(genres_any=list(self.wanted_genres),
                             genres_none=list(self.avoided_genres),
                             year_min=self.year_min, year_max=self.year_max)

    # ---- changing ----------------------------------------------------------------------------
    def add_item(self, item_id: int, polarity: Polarity) -> None:
        """Record an item under one polarity, removing it from the conflicting lists.

        A like or dislike (the user knows the item) replaces an earlier interested/rejected.

        >>> p = Preferences(); p.add_item(7, "interested"); p.add_item(7, "rejected")
        >>> p.interested, p.rejected
        ([], [7])
        >>> p.add_item(7, "liked"); p.rejected, p.liked
        ([], [7])
        """
        if polarity in ("interested", "rejected"):
            self.react_unseen(item_id, polarity == "interested")
            return
        if polarity in ("liked", "disliked", "seen"):
            for reaction in (self.interested, self.rejected):
                if item_id in reaction:
                    reaction.remove(item_id)
        if polarity in ("liked", "disliked"):
            other = self.disliked if polarity == "liked" else self.liked
            if item_id in other:
                other.remove(item_id)
        if polarity == "liked" and item_id in self.excluded:
            self.excluded.remove(item_id)
        target: list[int] = getattr(self, polarity)
        if item_id not in target:
            target.append(item_id)

    def react_unseen(self, item_id: int, positive: bool) -> None:
        """Record an opinion of a shown item not seen yet (a later opinion replaces an earlier
        one)."""
        add, rm = (self.interested, self.rejected) if positive else (self.rejected, self.interested)
        if item_id in rm:
            rm.remove(item_id)
        if item_id not in add:
            add.append(item_id)

    def want_genre(self, genre: str, wanted: bool) -> None:
        """Ask for a genre (hard any-of) or avoid it; either removes it from the other lists."""
        add, rm = (self.wanted_genres, self.avoided_genres) if wanted else (
            self.avoided_genres, self.wanted_genres)
        if genre in rm:
            rm.remove(genre)
        if not wanted and genre in self.preferred_genres:
            self.preferred_genres.remove(genre)
        if genre not in add:
            add.append(genre)

    def prefer_genre(self, genre: str) -> None:
        """Record a genre of the user's taste (a boost); an avoided genre stops being avoided."""
        if genre in self.avoided_genres:
            self.avoided_genres.remove(genre)
        if genre not in self.preferred_genres:
            self.preferred_genres.append(genre)

    def prefer_decade(self, decade: int) -> None:
        """Record a decade of the user's taste (a boost)."""
        if decade not in self.preferred_decades:
            self.preferred_decades.append(decade)

    def set_years(self, year_min: int | None, year_max: int | None) -> None:
        """Apply a stated year range; a one-sided bound drops the other side when they conflict."""
        if year_min is not None and year_max is not None:
            self.year_min, self.year_max = year_min, year_max
        elif year_min is not None:
            self.year_min = year_min
            if self.year_max is not None and self.year_max < year_min:
                self.year_max = None
        elif year_max is not None:
            self.year_max = year_max
            if self.year_min is not None and self.year_min > year_max:
                self.year_min = None

    def remove(self, kind: str, value: str | int | None = None) -> bool:
        """Drop one stated preference (a chip's ×); False when it was not there.

        kind: "genre" (asked for), "avoided_genre", "years" (value ignored), "preferred_genre",
        "mood_genre", "preferred_decade", "liked" (an item id), "anchor" (an item id), "wish".

        >>> p = Preferences(wanted_genres=["Animation"], year_min=1980, year_max=1989)
        >>> p.remove("genre", "Animation"), p.remove("years")
        (True, True)
        >>> p.constraints().genres_any, p.year_min
        ([], None)

        Raises:
            ValueError: an unknown kind.
        """
        if kind == "years":
            had = self.year_min is not None or self.year_max is not None
            self.year_min = self.year_max = None
            return had
        lists: dict[str, list] = {
            "genre": self.wanted_genres,
            "avoided_genre": self.avoided_genres,
            "preferred_genre": self.preferred_genres,
            "mood_genre": self.mood_genres,
            "anchor": self.anchors,
            "preferred_decade": self.preferred_decades,
            "liked": self.liked,
            "wish": self.wishes,
        }
        if kind not in lists:
            raise ValueError(
                f"unknown preference kind {kind!r}; use one of years, {', '.join(lists)}"
            )
        if value not in lists[kind]:
            return False
        lists[kind].remove(value)
        return True
