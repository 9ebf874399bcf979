"""What a simulated user is: what it has said so far (`Stated`, the shared `Preferences`), one
message (`Utterance`), the `UserSimulator` protocol, and which titles it can name.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from pydantic import Field

from genrec.agent.preferences import Preferences
from genrec.data import Catalog


class Stated(Preferences):
    """Everything the simulated user has said so far (cumulative, in order of first mention).

    The same type as the agent's dialogue state: `liked`/`disliked`/`seen` items,
    `wanted_genres` (favourite genres it asked for), `avoided_genres` (hard constraints),
    `preferred_decades` (soft taste), hard year bounds (from a request such as "a comedy from the
    80s"), and two reactions to shown items it has NOT seen: `interested` ("number 3 sounds good")
    and `rejected` ("not in the mood for a western"). Its transcript form (`to_dict`) keeps the
    keys transcripts.jsonl has always had, with the decades under ``decades``; transcripts written
    before `interested`/`rejected` existed still load (the lists are empty).

    >>> s = Stated(liked=[1], preferred_decades=[1990], interested=[7])
    >>> (s.to_dict()["decades"], Stated.from_dict(s.to_dict()) == s,
    ...  Stated.from_dict({"liked": [1]}).rejected)
    ([1990], True, [])
    """

    JSON_KEYS: ClassVar[tuple[str, ...]] = (
        "liked",
        "disliked",
        "seen",
        "wanted_genres",
        "avoided_genres",
        "decades",
        "year_min",
        "year_max",
        "interested",
        "rejected",
        "requested_genres",
    )
    """The keys of `to_dict`, in transcript order."""

    requested_genres: list[str] = Field(default_factory=list)
    """The genre of the request in force ("a comedy from the 80s" -> Comedy; its years are the year
    bounds), apart from the favourite genres also in `wanted_genres`: what the user wants now."""

    @property
    def decades(self) -> list[int]:
        """The decades it said it prefers (the transcript name of `preferred_decades`)."""
        return self.preferred_decades

    def to_dict(self) -> dict[str, Any]:
        """The transcript form: the `JSON_KEYS`, lists copied."""
        return {
            "liked": list(self.liked),
            "disliked": list(self.disliked),
            "seen": list(self.seen),
            "wanted_genres": list(self.wanted_genres),
            "avoided_genres": list(self.avoided_genres),
            "decades": list(self.preferred_decades),
            "year_min": self.year_min,
            "year_max": self.year_max,
            "interested": list(self.interested),
            "rejected": list(self.rejected),
            "requested_genres": list(self.requested_genres),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Stated:
        """Read a transcript's ``stated`` (missing or null keys take their defaults)."""
        d = d or {}
        fields: dict[str, Any] = {
            k: d[k] for k in cls.JSON_KEYS if d.get(k) is not None and k != "decades"
        }
        if d.get("decades") is not None:
            fields["preferred_decades"] = d["decades"]
        return cls(**fields)


@dataclass(frozen=True)
class Utterance:
    """One user message and the items it named (for the leakage guard and the fold-in baseline)."""

    text: str
    named: tuple[int, ...] = ()
    """Catalog ids of every title the message writes (all from the user's training ratings); the
    leakage guard allows exactly these. Items it has not seen are referred to by list position."""
    facts: tuple[str, ...] = ()
    """Kinds of fact revealed: genre, liked, avoid, decade, disliked, request, reaction (to items it
    rated), opinion (on shown items it has not seen), answer."""
    source: str = "template"
    """Whose words it speaks: "template" (the project's phrasings), "real" (real seekers' sentences
    from the phrasebook) or "mixed" (parts from both)."""


class UserSimulator(Protocol):
    """A simulated user: opens the conversation, then answers each agent reply."""

    name: str
    stated: Stated

    def opening(self) -> Utterance: ...

    def respond(self, agent_text: str, recommended: Sequence[int], question: bool) -> Utterance: ...


def mentionable(catalog: Catalog) -> Callable[[int], bool]:
    """Items a user can name unambiguously: a real title that no other catalog item shares.

    >>> from genrec.data import Item
    >>> ok = mentionable(Catalog([Item(1, "Heat", 1995), Item(2, "Heat", 1986),
    ...                           Item(3, "Babe", 1995)]))
    >>> ok(1), ok(3), ok(99)
    (False, True, False)
    """
    counts = Counter(it.title.casefold() for it in catalog)

    def ok(item_id: int) -> bool:
        it = catalog.get(item_id)
        return bool(
            it
            and it.title.casefold() not in ("unknown", "untitled")
            and counts[it.title.casefold()] == 1
        )

    return ok


__all__ = ["Stated", "UserSimulator", "Utterance", "mentionable"]
