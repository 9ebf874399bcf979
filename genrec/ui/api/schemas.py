"""Request and response models of the HTTP API (OpenAI-compatible chat and the sessions API).

Every model is what /docs shows; the `genrec` extra field carries recommendations and the trace.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

#: The model name /v1/models lists; any `model` value is accepted in requests.
MODEL_ID = "genrec"


class ApiLimits(BaseModel):
    """What only HTTP needs limiting; a request over a limit is refused (413 / 422), never served.

    The message length limit is the recommender's (`AgentConfig.max_message_chars`, `[agent]` in
    genrec.toml), the same for every front door.

    >>> try:
    ...     ApiLimits(max_message_chars=10)
    ... except ValueError as exc:
    ...     print(str(exc).splitlines()[1].split(":")[0].strip())
    Value error, max_message_chars is the recommender's limit now
    """

    model_config = ConfigDict(extra="forbid")

    max_body_bytes: int = Field(
        default=64 * 1024, description="Largest request body, in bytes (413 above)."
    )
    max_messages: int = Field(
        default=200, description="Most messages in one chat-completions request."
    )
    requests_per_minute: int = Field(default=600, ge=1, description=(
        "API requests per principal (key, or key + X-Genrec-User) per minute; 429 above."))
    auth_failures_per_minute: int = Field(default=10, ge=1, description=(
        "Wrong keys or failed chat-page logins per client address per minute; 429 above."))
    max_concurrent_turns: int = Field(
        default_factory=lambda: max(2, 2 * (os.cpu_count() or 1)),
        ge=1,
        description="Turns computed at once, API and chat page each (the rest wait, in order). "
        "Default 2 x CPU cores: the agent is CPU-bound with the `none` or `local` LLM and "
        "oversubscribing the cores collapses throughput; raise it for a remote LLM.",
    )

    health_probe_seconds: float = Field(default=5.0, ge=0, description=(
        "How long /healthz reuses its last probe of the LLM server (GET /models)."))

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: object) -> object:
        if isinstance(data, dict) and "max_message_chars" in data:
            raise ValueError("max_message_chars is the recommender's limit now: set "
                             "AgentConfig(max_message_chars=...), [agent] max_message_chars in "
                             "genrec.toml or GENREC_AGENT__MAX_MESSAGE_CHARS")
        return data


# ---------------------------------------------------------------- OpenAI-compatible chat


class ContentPart(BaseModel):
    """One part of a multi-part message; only text parts are read."""

    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    """A message as the OpenAI API sends it; tool/function fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        if not self.content:
            return ""
        return "".join(p.text or "" for p in self.content if p.type in ("text", "input_text"))


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """OpenAI chat-completions request. With a session (from `user` or the `X-Session-Id`
    header) only the last user message is sent to the agent and the session keeps the history
    server-side; without one the conversation is read from `messages` (a stateless client).
    Sampling options (temperature, top_p, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(MODEL_ID, description="Any value; the answer always comes from genrec "
                       "(the response's `model` names the LLM backend that answered).")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(
        None, description="Session id (same rules as X-Session-Id); when absent, the "
        "conversation is read from `messages`."
    )


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"] = "stop"


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class GenrecExtra(BaseModel):
    """The extra `genrec` field on a completion (on the final chunk when streaming)."""

    session_id: str
    recommendations: list[dict[str, Any]] = Field(
        description="Recommendation objects: item_id, title, year, genres, score, "
        "predicted_rating, rationale, verified."
    )
    question: bool = Field(False, description="True when the agent asked a question instead.")
    suggested_answers: list[str] = Field(default_factory=list, description=(
        "Likely answers to the agent's question (for buttons); empty when it asked none."))
    trace: list[dict[str, Any]] = Field(
        description="Tool calls of this turn (name, arguments, ok, ...)."
    )
    warnings: list[str] = []
    backend: str = ""
    replace_text: str | None = Field(
        None, description="Streaming only: the checked final text when it differs from the content "
        "deltas sent (the fact check rejected streamed LLM text, or the LLM failed mid-answer). "
        "Replace what was shown with it. Null when the deltas are final.")


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = Field(MODEL_ID, description="genrec and the LLM backend that answered: "
                       "`genrec/none`, `genrec/openai:MODEL`, ...")
    choices: list[Choice]
    usage: Usage
    genrec: GenrecExtra


class ModelCard(BaseModel):
    id: str = MODEL_ID
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "genrec"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# ---------------------------------------------------------------- sessions API


class SessionCreated(BaseModel):
    session_id: str


class MessageIn(BaseModel):
    """One user message for a session."""

    model_config = ConfigDict(extra="forbid")
    message: str = Field(min_length=1, description="What the user says.")


class FeedbackIn(BaseModel):
    """A like or dislike of one catalog item."""

    model_config = ConfigDict(extra="forbid")
    item_id: StrictInt
    liked: StrictBool


class SessionView(BaseModel):
    session_id: str
    state: dict[str, Any] = Field(description="The dialogue state (liked, disliked, wishes, ...).")
    history: list[dict[str, Any]] = Field(description="[{role, content}] in order.")


class Shortlist(BaseModel):
    session_id: str
    k: int
    recommendations: list[dict[str, Any]] = Field(
        description="The session's current best k, best first "
        "(item_id, title, year, genres, score, "
        "predicted_rating, rationale, verified): constraints and dislikes obeyed, items the user "
        "named or reacted to left out, earlier-shown items allowed."
    )


class Deleted(BaseModel):
    session_id: str
    deleted: bool


class Health(BaseModel):
    """GET /healthz: 200 while the service can answer (with or without its LLM)."""

    status: Literal["ok"] = "ok"
    llm: Literal["up", "degraded", "down", "none"] = Field(
        "none", description="up: its server answers and calls succeed; degraded: recent "
        "failures, still tried; down: its server does not answer GET /models (asked at most "
        "every `ApiLimits.health_probe_seconds`), or calls are skipped after failures until "
        "`llm_retry_in` seconds pass (turns are rule-based and templated meanwhile); none: no "
        "LLM configured.")
    llm_retry_in: float | None = Field(None, description="Seconds until the LLM is tried again.")
    llm_down_because: str | None = Field(None, description=(
        "Why the LLM is down: its server does not answer GET /models (with the key only)."))
    backend: str
    dataset: str
    items: int | None = Field(None, description="Items in the catalog (with the key only).")
    sessions: int | None = Field(None, description="Stored sessions (with the key only, when the "
                                 "store can count them).")
    auth: bool = Field(description="Whether the API requires a bearer token.")


class Ready(BaseModel):
    """GET /readyz: 200 when the recommender can take a turn (503 in the error shape if not)."""

    ready: bool = True
    checks: dict[str, str] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    message: str
    type: str
    code: int | str | None = None


class ErrorResponse(BaseModel):
    """Every API error: the OpenAI error shape, so OpenAI clients raise the right exception."""

    error: ErrorBody
