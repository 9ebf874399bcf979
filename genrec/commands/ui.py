"""`genrec up`: the Gradio chat app and the HTTP API on one server."""

from __future__ import annotations

import typer


def up() -> None:
    """Serve the chat app (being built: see issue 6)."""
    raise typer.Exit(1)
