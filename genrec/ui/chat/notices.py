"""The chat app's words for users: a Reply's internal warnings as calm sentences for the banner.

Raw warnings (exception text, URLs, server addresses) never reach the banner; they stay in the
"why these?" panel. `user_notices` keeps one sentence per kind of problem.
"""

from __future__ import annotations

LLM_DOWN = "The language model is not answering; replies are rule-based for now."
LLM_UNUSABLE = "The language model's answer could not be used this time; this reply is rule-based."
TRUNCATED = "Your message was too long, so only its beginning was read."
UNREADABLE = "I could not read that message as text; please write it in words."
NOT_SAVED = "This conversation could not be saved; it may be gone after a reload."
OTHER = 'Something went wrong on this turn but was handled; "Why these?" has the details.'

# (phrases found in an agent warning, lower case) -> the sentence users see; the first match wins
_RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("llm unavailable", "is down", "no llm call left", "fallback failed"), LLM_DOWN),
    (
        ("llm", "tool call", "tool round", "tool calling", "tool results", "fact check"),
        LLM_UNUSABLE,
    ),
    (("message truncated",), TRUNCATED),
    (("not readable text",), UNREADABLE),
    (("could not be saved",), NOT_SAVED),
)


def user_notice(warning: str) -> str:
    """The one sentence users see for one agent warning.

    >>> user_notice("LLM unavailable (connect to http://10.0.0.5:8000/v1 refused); answered ...")
    'The language model is not answering; replies are rule-based for now.'
    """
    low = warning.lower()
    for phrases, sentence in _RULES:
        if any(p in low for p in phrases):
            return sentence
    return OTHER


def user_notices(warnings: list[str]) -> list[str]:
    """The banner's sentences for a turn's warnings: one per kind, in order, LLM-down wins over
    "unusable" (both say the reply is rule-based).

    >>> user_notices(["LLM answer unusable (x)", "LLM unavailable (y)", "LLM call failed (z)"])
    ['The language model is not answering; replies are rule-based for now.']
    """
    out: list[str] = []
    for w in warnings:
        sentence = user_notice(str(w))
        if sentence not in out:
            out.append(sentence)
    if LLM_DOWN in out and LLM_UNUSABLE in out:
        out.remove(LLM_UNUSABLE)
    return out
