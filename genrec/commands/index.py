"""`genrec index ...`: build, info, serve and search the Chroma item index."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)
