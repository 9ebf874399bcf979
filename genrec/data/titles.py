"""Display titles and years from raw catalog titles.

"Shawshank Redemption, The (1994)" -> ("The Shawshank Redemption", 1994).
"""

from __future__ import annotations

import re
from typing import NamedTuple

# Trailing articles that MovieLens moves to the end ("Godfather, The").
_ARTICLES = (
    "The", "A", "An", "La", "Le", "Les", "L'", "Il", "Lo", "I", "Gli", "El", "Los", "Las",
    "Das", "Der", "Die", "Det", "De", "Den", "Het",
)
_YEAR_AT_END = re.compile(r"\s*\((\d{4})\)\s*$")
_ARTICLE_AT_END = re.compile(
    r"^(?P<body>.*?),\s*(?P<art>" + "|".join(map(re.escape, _ARTICLES)) + r")$"
)
_DATE_YEAR = re.compile(r"(\d{4})\s*$")


def _move_article(text: str) -> str:
    m = _ARTICLE_AT_END.match(text.strip())
    if not m:
        return text.strip()
    art = m.group("art")
    sep = "" if art.endswith("'") else " "
    return f"{art}{sep}{m.group('body').strip()}"


def parse_title(raw: str | None, release_date: str | None = None) -> tuple[str, int | None]:
    """Split a raw title into (display title, year).

    The year comes from a trailing "(YYYY)", else from the release date; it is None when
    neither has one. An alternative title in parentheses is kept after the main title.

    >>> parse_title("Shawshank Redemption, The (1994)")
    ('The Shawshank Redemption', 1994)
    >>> parse_title("City of Lost Children, The (Cité des enfants perdus, La) (1995)")
    ('The City of Lost Children (La Cité des enfants perdus)', 1995)
    >>> parse_title("unknown")
    ('unknown', None)
    """
    text = (raw or "").strip()
    year: int | None = None
    m = _YEAR_AT_END.search(text)
    if m:
        year = int(m.group(1))
        text = text[: m.start()].strip()
    if year is None and release_date:
        d = _DATE_YEAR.search(str(release_date).strip())
        if d:
            year = int(d.group(1))
    # "Main, The (Alt, La)" -> main and alternative title
    alt = None
    m_alt = re.match(r"^(?P<main>.*?)\s*\((?P<alt>[^()]*)\)$", text)
    if m_alt and m_alt.group("main"):
        text, alt = m_alt.group("main"), m_alt.group("alt")
    title = _move_article(text) or (raw or "").strip() or "untitled"
    if alt:
        title = f"{title} ({_move_article(alt)})"
    return title, year


# MovieLens "latest" titles: "Title, The (Alt) (a.k.a. Other) (1999)"; a series may end
# "(2006–2007)".
_LATEST_YEAR = re.compile(r"\s*\((\d{4})(?:\s*[–-]\s*(?:\d{4})?)?\s*\)\s*$")
_TRAILING_ALT = re.compile(r"^(?P<main>.*\S)\s*\((?P<alt>[^()]+)\)$")
_AKA = re.compile(r"^(?:a\.\s?k\.\s?a\.?|aka)\s+", re.IGNORECASE)


class ParsedTitle(NamedTuple):
    """A raw MovieLens-latest title taken apart: the display title, its year and the alternative
    titles written in brackets, in the order written; `written` is the main title as the source
    wrote it ("Matrix, The"), which matches too."""

    title: str
    year: int | None
    aliases: tuple[str, ...] = ()
    written: str = ""


def split_title(raw: str) -> ParsedTitle:
    """Display title, year and alternative titles of a MovieLens-latest title.

    Articles moved to the end come back to the front; every bracketed group after the main title
    is an alternative title ("a.k.a." dropped); the year is the last bracket's (a series gives its
    first year); a title with no year has year None.

    >>> split_title("Matrix, The (1999)")
    ParsedTitle(title='The Matrix', year=1999, aliases=(), written='Matrix, The')
    >>> split_title("Twelve Monkeys (a.k.a. 12 Monkeys) (1995)").aliases
    ('12 Monkeys',)
    >>> split_title("Léon: The Professional (a.k.a. The Professional) (Léon) (1994)")[:3]
    ('Léon: The Professional', 1994, ('The Professional', 'Léon'))
    >>> split_title("City of Lost Children, The (Cité des enfants perdus, La) (1995)")[:3]
    ('The City of Lost Children', 1995, ('La Cité des enfants perdus',))
    >>> split_title("Death Note: Desu nôto (2006–2007)")[:2], split_title("Babylon 5")[:2]
    (('Death Note: Desu nôto', 2006), ('Babylon 5', None))
    >>> split_title("(500) Days of Summer (2009)")[:3]
    ('(500) Days of Summer', 2009, ())
    """
    text = " ".join((raw or "").split())
    year: int | None = None
    m = _LATEST_YEAR.search(text)
    if m and m.start() > 0:
        year, text = int(m.group(1)), text[: m.start()].strip()
    aliases: list[str] = []
    while (alt := _TRAILING_ALT.match(text)) is not None:
        aliases.insert(0, _move_article(_AKA.sub("", alt.group("alt").strip())))
        text = alt.group("main").strip()
    title = _move_article(text) or " ".join((raw or "").split()) or "untitled"
    return ParsedTitle(
        title, year, tuple(a for a in dict.fromkeys(aliases) if a and a != title), text
    )
