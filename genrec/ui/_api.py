"""HTTP API routes: OpenAI-compatible /v1/chat/completions and /v1/models, /api/sessions/*, /healthz.

All routes call the one `Recommender` through its public methods (its session-id rule, its message
limit); turns of one session are serialised, sessions run in parallel.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    Header,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from genrec.ui._schemas import (
    MODEL_ID,
    ApiLimits,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    Choice,
    Deleted,
    ErrorResponse,
    FeedbackIn,
    GenrecExtra,
    MessageIn,
    ModelCard,
    ModelList,
    SessionCreated,
    SessionView,
    Shortlist,
    Usage,
)
from genrec.ui._security import matching_key

if TYPE_CHECKING:
    from genrec.agent import Recommender, Reply
    from genrec.config import Settings

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or wrong bearer token."},
    413: {"model": ErrorResponse, "description": "Request body over the size limit."},
    422: {"model": ErrorResponse, "description": "Invalid JSON, wrong types or over a limit."},
    503: {"model": ErrorResponse, "description": "The recommender failed on this turn."},
}
SessionPath = Path(description="Session id from POST /api/sessions (any id `Recommender."
                               "check_session_id` accepts, URL-encoded).")


class AgentFailure(Exception):
    """The recommender raised while serving a request (reported as 503, never as a traceback)."""


def new_session_id() -> str:
    return uuid.uuid4().hex


def header_value(session_id: str) -> str:
    """The session id as the X-Session-Id header carries it: URL-encoded, like in the path
    (ids of letters, digits and `_ . : @ - ~` are unchanged).

    >>> header_value("user 1 (alice@example.com)")
    'user%201%20%28alice@example.com%29'
    >>> header_value("3f2a9c")
    '3f2a9c'
    """
    return quote(session_id, safe=":@")


class ApiService:
    """What the routes share: the recommender, the size limits, per-session locks.

    Session ids follow `Recommender.check_session_id` and messages `rec.config.max_message_chars`
    (the one rule and the one limit of every front door); `limits` adds only what HTTP needs.
    """

    def __init__(self, recommender: Recommender, settings: Settings, limits: ApiLimits) -> None:
        self.rec = recommender
        self.settings = settings
        self.limits = limits
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._turns = asyncio.Semaphore(limits.max_concurrent_turns)

    def authorized(self, request: Request) -> bool:
        """True when the server has no key or the request carries a valid bearer token."""
        return not self.settings.api_key or matching_key(
            request.headers.get("authorization"), self.settings.api_key) is not None

    def lock(self, session_id: str) -> asyncio.Lock:
        lock = self._locks.get(session_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[session_id] = lock
        return lock

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a blocking recommender call in the thread pool; its errors become AgentFailure."""
        try:
            return await run_in_threadpool(fn, *args)
        except (HTTPException, LookupError):
            raise
        except Exception as exc:  # noqa: BLE001 - reported as a clean 503
            raise AgentFailure(f"{type(exc).__name__}: {exc}") from exc

    def check_session_id(self, session_id: str, where: str = "session id") -> str:
        """The id when `Recommender.check_session_id` accepts it; else 422 saying why."""
        try:
            return self.rec.check_session_id(session_id)
        except ValueError as exc:
            raise HTTPException(422, f"{where}: {exc}") from None

    async def require(self, session_id: str) -> None:
        if not await self.call(self.rec.session_exists, session_id):
            raise HTTPException(404, f"no session {session_id!r}: create one with POST /api/sessions")

    @property
    def max_message_chars(self) -> int:
        """The recommender's message limit (AgentConfig.max_message_chars)."""
        return int(self.rec.config.max_message_chars)

    def check_message(self, text: str) -> str:
        """The stripped message; 422 when it is empty or over the recommender's limit."""
        text = text.strip()
        if not text:
            raise HTTPException(422, "the message is empty: send what the user said")
        limit = self.max_message_chars
        if len(text) > limit:
            raise HTTPException(422, f"the message has {len(text)} characters; the limit is {limit}")
        return text

    async def chat(self, session_id: str, message: str) -> Reply:
        async with self.lock(session_id), self._turns:
            reply = await self.call(self.rec.chat, session_id, message)
        return reply

    async def stream(self, session_id: str, message: str) -> AsyncIterator[str | Reply]:
        async with self.lock(session_id), self._turns:
            try:
                async for part in iterate_in_threadpool(iter(self.rec.stream(session_id, message))):
                    yield part
            except Exception as exc:  # noqa: BLE001 - reported in-band as an error chunk
                raise AgentFailure(f"{type(exc).__name__}: {exc}") from exc


def _session_from(service: ApiService, request_user: str | None, header: str | None) -> str:
    """The session id from X-Session-Id (URL-decoded), else `user`, else a fresh one."""
    if header:
        return service.check_session_id(unquote(header), "X-Session-Id header")
    if request_user:
        return service.check_session_id(request_user, "user field")
    return new_session_id()


def _extra(reply: Reply) -> GenrecExtra:
    return GenrecExtra(
        session_id=reply.session_id,
        recommendations=[r.model_dump(mode="json") for r in reply.recommendations],
        question=reply.question,
        trace=[t.model_dump(mode="json") for t in reply.trace],
        warnings=list(reply.warnings),
        backend=reply.backend,
    )


def _usage(reply: Reply) -> Usage:
    p, c = int(reply.prompt_tokens or 0), int(reply.completion_tokens or 0)
    return Usage(prompt_tokens=p, completion_tokens=c, total_tokens=p + c)


def _sse(obj: dict[str, Any]) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"


def _last_user_message(req: ChatCompletionRequest, limits: ApiLimits) -> str:
    if len(req.messages) > limits.max_messages:
        raise HTTPException(422, f"{len(req.messages)} messages; the limit is {limits.max_messages}")
    for m in reversed(req.messages):
        if m.role == "user":
            return m.text()
    raise HTTPException(422, "no message with role 'user': genrec answers the last user message")


def build_router(service: ApiService, auth: Callable[..., Any]) -> APIRouter:
    """The /v1 and /api routes (all behind `auth`)."""
    router = APIRouter(dependencies=[Depends(auth)], responses=_ERRORS)

    @router.get("/v1/models", response_model=ModelList, tags=["openai"])
    async def list_models() -> ModelList:
        """The one model this server answers as: `genrec`."""
        return ModelList(data=[ModelCard()])

    @router.post(
        "/v1/chat/completions",
        response_model=ChatCompletion,
        tags=["openai"],
        responses={200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE chunks"}},
    )
    async def chat_completions(
        req: ChatCompletionRequest,
        response: Response,
        x_session_id: str | None = Header(None, description="Session id (wins over `user`)."),
    ) -> Any:
        """OpenAI-compatible chat. Only the **last user message** goes to the agent; the session
        keeps the history. The session comes from the `X-Session-Id` header, else the `user` field,
        else a new one (returned in the `X-Session-Id` response header, URL-encoded as in the path,
        and in `genrec.session_id`).
        Recommendations are in the extra `genrec` field (on the final chunk when streaming)."""
        message = service.check_message(_last_user_message(req, service.limits))
        session_id = _session_from(service, req.user, x_session_id)
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        headers = {"X-Session-Id": header_value(session_id)}
        if not req.stream:
            reply = await service.chat(session_id, message)
            response.headers.update(headers)
            return ChatCompletion(
                id=cid,
                created=created,
                choices=[Choice(message=AssistantMessage(content=reply.text))],
                usage=_usage(reply),
                genrec=_extra(reply),
            )
        include_usage = bool(req.stream_options and req.stream_options.include_usage)
        return StreamingResponse(
            _completion_chunks(service, session_id, message, cid, created, include_usage),
            media_type="text/event-stream",
            headers={**headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @router.post("/api/sessions", response_model=SessionCreated, status_code=201, tags=["sessions"])
    async def create_session() -> SessionCreated:
        """A new, empty session; send messages to it with POST /api/sessions/{id}/messages."""
        sid = new_session_id()
        await service.call(service.rec.create_session, sid)
        return SessionCreated(session_id=sid)

    def session_in_path(session_id: str = SessionPath) -> str:
        return service.check_session_id(session_id, "session id in the path")

    ValidSession = Depends(session_in_path)

    @router.post("/api/sessions/{session_id}/messages", tags=["sessions"])
    async def post_message(body: MessageIn, session_id: str = ValidSession) -> dict[str, Any]:
        """One turn: the user's message in, the agent's `Reply` out (text, recommendations,
        question, trace, timings, token counts, warnings, backend)."""
        message = service.check_message(body.message)
        await service.require(session_id)
        reply = await service.chat(session_id, message)
        return reply.model_dump(mode="json")

    @router.post("/api/sessions/{session_id}/feedback", response_model=SessionView, tags=["sessions"])
    async def post_feedback(body: FeedbackIn, session_id: str = ValidSession) -> SessionView:
        """Record a like or dislike; the next turn respects it (a disliked item is not shown again)."""
        await service.require(session_id)
        async with service.lock(session_id):
            try:
                state = await service.call(service.rec.feedback, session_id, body.item_id, body.liked)
            except LookupError:
                raise HTTPException(
                    422, f"item_id {body.item_id} is not in the catalog: use an item_id from a reply"
                ) from None
            history = await service.call(service.rec.history, session_id)
        return SessionView(session_id=session_id, state=state.model_dump(mode="json"), history=history)

    @router.get("/api/sessions/{session_id}", response_model=SessionView, tags=["sessions"])
    async def get_session(session_id: str = ValidSession) -> SessionView:
        """The dialogue state and the message history of a session."""
        await service.require(session_id)
        state = await service.call(service.rec.state, session_id)
        history = await service.call(service.rec.history, session_id)
        return SessionView(session_id=session_id, state=state.model_dump(mode="json"), history=history)

    @router.get("/api/sessions/{session_id}/shortlist", response_model=Shortlist, tags=["sessions"])
    async def get_shortlist(session_id: str = ValidSession,
                            k: int = Query(10, ge=1, le=50, description="How many items (1-50).")
                            ) -> Shortlist:
        """The agent's standing shortlist for this session: its best k now (read-only)."""
        await service.require(session_id)
        recs = await service.call(service.rec.shortlist, session_id, k)
        return Shortlist(session_id=session_id, k=k,
                         recommendations=[r.model_dump(mode="json") for r in recs])

    @router.delete("/api/sessions/{session_id}", response_model=Deleted, tags=["sessions"])
    async def delete_session(session_id: str = ValidSession) -> Deleted:
        """Forget a session (its state and history)."""
        await service.require(session_id)
        async with service.lock(session_id):
            await service.call(service.rec.delete_session, session_id)
        return Deleted(session_id=session_id, deleted=True)

    return router


async def _completion_chunks(
    service: ApiService,
    session_id: str,
    message: str,
    cid: str,
    created: int,
    include_usage: bool,
) -> AsyncIterator[str]:
    """SSE in the OpenAI chunk format: role, content deltas, a final chunk with `genrec`, [DONE]."""

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _sse(
            {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": MODEL_ID,
                "choices": [choice],
                **extra,
            }
        )

    yield chunk({"role": "assistant", "content": ""})
    sent = ""
    reply = None
    try:
        async for part in service.stream(session_id, message):
            if isinstance(part, str):
                if part:
                    sent += part
                    yield chunk({"content": part})
            else:
                reply = part
    except AgentFailure as exc:
        yield _sse({"error": {"message": f"the recommender failed: {exc}", "type": "agent_error",
                              "code": 503}})
        yield "data: [DONE]\n\n"
        return
    if reply is None:
        yield _sse({"error": {"message": "the recommender ended the turn without a reply",
                              "type": "agent_error", "code": 503}})
        yield "data: [DONE]\n\n"
        return
    extra = _extra(reply)
    if reply.text.startswith(sent):
        if len(reply.text) > len(sent):
            yield chunk({"content": reply.text[len(sent):]})
    else:  # the streamed text failed the check: the client replaces what it showed
        extra.replace_text = reply.text
    yield chunk({}, "stop", genrec=extra.model_dump(mode="json"))
    if include_usage:
        yield _sse(
            {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": MODEL_ID,
                "choices": [],
                "usage": _usage(reply).model_dump(),
            }
        )
    yield "data: [DONE]\n\n"


def _error(status: int, message: str, kind: str, headers: dict[str, str] | None = None,
           **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"message": message, "type": kind, "code": status, **extra}
    return JSONResponse({"error": body}, status_code=status, headers=headers)


_KINDS = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    422: "invalid_request_error",
}


def install_error_handlers(app: FastAPI) -> None:
    """Every error is `{"error": {message, type, code}}`; nothing leaks a traceback."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), _KINDS.get(exc.status_code, "api_error"),
                      headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            problems.append({"loc": loc, "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))})
        summary = "; ".join(f"{p['loc']}: {p['msg']}" for p in problems[:5])
        return _error(422, f"invalid request: {summary}", "invalid_request_error", details=problems)

    @app.exception_handler(AgentFailure)
    async def agent_failure(request: Request, exc: AgentFailure) -> JSONResponse:
        return _error(503, f"the recommender failed on this turn ({exc}); try again", "agent_error")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _error(500, f"internal error ({type(exc).__name__}); see the server log", "api_error")
