"""`genrec train` and `genrec eval ranker`: fit the CF ranker and score it on a split."""

from __future__ import annotations

import typer


def train() -> None:
    """Train the CF ranker (being built: see issue 3)."""
    raise typer.Exit(1)


def eval_ranker() -> None:
    """Score the CF ranker (being built: see issue 3)."""
    raise typer.Exit(1)
