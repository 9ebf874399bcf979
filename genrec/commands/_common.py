"""Helpers shared by the command modules: settings from options, clean error exits."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from genrec.config import Settings, get_settings

console = Console(stderr=True, soft_wrap=True)


def error(message: object) -> None:
    """Print one red 'error:' line; the message is shown verbatim (no rich markup)."""
    console.print("[red]error:[/red] ", end="")
    console.print(str(message), markup=False, highlight=False)


def settings_from(**overrides: object) -> Settings:
    """Effective settings with command-line options (None = not given) on top."""
    try:
        return get_settings(**overrides)
    except Exception as exc:  # noqa: BLE001 - settings errors are user errors
        error(f"invalid settings: {exc}")
        raise typer.Exit(2) from None


@contextmanager
def user_errors(*kinds: type[BaseException]) -> Iterator[None]:
    """Turn expected errors into one red line and exit code 1 instead of a traceback."""
    try:
        yield
    except kinds as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        error(msg)
        raise typer.Exit(1) from None


def echo_json(obj: object) -> None:
    import json

    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")
