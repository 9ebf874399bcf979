"""Sentence acts, read before any slot: which parts of a message ask a question, describe a film,
or state a preference (only statements, requests and reactions may change preferences).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

Act = Literal["question", "request", "statement", "description"]

_SENTENCE = re.compile(r"[^.!?\n;]*(?:[.!?\n;]+|$)")
_INTERROGATIVE = re.compile(
    r"^\W*(?:(?:ok|okay|so|and|but|or|oh|hmm|well|also|then|yes|yeah|no|cool|great|good|wow)\W+)*"
    r"(?:who|whom|whose|what|whats|what's|when|where|which|why|how|is|are|was|were|does|do|did|has|"
    r"have|had|"
    r"can|could|would|will|should|shall|isn't|isnt|aren't|arent|wasn't|wasnt|doesn't|doesnt|didn't|"
    r"didnt|"
    r"won't|wont|any|anything)\b", re.IGNORECASE)
_REQUEST = re.compile(
    r"\b(?:recommend\w*|suggest\w*|what about|how about|do you have|have you got|got any|"
    r"know (?:of )?any|"
    r"can you (?:find|give|show|think|pick|get)|could you (?:find|give|show|think|pick|get)|"
    r"(?:any|some|something|anything)\b.{0,40}\b(?:movies?|films?|ones?|else|other|similar|like|"
    r"newer|recent|new)|"
    r"i (?:want|need|would like|'d like|d like)|looking for|in the mood for|more like|"
    r"help (?:me )?find|find me|"
    r"show me|give me|"
    r"(?:any|some) (?:good |other |more |new |recent )?\w+ (?:movies?|films?|comedies|dramas|"
    r"thrillers|ones))\b",
    re.IGNORECASE,
)
_ABOUT_A_FILM = re.compile(
    r"\b(?:it|that|this|they|those|them|he|she|the (?:movie|film|plot|story|cast|trailer|graphics|"
    r"ending|"
    r"first one|second one|last one|sequel|book|show|series|character|actor|actress))\b",
    re.IGNORECASE,
)
_BARE_ASK = re.compile(
    r"^\W*(?!(?:who|whom|whose|what|whats|what's|when|where|which|why|how|is|are|was|were|does|do|"
    r"did|"
    r"has|have|had|can|could|would|will|should|isn't|isnt|aren't|arent|wasn't|wasnt|doesn't|doesnt|"
    r"didn't|didnt)\b)",
    re.IGNORECASE,
)
"""A question with no question word: "any sci-fi?", "comedies?" (a request said with a question
mark)."""
_ASKED_AFTER = re.compile(r"^[^,]{0,40},\s*(?:what|how|why)\s+(?:is|was|are|were|do|did|does)\b",
                          re.IGNORECASE)
"""A question after a lead-in, typed without its question mark ("one more question, what is your
favorite part of X"); not "which"/"who", which open relative clauses ("horror, which is not my
thing")."""
_TAG_QUESTION = re.compile(
    r"(?:,\s*(?:(?:and|what about|how about|do|did|have)\s+)?|\s+(?:and|what about|how about)\s+)"
    r"(?:you|u|yourself|urself)\s*\?+\s*$",
    re.IGNORECASE,
)
"""A question handed back at the end of a statement ("i like that movie very much and you?",
"loved it, what about you?"): its own sentence, so the statement before it still counts."""
_DISMISSES = re.compile(
    r"\bnot (?:really |quite )?(?:my thing|for me|my cup of tea|my type|what i(?:'m| am) after)|"
    r"\bnot in the mood|\bhad enough|\bsick of|\btired of|\bno more\b",
    re.IGNORECASE,
)
"""A dismissal in a description ("the second one is a comedy, not my thing") still avoids the
genre."""
_COMPLAINT = re.compile(r"\b(?:the \w+ one|those|these|none of (?:these|those|them)|neither)\b.*"
                        r"\b(?:isn'?t|aren'?t|is not|are not|not one)\b", re.IGNORECASE)
"""A complaint about the list shown ("the second one isn't a comedy", "those aren't comedies") says
what the user wants: not a description to skip."""
_ASKS_THE_RECOMMENDER = re.compile(
    r"^\W*(?:do|did|have|would|will|are|were) you\b(?!.*\b(?:have|got|know|recommend|"
    r"suggest|think of)\b)|.*\b(?:that|did) you (?:enjoyed|liked|like|enjoy|think|thought)\b",
    re.IGNORECASE,
)
_DESCRIBES = re.compile(
    r"(?:^\W*(?:(?:lol|lmao|haha+|oh|ok|okay|yeah|yes|wow|omg|hmm+|well)\W+)*|"
    r"\b(?:and|but|because|so|though|although|since|as|cause|cuz|if|think|guess|believe|"
    r"feel|hope|heard|"
    r"seems|like)\s+)"
    r"(?:(?:it's|its|itd|it'd|that's|thats|they're|theyre|this is|that is)\b|"
    r"(?:it|this|that|this one|that one|they|those|neither|none of them|both|both of them|he|she|"
    r"the (?:movie|film|"
    r"plot|story|cast|trailer|graphics|ending|sequel|book|show|series|original|remake|first one|"
    r"second one|whole thing|actor|actress|director|lead|main character))\s+"
    r"(?:is|was|were|are|s|would|will|might|could|can|seems?|seemed|looks?|looked|sounds?|sounded|"
    r"has|had|"
    r"have|gets?|got|felt|feels?|made|makes?|fits?|isn't|isnt|wasn't|wasnt|aren't|arent|doesn't|"
    r"doesnt|didn't|didnt|kind of|kinda|really|also|definitely|probably|still|just|sure|actually|"
    r"deviated)\b)",
    re.IGNORECASE,
)
_DEGREE = re.compile(
    r"\b(?:a bit|a little|too|kinda|kind of|pretty|so|very|quite|way too)\s+(?:creepy|scary|"
    r"violent|"
    r"dark|gory|sad|funny|slow|long|boring|childish|mushy|cheesy|intense|bloody|romantic)\b",
    re.IGNORECASE,
)
_WANTS = re.compile(
    r"\b(?:something|anything|nothing|not|no|want|need|prefer|looking for|rather|like|love|"
    r"enjoy)\b",
    re.IGNORECASE,
)
_FIND_THEM = re.compile(r"\bfind (?:him|her|them|it|that|this)\b", re.IGNORECASE)
_MADE_ME = re.compile(r"\b(?:made|makes) me\b", re.IGNORECASE)
_GENERAL_SUBJECT = re.compile(
    r"\b(?:movies?|films?|ones|shows?|comedies|dramas|stories)\s+(?:that|which)\s+(?:\w+\s+)?"
    r"(?:make|makes)\s+me\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Sentence:
    """One sentence of a message, where it lies and what it does."""

    start: int
    end: int
    act: Act


def sentences(text: str) -> list[Sentence]:
    """Each sentence of `text` with its act.

    >>> [s.act for s in sentences("Who is in Heat? I loved Alien. Any good comedies?")]
    ['question', 'statement', 'request']
    >>> [s.act for s in sentences("It made me cry and laugh")]
    ['description']
    """
    return list(_sentences(text))


@lru_cache(maxsize=64)
def _sentences(text: str) -> tuple[Sentence, ...]:
    """The sentences of one message, read once (every title and reference asks for its act)."""
    out = []
    for m in _SENTENCE.finditer(text):
        s = m.group(0)
        if not s.strip():
            continue
        cut = question_tag(s)
        if cut is not None:  # "I loved Fargo, and you?": a statement, then a question handed back
            out.append(Sentence(m.start(), m.start() + cut, _act(s[:cut])))
            out.append(Sentence(m.start() + cut, m.end(), "question"))
            continue
        out.append(Sentence(m.start(), m.end(), _act(s)))
    return tuple(out)


def question_tag(sentence: str) -> int | None:
    """Where a question handed back at the end of `sentence` starts ("..., and you?"), if it has one
    and something before it.

    >>> question_tag("i like that movie very much and you?"), question_tag("and you?")
    (27, None)
    """
    tag = _TAG_QUESTION.search(sentence)
    return tag.start() if tag and sentence[:tag.start()].strip(" ,") else None


def _act(s: str) -> Act:
    body = s.strip()
    asks = body.endswith("?") or bool(_INTERROGATIVE.match(body) or _ASKED_AFTER.match(body))
    if body.lower().startswith(
        ("i ", "i'm", "im ", "i'd", "id ", "i've", "ive ", "my ")
    ) and not body.endswith("?"):
        asks = False
    if asks:
        if _ASKS_THE_RECOMMENDER.match(body):
            return "question"
        if (
            _BARE_ASK.match(body)
            and not _ASKED_AFTER.match(body)
            and not _ABOUT_A_FILM.search(body)
            and not re.search(r"\byou\b", body, re.I)
        ):
            # "any sci-fi?", "comedies?", "Twelve Monkeys?", "something from the 80s?"
            return "request"
        if _REQUEST.search(body) and not re.match(
            r"^\W*(?:is|was|does|did|has)\s+(?:it|that|this)\b", body, re.I
        ):
            return "request"
        return "question"
    if _describes(body):
        return "description"
    return "statement"


def _describes(clause: str) -> bool:
    if _DEGREE.search(clause) and not _WANTS.search(clause):
        return True  # "a bit creepy for a 5 year old", "too slow"
    return bool(_DESCRIBES.search(clause) or _FIND_THEM.search(clause)) or bool(
        _MADE_ME.search(clause) and not _GENERAL_SUBJECT.search(clause)
    )


def _clauses(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The clauses of text[start:end]: split at commas, semicolons, colons and
    'but'/'though'/'and'."""
    cuts = [start]
    for m in re.finditer(
        r"[,;:]|\s(?=(?:but|though|however|although|because|cause)\b)|\s(?=and (?:i|i'm|im|i'd|"
        r"id)\b)",
        text[start:end],
        re.IGNORECASE,
    ):
        cuts.append(start + m.end())
    cuts.append(end)
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def blank_acts(text: str, acts: tuple[Act, ...]) -> str:
    """`text` with the sentences of the given acts replaced by spaces (offsets kept)."""
    out = list(text)
    for s in sentences(text):
        if s.act in acts:
            out[s.start:s.end] = " " * (s.end - s.start)
    return "".join(out)


def preference_text(text: str, original: str | None = None) -> str:
    """The parts of `text` that may change preferences: questions, and clauses that describe a
    film ("it made me laugh", "that one was creepy"), blanked. Acts are read on `original` (the
    same message before other readers blanked parts of it; same offsets) when given.

    >>> preference_text("Is it scary? I love comedies.").strip()
    'I love comedies.'
    >>> preference_text("That's good, I enjoy romantic ones").strip()
    'I enjoy romantic ones'
    """
    source = original if original is not None and len(original) == len(text) else text
    out = list(text)
    for s in sentences(source):
        if s.act == "question":
            out[s.start:s.end] = " " * (s.end - s.start)
            continue
        if _DISMISSES.search(source, s.start, s.end) or _COMPLAINT.search(source, s.start, s.end):
            continue
        for a, b in _clauses(source, s.start, s.end):
            if _describes(source[a:b]):
                out[a:b] = " " * (b - a)
    return "".join(out)


def act_at(text: str, pos: int) -> Act:
    """The act of the sentence holding text[pos]."""
    for s in sentences(text):
        if s.start <= pos < s.end:
            return s.act
    return "statement"


__all__ = [
    "Act",
    "Sentence",
    "act_at",
    "blank_acts",
    "preference_text",
    "question_tag",
    "sentences",
]
