"""One FastAPI server: the HTTP API (/v1, /api, /healthz, docs at /docs) with the Gradio app at "/".

`create_app` builds it around a Recommender; `serve` runs it with uvicorn (what `genrec up` calls).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING

from fastapi import FastAPI

from genrec.ui.api.errors import ApiRouteGuard, install_error_handlers
from genrec.ui.api.gate import KeyGate, gradio_app_of
from genrec.ui.api.health import health_routes
from genrec.ui.api.routes import build_router
from genrec.ui.api.schemas import ApiLimits
from genrec.ui.api.security import BodySizeLimit, api_keys, token_matches
from genrec.ui.api.service import ApiService

if TYPE_CHECKING:
    from genrec.agent import Recommender
    from genrec.config import Settings

API_DESCRIPTION = """
Talk to the genrec recommender over HTTP.

* **OpenAI-compatible**: `POST /v1/chat/completions` (streaming and not) and `GET /v1/models`.
  Point any OpenAI client at `http://HOST:PORT/v1` with model `genrec`; the response's `model`
  names the LLM backend that answered (`genrec/none`, `genrec/openai:MODEL`). The session comes
  from the `X-Session-Id` header, else the `user` field; then only the last user message is read
  and the server keeps the history. Without either (a stateless client) the conversation is read
  from `messages`: the earlier user turns, and the items the earlier assistant turns recommended
  (their "Title (Year)" lines), answered as if the session had been kept. Every response names
  its session in the `X-Session-Id` response header (URL-encoded, as the path does); sent back,
  it continues that conversation server-side.
  Recommendations are in the extra **`genrec`** field of the response (on the final chunk when
  streaming): `{session_id, recommendations: [{item_id, title, year, genres, score,
  predicted_rating, rationale, verified}], question, trace, warnings, backend}`. Warnings are
  genrec's own words, never text a model wrote.
* **Sessions API**: `POST /api/sessions`, `POST /api/sessions/{id}/messages`,
  `POST /api/sessions/{id}/feedback`, `GET /api/sessions/{id}`, `DELETE /api/sessions/{id}`.
* **Auth**: when `GENREC_API_KEY` is set (comma-separated for several clients), every `/v1` and
  `/api` route, `/docs` and `/openapi.json` need `Authorization: Bearer <key>` (401 otherwise);
  the chat page and Gradio's own routes need the key as the login password. `/healthz` and
  `/readyz` stay open for probes (no counts without the key).
* **Ownership**: a session belongs to the principal that made it: the key, or the key plus the
  end user a trusted bot names in the `X-Genrec-User` header. Another principal gets 404 for the
  same id. Ids (also the OpenAI `user` field) are stored under a keyed hash, never in the clear.
* **Rate limits**: 600 requests a minute per principal, 10 failed keys or logins a minute per
  client address; above, 429 with `Retry-After`.
* **Session ids**: the recommender's one rule (1-200 printable characters, not only spaces; an
  invalid id gets 422), the same for the chat page, the CLI and Python.
* **Limits**: request bodies over 64 KiB get 413, messages longer than the agent's
  `max_message_chars` (default 4000; `[agent]` in genrec.toml) 422, a body that is not JSON
  422 saying where it breaks. Errors are always `{"error": {"message", "type", "code"}}` (a
  wrong method 405 with `Allow`, an unknown API path 404).
* **Health**: `/healthz` asks the configured LLM server (`GET /models`, at most every 5 s) and
  says `llm: down` when it does not answer.
"""


def create_app(
    recommender: Recommender,
    settings: Settings,
    *,
    limits: ApiLimits | None = None,
    ui: bool = True,
) -> FastAPI:
    """The whole server: API routes, error handlers, body limit, and the Gradio app at "/".

    Args:
        recommender: the facade every route and the chat page call.
        settings: read for `api_key` (bearer token; empty = open) and `dataset`.
        limits: what only HTTP limits (64 KiB body, 200 messages, concurrent turns); the message
            length limit is `recommender.config.max_message_chars`, as for every front door.
        ui: mount the Gradio chat page at "/" (False: API only).

    Returns:
        A FastAPI app; run it with uvicorn, or `serve()`.

    Example:
        >>> rec = Recommender.from_settings(llm="none")  # doctest: +SKIP
        >>> app = create_app(rec, get_settings())  # doctest: +SKIP
        >>> uvicorn.run(app, host="127.0.0.1", port=7860)  # doctest: +SKIP
    """
    limits = limits or ApiLimits()
    keys = api_keys(settings.api_key)
    app = FastAPI(
        title="genrec API",
        description=API_DESCRIPTION,
        version=_version(),
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    service = ApiService(recommender, settings, limits)
    app.state.genrec = service
    install_error_handlers(app)
    app.include_router(build_router(service))
    health_routes(app, service)
    app.add_middleware(BodySizeLimit, max_bytes=limits.max_body_bytes, prefixes=("/v1", "/api"))
    app.add_middleware(ApiRouteGuard, openapi=app.openapi)
    if keys:
        app.add_middleware(KeyGate, api_key=settings.api_key, gradio=gradio_app_of(app),
                           failures=service.auth_failures)
    if ui:
        import gradio as gr

        from genrec.ui.chat.app import build_blocks
        from genrec.ui.chat.style import CSS

        auth = None
        if keys:

            def auth(username: str, password: str) -> bool:  # any user name, the key as password
                return any(token_matches(password, k) for k in keys)

        gr.mount_gradio_app(
            app,
            build_blocks(recommender, settings, concurrency=limits.max_concurrent_turns),
            path="/",
            auth=auth,
            auth_message="This genrec server has an API key: enter any user name and the key.",
            ssr_mode=False,
            footer_links=["api"],
            css=CSS,
            show_error=False,
        )
    return app


def serve(app: FastAPI, *, host: str = "127.0.0.1", port: int = 7860, log_level: str = "warning",
          grace: int = 3) -> int:
    """Run the app with uvicorn until SIGINT (Ctrl+C) or SIGTERM; stop promptly and quietly.

    On the signal the server stops taking connections, ends the open chat tabs' streams at once
    (Gradio's heartbeats would otherwise hold the shutdown for as long as a tab stays open), gives
    requests still running `grace` seconds, then cancels them. A second signal stops at once.
    Nothing is printed (no traceback of cancelled requests), and the signal is not raised again
    afterwards, so the caller can clean up (stop a vLLM child) and exit normally.

    Returns:
        The signal number that stopped the server (0 when it stopped for another reason).
    """
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level=log_level,
                            timeout_graceful_shutdown=grace)
    server = _quiet_server_class()(config)
    server.run()
    return server.stopped_by


_SHUTDOWN_NOISE = (asyncio.CancelledError, KeyboardInterrupt)


class _DropCancelledTracebacks(logging.Filter):
    """Drops uvicorn's log records of requests cancelled by a shutdown (not errors of the app)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, _SHUTDOWN_NOISE)


def _end_gradio_streams(app: object) -> None:
    """Set the stop event of each Gradio app mounted in `app`: its heartbeat streams end."""
    for route in getattr(app, "routes", []):
        stop = getattr(getattr(route, "app", None), "stop_event", None)
        if stop is not None:
            stop.set()


def _quiet_server_class() -> type:
    import uvicorn

    class QuietServer(uvicorn.Server):
        """uvicorn's server that ends Gradio streams on shutdown and does not re-raise the
        signal."""

        stopped_by = 0

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if self.should_exit:  # a second signal of either kind: stop now
                self.force_exit = True
            self.should_exit = True
            self.stopped_by = self.stopped_by or int(sig)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {sig: signal.signal(sig, self.handle_exit)
                        for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            quiet = _DropCancelledTracebacks()
            for name in ("uvicorn.error", "uvicorn"):
                logging.getLogger(name).addFilter(quiet)
            _end_gradio_streams(self.config.app)
            await super().shutdown(sockets)

    return QuietServer


class BackgroundServer:
    """uvicorn serving `app` in a daemon thread on 127.0.0.1 (port 0 = a free one); for tests,
    examples and benchmarks.

    >>> with BackgroundServer(app) as server:  # doctest: +SKIP
    ...     httpx.get(server.url + "healthz")
    """

    def __init__(self, app: FastAPI, *, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        if port == 0:
            with socket.socket() as sock:
                sock.bind((host, 0))
                port = sock.getsockname()[1]
        self.host, self.port = host, port
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._server.main_loop = self._main_loop  # type: ignore[method-assign]
        self._wake: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self, timeout: float = 60.0) -> BackgroundServer:
        self._thread = threading.Thread(target=self._server.run, name="genrec-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start on {self.url}")
            time.sleep(0.005)
        return self

    async def _main_loop(self) -> None:
        """uvicorn's main loop (a tick every 0.1 s until it should exit) that stop() also wakes,
        so a stop does not wait for the next tick."""
        wake = asyncio.Event()
        self._wake = (asyncio.get_running_loop(), wake)
        counter = 0
        should_exit = await self._server.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), 0.1)
            should_exit = await self._server.on_tick(counter)

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        if self._wake is not None:
            loop, wake = self._wake
            with contextlib.suppress(RuntimeError):  # the loop has ended already
                loop.call_soon_threadsafe(wake.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _version() -> str:
    from genrec import __version__

    return __version__
