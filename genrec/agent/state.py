"""Dialogue state: what one session has revealed (likes, dislikes, genres, years, wishes, shown items).

The state is a small pydantic model persisted per session as JSON; it owns its changes (methods),
and a turn applies them to a working copy that is saved only when the turn succeeds.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from genrec.agent.preferences import Preferences


class FeedbackEvent(BaseModel):
    """One piece of feedback on an item, from a button (`source="api"`) or the chat."""

    item_id: int
    liked: bool
    source: Literal["api", "chat", "tool"] = "chat"


class PendingChoice(BaseModel):
    """An ambiguous title mention waiting for the user's answer ("which one did you mean?")."""

    mention: str
    options: list[int]
    polarity: Literal["liked", "disliked", "seen", "excluded", "interested", "rejected"] = "liked"


class DialogueState(Preferences):
    """Everything the agent knows about one person in one session: their Preferences plus what
    was shown, the feedback events, a known user id and a pending question.

    Item ids are catalog ids. `recommended` is every item already shown (oldest first);
    `last_recommended` is the most recent list (for "the first one", "show them again").

    >>> s = DialogueState(liked=[50], wanted_genres=["Sci-Fi"])
    >>> s.blocked() == {50}
    True
    """

    recommended: list[int] = Field(default_factory=list, description="Every item already shown.")
    last_recommended: list[int] = Field(default_factory=list)
    feedback: list[FeedbackEvent] = Field(default_factory=list)
    user_id: int | None = Field(default=None, description="A known dataset user id, when given.")
    pending: PendingChoice | None = None
    asked: list[str] = Field(
        default_factory=list,
        description="Attributes the agent has asked about (never asked twice).",
    )
    asking: str | None = Field(
        default=None, description="The attribute the last reply asked about."
    )
    turns: int = 0

    def blocked(self, *, allow_repeats: bool = False) -> set[int]:
        """Items never to recommend now: disliked, liked/seen/excluded (known already), reacted to, shown."""
        out = set(self.liked) | set(self.disliked) | set(self.seen) | set(self.excluded)
        out |= set(self.interested) | set(self.rejected)
        if not allow_repeats:
            out |= set(self.recommended)
        return out

    def record_feedback(self, event: FeedbackEvent) -> None:
        """Apply one like/dislike (from a button, the chat or a tool) and keep the event."""
        self.add_item(event.item_id, "liked" if event.liked else "disliked")
        self.feedback.append(event)

    def record_shown(self, item_ids: list[int]) -> None:
        """Remember a list just shown: added to `recommended`, and the new `last_recommended`."""
        self.recommended = list(dict.fromkeys([*self.recommended, *item_ids]))
        self.last_recommended = list(item_ids)

    def has_preferences(self) -> bool:
        """True when there is enough to rank: a liked item, a genre, a year range, a wish or a user."""
        return bool(
            self.liked or self.wanted_genres or self.preferred_genres or self.preferred_decades
            or self.mood_genres or self.wishes or self.user_id is not None
            or self.year_min is not None or self.year_max is not None
        )

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
        if self.mood_genres:
            lines.append(f"in the mood for: {', '.join(self.mood_genres)}")
        if self.anchors:
            lines.append(f"wants more like: {names(self.anchors[-1:])}")
        if self.preferred_decades:
            lines.append(f"favourite decades: {', '.join(f'{d}s' for d in self.preferred_decades)}")
        if self.year_min is not None or self.year_max is not None:
            lines.append(f"years: {self.year_min or 'any'}-{self.year_max or 'any'}")
        if self.wishes:
            lines.append(f"wishes: {' | '.join(self.wishes)}")
        if self.recommended:
            lines.append(f"already recommended: {names(self.recommended[-20:])}")
        return "\n".join(lines) or "nothing known yet"
