"""`genrec eval chat`: replay simulated users against the agent and score every turn."""

from __future__ import annotations

import typer


def eval_chat() -> None:
    """Run the conversational harness (being built: see issue 7)."""
    raise typer.Exit(1)
