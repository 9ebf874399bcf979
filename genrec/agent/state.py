"""Dialogue state: what one session has revealed (likes, dislikes, genres, years, wishes, shown items).

The state is a small pydantic model persisted per session as JSON; policies only ever change a copy.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class FeedbackEvent(BaseModel):
    """One piece of feedback on an item, from a button (`source="api"`) or the chat."""

    item_id: int
    liked: bool
    source: Literal["api", "chat", "tool"] = "chat"


class PendingChoice(BaseModel):
    """An ambiguous title mention waiting for the user's answer ("which one did you mean?")."""

    mention: str
    options: list[int]
    polarity: Literal["liked", "disliked", "seen", "excluded"] = "liked"


class DialogueState(BaseModel):
    """Everything the agent knows about one person in one session.

    Item ids are catalog ids. `recommended` is every item already shown (oldest first);
    `last_recommended` is the most recent list (for "the first one", "show them again").

    >>> s = DialogueState(liked=[50], wanted_genres=["Sci-Fi"])
    >>> s.blocked() == {50}
    True
    """

    liked: list[int] = Field(default_factory=list, description="Items the user likes.")
    disliked: list[int] = Field(default_factory=list, description="Items the user dislikes.")
    seen: list[int] = Field(default_factory=list, description="Items the user has already seen.")
    excluded: list[int] = Field(default_factory=list, description="Items the user said not to show.")
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
    wishes: list[str] = Field(default_factory=list, description="Recent free-text wishes.")
    recommended: list[int] = Field(default_factory=list, description="Every item already shown.")
    last_recommended: list[int] = Field(default_factory=list)
    feedback: list[FeedbackEvent] = Field(default_factory=list)
    user_id: int | None = Field(None, description="A known dataset user id, when given.")
    pending: PendingChoice | None = None
    turns: int = 0

    def blocked(self, *, allow_repeats: bool = False) -> set[int]:
        """Items never to recommend now: disliked, liked/seen/excluded (known already), shown."""
        out = set(self.liked) | set(self.disliked) | set(self.seen) | set(self.excluded)
        if not allow_repeats:
            out |= set(self.recommended)
        return out

    def has_preferences(self) -> bool:
        """True when there is enough to rank: a liked item, a genre, a year range, a wish or a user."""
        return bool(
            self.liked or self.wanted_genres or self.preferred_genres or self.preferred_decades
            or self.wishes or self.user_id is not None
            or self.year_min is not None or self.year_max is not None
        )

    def add_item(self, item_id: int, polarity: str) -> None:
        """Record an item under one polarity, removing it from the conflicting lists."""
        lists = {"liked": self.liked, "disliked": self.disliked, "seen": self.seen,
                 "excluded": self.excluded}
        if polarity in ("liked", "disliked"):
            other = self.disliked if polarity == "liked" else self.liked
            if item_id in other:
                other.remove(item_id)
        if polarity == "liked" and item_id in self.excluded:
            self.excluded.remove(item_id)
        target = lists[polarity]
        if item_id not in target:
            target.append(item_id)

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

    def taste_genres(self) -> list[str]:
        """Genres to boost: asked-for ones first, then the user's general taste."""
        return list(dict.fromkeys([*self.wanted_genres, *self.preferred_genres]))

    def summary(self, catalog: object | None = None) -> str:
        """One compact line per known fact, for prompts and logs (titles when a catalog is given)."""

        def names(ids: list[int]) -> str:
            if catalog is None:
                return ", ".join(map(str, ids))
            return "; ".join(getattr(catalog.get(i), "label", str(i)) for i in ids)  # type: ignore[attr-defined]

        lines = []
        if self.user_id is not None:
            lines.append(f"known user id: {self.user_id}")
        if self.liked:
            lines.append(f"liked: {names(self.liked)}")
        if self.disliked:
            lines.append(f"disliked: {names(self.disliked)}")
        if self.seen:
            lines.append(f"already seen: {names(self.seen)}")
        if self.excluded:
            lines.append(f"do not show: {names(self.excluded)}")
        if self.wanted_genres:
            lines.append(f"wants genres: {', '.join(self.wanted_genres)}")
        if self.avoided_genres:
            lines.append(f"avoids genres: {', '.join(self.avoided_genres)}")
        if self.preferred_genres:
            lines.append(f"usually enjoys: {', '.join(self.preferred_genres)}")
        if self.preferred_decades:
            lines.append(f"favourite decades: {', '.join(f'{d}s' for d in self.preferred_decades)}")
        if self.year_min is not None or self.year_max is not None:
            lines.append(f"years: {self.year_min or 'any'}-{self.year_max or 'any'}")
        if self.wishes:
            lines.append(f"wishes: {' | '.join(self.wishes)}")
        if self.recommended:
            lines.append(f"already recommended: {names(self.recommended[-20:])}")
        return "\n".join(lines) or "nothing known yet"
