"""What a turn returns: the Reply, its Recommendations and the trace of tool calls.

These pydantic models are the agent's public output; the UI, HTTP API, CLI and harness read them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


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
