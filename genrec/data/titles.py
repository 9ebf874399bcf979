"""Display titles and years from raw catalog titles.

"Shawshank Redemption, The (1994)" -> ("The Shawshank Redemption", 1994).
"""

from __future__ import annotations

import re

# Trailing articles that MovieLens moves to the end ("Godfather, The").
_ARTICLES = (
    "The", "A", "An", "La", "Le", "Les", "L'", "Il", "Lo", "I", "Gli", "El", "Los", "Las",
    "Das", "Der", "Die", "Det", "De", "Den", "Het",
)
_YEAR_AT_END = re.compile(r"\s*\((\d{4})\)\s*$")
_ARTICLE_AT_END = re.compile(r"^(?P<body>.*?),\s*(?P<art>" + "|".join(map(re.escape, _ARTICLES)) + r")$")
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
