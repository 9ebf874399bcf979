"""How a message answers: the option a reply to "which one did you mean?" picks, and the verdict on
titles said bare (a message of titles only, a title alone as its own sentence).
"""

from __future__ import annotations

import re
from typing import cast

from rapidfuzz import fuzz, process

from genrec.agent.preferences import Polarity
from genrec.agent.state import PendingChoice
from genrec.agent.understanding.polarity import ListReference
from genrec.agent.understanding.text import SENTENCE_END, blank, fold, normalize, tokens
from genrec.agent.understanding.title_mentions import FindTitles, TitleMention
from genrec.agent.understanding.vocabulary import ORDINAL_REF, ORDINALS, POLARITY_AFTER, VOCABULARY
from genrec.data import Catalog

TITLE_CASE = re.compile(
    r"\b[A-Z][\w'’]*(?:(?::\s*|\s+(?:(?:of|the|and|v|vs|in|on|a|an|to|at)\s+)?)[A-Z][\w'’]*)+"
)
"""Several capitalised words in a row ("Infinity War"): a name, read for no genre unless all are
genre words."""
_LIST_GLUE = frozenset(
    "and or also maybe probably think i guess the a an oh um hmm well definitely both too plus "
    "lol lets see like say ok okay so yes yeah sure etc".split()
)
"""Words a bare answer of titles may hold besides them ("I think Alien and Heat")."""
_BACK_TO_IT = re.compile(
    r"\b(?:it|its|it's|that|this|that one|this one|them|those)\b", re.IGNORECASE
)
"""Words by which a sentence speaks of the title said just before it ("Alien. Who is in it?")."""
_IT_VERDICT = re.compile(
    r"(?:i\s+)?(?:really\s+|absolutely\s+)?(?:(?P<liked>loved|liked|enjoyed|adored) it|"
    r"(?P<disliked>hated|disliked|did ?n[o']?t like) it)\b"
)
_YES = re.compile(
    r"^\W*(?:yes|yeah|yep|yup|right|correct|exactly|sure|that one|that's it|thats it|y)\b"
)
_NO = re.compile(r"^\W*(?:no|nope|nah|not that|wrong|neither|n)\b")
_ANSWER_ORDINAL = re.compile(
    r"\s*(?:(\d)|(" + "|".join(VOCABULARY.answer_ordinals) + r"))\W*")


def echo_verdict(text: str, t: TitleMention) -> Polarity | None:
    """The verdict on a title said alone as its own sentence: from the next one ("Twelve
    Monkeys? I really liked it."), else liked, as a bare answer is ("Psycho. Any other ideas?"),
    unless it ends in a question mark or the next sentence is about it ("Alien. Who is in it?")."""
    before = SENTENCE_END.split(text[:t.start])[-1]
    after = text[t.end:]
    stop = SENTENCE_END.match(after.lstrip(" )(0123456789"))
    if before.strip(" \"'“”") or not stop:
        return None
    nxt = after.lstrip(" )(0123456789")[1:].lstrip(" ?!.")
    m = POLARITY_AFTER.match(nxt[:60].lower()) or _IT_VERDICT.match(nxt[:60].lower())
    if m and m.lastgroup:
        return cast(Polarity, m.lastgroup)
    if stop.group(0) in ".!" and not _BACK_TO_IT.search(SENTENCE_END.split(nxt)[0]):
        return "liked"
    return None


def default_polarity(masked: str, spans: list[TitleMention | ListReference]) -> Polarity:
    """The verdict on a title said with no cue: liked when the message is only titles (an
    answer: "Toy Story and Fargo"), else seen (named, not judged: "the last one I saw was X")."""
    rest = masked
    for sp in spans:
        rest = blank(rest, sp.start, sp.end)
    # other titles of the answer ("Elf, Groundhog Day, Home Alone")
    rest = TITLE_CASE.sub(" ", rest)
    words = [t for t, s, _ in tokens(rest) if t not in _LIST_GLUE and not rest[s].isupper()]
    return "liked" if not words else "seen"


def pending_pick(
    text: str,
    pending: PendingChoice,
    catalog: Catalog,
    find_titles: FindTitles,
) -> int | None:
    """The option an answer to "which one did you mean?" picks: by year, ordinal or title."""
    low = fold(text)
    if len(pending.options) == 1:  # "Did you mean Heat (1995)?"
        if _YES.match(low):
            return pending.options[0]
        if _NO.match(low):
            return None
    for y in re.findall(r"\b(\d{4})\b", low):
        hit = [o for o in pending.options if catalog[o].year == int(y)]
        if hit:
            return hit[0]
    m = ORDINAL_REF.search(text) or _ANSWER_ORDINAL.fullmatch(low)
    if m:
        g1, g2 = m.group(1), m.group(2)
        pos = (
            ORDINALS.get(g1.lower())
            if g1 and not g1.isdigit()
            else (
                int(g1) - 1
                if g1
                else (int(g2) - 1 if g2 and g2.isdigit() else ORDINALS.get(g2 or ""))
            )
        )
        if pos is not None and -len(pending.options) <= pos < len(pending.options):
            return pending.options[pos]
    for mention in find_titles(text):
        hits = [i for i in mention.ids if i in pending.options]
        if len(hits) == 1 or (hits and not mention.ambiguous):
            return hits[0]
    names = {o: normalize(catalog[o].title) for o in pending.options}
    best = process.extractOne(normalize(text), names, scorer=fuzz.ratio, score_cutoff=85)
    if best:
        return best[2]
    return None
