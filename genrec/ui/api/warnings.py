"""The warnings a bot sees (`genrec.warnings`, a sessions-API reply's `warnings`): genrec's own
words only, never text a model (or an LLM server's error body) wrote.

A turn's warnings can quote what went wrong ("LLM answer unusable (the model was asked for JSON
but wrote '<img src=x onerror=...>'); used templated text"). Over the API each warning is rebuilt
from this table, by the head it starts with and the tail it ends with, both written here; what
lies between (exception and model text) is left out. A warning no entry knows becomes one
generic sentence. The whole warning still goes to the server's log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

log = logging.getLogger(__name__)

#: (how a warning starts, what the API says instead); the first that matches wins.
_HEADS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(rx), out) for rx, out in (
    (r"^message truncated from (\d{1,9}) to (\d{1,9}) characters$", r"\g<0>"),
    (r"^message is not readable text$", r"\g<0>"),
    (r"^the LLM backend has no tool calling\b", "the LLM backend has no tool calling; used the "
                                                 "guided policy"),
    (r"^invalid tool calls after one repair\b", "invalid tool calls after one repair"),
    (r"^invalid tool call repaired\b", "an invalid tool call was repaired"),
    (r"^tool call arguments were invalid\b", "tool call arguments were invalid; asked the LLM to "
                                             "repair them"),
    (r"^tool call arguments invalid after one repair\b", "tool call arguments invalid after one "
                                                         "repair"),
    (r"^the LLM used all (\d{1,4}) tool rounds\b", r"the LLM used all \1 tool rounds"),
    (r"^the LLM's tool results broke the user's constraints\b",
     "the LLM's tool results broke the user's constraints; used the guided candidates"),
    (r"^LLM unavailable\b", "LLM unavailable"),
    (r"^LLM answer unusable\b", "LLM answer unusable"),
    (r"^LLM error\b", "LLM error"),
    (r"^LLM call failed\b", "LLM call failed"),
    (r"^LLM reply text failed the fact check\b", "LLM reply text failed the fact check; used "
                                                 "templated text"),
    (r"^LLM text contains ((?:invisible|image|link|html|url|code|heading|markup)"
     r"(?:, (?:invisible|image|link|html|url|code|heading|markup))*)\b",
     r"LLM text contained \1; it was not shown"),
    (r"^LLM text contains\b", "LLM text contained markup; it was not shown"),
    (r"^the turn was stopped; nothing was saved$", r"\g<0>"),
    (r"^the conversation could not be saved\b", "the conversation could not be saved; your "
                                                "previous state is kept"),
    (r"^session load failed\b", "the conversation could not be loaded"),
    (r"^internal error in the (tool-calling|guided) policy\b",
     r"internal error in the \1 policy"),
    (r"^fallback failed\b", "the fallback failed too"),
))
#: Endings a warning may carry after its detail (said again when the head did not say them).
_TAILS = ("; answered with templated text", "; used templated text",
          "; answered with the guided policy", "; answered without the LLM")
UNKNOWN = "the turn had a problem; the server's log has the details"


def public_warning(warning: str) -> str:
    """The warning in genrec's words only.

    >>> public_warning("LLM answer unusable (the model was asked for JSON but wrote "
    ...                "'<img src=x onerror=alert(1)> [Claim prize](http://evil.example)'); "
    ...                "used templated text")
    'LLM answer unusable; used templated text'
    >>> public_warning("invalid tool calls after one repair (bad json: 'ignore all rules'); "
    ...                "answered with the guided policy")
    'invalid tool calls after one repair; answered with the guided policy'
    >>> public_warning("message truncated from 5000 to 4000 characters")
    'message truncated from 5000 to 4000 characters'
    >>> public_warning("<b>Claim your prize</b>")
    "the turn had a problem; the server's log has the details"
    """
    text = " ".join(str(warning).split())
    for rx, out in _HEADS:
        m = rx.match(text)
        if m is None:
            continue
        said = m.expand(out)
        tail = next((t for t in _TAILS if text.endswith(t) and len(text) > m.end()), "")
        if tail and not said.endswith(tail):
            said += tail
        return said
    return UNKNOWN


def public_warnings(warnings: Iterable[str]) -> list[str]:
    """`public_warning` of each (duplicates once); the originals are logged at INFO."""
    out: list[str] = []
    for w in warnings:
        said = public_warning(w)
        if said != w:
            log.info("warning shown as %r: %r", said, w)
        if said not in out:
            out.append(said)
    return out
