"""Title detection in free text: the leakage guard (held-out titles a simulated user names) and
the best-effort check for titles the agent names that are not in the catalog.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from genrec.data import Catalog

_ARTICLE = re.compile(r"^(the|a|an)\s+", re.I)
_ALT = re.compile(r"\s*\([^()]*\)\s*$")


def title_variants(title: str) -> list[str]:
    """Ways a person may write a title: as is, without an alternative title in parentheses,
    without a leading article (only when that leaves two words or more)."""
    out = [title.strip()]
    main = _ALT.sub("", title).strip()
    if main and main != out[0]:
        out.append(main)
    for t in list(out):
        bare = _ARTICLE.sub("", t)
        if bare != t and len(bare.split()) >= 2:
            out.append(bare)
    return [t for t in dict.fromkeys(out) if t and t.casefold() not in ("unknown", "untitled")]


def _pattern(variant: str) -> re.Pattern[str]:
    # one-word titles ("Heat", "Ghost", "Contact") only match as written (capitalised), so an
    # ordinary word in a sentence is not taken for a title; longer titles match in any case.
    flags = 0 if len(variant.split()) == 1 else re.IGNORECASE
    return re.compile(r"(?<![\w])" + re.escape(variant) + r"(?![\w])", flags)


def _needle(variant: str) -> str | None:
    """What an ASCII text must hold (lowered) for `_pattern(variant)` to match it: the variant
    lowered when it is ASCII; None (always search) otherwise, as a case-insensitive search may match
    a non-ASCII letter to an ASCII one ("ſ" to "s")."""
    return variant.lower() if variant.isascii() else None


@dataclass(frozen=True)
class Leak:
    """A held-out item whose title a simulated user wrote."""

    item_id: int
    title: str
    text: str


class TitleMatcher:
    """Finds which of a set of items are named in a text.

    >>> from genrec.data import Item
    >>> cat = Catalog([Item(1, "Heat", 1995), Item(2, "Heat and Dust", 1983),
    ...                Item(3, "The Ice Storm", 1997)])
    >>> m = TitleMatcher(cat, [1, 3])
    >>> (m.find("I loved Ice Storm"), m.find("it was a heat wave"),
    ...  m.find('"Heat and Dust"', allowed=[2]))
    ([3], [], [])
    """

    def __init__(self, catalog: Catalog, item_ids: Iterable[int]) -> None:
        self.catalog = catalog
        # each pattern with its `_needle`: a needle that is not in the lowered text (when the text
        # is ASCII) means no match, which skips most regex searches
        self._patterns: list[tuple[int, str, list[tuple[str | None, re.Pattern[str]]]]] = []
        for i in sorted({int(x) for x in item_ids}):
            it = catalog.get(i)
            if it is None:
                continue
            variants = title_variants(it.title)
            if variants:
                self._patterns.append((i, it.title, [(_needle(v), _pattern(v)) for v in variants]))

    def find(self, text: str, *, allowed: Sequence[int] = ()) -> list[int]:
        """Ids of the items named in `text`.

        A match that lies inside the title of an `allowed` item (one the speaker may name, e.g.
        "Heat" inside "Heat and Dust") does not count; an item whose title is exactly the title of
        an allowed item still counts (the two cannot be told apart).
        """
        if not text:
            return []
        spans: list[tuple[int, int]] = []
        allowed_titles: set[str] = set()
        for a in allowed:
            it = self.catalog.get(int(a))
            if it is None:
                continue
            allowed_titles.add(it.title.casefold())
            for v in title_variants(it.title):
                spans += [m.span() for m in _pattern(v).finditer(text)]
        lowered = text.lower() if text.isascii() else None
        found: list[int] = []
        for i, title, pats in self._patterns:
            for needle, p in pats:
                if lowered is not None and needle is not None and needle not in lowered:
                    continue
                hit = False
                for m in p.finditer(text):
                    s, e = m.span()
                    inside = any(a <= s and e <= b and (b - a) > (e - s) for a, b in spans)
                    if not inside or title.casefold() in allowed_titles:
                        hit = True
                        break
                if hit:
                    found.append(i)
                    break
        return found


_QUOTED = re.compile(r"[\"“”«»]([^\"“”«»]{2,120})[\"“”«»]")
_YEAR = re.compile(r"\(((?:18|19|20)\d\d)\)")
_SMALL = {
    "of",
    "the",
    "and",
    "a",
    "an",
    "in",
    "to",
    "on",
    "at",
    "for",
    "with",
    "from",
    "de",
    "la",
    "le",
}


class CatalogTitles:
    """Best-effort check for titles an agent names that are not in the catalog.

    Candidates are quoted strings and "Title (YYYY)" patterns; a candidate is known when it
    matches a catalog title or label (case-insensitive, with or without a leading article).
    """

    def __init__(self, catalog: Catalog) -> None:
        known: set[str] = set()
        for it in catalog:
            for v in title_variants(it.title):
                known.add(v.casefold())
                if it.year:
                    known.add(f"{v} ({it.year})".casefold())
            if it.raw_title:
                known.add(it.raw_title.casefold())
        self._known = known

    def is_known(self, title: str) -> bool:
        for t in (title.strip(), title.strip().strip(".,;:!?").strip()):
            if t.casefold() in self._known or _ARTICLE.sub("", t).casefold() in self._known:
                return True
        return False

    def unknown_titles(self, text: str) -> list[str]:
        """Titles in `text` that look like titles but are not in the catalog."""
        text = text or ""
        out: list[str] = []
        for m in _QUOTED.finditer(text):
            c = m.group(1).strip()
            base = _YEAR.sub("", c).strip()
            if any(ch.isalpha() for ch in c) and not (self.is_known(c) or self.is_known(base)):
                out.append(c)
        for m in _YEAR.finditer(text):
            before = re.split(r"[!?\n\"“”]", text[: m.start()])[-1].split()
            if not before:
                continue
            if any(
                self.is_known(" ".join(before[-n:])) for n in range(1, min(len(before), 12) + 1)
            ):
                continue
            run: list[str] = []
            for w in reversed(before):
                if w[:1].isupper() or w[:1].isdigit() or w.lower() in _SMALL:
                    run.insert(0, w)
                else:
                    break
            while run and (run[0].lower() in _SMALL or re.fullmatch(r"\d+[.)]?", run[0])):
                run.pop(0)
            if run:
                out.append(f"{' '.join(run)} ({m.group(1)})")
        return list(dict.fromkeys(out))


__all__ = ["CatalogTitles", "Leak", "TitleMatcher", "title_variants"]
