"""HTTP API routes: OpenAI-compatible /v1/chat/completions and /v1/models, and /api/sessions/*.

All routes call the one `Recommender` through its public methods (its session-id rule, its message
limit); turns of one session are serialised, sessions run in parallel.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar
from urllib.parse import quote, unquote

from fastapi import (
    APIRouter,
    Depends,
    Header,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
    Security,
)
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from genrec.ui.api.completions import answered_by, completion_chunks, extra_of, usage_of
from genrec.ui.api.errors import AgentFailure
from genrec.ui.api.llm_probe import LLMProbe
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
from genrec.ui.api.security import (
    USER_HEADER,
    Principal,
    RateLimiter,
    bearer,
    check_user,
    load_secret,
    matching_key,
    principal_of,
    stored_session_id,
    too_many,
)
from genrec.ui.api.transcript import TitleFinder, Transcript, fork, restore
from genrec.ui.api.warnings import public_warnings

if TYPE_CHECKING:
    from genrec.agent import Recommender, Reply
    from genrec.config import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

#: A session id given to a stateless request: its transcript's key, a dot, 8 hex digits.
_GIVEN_ID = re.compile(r"^(t-[0-9a-f]{40})\.[0-9a-f]{8}$")
#: Where transcript-keyed sessions are stored: no client id can start so (no control characters).
_HIDDEN = "\x00transcript\x00"

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
    """What the routes share: the recommender, the limits, per-session locks, who owns a session.

    Session ids follow `Recommender.check_session_id` and messages `rec.config.max_message_chars`
    (the one rule and the one limit of every front door); `limits` adds only what HTTP needs.
    A session belongs to the principal that made it (the key, or the key plus the end user a
    bot names in X-Genrec-User): it is stored under a keyed hash of (principal, client id), so
    the same id from another principal is another (404) session.
    """

    def __init__(self, recommender: Recommender, settings: Settings, limits: ApiLimits) -> None:
        self.rec = recommender
        self.settings = settings
        self.limits = limits
        self.secret = load_secret(settings.home)
        self.requests = RateLimiter(limits.requests_per_minute)
        self.auth_failures = RateLimiter(limits.auth_failures_per_minute)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._turns = asyncio.Semaphore(limits.max_concurrent_turns)
        self._titles: TitleFinder | None = None
        self.llm_probe = LLMProbe(getattr(recommender, "llm", None),
                                  timeout=float(settings.llm_probe_timeout),
                                  every=limits.health_probe_seconds)

    async def principal(
        self, request: Request,
        credentials: HTTPAuthorizationCredentials | None = Security(bearer),
        x_genrec_user: str | None = Header(None, alias=USER_HEADER, description=(
            "The end user a trusted bot acts for (URL-encoded); their sessions are theirs.")),
    ) -> Principal:
        """Who the request acts for: 401 without a valid key (when the server has keys), 429
        over the rate limit or after too many failed keys from one address."""
        key = None
        if self.settings.api_key:
            client = request.client.host if request.client else "?"
            wait = self.auth_failures.peek(client)
            if wait:
                raise too_many(wait, "failed authentications from this address")
            key = matching_key(request.headers.get("authorization"), self.settings.api_key)
            if key is None:
                self.auth_failures.take(client)
                raise HTTPException(401, "missing or wrong API key: send `Authorization: Bearer "
                                    "$GENREC_API_KEY`", headers={"WWW-Authenticate": "Bearer"})
        try:
            user = check_user(x_genrec_user)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        who = principal_of(key, user)
        wait = self.requests.take(who.id)
        if wait:
            raise too_many(wait, "requests")
        return who

    def stored(self, who: Principal, client_id: str) -> str:
        """The id the session `client_id` of `who` is stored under."""
        return stored_session_id(self.secret, who, client_id)

    def by_transcript(self, who: Principal, key: str) -> str:
        """The id the session a transcript defines (`Transcript.session_key`) is stored under;
        no client id reaches it, so a stateful client never changes it."""
        return stored_session_id(self.secret, who, _HIDDEN + key)

    def titles(self) -> TitleFinder:
        """The catalog's "Title (Year)" finder (built on first use)."""
        if self._titles is None:
            self._titles = TitleFinder(self.rec.catalog)
        return self._titles

    def stateless(self, who: Principal, transcript: Transcript) -> tuple[Owned, Callable[[], Any]]:
        """The session a stateless request's turn runs on, and what prepares it (run under the
        session's lock): the conversation before the new message, kept or replayed.

        The client gets a new id (`<transcript key>.<8 hex>`); continued with X-Session-Id, it
        starts from the conversation this turn ends (`given`)."""
        key = transcript.session_key()
        base = transcript.base_key()
        session = Owned(f"{key}.{uuid.uuid4().hex[:8]}", self.by_transcript(who, key))
        stored_base = self.by_transcript(who, base) if base else None

        def prepare() -> None:
            how = restore(self.rec, session.stored, stored_base, transcript, self.titles())
            log.info("stateless request with %d earlier turns: %s", len(transcript.before), how)

        return session, prepare

    def given(self, who: Principal, client_id: str) -> Callable[[], Any] | None:
        """For an id a stateless request was given: what copies its conversation into it on
        first use (None for any other id)."""
        m = _GIVEN_ID.match(client_id)
        if m is None:
            return None
        target, source = self.stored(who, client_id), self.by_transcript(who, m.group(1))
        return functools.partial(fork, self.rec, target, source)

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

    async def call(self, fn: Callable[..., T], *args: object) -> T:
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

    async def require(self, session: Owned) -> None:
        if not await self.call(self.rec.session_exists, session.stored):
            raise HTTPException(404, f"no session {session.client!r}: create one with POST "
                                "/api/sessions")

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
            raise HTTPException(
                422, f"the message has {len(text)} characters; the limit is {limit}"
            )
        return text

    async def chat(self, session_id: str, message: str,
                   prepare: Callable[[], Any] | None = None) -> Reply:
        """One turn; `prepare` (blocking) runs first, under the same lock."""
        async with self.lock(session_id), self._turns:
            if prepare is not None:
                await self.call(prepare)
            reply = await self.call(self.rec.chat, session_id, message)
        return reply

    async def stream(self, session_id: str, message: str,
                     prepare: Callable[[], Any] | None = None) -> AsyncIterator[str | Reply]:
        async with self.lock(session_id), self._turns:
            if prepare is not None:
                await self.call(prepare)
            try:
                async for part in iterate_in_threadpool(iter(self.rec.stream(session_id, message))):
                    yield part
            except Exception as exc:  # noqa: BLE001 - reported in-band as an error chunk
                raise AgentFailure(f"{type(exc).__name__}: {exc}") from exc


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


class Owned(NamedTuple):
    """A session as the client names it and as it is stored (for this principal)."""

    client: str
    stored: str


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
