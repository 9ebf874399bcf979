"""What the agent is going by, as removable chips, e.g. "Animation · no Musical · 1980-1989 ·
likes Heat".

One chip per stated preference of the session's state; a chip's × drops that preference, so the
next turn no longer applies it (`Recommender.remove_preference`).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from genrec.agent import DialogueState, Recommender
    from genrec.data import Catalog

MAX_PREF_CHIPS = 12


class PrefChip(BaseModel):
    """One stated preference: what the chip says, and what `remove_preference` takes to drop it."""

    label: str
    kind: str
    value: str | int | None = None
    tip: str = ""


def chips_of(state: DialogueState, catalog: Catalog) -> list[PrefChip]:
    """The session's stated preferences, hard constraints first, then tastes and liked items."""
    out = [PrefChip(label=g, kind="genre", value=g, tip="only this genre (any of those asked for)")
           for g in state.wanted_genres]
    out += [PrefChip(label=f"no {g}", kind="avoided_genre", value=g, tip="never this genre")
            for g in state.avoided_genres]
    if state.year_min is not None or state.year_max is not None:
        lo, hi = state.year_min, state.year_max
        label = f"{lo}-{hi}" if lo is not None and hi is not None else (
            f"from {lo}" if lo is not None else f"up to {hi}")
        out.append(PrefChip(label=label, kind="years", tip="only these years"))
    out += [
        PrefChip(label=f"enjoys {g}", kind="preferred_genre", value=g, tip="a boost, not a filter")
        for g in state.preferred_genres
        if g not in state.wanted_genres
    ]
    out += [
        PrefChip(
            label=f"in the mood for {g}",
            kind="mood_genre",
            value=g,
            tip="a mood: a boost, not a filter",
        )
        for g in state.mood_genres
        if g not in state.wanted_genres
    ]
    for i in state.anchors[-1:]:
        item = catalog.get(i)
        if item is not None:
            out.append(PrefChip(label=f"more like {item.title}", kind="anchor", value=i,
                                tip="picks are ranked by likeness to it"))
    out += [PrefChip(label=f"enjoys the {d}s", kind="preferred_decade", value=d,
                     tip="a boost, not a filter") for d in state.preferred_decades]
    for i in state.liked[-5:]:
        item = catalog.get(i)
        if item is not None:
            out.append(PrefChip(label=f"likes {item.title}", kind="liked", value=i,
                                tip="recommendations lean towards it"))
    return out[:MAX_PREF_CHIPS]


def summary_line(chips: list[PrefChip]) -> str:
    """The chips as one escaped line ("Animation · no Musical · 1980-1989")."""
    return " · ".join(html.escape(c.label) for c in chips)


def remove_preference(recommender: Recommender, session_id: str, chip: PrefChip) -> None:
    """Drop one preference of the session (`Recommender.remove_preference`)."""
    recommender.remove_preference(session_id, chip.kind, chip.value)
