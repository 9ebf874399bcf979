"""Dialogue state: what one session has revealed (likes, dislikes, genres, years, wishes, shown
items), and `commit`, the one place a turn's changes (`TurnChanges`) are written into it.

The state is a small pydantic model persisted per session as JSON; it owns its changes (methods).
A turn collects its changes as values and `commit` folds them into a new state from the one the
turn started with; the recommender saves that state only when the turn succeeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from genrec.agent.preferences import POLARITIES, Preferences


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
        """Items never to recommend now: disliked, liked/seen/excluded (known already), reacted
        to, shown."""
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
        """True when there is enough to rank: a liked item, a genre, a year range, a wish or a
        user."""
        return bool(
            self.liked or self.wanted_genres or self.preferred_genres or self.preferred_decades
            or self.mood_genres or self.wishes or self.user_id is not None
            or self.year_min is not None or self.year_max is not None
        )

    def summary(self, catalog: object | None = None) -> str:
        """One compact line per known fact, for prompts and logs (titles when a catalog is
        given)."""

        def names(ids: list[int]) -> str:
            if catalog is None:
                return ", ".join(map(str, ids))
            get = catalog.get  # type: ignore[attr-defined]
            return "; ".join(getattr(get(i), "label", str(i)) for i in ids)

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


class Reading(Protocol):
    """What a reading of one message (an understanding `Extraction`) can change in the state:
    its Preferences (items by polarity, genres, years, moods, anchors, wishes) and these facts."""

    reset: bool
    dropped_genres: list[str]
    wanted_genres: list[str]
    avoided_genres: list[str]
    preferred_genres: list[str]
    preferred_decades: list[int]
    years_given: bool
    years_dropped: bool
    year_min: int | None
    year_max: int | None
    decade_demanded: bool
    general_taste: bool
    mood_genres: list[str]
    anchors: list[int]
    wishes: list[str]
    user_id: int | None
    ambiguous: list[PendingChoice]


def apply_reading(state: DialogueState, ex: Reading, *, max_wishes: int = 3) -> DialogueState:
    """A new state with a message's reading applied (the input state is not changed).

    A reset keeps only the turn count, what was shown and the feedback; the pending question is
    answered or dropped; an ambiguous title becomes the new pending question.
    """
    new = DialogueState(turns=state.turns, recommended=list(state.recommended),
                        feedback=list(state.feedback), user_id=None) if ex.reset else (
        state.model_copy(deep=True))
    if state.pending is not None:
        new.pending = None
    new.asking = None
    for pol in POLARITIES:
        for iid in getattr(ex, pol):
            new.add_item(iid, pol)
    for g in ex.dropped_genres:  # a change of mind: "forget the kids stuff", "war is fine again"
        for kept in (new.wanted_genres, new.avoided_genres, new.preferred_genres):
            if g in kept:
                kept.remove(g)
    for g in ex.wanted_genres:
        new.want_genre(g, True)
    for g in ex.avoided_genres:
        new.want_genre(g, False)
    for g in ex.preferred_genres:
        if g not in new.wanted_genres:
            new.prefer_genre(g)
    for d in ex.preferred_decades:
        new.prefer_decade(d)
    if ex.years_dropped:  # "actually any decade is fine"
        new.year_min = new.year_max = None
    if ex.years_given:
        new.set_years(ex.year_min, ex.year_max)
    elif ex.preferred_decades and (ex.decade_demanded or not ex.general_taste):
        # a hedged wish ("from the 90s, ideally"), the answer to "any particular decade?" or "too
        # old: from the 70s" names the decade wanted now; "I tend to enjoy the 90s" stays a taste
        d = ex.preferred_decades[-1]
        new.set_years(d, d + 9)
    if ex.mood_genres:  # a mood is for now: the newest replaces the last
        new.mood_genres = [g for g in ex.mood_genres if g not in new.avoided_genres]
    if ex.anchors:
        new.anchors = [*[a for a in new.anchors if a not in ex.anchors], *ex.anchors][-3:]
    if ex.wishes:
        new.wishes = (new.wishes + ex.wishes)[-max_wishes:]
    if ex.user_id is not None:
        new.user_id = ex.user_id
    if ex.ambiguous:
        new.pending = ex.ambiguous[0]
    return new


@dataclass
class TurnChanges:
    """Everything one turn changes in the state, as values, in the order `commit` applies them.

    `reading` is what the message said; `forget_user` drops a user id the ranker does not know;
    `feedback` holds the likes and dislikes tool calls recorded; `shown` the items the reply
    recommends; `asked` the attribute its question asks about.
    """

    reading: Reading | None = None
    forget_user: bool = False
    feedback: list[FeedbackEvent] = field(default_factory=list)
    shown: list[int] = field(default_factory=list)
    asked: str | None = None


def commit(prior: DialogueState, changes: TurnChanges, *, end_turn: bool = False) -> DialogueState:
    """The state after a turn's changes, from the state the turn started with (`prior` is not
    changed). A turn's stages read the state so far through it; with `end_turn` the turn is
    also counted (the state the recommender saves).

    >>> after = commit(DialogueState(), TurnChanges(shown=[3, 1], asked="genre"), end_turn=True)
    >>> after.last_recommended, after.asking, after.turns
    ([3, 1], 'genre', 1)
    """
    state = (apply_reading(prior, changes.reading) if changes.reading is not None
             else prior.model_copy(deep=True))
    if changes.forget_user:
        state.user_id = None
    for event in changes.feedback:
        state.record_feedback(event)
    if changes.shown:
        state.record_shown(list(changes.shown))
    if changes.asked is not None:
        state.asked.append(changes.asked)
        state.asking = changes.asked
    if end_turn:
        state.turns += 1
    return state
