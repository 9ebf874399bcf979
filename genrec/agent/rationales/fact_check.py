"""The fact checker: LLM text is kept only when every title, genre, year, decade and rating it
states is true of the recommended or liked items (and it is plain text, not a prompt leak).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, Field

from genrec.agent.rationales.evidence import Evidence
from genrec.agent.state import DialogueState
from genrec.agent.understanding.extraction import CatalogExtractor, normalize
from genrec.llm.safe_text import plain_text

# genre synonyms that are ordinary words in prose ("a family drama", "space to breathe")
_VAGUE_GENRE_WORDS = {"space", "family", "laugh", "explosions", "docs", "sf", "kid", "kids",
                      "children", "creepy", "dramatic", "suspense", "funny", "humor", "humour"}
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_DECADE = re.compile(r"\b(?:(1[89]\d0|20\d0)s|['’]?([1-9]0)s)\b")
_RATING = re.compile(r"\b([0-5](?:\.\d+)?)\s*(?:/\s*5|out of (?:5|five)|stars?\b)", re.IGNORECASE)
_QUOTED = re.compile(r"[\"“«]([^\"”»]{2,80})[\"”»]")
_TITLE_YEAR = re.compile(r"\((\d{4})\)")


class FactChecker:
    """`check_text` with the catalog's extractor and the prompt-leak guard bound in."""

    def __init__(self, extractor: CatalogExtractor, forbidden: list[str]) -> None:
        self.extractor = extractor
        self.forbidden = forbidden

    def check(self, text: str, allowed: set[int], evidence: Evidence | None = None,
              state: DialogueState | None = None) -> CheckResult:
        """A rationale (with `evidence`, at most 600 characters) or a reply text (1500)."""
        return check_text(text, self.extractor, allowed_ids=allowed, evidence=evidence,
                          state=state, forbidden=self.forbidden,
                          max_chars=600 if evidence is not None else 1500)


class CheckResult(BaseModel):
    ok: bool
    problems: list[str] = Field(default_factory=list)


def check_text(text: str, extractor: CatalogExtractor, *, allowed_ids: set[int],
               evidence: Evidence | None = None, state: DialogueState | None = None,
               max_chars: int = 600, forbidden: Sequence[str] = ()) -> CheckResult:
    """Check LLM text against the data, after reducing it to plain text (`plain_text`).

    Text that held links, images, HTML, URLs or other removable markup fails the check.

    Args:
        text: the LLM's rationale (with `evidence`) or reply text (without).
        allowed_ids: items the text may name (the recommended and liked items).
        evidence: the item a rationale is about; its genres/year/prediction bound the claims.
        forbidden: snippets that must never appear (the system prompt).
    """
    problems: list[str] = []
    if not text or not text.strip():
        return CheckResult(ok=False, problems=["empty text"])
    safe = plain_text(text)
    if safe.changed:
        problems.append(f"contains {', '.join(safe.removed)} (LLM text must be plain text)")
        text = safe.text or " "
    if len(text) > max_chars:
        problems.append(f"too long ({len(text)} > {max_chars} characters)")
    low = text.lower()
    for snippet in forbidden:
        if snippet and snippet.lower() in low:
            problems.append("repeats the system prompt")
            break
    named = _named_items(text, extractor, allowed_ids, problems)
    if evidence is not None:
        problems += _claims_problems(text, extractor, evidence, named, state)
    return CheckResult(ok=not problems, problems=problems)


def _named_items(text: str, extractor: CatalogExtractor, allowed_ids: set[int],
                 problems: list[str]) -> set[int]:
    """The allowed items the text names; every catalog title named that is not allowed (by its
    words, in quotes or as "Title (year)") adds a problem."""
    cat = extractor.catalog
    named: set[int] = set()
    for mention in extractor.find_titles(text):
        raw = text[mention.start:mention.end]
        if len(raw.split()) == 1 and raw.islower():
            continue  # a lower-case common word, not a title reference
        if any(i in allowed_ids for i in mention.ids):
            named.update(i for i in mention.ids if i in allowed_ids)
        else:
            problems.append(f"names {raw!r}, which is not a recommended or liked item")
    for m in _QUOTED.finditer(text):
        iid = extractor.index.resolve(m.group(1))
        if iid is None or iid not in allowed_ids:
            problems.append(f"names {m.group(0)!r}, which is not a recommended or liked item")
        else:
            named.add(iid)
    for m in _TITLE_YEAR.finditer(text):
        words = text[max(0, m.start() - 120):m.start()].split()[-8:]
        if not words or not words[-1][:1].isupper() and not words[-1][:1].isdigit():
            continue
        found = None
        for size in range(1, len(words) + 1):
            iid = extractor.index.resolve(" ".join(words[-size:]) + f" ({m.group(1)})", cutoff=95)
            if iid is not None and cat[iid].year == int(m.group(1)):
                found = iid
                if iid in allowed_ids:
                    break
        if found is None or found not in allowed_ids:
            problems.append(f"names {' '.join(words[-3:])} ({m.group(1)}), which is not a "
                            "recommended or liked item")
        else:
            named.add(found)
    return named


def _claims_problems(text: str, extractor: CatalogExtractor, evidence: Evidence, named: set[int],
                     state: DialogueState | None) -> list[str]:
    """What a rationale states that is not true of its item (or the items it names): years,
    decades, genres and the predicted rating."""
    problems: list[str] = []
    cat = extractor.catalog
    subject = {evidence.item_id, *named}
    years: set[int] = {y for i in subject if cat.get(i) is not None
                       and (y := cat[i].year) is not None and y}
    genres = {g for i in subject if cat.get(i) is not None for g in cat[i].genres}
    if state is not None:
        years |= {y for y in (state.year_min, state.year_max) if y}
    for y in _YEAR.findall(text):
        if int(y) not in years:
            problems.append(f"states the year {y}, which is not the item's year")
    for m in _DECADE.finditer(text):
        start = int(m.group(1)) if m.group(1) else (1900 + int(m.group(2)))
        if not any(start <= y <= start + 9 for y in years):
            problems.append(f"states the {m.group(0)}, which does not hold for the item")
    norm = " " + normalize(text) + " "
    for phrase in sorted(extractor.genre_map, key=len, reverse=True):
        if f" {phrase} " in norm:
            g = extractor.genre_map[phrase]
            if g not in genres and phrase not in _VAGUE_GENRE_WORDS:
                problems.append(f"calls it {phrase!r} ({g}), which is not one of its genres")
            norm = norm.replace(f" {phrase} ", " ")
    for m in _RATING.finditer(text):
        val = float(m.group(1))
        if evidence.predicted_rating is None or abs(val - evidence.predicted_rating) > 0.25:
            problems.append(f"quotes a rating of {m.group(0)!r}, which is not the prediction")
    return problems
