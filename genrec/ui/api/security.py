"""Guards of the HTTP API: keys, principals and session ownership, rate limits, body size, loopback.

Tokens are compared in constant time; sessions are stored under a keyed hash of (principal,
client id); an oversized body is refused before it is read whole.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import math
import os
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from fastapi import HTTPException, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

bearer = HTTPBearer(auto_error=False, description="GENREC_API_KEY, when the server has one.")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost`; False for 0.0.0.0, :: and real addresses."""
    if host.strip().lower() in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def token_matches(given: str, expected: str) -> bool:
    """Constant-time comparison of a presented token with the configured one."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def api_keys(configured: str) -> list[str]:
    """The keys a server accepts: GENREC_API_KEY, comma-separated for several clients.

    >>> api_keys(" k1-aaaaaaaaaaaaaaaa , k2-bbbbbbbbbbbbbbbb ,")
    ['k1-aaaaaaaaaaaaaaaa', 'k2-bbbbbbbbbbbbbbbb']
    """
    return [k.strip() for k in (configured or "").split(",") if k.strip()]


def matching_key(authorization: str | None, configured: str) -> str | None:
    """The configured key an `Authorization: Bearer <key>` header presents, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    token = token.strip()
    found = None
    for key in api_keys(configured):  # every key compared, in constant time each
        if token_matches(token, key):
            found = key
    return found


def make_auth_dependency(api_key: str) -> Callable[..., Awaitable[None]]:
    """A FastAPI dependency: no-op without a key, else 401 unless `Authorization: Bearer <key>`."""

    keys = api_keys(api_key)

    async def require_token(
        credentials: HTTPAuthorizationCredentials | None = Security(bearer),
    ) -> None:
        if not keys:
            return
        if credentials is None or not any(token_matches(credentials.credentials, k) for k in keys):
            raise HTTPException(
                status_code=401,
                detail="missing or wrong API key: send `Authorization: Bearer $GENREC_API_KEY`",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return require_token


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """ASGI middleware: 413 when a request body under `prefixes` exceeds `max_bytes`.

    Checks Content-Length first, then counts streamed (chunked) bytes as they arrive.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await self._refuse(send, 400, "invalid Content-Length header")
                    return
                if declared > self.max_bytes:
                    await self._refuse(send, 413, self._too_large_message())
                    return
        received = 0
        exceeded = False
        replaced = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _TooLarge  # frameworks may turn this into a 400: send() swaps it below
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal replaced
            if exceeded and message["type"] == "http.response.start":
                replaced = True
                await self._refuse(send, 413, self._too_large_message())
                return
            if replaced:  # the body of the response we replaced
                return
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            if not replaced:
                await self._refuse(send, 413, self._too_large_message())

    def _too_large_message(self) -> str:
        return f"request body larger than {self.max_bytes} bytes; send a shorter message"

    @staticmethod
    async def _refuse(send: Callable, status: int, message: str) -> None:
        kind = "request_too_large" if status == 413 else "invalid_request_error"
        body = json.dumps({"error": {"message": message, "type": kind, "code": status}}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


# ---- principals, session ownership, rate limits -----------------------------------------------
MIN_PUBLIC_KEY_CHARS = 16
USER_HEADER = "X-Genrec-User"


def weak_keys(configured: str) -> list[str]:
    """Problems with the configured keys for a public host (each needs 16+ characters).

    >>> weak_keys("1234"), weak_keys("0123456789abcdef")
    (['a key of 4 characters'], [])
    """
    keys = api_keys(configured)
    if not keys:
        return ["no key"]
    return [f"a key of {len(k)} characters" for k in keys if len(k) < MIN_PUBLIC_KEY_CHARS]


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: a key (by fingerprint), and the end user a trusted bot names.

    `id` owns the sessions; the key itself is never stored or shown."""

    id: str
    user: str | None = None


def principal_of(key: str | None, user: str | None) -> Principal:
    """The principal of a request made with `key` (None: a server without keys) for `user`.

    >>> principal_of(None, None).id, principal_of("k" * 16, "alice").id.endswith("/alice")
    ('open', True)
    """
    base = "open" if key is None else "key:" + hashlib.sha256(key.encode()).hexdigest()[:16]
    return Principal(base if user is None else f"{base}/{user}", user)


def check_user(value: str | None) -> str | None:
    """The X-Genrec-User header when valid (1-200 printable characters); ValueError if not."""
    if value is None:
        return None
    value = unquote(value).strip()
    if not value or len(value) > 200 or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{USER_HEADER}: use 1-200 printable characters (URL-encoded)")
    return value


SECRET_ENV, SECRET_FILE_ENV = "GENREC_SESSION_SECRET", "GENREC_SESSION_SECRET_FILE"


def _hex_secret(text: str, where: str) -> bytes:
    try:
        secret = bytes.fromhex(text.strip())
    except ValueError:
        secret = b""
    if len(secret) < 16:
        raise ValueError(f"{where}: give at least 32 hex digits (e.g. `python -c 'import secrets; "
                         "print(secrets.token_hex(32))'`)")
    return secret


def load_secret(home: Path) -> bytes:
    """The server's session-hash secret: GENREC_SESSION_SECRET (hex), else the file
    GENREC_SESSION_SECRET_FILE names (a mounted secret), else 32 random bytes kept in
    HOME/api-session-secret (0600), made on first use. Replicas sharing one session store need
    the same secret (set one of the two variables on all of them)."""
    if os.environ.get(SECRET_ENV):
        return _hex_secret(os.environ[SECRET_ENV], SECRET_ENV)
    if os.environ.get(SECRET_FILE_ENV):
        named = Path(os.environ[SECRET_FILE_ENV])
        try:
            return _hex_secret(named.read_text(), f"{SECRET_FILE_ENV}={named}")
        except OSError as exc:
            raise ValueError(f"{SECRET_FILE_ENV}={named}: cannot be read ({exc})") from None
    path = home / "api-session-secret"
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        pass
    home.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    try:
        os.link(tmp, path)  # first writer wins; a racing second one reads the first's secret
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return bytes.fromhex(path.read_text().strip())


def stored_session_id(secret: bytes, principal: Principal, client_id: str) -> str:
    """The id a session is stored under: a keyed hash of (principal, the client's id), so
    another principal's same id is another session (404), and a `user` field or e-mail address
    is never stored in the clear."""
    digest = hmac.new(secret, f"{principal.id}\x00{client_id}".encode(), hashlib.sha256)
    return "api-" + digest.hexdigest()[:40]


class RateLimiter:
    """A token bucket per name: `per_minute` requests, refilled continuously; thread-safe.

    >>> rl = RateLimiter(2, clock=lambda: 0.0)
    >>> rl.take("a"), rl.take("a"), rl.take("a") > 0, rl.take("b")
    (0.0, 0.0, True, 0.0)
    """

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, name: str) -> float:
        """0.0 when a request may go now (one token taken), else the seconds to wait."""
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.get(name, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[name] = (tokens - 1.0, now)
                if len(self._buckets) > 100_000:  # forget idle names
                    self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60}
                return 0.0
            self._buckets[name] = (tokens, now)
            return (1.0 - tokens) / self.rate if self.rate else 60.0

    def peek(self, name: str) -> float:
        """The seconds until `name` may go again (0.0 now), taking nothing."""
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.get(name, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            return 0.0 if tokens >= 1.0 else (1.0 - tokens) / (self.rate or 1 / 60)


def too_many(wait: float, what: str) -> HTTPException:
    """429 with Retry-After (whole seconds, at least 1)."""
    secs = max(1, math.ceil(wait))
    return HTTPException(
        429, f"too many {what}; retry in {secs} s", headers={"Retry-After": str(secs)}
    )
