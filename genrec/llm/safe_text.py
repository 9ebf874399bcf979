"""LLM text reduced to plain text with a small allowed markup (bold, italics, lists).

Links, images, HTML, URLs, code marks, headings and invisible characters are removed, and what
was removed is reported, so a caller can refuse to mark the text verified (`SafeText.changed`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# order matters: images before links, comments before tags, tags before stray brackets
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad]")
_IMAGE = re.compile(r"!\[[^\]\n]*\]\s*(?:\([^)\n]*\)?|\[[^\]\n]*\]?)")
_LINK = re.compile(r"\[([^\]\n]*)\]\s*(?:\(([^)\n]*)\)?|\[[^\]\n]*\])")
_LINK_DEF = re.compile(r"^[ \t]*\[[^\]\n]+\]:[^\n]*$", re.MULTILINE)
_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_TAG = re.compile(r"</?[A-Za-z!?][^<>\n]*>?")
_ANGLE = re.compile(r"[<>]")
_ENTITY = re.compile(r"&#?[A-Za-z0-9]{1,10};")
_URL = re.compile(
    r"(?:\b[A-Za-z][A-Za-z0-9+.-]{0,20}://|\bwww\.|\b(?:javascript|vbscript|data|mailto|file):)"
    r"[^\s)\]]*", re.IGNORECASE)
_DOMAIN = re.compile(
    r"\b(?:[A-Za-z0-9-]+\.)+(?:com|net|org|io|co|info|biz|xyz|ru|cn|me|ly|app|dev|example|link|"
    r"click|top|site|online|gg|tk|to|sh|ai|us|uk|de|fr)\b(?:/[^\s)\]]*)?", re.IGNORECASE)
_CODE = re.compile(r"`+")
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+", re.MULTILINE)
_BLANKS = re.compile(r"[ \t]{2,}")


@dataclass(frozen=True)
class SafeText:
    """The plain text and the kinds of markup taken out of it ("link", "html", "url", ...)."""

    text: str
    removed: tuple[str, ...] = field(default_factory=tuple)

    @property
    def changed(self) -> bool:
        """True when anything was removed: such text must not be called verified."""
        return bool(self.removed)


def plain_text(text: str) -> SafeText:
    """`text` without links, images, HTML, URLs, code marks, headings or invisible characters.

    Bold (`**b**`), italics (`*i*`, `_i_`) and list lines (`- a`, `1. a`) stay; a link keeps its
    words, an image goes entirely.

    >>> plain_text("**Alien** is great").text
    '**Alien** is great'
    >>> r = plain_text("[Claim prize](http://evil.example/phish) <img src=x onerror=alert(1)>")
    >>> r.text, r.removed
    ('Claim prize', ('link', 'html'))
    >>> plain_text("see www.evil.example or ![m](http://x/y.png) now").text
    'see or now'
    """
    removed: list[str] = []

    def sub(rx: re.Pattern[str], kind: str, s: str, repl: str = "") -> str:
        out = rx.sub(repl, s)
        if out != s and kind not in removed:
            removed.append(kind)
        return out

    s = text
    s = sub(_INVISIBLE, "invisible", s)
    s = sub(_IMAGE, "image", s)
    s = sub(_LINK_DEF, "link", s)
    s = sub(_LINK, "link", s, r"\1")
    s = sub(_COMMENT, "html", s)
    s = sub(_TAG, "html", s)
    s = sub(_ANGLE, "html", s)
    s = sub(_ENTITY, "html", s)
    s = sub(_URL, "url", s)
    s = sub(_DOMAIN, "url", s)
    s = sub(_CODE, "code", s)
    s = sub(_HEADING, "heading", s)
    if removed:
        s = "\n".join(_BLANKS.sub(" ", line).strip() for line in s.split("\n")).strip()
    return SafeText(s, tuple(removed))


_RISKY = re.compile(r"[<>\[\]`&]|://|\bwww\.|\b(?:javascript|vbscript|data|mailto|file):",
                    re.IGNORECASE)


def unsafe_prefix(text: str) -> bool:
    """True when `text` (possibly cut mid-stream) holds, or may be starting, removable markup.

    A streaming client is shown text only while this is False.

    >>> unsafe_prefix("Try Alien (1979)."), unsafe_prefix("Try <im"), unsafe_prefix("see htt")
    (False, True, False)
    """
    return bool(_RISKY.search(text)) or plain_text(text).changed
