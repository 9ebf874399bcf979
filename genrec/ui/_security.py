"""Guards of the HTTP API: bearer-token check, request-body size limit, loopback detection.

The token is compared in constant time; an oversized body is refused before it is read whole.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import HTTPException, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

_bearer = HTTPBearer(auto_error=False, description="GENREC_API_KEY, when the server has one.")


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

    async def require_token(
        credentials: HTTPAuthorizationCredentials | None = Security(_bearer),
    ) -> None:
        if not api_key:
            return
        if credentials is None or not token_matches(credentials.credentials, api_key):
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

    def __init__(self, app: Any, *, max_bytes: int, prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.prefixes = prefixes

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
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

        async def limited_receive() -> dict:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _TooLarge  # frameworks may turn this into a 400: send() swaps it below
            return message

        async def guarded_send(message: dict) -> None:
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
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
