"""With an API key, the chat page, Gradio's own API and /docs need it too: a bearer token or the
chat page's login cookie; only what the login page needs is open, and failed logins are limited.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from genrec.ui.api.errors import API_PREFIXES, error_response
from genrec.ui.api.security import RateLimiter, matching_key

# what the login page loads before anyone has logged in (Gradio answers /config with 401 itself)
LOGIN_PATHS = {"/", "/login", "/login/", "/config", "/config/", "/favicon.ico", "/manifest.json",
               "/theme.css", "/user", "/user/", "/login_check", "/login_check/", "/app_id",
               "/app_id/", "/gradio_api/info", "/gradio_api/info/"}
LOGIN_PREFIXES = ("/assets/", "/static/", "/svelte/", "/gradio_api/static/", "/theme")
API_OWN = ("/v1", "/api", "/healthz", "/readyz")  # these check the key themselves


class KeyGate:
    """ASGI middleware in front of everything that is not /v1, /api, /healthz or /readyz."""

    def __init__(self, app: ASGIApp, *, api_key: str, gradio: Callable[[], object | None],
                 failures: RateLimiter) -> None:
        self.app = app
        self.api_key = api_key
        self.gradio = gradio  # the mounted Gradio App (its login tokens), found on first use
        self.failures = failures

    def _logged_in(self, request: Request) -> bool:
        if matching_key(request.headers.get("authorization"), self.api_key) is not None:
            return True
        g = self.gradio()
        if g is None:
            return False
        cid = getattr(g, "cookie_id", "")
        token = (request.cookies.get(f"access-token-{cid}")
                 or request.cookies.get(f"access-token-unsecure-{cid}"))
        return bool(token) and token in getattr(g, "tokens", {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (scope["type"] not in ("http", "websocket") or path in API_OWN
                or path.startswith(API_PREFIXES)):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        client = request.client.host if request.client else "?"
        if path.rstrip("/") == "/login" and scope.get("method") == "POST":
            wait = self.failures.peek(client)
            if wait:
                secs = str(max(1, int(wait + 0.999)))
                resp = error_response(429, f"too many failed logins; retry in {secs} s",
                                      headers={"Retry-After": secs})
                await resp(scope, receive, send)
                return

            async def counting_send(message: Message) -> None:
                if message["type"] == "http.response.start" and message["status"] >= 400:
                    self.failures.take(client)
                await send(message)

            await self.app(scope, receive, counting_send)
            return
        if (path in LOGIN_PATHS or path.startswith(LOGIN_PREFIXES)
                or self._logged_in(request)):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4401})
            return
        resp = error_response(401, "this server has an API key: log in on the chat page or send "
                                   "`Authorization: Bearer $GENREC_API_KEY`",
                              headers={"WWW-Authenticate": "Bearer"})
        await resp(scope, receive, send)


def gradio_app_of(app: ASGIApp) -> Callable[[], object | None]:
    """A function that finds the Gradio App mounted in `app` (None before it is mounted)."""
    found: list[object] = []

    def find() -> object | None:
        if not found:
            for route in getattr(app, "routes", []):
                sub = getattr(route, "app", None)
                if sub is not None and hasattr(sub, "tokens") and hasattr(sub, "cookie_id"):
                    found.append(sub)
                    break
        return found[0] if found else None

    return find
