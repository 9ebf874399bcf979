"""The catalog's titles indexed for lookup: exact names and aliases, franchise prefixes, fuzzy
matching, one item id for a title written by an LLM or a user ("Star Wars (1977)"), and how well
known each film is (the prior that picks among films of one name).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import fuzz, process

from genrec.agent.understanding.text import tokens
from genrec.agent.understanding.vocabulary import ARTICLES
from genrec.data import Catalog

_ALT_TITLE = re.compile(r"^(.*?)\s*\(([^()]*)\)$")


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

    A title with an alternative in brackets ("Seven (Se7en)") is indexed under both names, and so
    is every alias the catalog records (`Item.names`).
    `exact` maps a key to its items, `prefix` maps the first words of longer titles to theirs.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.exact: dict[str, list[int]] = {}
        self.prefix: dict[str, set[int]] = {}
        self.key_of: dict[int, str] = {}
        for it in catalog:
            alt = _ALT_TITLE.match(it.title)
            names = [alt.group(1), alt.group(2), it.title] if alt else [it.title]
            names += [
                n for n in it.names if n not in names
            ]  # aliases ("12 Monkeys"), "Matrix, The"
            for name in names:
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
        self.fuzzy_keys = self.keys + [
            p for p in self.prefix if len(p.split()) >= 2 and p not in self.exact
        ]
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


DOMINANCE = 3
"""A film of a shared name is the one meant when it has this many times the ratings of the next
("The Thing" is the 1982 film, 45 ratings to 4)."""
KNOWN_FROM = 10
"""At least this many ratings make a film well known: a lower-case word with only a question
around it ("is fargo any good?") must name one ("as in vacation?" names no film rated 6 times).
An absolute count, like `RARE_BELOW`: in a catalog rated evenly every film is well known."""
RARE_BELOW = 3
"""Fewer ratings than this make a film rare: the films a common word names by chance ("Parasite",
a 1982 film rated twice in MovieLens latest-small) have one or two. An absolute count on purpose:
in a small sample of users, well-known recent films have few ratings (Insidious has 3), and in a
catalog rated evenly no film is rare."""


@dataclass(frozen=True)
class TitlePrior:
    """Rating counts per item (the ranker's training data): a film rated fewer than `RARE_BELOW`
    times is rare, one rated `KNOWN_FROM` times or more well known. Without counts
    (`TitlePrior()`) nothing is rare, everything is well known and no film of a shared name
    dominates.

    >>> prior = TitlePrior({1: 45, 2: 2, 3: 40, 4: 30})
    >>> prior.dominant([1, 2]), prior.dominant([3, 4]), prior.rare(2), prior.rare(99)
    (1, None, True, True)
    >>> prior.well_known(1), prior.well_known(2)
    (True, False)
    >>> TitlePrior().rare(99), TitlePrior().dominant([1, 2]), TitlePrior().well_known(99)
    (False, None, True)
    """

    counts: Mapping[int, int] = field(default_factory=dict)

    def rare(self, item_id: int) -> bool:
        """Is the film too little known to be taken from a common word alone?"""
        return bool(self.counts) and self.counts.get(item_id, 0) < RARE_BELOW

    def well_known(self, item_id: int) -> bool:
        """Is the film known well enough to be meant by a lower-case word in a question?"""
        return not self.counts or self.counts.get(item_id, 0) >= KNOWN_FROM

    def dominant(self, ids: Sequence[int]) -> int | None:
        """The one of several films of a name that people mean, when one stands out; else None."""
        if len(ids) < 2 or not self.counts:
            return None
        ranked = sorted(ids, key=lambda i: -self.counts.get(i, 0))
        top, second = (self.counts.get(i, 0) for i in ranked[:2])
        if self.rare(ranked[0]) or top < DOMINANCE * max(second, 1):
            return None
        return ranked[0]


NO_PRIOR = TitlePrior()
"""No rating counts known: titles are read from the words alone."""
