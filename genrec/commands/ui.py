"""`genrec up`: the Gradio chat app and the HTTP API on one server."""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

import typer

from genrec.commands._common import console, serving_settings
from genrec.commands.prepare import SPLIT_HELP

if TYPE_CHECKING:
    from genrec.commands.prepare import Prepared


def up(
    llm: str | None = typer.Option(
        None, help="LLM backend: auto (default), openai, vllm:MODEL, local, none, fake."
    ),
    port: int = typer.Option(7860, min=1, max=65535, help="Port to listen on."),
    host: str = typer.Option(
        "127.0.0.1", help="Address to bind. Anything but loopback needs GENREC_API_KEY."
    ),
    policy: str | None = typer.Option(None, help="Dialogue policy: auto, tool-calling, guided."),
    concurrent_turns: int | None = typer.Option(
        None, min=1, help="Turns computed at once (default 2 x CPU cores); raise for a remote LLM."
    ),
    log_level: str = typer.Option("warning", help="uvicorn log level."),
    split: str | None = typer.Option(None, help=SPLIT_HELP),
    dataset: str | None = typer.Option(
        None,
        help="Dataset to serve: ml-latest-small, ml-100k, an imported one, auto "
        "(default: settings.dataset).",
    ),
) -> None:
    """Serve the chat app at http://HOST:PORT/ and the HTTP API (/v1, /api, docs at /docs).

    Builds whatever is missing first (dataset, ranker, Chroma index), with progress; the dataset
    step says which split the ranker learns from and how many ratings it leaves out (`--split
    all` or `serve_split = "all"`: every rating, none left out). Binds to
    127.0.0.1 by default; a non-loopback --host is refused unless GENREC_API_KEY is set, and then
    every API route needs `Authorization: Bearer $GENREC_API_KEY` and the chat page asks for it.
    """
    from genrec.ui import is_loopback
    from genrec.ui.api.security import MIN_PUBLIC_KEY_CHARS, weak_keys

    settings = serving_settings(split, llm=llm, policy=policy, dataset=dataset)
    if not is_loopback(host) and not settings.api_key.strip():
        console.print(
            f"[red]error:[/red] refusing to serve on {host}: anyone on the network could use it. "
            "Set GENREC_API_KEY (a long random token) or bind to 127.0.0.1."
        )
        raise typer.Exit(2)
    if not is_loopback(host) and weak_keys(settings.api_key):
        console.print(
            f"[red]error:[/red] refusing to serve on {host} with {weak_keys(settings.api_key)[0]}: "
            f"each GENREC_API_KEY must have at least {MIN_PUBLIC_KEY_CHARS} characters "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)."
        )
        raise typer.Exit(2)

    from genrec.commands.prepare import prepare_recommender
    from genrec.ui import ApiLimits, create_app, serve

    try:  # one named step a line on stderr (dataset, ranker, index, LLM, server)
        prepared = prepare_recommender(settings, llm=llm, policy=policy, serving=True)
    except Exception as exc:  # noqa: BLE001 - a clear line, not a traceback
        console.print(f"[red]error:[/red] could not prepare the recommender: {exc}")
        raise typer.Exit(1) from None
    recommender = prepared.recommender
    try:  # a turn's products are small: one BLAS thread serves them faster (docs/deploy.md §6)
        from threadpoolctl import threadpool_limits

        threadpool_limits(1, user_api="blas")  # from the main thread, after any training
    except ImportError:  # optional (the bench extra); OPENBLAS_NUM_THREADS=1 does the same
        pass
    limits = ApiLimits(**({"max_concurrent_turns": concurrent_turns} if concurrent_turns else {}))
    app = create_app(recommender, settings, limits=limits)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    prepared.serving(url)
    typer.echo(
        f"genrec is up: chat at {url} , API docs at {url}docs "
        f"(LLM backend: {recommender.backend_name}; Ctrl+C to stop)"
    )
    serve(app, host=host, port=port, log_level=log_level)  # until Ctrl+C or SIGTERM
    _stop(prepared)


def _stop(prepared: Prepared, wait: float = 1.0) -> None:
    """After the server stopped: close what it holds (a vLLM child stops with it), say so, exit.

    A turn still computing in a worker thread (a slow LLM call) after the server's grace period
    is not waited for: its request was already cancelled, so it was never acknowledged (as after
    `kill -9`, every acknowledged turn is saved). Only the LLM backend is closed then (the session
    store stays open under that thread). The process then exits without Python's module teardown,
    which takes seconds with torch and transformers loaded (the exit handlers still run).
    """
    for sig in (signal.SIGINT, signal.SIGTERM):  # more Ctrl+C while closing: closing already
        signal.signal(sig, signal.SIG_IGN)
    deadline = time.monotonic() + wait
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
    busy = [t for t in threading.enumerate()
            if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    if busy:
        logging.disable(logging.CRITICAL)  # the cut-off turn's errors are not news
        prepared.backend.close()
        console.print("genrec stopped (a turn still running was cut off).")
    else:
        prepared.close()
        console.print("genrec stopped.")
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is not None:
        run_exit_handlers()
    elif not busy:
        return  # the ordinary exit: slower, same result
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
