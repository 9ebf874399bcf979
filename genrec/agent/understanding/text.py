"""Text folding for understanding: lower case without accents, words with their offsets, sentence
ends; title matching, genre and year reading all compare text in this one normal form.
"""

from __future__ import annotations

import re
import unicodedata

SENTENCE_END = re.compile(r"[.;!?\n]")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|&")


def fold(text: str) -> str:
    """Lower case without accents.

    >>> fold("Amélie")
    'amelie'
    """
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower())
                   if not unicodedata.combining(c))


def tokens(text: str) -> list[tuple[str, int, int]]:
    """(normalised word, start, end) for each word of `text`, offsets into the original.

    >>> tokens("Rock & Roll's")
    [('rock', 0, 4), ('and', 5, 6), ('rolls', 7, 13)]
    """
    out = []
    for m in _WORD.finditer(text):
        raw = m.group(0)
        tok = "and" if raw == "&" else fold(raw).replace("'", "").replace("’", "")
        if tok:
            out.append((tok, m.start(), m.end()))
    return out


def normalize(text: str) -> str:
    """Lower case, no accents, '&' -> 'and', punctuation removed, single spaces.

    >>> normalize("  Léon: The Professional & Co.")
    'leon the professional and co'
    """
    return " ".join(tok for tok, _, _ in tokens(text))


def blank(text: str, start: int, end: int) -> str:
    """`text` with text[start:end] replaced by spaces (offsets elsewhere stay valid).

    >>> blank("item 50 please", 0, 7)
    '        please'
    """
    return text[:start] + " " * (end - start) + text[end:]
