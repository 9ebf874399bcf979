"""How the target-seeking user writes (seeded phrasings, at least three per act) and how it reads an
agent's question (which attribute it asks about, which genres and decades it names).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from genrec.evaluation.simulation.phrasings import genre_word

# ---- phrasings: at least three per act; {a} a genre as a person asks for it, {d} a decade, {pos} a
# list position, {t} a quoted training title. Each act ends with a fallback of short words.
OPEN_GENRE = (
    "Hi! I'm in the mood for {a}.",
    "Can you help me find {a}?",
    "I'd like to watch {a} tonight.",
    "Looking for {a}, any ideas?",
    "Hi! {A}, if you have one.",
)
OPEN_EXAMPLE = (
    'I loved "{t}", can you find me something like it?',
    'Something in the spirit of "{t}" would be great.',
    'I want a film like "{t}".',
    'Hi! One like "{t}", if you can.',
)
ANSWER_GENRES = ("I'm in the mood for {a}.", "{A} would be perfect.", "Ideally {a}.", "{A}, yes.")
ANSWER_YES = (
    "Yes, {a} would be great.",
    "Yes please, {a}.",
    "Sure, {a} sounds right.",
    "Yes, {a}.",
)
ANSWER_NO = ("No, not {a}.", "Not {a}, no.", "I'd rather not have {a}.", "No {g}.")
ANSWER_DECADE = (
    "From the {d}, ideally.",
    "Something from the {d}.",
    "I'm thinking of the {d}.",
    "The {d}.",
)
ANSWER_DECADE_NO = (
    "No, not the {d}.",
    "Not from the {d}.",
    "I'd rather not go for the {d}.",
    "Not the {d}.",
)
ANSWER_NO_YEAR = (
    "I don't mind when it's from.",
    "Any time is fine.",
    "The year doesn't matter to me.",
    "Any era.",
)
ANSWER_EXAMPLE = (
    'I really liked "{t}".',
    'For example "{t}", I loved that one.',
    '"{t}" is the kind of thing.',
    'Say "{t}".',
)
ANSWER_OTHER = (
    "No preference there.",
    "I don't mind about that.",
    "That doesn't matter to me.",
    "Any is ok.",
)
REJECT_MISSING = ("I'm after {a}, and the {pos} one is not one.", "Not the {pos} one, I want {a}.",
                  "The {pos} one isn't {a}.", "No to the {pos}, I want {a}.")
REJECT_NONE_HAS = ("None of these is {a}; I'd like {a}.", "I want {a}, none of those is one.",
                   "Those aren't {a}.", "I want {a}; not one of these is.")
REJECT_EXTRA = ("Not in the mood for {a}.", "The {pos} one is {a}, not my thing today.",
                "I'd skip the {pos} one, no {g} for me now.", "No {g} now.")
REJECT_OLD = (
    "The {pos} one is too old, something from the {d}.",
    "Too dated for me; I'd like something from the {d}.",
    "The {pos} one is older than I want: from the {d}, ideally.",
    "Too old; the {d}.",
)
REJECT_NEW = (
    "The {pos} one is too recent, something from the {d}.",
    "Too new for me; I'd like something from the {d}.",
    "The {pos} one is newer than I want: from the {d}, ideally.",
    "Too new; the {d}.",
)
REJECT_PLAIN = (
    "None of these is quite it.",
    "Close, but not what I have in mind.",
    "Not quite, sorry.",
    "No, not yet.",
)
ACCEPT = ("Yes! The {pos} one is exactly what I was after.", "That's it, the {pos} one. Thank you!",
          "The {pos} one is perfect, I'll watch that.", "Yes, the {pos} one!")
OPEN_PLAIN = (
    "Hi! Can you help me find a film?",
    "Hi, any ideas for a film?",
    "I need a film for tonight.",
    "Hi! Any film?",
)
CLOSING = ("Thanks, I have what I wanted.", "All set, thanks!", "That's all, thank you.", "Bye!")

_GENRE_SYNONYMS = {
    "Action": r"action",
    "Adventure": r"adventures?",
    "Animation": r"animat(?:ion|ed)|cartoons?",
    "Children's": r"children'?s|kids?|family",
    "Comedy": r"comed(?:y|ies)|funny",
    "Crime": r"crimes?",
    "Documentary": r"documentar(?:y|ies)",
    "Drama": r"dramas?",
    "Fantasy": r"fantas(?:y|ies)",
    "Film-Noir": r"(?:film[- ])?noir",
    "Horror": r"horror|scary",
    "Musical": r"musicals?",
    "Mystery": r"myster(?:y|ies)",
    "Romance": r"romance|romantic",
    "Sci-Fi": r"sci-?fi|science[- ]fiction",
    "Thriller": r"thrillers?",
    "War": r"war",
    "Western": r"westerns?",
}
_KINDS = (
    (
        "decade",
        re.compile(
            r"\b(decades?|era|eras|years?|when|old|older|oldie|new|newer|recent|classics?|modern|"
            r"period|released?|age)\b",
            re.I,
        ),
    ),
    (
        "genre",
        re.compile(
            r"\b(genres?|kinds?|types?|sorts?|styles?|mood|category|categories|feel|vibe)\b", re.I
        ),
    ),
    (
        "example",
        re.compile(r"\b(examples?|titles?|favou?rites?|liked|enjoyed|loved|similar)\b", re.I),
    ),
    (
        "other",
        re.compile(
            r"\b(actors?|actress(es)?|directors?|starring|language|country|length|long|short|cast)\b",
            re.I,
        ),
    ),
)
_DECADE = re.compile(
    r"\b(?:(1[89]|20)?(\d)0'?s)\b|\b(twenties|thirties|forties|fifties|sixties|seventies|"
    r"eighties|nineties)\b",
    re.I,
)
_DECADE_WORDS = {
    "twenties": 1920,
    "thirties": 1930,
    "forties": 1940,
    "fifties": 1950,
    "sixties": 1960,
    "seventies": 1970,
    "eighties": 1980,
    "nineties": 1990,
}


def question_kinds(text: str) -> list[str]:
    """What an agent's question asks about: any of decade, genre, example, other (in that order).

    >>> (question_kinds("Which genre are you in the mood for?"),
    ...  question_kinds("Older or newer films?"))
    (['genre'], ['decade'])
    >>> question_kinds("What kind of film, and from any particular era?"), question_kinds("Hello")
    (['decade', 'genre'], [])
    """
    return [kind for kind, rx in _KINDS if rx.search(text or "")]


def question_part(text: str) -> str:
    """The sentences of an agent reply that ask something (all of it when none ends with "?"), so
    the genres of a described list are not taken for a question about them.

    >>> question_part("Toy Story is a comedy. Which decade do you prefer? Or any era?")
    'Which decade do you prefer? Or any era?'
    """
    asked = [q.strip() for q in re.findall(r"[^.!?\n]*\?", text or "")]
    return " ".join(q for q in asked if q) or (text or "")


def genres_named(text: str, genres: Sequence[str]) -> list[str]:
    """The catalog genres a text names ("comedies", "something funny", "sci-fi"), in catalog order.

    >>> genres_named("Do you want a comedy or a western?", ["Comedy", "War", "Western"])
    ['Comedy', 'Western']
    """
    out = []
    for g in genres:
        rx = _GENRE_SYNONYMS.get(g, re.escape(genre_word(g)))
        if re.search(r"(?<!\w)(?:" + rx + r")(?!\w)", text or "", re.I):
            out.append(g)
    return out


def decades_named(text: str) -> list[int]:
    """The decades a text names ("80s", "1980s", "the '80s", "eighties"); two digits read as 19xx.

    >>> decades_named("From the 80s or the 1990s? Or the seventies?")
    [1980, 1990, 1970]
    """
    out: list[int] = []
    for m in _DECADE.finditer(text or ""):
        d = (
            _DECADE_WORDS[m.group(3).lower()]
            if m.group(3)
            else int((m.group(1) or "19") + m.group(2) + "0")
        )
        if d not in out:
            out.append(d)
    return out


__all__ = [
    "ACCEPT",
    "ANSWER_DECADE",
    "ANSWER_DECADE_NO",
    "ANSWER_EXAMPLE",
    "ANSWER_GENRES",
    "ANSWER_NO",
    "ANSWER_NO_YEAR",
    "ANSWER_OTHER",
    "ANSWER_YES",
    "CLOSING",
    "OPEN_EXAMPLE",
    "OPEN_GENRE",
    "OPEN_PLAIN",
    "REJECT_EXTRA",
    "REJECT_MISSING",
    "REJECT_NEW",
    "REJECT_NONE_HAS",
    "REJECT_OLD",
    "REJECT_PLAIN",
    "decades_named",
    "genres_named",
    "question_kinds",
    "question_part",
]
