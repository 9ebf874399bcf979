"""Answers to questions about items, from the catalog and the agent's evidence only: why an item
was picked, whether it is any good, what it is, and an honest "not in this catalog" for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from genrec.agent.operations import Toolkit
from genrec.agent.rationales.evidence import build_evidence
from genrec.agent.rationales.reasons import template_rationale
from genrec.agent.state import DialogueState
from genrec.agent.understanding.questions import ItemQuestion


@dataclass(frozen=True)
class ItemFacts:
    """What the agent can say about one item: catalog facts and the ranker's estimates."""

    label: str
    noun: str
    genres: list[str]
    year: int | None
    description: str | None
    ratings_count: int | None
    typical_rating: float | None
    your_rating: float | None


def item_facts(toolkit: Toolkit, state: DialogueState, item_id: int) -> ItemFacts:
    """An item's facts for an answer: label, genres, year, description, number of ratings, and the
    predicted rating of a typical user and (when the user's taste is known) of this user."""
    it = toolkit.catalog[item_id]
    typical = yours = None
    if toolkit.ranker.knows_item(item_id):
        try:
            typical = toolkit.predict(toolkit.ranker.fold_in(liked=[], disliked=[]), [item_id]).get(
                item_id
            )
            profile = toolkit.profile(state)
            yours = (
                toolkit.predict(profile, [item_id]).get(item_id) if profile is not None else None
            )
        except Exception:  # noqa: BLE001 - an answer without estimates is still an answer
            typical = yours = None
    return ItemFacts(
        it.label,
        str(getattr(toolkit.catalog, "item_noun", None) or "item"),
        list(it.genres),
        it.year,
        it.description,
        toolkit.popularity.get(item_id) or None,
        typical,
        yours,
    )


def _kind_of(f: ItemFacts) -> str:
    genres = " / ".join(f.genres) if f.genres else ""
    what = f"{genres} {f.noun}".strip()
    return f"{what} from {f.year}" if f.year else what


def _estimates(f: ItemFacts) -> str:
    parts = []
    if f.ratings_count:
        parts.append(f"{f.ratings_count} people rated it here")
    if f.typical_rating is not None:
        parts.append(f"a typical viewer would rate it about {f.typical_rating:.1f}/5")
    if f.your_rating is not None:
        parts.append(
            f"from what you've told me I'd expect you to give it about {f.your_rating:.1f}/5"
        )
    return "; ".join(parts)


def answer_item_question(
    q: ItemQuestion, toolkit: Toolkit, state: DialogueState, *, reason: str | None
) -> str:
    """One question's answer, from the catalog and the evidence only (no invented facts).

    `reason` is the templated rationale of the item (for "why"), when it was recommended.
    """
    f = item_facts(toolkit, state, q.item_id)
    est = _estimates(f)
    if q.kind == "which":
        where = (
            "the last one"
            if q.position == -1
            else f"number {q.position + 1}"
            if q.position is not None
            else "one"
        )
        return f"{where.capitalize()} in the last list was {f.label}, a {_kind_of(f)}."
    if q.kind == "why":
        if q.item_id not in state.recommended:
            return f"I haven't suggested {f.label} in this conversation. It is a {_kind_of(f)}" + (
                f"; {est}." if est else ".")
        return f"Why {f.label}: {reason}" if reason else f"I picked {f.label}, a {_kind_of(f)}" + (
            f": {est}." if est else ".")
    if q.kind == "credits":
        return (
            f"This catalog doesn't record who directed, wrote or stars in its {f.noun}s, so I "
            f"can't tell you that about {f.label}. What I know: it is a {_kind_of(f)}"
            + (f"; {est}." if est else ".")
        )
    if q.kind == "good":
        return f"{f.label}: {est}." if est else f"I have no ratings of {f.label} to go by."
    text = f"{f.label} is a {_kind_of(f)}."
    if f.description:
        text += " " + " ".join(f.description.split())[:300]
    return text + (f" {est[0].upper()}{est[1:]}." if est else "")


def answer_item_questions(
    questions: list[ItemQuestion], toolkit: Toolkit, state: DialogueState
) -> list[str]:
    """Every question's answer, in order (a "why" answer quotes the item's templated rationale)."""
    out = []
    for q in questions:
        reason = None
        if q.kind == "why" and q.item_id in state.recommended:
            f = item_facts(toolkit, state, q.item_id)
            cand = SimpleNamespace(
                item_id=q.item_id, predicted_rating=f.your_rating, sources=("ranker",)
            )
            try:
                reason = template_rationale(build_evidence(toolkit, state, [cand])[0], state)
            except Exception:  # noqa: BLE001 - the facts still answer
                reason = None
        out.append(answer_item_question(q, toolkit, state, reason=reason))
    return out


__all__ = ["ItemFacts", "answer_item_question", "answer_item_questions", "item_facts"]
