"""Title matching: the catalog's titles indexed for exact, franchise-prefix and fuzzy lookup, and
the stretches of a message that name them (quoted, exact n-grams, prefixes, typos after a cue).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process

from genrec.agent.preferences import Polarity
from genrec.agent.text import SENTENCE_END, fold, tokens
from genrec.agent.vocabulary import ARTICLES, COMMON_TITLE_WORDS, STOP_WORDS, VOCABULARY
from genrec.data import Catalog

_CUE_BEFORE = re.compile(r"\b(?:" + "|".join(VOCABULARY.title_cue_words) + r")\s+$")
_ALT_TITLE = re.compile(r"^(.*?)\s*\(([^()]*)\)$")
_QUOTED = re.compile(r"[\"“]([^\"“”\n]{1,150})[\"”]")
Token = tuple[str, int, int]


@dataclass
class TitleMention:
    """A stretch of the message that names one catalog item (or several, when ambiguous)."""

    text: str
    start: int
    end: int
    ids: list[int]
    ambiguous: bool = False
    polarity: Polarity = "liked"
    alternatives: tuple[int, ...] = ()
    """Longer titles the words also begin ("Alien" -> Alien 3), when the exact title was taken."""


def title_key(text: str) -> str:
    """The normalised lookup key of a title: its words without a leading article.

    >>> title_key("The Empire Strikes Back"), title_key("A")
    ('empire strikes back', 'a')
    """
    toks = [t for t, _, _ in tokens(text)]
    if toks and toks[0] in ARTICLES and len(toks) > 1:
        toks = toks[1:]
    return " ".join(toks)


class TitleIndex:
    """Normalised catalog titles for exact n-gram lookup, franchise prefixes and fuzzy matching.

    A title with an alternative in brackets ("Seven (Se7en)") is indexed under both names.
    `exact` maps a key to its items, `prefix` maps the first words of longer titles to theirs.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.exact: dict[str, list[int]] = {}
        self.prefix: dict[str, set[int]] = {}
        self.key_of: dict[int, str] = {}
        for it in catalog:
            alt = _ALT_TITLE.match(it.title)
            for name in [alt.group(1), alt.group(2), it.title] if alt else [it.title]:
                key = title_key(name)
                if not key:
                    continue
                self.key_of.setdefault(it.item_id, key)
                ids = self.exact.setdefault(key, [])
                if it.item_id not in ids:
                    ids.append(it.item_id)
                words = key.split()
                for n in range(1, len(words)):
                    self.prefix.setdefault(" ".join(words[:n]), set()).add(it.item_id)
        self.keys = list(self.exact)
        self.max_tokens = max((len(k.split()) for k in self.keys), default=1)
        self.years = sorted({it.year for it in catalog if it.year})

    def options(self, key: str) -> list[int]:
        """Every item the normalised `key` could mean: exact titles plus titles it begins."""
        ids = list(self.exact.get(key, []))
        ids += [i for i in sorted(self.prefix.get(key, ())) if i not in ids]
        return ids

    def resolve(self, title: str, *, cutoff: float = 88.0) -> int | None:
        """One item id for a title written by an LLM or a user ("Star Wars (1977)"), or None."""
        year = None
        m = re.search(r"\((\d{4})\)\s*$|\b(\d{4})\s*$", title)
        if m:
            year = int(m.group(1) or m.group(2))
            title = title[: m.start()]
        key = title_key(title)
        if not key:
            return None
        ids = self.exact.get(key)
        if not ids:
            best = process.extractOne(key, self.keys, scorer=fuzz.ratio, score_cutoff=cutoff)
            if not best:
                return None
            ids = self.exact[best[0]]
        if year is not None:
            by_year = [i for i in ids if self.catalog[i].year == year]
            if by_year:
                return by_year[0]
        return ids[0] if len(ids) == 1 or year is None else None


@lru_cache(maxsize=8)
def _index_for(catalog_id: int, catalog: Catalog) -> TitleIndex:  # noqa: ARG001 - cache key
    return TitleIndex(catalog)


def title_index(catalog: Catalog) -> TitleIndex:
    """The (cached) title index of a catalog."""
    return _index_for(id(catalog), catalog)


def find_titles(index: TitleIndex, text: str, *, not_titles: Collection[str] = ()) -> list[TitleMention]:
    """Catalog titles named in `text`: quoted titles, exact n-grams, franchise prefixes, then fuzzy
    spans after a cue word. Keys in `not_titles` (genre words) are never taken for a title.

    Returns the mentions in text order; a year right after a title picks among same-name titles.
    """
    toks = tokens(text)
    catalog = index.catalog
    out: list[TitleMention] = []
    covered = [False] * len(toks)
    sentence_starts = {0}
    for i in range(1, len(toks)):
        if SENTENCE_END.search(text[toks[i - 1][2]:toks[i][1]]):
            sentence_starts.add(i)
    for m in _quoted_titles(index, text):
        out.append(m)
        for j, (_, s, e) in enumerate(toks):
            if s >= m.start and e <= m.end:
                covered[j] = True
    i = 0
    while i < len(toks):
        if covered[i]:
            i += 1
            continue
        found = None
        free = 0
        while i + free < len(toks) and not covered[i + free]:
            free += 1
        for n in range(min(index.max_tokens, free), 0, -1):
            key = " ".join(t for t, _, _ in toks[i:i + n])
            if key in STOP_WORDS or key in not_titles:
                continue
            exact = index.exact.get(key)
            if exact and n == 1 and not _single_word_ok(text, toks, i, sentence_starts):
                continue
            if exact:
                found = (n, key)
                break
            # a franchise prefix ("indiana jones"), never one that starts or ends in a
            # function word ("looking for" is not "Looking for Richard")
            if n >= 2 and key in index.prefix and toks[i][0] not in STOP_WORDS and (
                    toks[i + n - 1][0] not in STOP_WORDS):
                shortest = min(len(index.key_of[o].split()) for o in index.prefix[key])
                if n / shortest >= 0.5:
                    found = (n, key)
                    break
        if not found:
            i += 1
            continue
        n, key = found
        options = index.options(key)
        end = toks[i + n - 1][2]
        # a year right after the title picks among same-name or franchise titles
        if i + n < len(toks) and re.fullmatch(r"\d{4}", toks[i + n][0]):
            year = int(toks[i + n][0])
            by_year = [o for o in options if catalog[o].year == year]
            if by_year:
                options = by_year[:1]
                end = toks[i + n][2]
                n += 1
                if i + n <= len(toks) and text[end:end + 1] == ")":
                    end += 1
        alternatives: tuple[int, ...] = ()
        exact_ids = index.exact.get(key, [])
        if len(options) > 1 and len(exact_ids) == 1 and options[0] == exact_ids[0]:
            # the exact title is that title ("Alien" is Alien (1979)); the note names the others
            options, alternatives = exact_ids[:1], tuple(options[1:8])
        ambiguous = len(options) > 1
        if ambiguous and not exact_ids and len(options) > 8:
            options = sorted(options, key=lambda o: catalog[o].year or 0)[:8]
        out.append(TitleMention(text[toks[i][1]:end], toks[i][1], end, options[:8], ambiguous,
                                alternatives=alternatives))
        for j in range(i, min(i + n, len(toks))):
            covered[j] = True
        i += n
    out += _fuzzy_titles(index, text, toks, covered)
    out.sort(key=lambda m: m.start)
    return out


def _quoted_titles(index: TitleIndex, text: str) -> list[TitleMention]:
    """Titles written in quotes ('I loved "The Godfather" (1972)'): the whole quoted text is
    looked up, so an exact title is not mistaken for the start of a longer one."""
    out = []
    for q in _QUOTED.finditer(text):
        inner = q.group(1)
        year = None
        ym = re.search(r"\s*\((\d{4})\)\s*$", inner)
        if ym:
            year, inner = int(ym.group(1)), inner[: ym.start()]
        end = q.end()
        after = re.match(r"\s*\((\d{4})\)", text[end:])
        if year is None and after:
            year, end = int(after.group(1)), end + after.end()
        key = title_key(inner)
        ids = list(index.exact.get(key, []))
        if not ids and len(key) >= 8:
            hit = process.extractOne(key, index.keys, scorer=fuzz.ratio, score_cutoff=90)
            ids = list(index.exact[hit[0]]) if hit else []
        if year is not None:
            ids = [i for i in ids if index.catalog[i].year == year] or ids
        if ids:
            out.append(TitleMention(text[q.start():end], q.start(), end, ids[:8], len(ids) > 1))
    return out


def _single_word_ok(text: str, toks: list[Token], i: int, sentence_starts: set[int]) -> bool:
    """May the one word toks[i] be a title? Quoted, capitalised mid-sentence, or long and rare."""
    tok, s, e = toks[i]
    raw = text[s:e]
    if len(tok) < 2:
        return False
    quoted = s > 0 and text[s - 1] in "\"'“‘«" and e < len(text) and text[e] in "\"'”’»"
    if quoted or fold(text).strip(" .!?\"'“”") == tok:  # quoted, or the whole message ("Alien")
        return True
    if raw[0].isupper() and i not in sentence_starts and not raw.isupper():
        return True
    if raw[0].isupper() and raw.isupper() and len(raw) > 1 and i not in sentence_starts:
        return True
    return len(tok) >= 6 and tok not in COMMON_TITLE_WORDS and not tok.isdigit()


def _fuzzy_titles(index: TitleIndex, text: str, toks: list[Token],
                  covered: list[bool]) -> list[TitleMention]:
    """Typos ("shawshenk redemption"): spans of 2-6 words after a cue word, ratio >= 88."""
    out = []
    i = 0
    while i < len(toks):
        if covered[i] or not _CUE_BEFORE.search(text[max(0, toks[i][1] - 12):toks[i][1]].lower()):
            i += 1
            continue
        start = i + 1 if toks[i][0] in ARTICLES else i
        best = None
        for n in range(6, 1, -1):
            span = toks[start:start + n]
            if len(span) < n or any(covered[start:start + n]):
                continue
            key = " ".join(t for t, _, _ in span)
            if len(key) < 8:
                continue
            hit = process.extractOne(key, index.keys, scorer=fuzz.ratio, score_cutoff=88)
            if hit and (best is None or hit[1] > best[1]):
                best = (hit[0], hit[1], n)
        if best:
            key, _, n = best
            s, e = toks[i][1], toks[start + n - 1][2]
            opts = index.options(key)
            out.append(TitleMention(text[s:e], s, e, opts[:8], len(opts) > 1))
            for j in range(i, start + n):
                covered[j] = True
            i = start + n
        else:
            i += 1
    return out
