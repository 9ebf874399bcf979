"""HTTP API routes: OpenAI-compatible /v1/chat/completions and /v1/models, and /api/sessions/*.

All routes call the one `Recommender` through its public methods (its session-id rule, its message
limit); turns of one session are serialised, sessions run in parallel.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Response
from fastapi.responses import StreamingResponse

from genrec.ui.api.completions import answered_by, completion_chunks, extra_of, usage_of
from genrec.ui.api.schemas import (
    ApiLimits,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    Choice,
    Deleted,
    ErrorResponse,
    FeedbackIn,
    MessageIn,
    ModelCard,
    ModelList,
    SessionCreated,
    SessionView,
    Shortlist,
)
from genrec.ui.api.security import Principal
from genrec.ui.api.service import ApiService, Owned, header_value, new_session_id
from genrec.ui.api.transcript import Transcript
from genrec.ui.api.warnings import public_warnings

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or wrong bearer token."},
    404: {"model": ErrorResponse, "description": "No such session for this principal."},
    405: {"model": ErrorResponse, "description": "Wrong method for this path (see `Allow`)."},
    413: {"model": ErrorResponse, "description": "Request body over the size limit."},
    422: {"model": ErrorResponse, "description": "Invalid JSON, wrong types or over a limit."},
    429: {"model": ErrorResponse, "description": "Rate limit; wait `Retry-After` seconds."},
    503: {"model": ErrorResponse, "description": "The recommender failed on this turn."},
}
SessionPath = Path(description="Session id from POST /api/sessions (any id `Recommender."
                               "check_session_id` accepts, URL-encoded).")


def _named_session(service: ApiService, request_user: str | None, header: str | None
                   ) -> str | None:
    """The session id from X-Session-Id (URL-decoded), else `user`; None when neither is sent."""
    if header:
        return service.check_session_id(unquote(header), "X-Session-Id header")
    if request_user:
        return service.check_session_id(request_user, "user field")
    return None


def _transcript(req: ChatCompletionRequest, limits: ApiLimits) -> Transcript:
    if len(req.messages) > limits.max_messages:
        raise HTTPException(
            422, f"{len(req.messages)} messages; the limit is {limits.max_messages}"
        )
    try:
        return Transcript.of((m.role, m.text()) for m in req.messages)
    except ValueError:
        raise HTTPException(422, "no message with role 'user': genrec answers the last user "
                            "message") from None


def build_router(service: ApiService) -> APIRouter:
    """The /v1 and /api routes (all behind `service.principal`: key, rate limit, owner)."""
    router = APIRouter(dependencies=[Depends(service.principal)], responses=_ERRORS)
    _openai_routes(router, service)
    _session_routes(router, service)
    return router


def _openai_routes(router: APIRouter, service: ApiService) -> None:
    """GET /v1/models and POST /v1/chat/completions (OpenAI-compatible)."""
    Who = Depends(service.principal)

    @router.get("/v1/models", response_model=ModelList, tags=["openai"])
    async def list_models() -> ModelList:
        """The one model this server answers as: `genrec`."""
        return ModelList(data=[ModelCard()])

    @router.post(
        "/v1/chat/completions",
        response_model=ChatCompletion,
        tags=["openai"],
        responses={
            200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE chunks"}
        },
    )
    async def chat_completions(
        req: ChatCompletionRequest,
        response: Response,
        x_session_id: str | None = Header(None, description="Session id (wins over `user`)."),
        who: Principal = Who,
    ) -> ChatCompletion | StreamingResponse:
        """OpenAI-compatible chat. With a session (the `X-Session-Id` header, else the `user`
        field) only the **last user message** goes to the agent; the session keeps the history.
        Without one (a stateless client) the conversation is read from `messages`: the earlier
        user turns and the items the earlier assistant turns recommended, answered as if the
        session had been kept; the response carries a new session id (in the `X-Session-Id`
        response header, URL-encoded as in the path, and in `genrec.session_id`) that continues
        this conversation server-side when sent back.
        Recommendations are in the extra `genrec` field (on the final chunk when streaming);
        `model` names the LLM backend that answered (`genrec/none`, `genrec/openai:MODEL`)."""
        return await _chat_completion(service, req, response, x_session_id, who)


async def _chat_completion(
    service: ApiService, req: ChatCompletionRequest, response: Response,
    x_session_id: str | None, who: Principal,
) -> ChatCompletion | StreamingResponse:
    """One OpenAI-compatible turn on the named session, else on the one `messages` define: a
    completion, or its server-sent-event chunks when `req.stream`."""
    transcript = _transcript(req, service.limits)
    message = service.check_message(transcript.message)
    named = _named_session(service, req.user, x_session_id)
    prepare: Callable[[], object] | None
    if named is None:
        session, prepare = service.stateless(who, transcript)
    else:
        session = Owned(named, service.stored(who, named))
        prepare = service.given(who, named)
    cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    headers = {"X-Session-Id": header_value(session.client)}
    if not req.stream:
        reply = await service.chat(session.stored, message, prepare)
        response.headers.update(headers)
        return ChatCompletion(
            id=cid,
            created=created,
            model=answered_by(reply.backend),
            choices=[Choice(message=AssistantMessage(content=reply.text))],
            usage=usage_of(reply),
            genrec=extra_of(reply, session.client),
        )
    include_usage = bool(req.stream_options and req.stream_options.include_usage)
    return StreamingResponse(
        completion_chunks(
            service.stream(session.stored, message, prepare),
            session.client,
            cid,
            created,
            answered_by(service.rec.backend_name),
            include_usage,
        ),
        media_type="text/event-stream",
        headers={**headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _session_routes(router: APIRouter, service: ApiService) -> None:
    """/api/sessions: create, send a message, feedback, read, shortlist, delete."""
    Who = Depends(service.principal)

    @router.post("/api/sessions", response_model=SessionCreated, status_code=201, tags=["sessions"])
    async def create_session(who: Principal = Who) -> SessionCreated:
        """A new, empty session; send messages to it with POST /api/sessions/{id}/messages."""
        sid = new_session_id()
        await service.call(service.rec.create_session, service.stored(who, sid))
        return SessionCreated(session_id=sid)

    async def session_in_path(session_id: str = SessionPath, who: Principal = Who) -> Owned:
        client = service.check_session_id(session_id, "session id in the path")
        session = Owned(client, service.stored(who, client))
        given = service.given(who, client)
        if given is not None:  # an id a stateless request was given: its conversation
            async with service.lock(session.stored):
                await service.call(given)
        return session

    ValidSession = Depends(session_in_path)

    @router.post("/api/sessions/{session_id}/messages", tags=["sessions"])
    async def post_message(body: MessageIn, session: Owned = ValidSession) -> dict[str, Any]:
        """One turn: the user's message in, the agent's `Reply` out (text, recommendations,
        question, trace, timings, token counts, warnings, backend)."""
        message = service.check_message(body.message)
        await service.require(session)
        reply = await service.chat(session.stored, message)
        return {**reply.model_dump(mode="json"), "warnings": public_warnings(reply.warnings),
                "session_id": session.client}

    @router.post(
        "/api/sessions/{session_id}/feedback", response_model=SessionView, tags=["sessions"],
        description="Record a like or dislike; the next turn respects it "
        "(a disliked item is not shown again).",
    )
    async def post_feedback(body: FeedbackIn, session: Owned = ValidSession) -> SessionView:
        # what /docs shows is the `description` above (one line there)
        await service.require(session)
        async with service.lock(session.stored):
            try:
                state = await service.call(service.rec.feedback, session.stored, body.item_id,
                                           body.liked)
            except LookupError:
                raise HTTPException(
                    422,
                    f"item_id {body.item_id} is not in the catalog: use an item_id from a reply",
                ) from None
            history = await service.call(service.rec.history, session.stored)
        return SessionView(session_id=session.client, state=state.model_dump(mode="json"),
                           history=history)

    @router.get("/api/sessions/{session_id}", response_model=SessionView, tags=["sessions"])
    async def get_session(session: Owned = ValidSession) -> SessionView:
        """The dialogue state and the message history of a session."""
        await service.require(session)
        state = await service.call(service.rec.state, session.stored)
        history = await service.call(service.rec.history, session.stored)
        return SessionView(session_id=session.client, state=state.model_dump(mode="json"),
                           history=history)

    @router.get("/api/sessions/{session_id}/shortlist", response_model=Shortlist, tags=["sessions"])
    async def get_shortlist(session: Owned = ValidSession,
                            k: int = Query(10, ge=1, le=50, description="How many items (1-50).")
                            ) -> Shortlist:
        """The agent's standing shortlist for this session: its best k now (read-only)."""
        await service.require(session)
        recs = await service.call(service.rec.shortlist, session.stored, k)
        return Shortlist(session_id=session.client, k=k,
                         recommendations=[r.model_dump(mode="json") for r in recs])

    @router.delete("/api/sessions/{session_id}", response_model=Deleted, tags=["sessions"])
    async def delete_session(session: Owned = ValidSession) -> Deleted:
        """Forget a session (its state and history)."""
        await service.require(session)
        async with service.lock(session.stored):
            await service.call(service.rec.delete_session, session.stored)
        return Deleted(session_id=session.client, deleted=True)
