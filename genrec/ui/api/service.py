"""What the API's routes share: `ApiService` (the recommender, the limits, per-session locks, who
owns a session, stateless sessions) and the ids the routes hand out.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import uuid
import weakref
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar
from urllib.parse import quote

from fastapi import Header, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from genrec.ui.api.errors import AgentFailure
from genrec.ui.api.llm_probe import LLMProbe
from genrec.ui.api.schemas import ApiLimits
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

if TYPE_CHECKING:
    from genrec.agent import Recommender, Reply
    from genrec.config import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

#: A session id given to a stateless request: its transcript's key, a dot, 8 hex digits.
_GIVEN_ID = re.compile(r"^(t-[0-9a-f]{40})\.[0-9a-f]{8}$")
#: Where transcript-keyed sessions are stored: no client id can start so (no control characters).
_HIDDEN = "\x00transcript\x00"


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


class Owned(NamedTuple):
    """A session as the client names it and as it is stored (for this principal)."""

    client: str
    stored: str
