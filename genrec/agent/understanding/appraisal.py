"""Verdicts a sentence gives a title with no cue next to it: praise or blame elsewhere in the
sentence ("his performance in Shutter Island was phenomenal"), comparisons that judge nothing
("it's like a Bonnie and Clyde sort of film"), requests for more like a title ("something like"),
and the genre words that describe a title judged ("saw Friday, hilarious") rather than ask.
"""

from __future__ import annotations

import re

from genrec.agent.preferences import Polarity
from genrec.agent.understanding.text import SENTENCE_END, blank
from genrec.agent.understanding.vocabulary import OTHER_PEOPLE

_PRAISE = re.compile(
    r"\b(?:great|amazing|phenomenal|awesome|fantastic|brilliant|excellent|incredible|superb|"
    r"hilarious|funny|lov(?:e|ed|es) (?:it|that|this|them)|(?:really )?lik(?:e|es|ed) (?:it|that|"
    r"this)|enjoyed|adored?|favou?rites?|fan|masterpiece|"
    r"classic|recommend|best|beautiful|special place|so good|really good|pretty good|"
    r"worth (?:it|watching|a watch))\b"
)
_BLAME = re.compile(
    r"\b(?:terrible|awful|horrible|boring|bored|worst|hated?|sucked|sucks|dull|overrated|"
    r"disappointing|disappointed|stupid|garbage|waste|annoying|not good|so bad|too long)\b"
)
_NEGATED = re.compile(
    r"(?:\bnot|n[o']?t|\bnever|\bno|\bnothing|\bhardly)\s+(?:\w+\s+){0,2}$"
)
"""A negation in the three words before a word of praise ("not my favorite", "wasn't funny")."""
_OTHERS = re.compile(r"\b" + OTHER_PEOPLE + r"\s+(?:\w+\s+)?(?:loved?|liked?|enjoyed|hated?)\b")
"""Someone else's verdict ("my wife loved it") is not the writer's."""
_COMPARED = re.compile(
    r"\b(?:it'?s|it is|it was|that'?s|this is|sounds|sounded|looks|looked|seems|seemed|kinda|"
    r"kind of|sort of|a bit|reminds? me|reminded me)\s+(?:\w+\s+){0,2}?(?:like|of)\s+"
    r"(?:[\w'’-]+\s+){0,4}$",
    re.IGNORECASE,
)
"""A film described by another ("it's like X", "sounds like a female take on X", "kinda like X",
"reminded me of X"), right before the title in its sentence."""
MORE_LIKE = re.compile(
    r"(?:\b(?:something|anything|movies?|films?|ones?|stuff|more|others?|similar|one)\s+"
    r"(?:\w+\s+)?(?:like|to)|\bsimilar to|\balong the lines of|\bin the vein of|\bsuch as|"
    r"\bin the spirit of|\bthe likes of|"
    r"^\W*like|\bmore like)\s+(?:the\s+)?$",
    re.IGNORECASE,
)
"""Words that ask for more like a title ("something like", "films similar to"), right before it."""


def _sentence(text: str, start: int, end: int) -> tuple[int, int]:
    """Where the sentence holding text[start:end] begins and ends."""
    lo = max((m.end() for m in SENTENCE_END.finditer(text, 0, start)), default=0)
    stop = SENTENCE_END.search(text, end)
    return lo, stop.start() if stop else len(text)


def _judged(rx: re.Pattern[str], part: str) -> bool:
    return any(not _NEGATED.search(part[:m.start()]) for m in rx.finditer(part))


def sentence_verdict(text: str, start: int, end: int) -> Polarity | None:
    """The writer's verdict on the title at text[start:end] from praise or blame elsewhere in its
    sentence: liked for praise alone, disliked for blame alone, None for neither, both, or a
    verdict that is someone else's.

    >>> t = "He's a phenomenal actor and his performance in Shutter Island reiterates that."
    >>> sentence_verdict(t, t.index("Shutter"), t.index(" reiterates"))
    'liked'
    >>> t = "made in Manhattan was ok, she's not my favorite actor"
    >>> sentence_verdict(t, 0, 8) is None
    True
    """
    lo, hi = _sentence(text, start, end)
    before, after = text[lo:start].lower(), text[end:hi].lower()
    whole = f"{before} {after}"
    if _OTHERS.search(whole):
        return None
    praised, blamed = _judged(_PRAISE, before) or _judged(_PRAISE, after), (
        _judged(_BLAME, before) or _judged(_BLAME, after))
    if praised == blamed:
        return None
    return "liked" if praised else "disliked"


def compared(text: str, start: int) -> bool:
    """Is the title at text[start] named to describe another film ("it's like X"), not judged?

    >>> t = "It's like a Bonnie and Clyde sort of film."
    >>> compared(t, t.index("Bonnie")), compared("I like Heat", 7)
    (True, False)
    """
    return bool(_COMPARED.search(SENTENCE_END.split(text[:start])[-1]))


_DESCRIPTIVE = re.compile(
    r"\b(?:funny|funniest|hilarious|laughed|scary|scariest|creepy|spooky|romantic|gory|"
    r"super ?heros?|superhero)\b",
    re.IGNORECASE,
)
"""Genre words that describe a film as much as they name a genre."""
_ASKING = re.compile(
    r"\b(?:something|anything|want|wanna|need|looking for|in the mood|recommend\w*|suggest\w*|"
    r"show me|give me|more|another|other|similar|please|pls|nothing|no|not|without|prefer|"
    r"rather)\b",
    re.IGNORECASE,
)
_CLAUSE = re.compile(r"[,;:]|\bbut\b|\band\b|" + SENTENCE_END.pattern)


def descriptions_out(text: str, titles: list[tuple[int, int]]) -> str:
    """`text` without the descriptive genre words of the sentences that judge a title ("I watched
    Friday with my brother, hilarious"): they describe the film, they ask for no genre. A clause
    that asks for or turns down something ("loved Heat, something funny please", "loved Aliens
    but nothing too gory") keeps its words.

    >>> descriptions_out("Saw Heat with my brother, hilarious", [(4, 8)]).strip()
    'Saw Heat with my brother,'
    >>> descriptions_out("Loved Heat, something funny please", [(6, 10)])
    'Loved Heat, something funny please'
    """
    for start, end in titles:
        lo, hi = _sentence(text, start, end)
        for m in _DESCRIPTIVE.finditer(text, lo, hi):
            a = max((c.end() for c in _CLAUSE.finditer(text, lo, m.start())), default=lo)
            b = _CLAUSE.search(text, m.end(), hi)
            if not _ASKING.search(text, a, b.start() if b else hi):
                text = blank(text, m.start(), m.end())
    return text
