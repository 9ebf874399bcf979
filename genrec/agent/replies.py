"""What a turn returns: the Reply, its Recommendations and the trace of tool calls.

These pydantic models are the agent's public output; the UI, HTTP API, CLI and harness read them.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, computed_field

CARDS_POINTER = "Each card says why it was picked; 👍 or 👎 on a card steers what comes next."
"""What a front door that shows recommendations as cards says instead of the list."""


class Recommendation(BaseModel):
    """One recommended catalog item with its reason.

    `verified` is True when every checkable fact in `rationale` (titles named, genres, years,
    predicted rating) was checked against the catalog and ranker: an LLM rationale that passed
    the checker, or a templated one built from that data (`rationale_source` says which). It is
    False only when checking was switched off.
    """

    item_id: int
    title: str
    year: int | None = None
    genres: list[str] = Field(default_factory=list)
    score: float = 0.0
    predicted_rating: float | None = None
    rationale: str = ""
    verified: bool = True
    rationale_source: Literal["llm", "template"] = "template"
    evidence: dict = Field(default_factory=dict)


class ToolCallRecord(BaseModel):
    """One tool call made during a turn (by the LLM or by the guided pipeline)."""

    name: str
    arguments: dict = Field(default_factory=dict)
    ok: bool = True
    summary: str = ""
    ms: float = 0.0


class Reply(BaseModel):
    """The answer to one user message.

    `question` is True when the agent asks something (instead of, or alongside, recommending);
    `suggested_answers` are likely answers a front door may offer as buttons. `timings` holds
    milliseconds per stage (`total`, `llm`, `overhead` = total - llm, ...). `warnings` says what
    went wrong but was handled (LLM down, message truncated, invalid tool call repaired ...).
    """

    session_id: str
    text: str
    recommendations: list[Recommendation] = Field(default_factory=list)
    question: bool = False
    suggested_answers: list[str] = Field(default_factory=list)
    trace: list[ToolCallRecord] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    warnings: list[str] = Field(default_factory=list)
    backend: str = "none"
    policy: str = "guided"

    @property
    def item_ids(self) -> list[int]:
        return [r.item_id for r in self.recommendations]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def chat_text(self) -> str:
        """`text` for a front door that shows the recommendations as cards: the notes, the
        introduction and a pointer to the cards, and any question; the numbered list is left out
        (`text` keeps it for text-only front doors: the CLI, the OpenAI-compatible API)."""
        return chat_text_of(self.text, len(self.recommendations))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def text_source(self) -> Literal["llm", "template"]:
        """"llm" when the reply's own text (intro or question) is the LLM's and passed the fact
        check, else "template" (rationales say theirs in `Recommendation.rationale_source`)."""
        return "llm" if self.timings.get("llm_text") else "template"


_LIST_LINE = re.compile(r"^(\d+)\. ")


def chat_text_of(text: str, n: int | None = None) -> str:
    r"""`text` without its numbered list ("1. ..." to "n. ...", one line each; with n None the
    longest such run), pointing to the cards instead; `text` as it is when it has no such list.

    >>> said = "Noted: you like Heat.\nHere are 2 movies:\n1. A - x\n2. B - y\n\nA decade?"
    >>> chat_text_of(said, 2).split("\n")  # doctest: +NORMALIZE_WHITESPACE
    ['Noted: you like Heat.', 'Here are 2 movies. Each card says why it was picked; 👍 or 👎 on
     a card steers what comes next.', '', 'A decade?']
    >>> chat_text_of("Which one did you mean?")
    'Which one did you mean?'
    """
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if line.startswith("1. ")), None)
    if start is None:
        return text
    run = 0
    while start + run < len(lines) and lines[start + run].startswith(f"{run + 1}. "):
        run += 1
    if n is not None and (n == 0 or run < n):
        return text
    lead = "\n".join(lines[:start]).rstrip()
    if lead.endswith(":"):
        lead = lead[:-1] + "."
    lead = f"{lead} {CARDS_POINTER}".strip()
    rest = "\n".join(lines[start + (n or run):]).strip()
    return f"{lead}\n\n{rest}" if rest else lead
