"""Item text: the one template that turns an Item into the text that is embedded and stored.

The template is versioned (TEXT_VERSION); changing it changes every item's content hash, so the
next build re-embeds the catalog instead of mixing texts made by two templates.
"""

from __future__ import annotations

import hashlib
from typing import Any

from genrec.data import Item

TEXT_VERSION = "1"

# Natural words for genre names, so a query like "animated film for kids" meets the genre words.
_GENRE_WORDS = {
    "Animation": "animated",
    "Children's": "children's, family",
    "Children": "children's, family",
    "Sci-Fi": "science fiction",
    "Film-Noir": "film noir",
}
# extra fields that are identifiers, links or dates carry no meaning worth embedding
_SKIP_EXTRA_SUFFIXES = ("_id", "id", "url", "_date", "date", "_at")


def _extra_lines(extra: dict[str, Any], skip: tuple[str, ...] = ()) -> list[str]:
    out = []
    for key in sorted(extra):
        value = extra[key]
        if not isinstance(key, str) or key.lower().endswith(_SKIP_EXTRA_SUFFIXES) or key in skip:
            continue
        if isinstance(value, (list, tuple)):
            value = ", ".join(
                str(v) for v in value if isinstance(v, (str, int, float)) and str(v).strip()
            )
        if isinstance(value, str) and value.strip():
            out.append(f"{key.replace('_', ' ').capitalize()}: {value.strip()}.")
    return out


def item_text(item: Item, *, tags: bool = True) -> str:
    """The text embedded for one item (`tags=False` leaves the viewer tags out).

    Template (parts that are missing are left out)::

        {title} ({year}). Also known as: {alias; ...}. Genres: {genre, ...} ({genre words}).
        {description} Tags: {tag, ...}. {Key: value.}...

    Tags are the item's most frequent viewer tags (`Item.tags`, most viewers first), so the words
    people use ("mind-bending", "twist ending") find it. `Key: value.` comes from each other text
    field of `item.extra` except ids, links and dates (custom catalogs may carry director, cast or a
    plot there).

    >>> from genrec.data import Item
    >>> print(item_text(Item(1, "Toy Story", 1995, ("Animation", "Children's", "Comedy"))))
    ... # doctest: +NORMALIZE_WHITESPACE
    Toy Story (1995). Genres: Animation, Children's, Comedy (animated, children's, family,
    comedy film).
    >>> tags = {"tags": [["time travel", 3], ["twist ending", 1]], "imdb_id": "tt0114746"}
    >>> print(item_text(Item(32, "Twelve Monkeys", 1995, ("Sci-Fi",), aliases=("12 Monkeys",),
    ...                      extra=tags)))  # doctest: +NORMALIZE_WHITESPACE
    Twelve Monkeys (1995). Also known as: 12 Monkeys. Genres: Sci-Fi (science fiction film).
    Tags: time travel, twist ending.
    """
    parts = [f"{item.label}."]
    if item.aliases:
        parts.append(f"Also known as: {'; '.join(item.aliases)}.")
    if item.genres:
        words = ", ".join(_GENRE_WORDS.get(g, g.lower()) for g in item.genres)
        parts.append(f"Genres: {', '.join(item.genres)} ({words} film).")
    if item.description and item.description.strip():
        parts.append(item.description.strip())
    if tags and item.tags:
        parts.append(f"Tags: {', '.join(tag for tag, _ in item.tags)}.")
    parts.extend(_extra_lines(item.extra, skip=("tags",) if item.tags else ()))
    return " ".join(parts)


def text_hash(text: str) -> str:
    """Content hash of an embedded text (with the template version), 16 hex digits."""
    return hashlib.sha256(f"{TEXT_VERSION}\0{text}".encode()).hexdigest()[:16]
