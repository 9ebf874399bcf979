"""`genrec chat` and `genrec llm serve`: talk to the agent; start a vLLM server."""

from __future__ import annotations

import typer

llm_app = typer.Typer(no_args_is_help=True)


def chat() -> None:
    """Chat with the recommender (being built: see issue 5)."""
    raise typer.Exit(1)
