"""Every API error in one shape, `{"error": {"message", "type", "code"}}`: handlers and the 404/405
guard for API paths (a wrong method is 405 with `Allow`, an unknown API path 404, never Gradio's).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

API_PREFIXES = ("/v1/", "/api/")
API_PATHS = ("/v1", "/api", "/healthz", "/readyz", "/docs", "/openapi.json")

KINDS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


class AgentFailure(Exception):
    """The recommender raised while serving a request (reported as 503, never as a traceback)."""


def error_body(status: int, message: str, **extra: object) -> dict[str, Any]:
    return {"error": {"message": message, "type": KINDS.get(status, "api_error"), "code": status,
                      **extra}}


def error_response(status: int, message: str, headers: dict[str, str] | None = None,
                   **extra: object) -> JSONResponse:
    return JSONResponse(error_body(status, message, **extra), status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Every error is `{"error": {message, type, code}}`; nothing leaks a traceback."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        unreadable = body_problem(exc)
        if unreadable is not None:
            return error_response(422, unreadable, details=[{"loc": "body", "msg": unreadable,
                                                            "type": "json_invalid"}])
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            problems.append(
                {"loc": loc, "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))}
            )
        summary = "; ".join(f"{p['loc']}: {p['msg']}" for p in problems[:5])
        return error_response(422, f"invalid request: {summary}", details=problems)

    @app.exception_handler(AgentFailure)
    async def agent_failure(request: Request, exc: AgentFailure) -> JSONResponse:
        body = error_body(503, f"the recommender failed on this turn ({exc}); try again")
        body["error"]["type"] = "agent_error"
        return JSONResponse(body, status_code=503)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return error_response(500, f"internal error ({type(exc).__name__}); see the server log")


def body_problem(exc: RequestValidationError) -> str | None:
    r"""What is wrong with a body that is not a JSON value at all (None when it is one).

    >>> print(body_problem(RequestValidationError([{"type": "json_invalid", "loc": ("body", 25),
    ...     "msg": "JSON decode error", "ctx": {"error": "Expecting ':' delimiter"}}],
    ...     body='{"messages": [\n  {"role" "user"}]}')))  # doctest: +NORMALIZE_WHITESPACE
    the request body is not valid JSON: Expecting ':' delimiter at line 2, column 11
    (character 25); send one JSON object, e.g. {"messages": [{"role": "user", "content": "..."}]}
    """
    errors = exc.errors()
    if len(errors) != 1:
        return None
    err = errors[0]
    loc = tuple(err.get("loc", ()))
    example = 'send one JSON object, e.g. {"messages": [{"role": "user", "content": "..."}]}'
    if err.get("type") == "missing" and loc == ("body",):
        return f"the request body is empty: {example}"
    if err.get("type") != "json_invalid":
        return None
    why = str((err.get("ctx") or {}).get("error") or "it cannot be decoded")
    pos = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
    body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else exc.body
    where = ""
    if pos is not None:
        where = f" at character {pos}"
        if isinstance(body, str) and pos <= len(body):
            line = body.count("\n", 0, pos) + 1
            column = pos - (body.rfind("\n", 0, pos) + 1) + 1
            where = f" at line {line}, column {column} (character {pos})"
    return f"the request body is not valid JSON: {why}{where}; {example}"


class ApiRouteGuard:
    """ASGI middleware: under the API's paths, a path no route has is 404 and a known path with a
    wrong method is 405 (with `Allow`), in the error shape, before Gradio's catch-all sees it.

    The routes are read from the app's OpenAPI schema (path templates and methods) on first use.
    """

    def __init__(self, app: ASGIApp, *, openapi: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self.openapi = openapi
        self._table: list[tuple[re.Pattern[str], set[str]]] | None = None

    def table(self) -> list[tuple[re.Pattern[str], set[str]]]:
        if self._table is None:
            table = [(re.compile(r"^/(docs|openapi\.json)$"), {"GET"})]  # not in the schema
            for template, ops in self.openapi().get("paths", {}).items():
                rx = re.sub(r"\\\{[^}/]+\\\}", "[^/]+", re.escape(template))
                table.append((re.compile(f"^{rx}$"), {m.upper() for m in ops}))
            self._table = table
        return self._table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path in API_PATHS or path.startswith(API_PREFIXES)):
            await self.app(scope, receive, send)
            return
        allowed: set[str] = set()
        for rx, methods in self.table():
            if rx.match(path):
                allowed |= methods
        if scope["method"] in allowed:
            await self.app(scope, receive, send)
            return
        if allowed:
            allow = ", ".join(sorted(allowed))
            resp = error_response(405, f"{scope['method']} is not allowed on {path}; use {allow}",
                                  headers={"Allow": allow})
        else:
            resp = error_response(404, f"no API route {path}; see /docs for the routes")
        await resp(scope, receive, send)
