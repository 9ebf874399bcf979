"""Helpers shared by the command modules: settings from options, clean error exits."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from genrec.config import Settings, get_settings

#: How to serve on every rating instead of a split's training part, as the app says it.
SERVE_ALL_HINT = (
    "to learn from every rating instead: --split all, or serve_split = \"all\" in genrec.toml"
)

console = Console(stderr=True, soft_wrap=True)


def error(message: object) -> None:
    """Print one red 'error:' line; the message is shown verbatim (no rich markup)."""
    console.print("[red]error:[/red] ", end="")
    console.print(str(message), markup=False, highlight=False)


def settings_from(**overrides: object) -> Settings:
    """Effective settings with command-line options (None = not given) on top; `dataset = auto` is
    replaced by the installed MovieLens it means (left `auto` on a home with none: the first run
    decides, `genrec.data.registry.first_run_choice`)."""
    try:
        s = get_settings(**overrides)
    except Exception as exc:  # noqa: BLE001 - settings errors are user errors
        error(f"invalid settings: {exc}")
        raise typer.Exit(2) from None
    if s.dataset == "auto":
        from genrec.data import installed_default

        s.dataset = installed_default(s.datasets_dir) or s.dataset
    return s


def serving_settings(split: str | None, **overrides: object) -> Settings:
    """Settings of a command that serves the ranker (up, chat, prepare): a `--split` given on the
    command line is what the ranker learns from (`all`: every rating), whatever `serve_split`
    says."""
    return settings_from(
        split=split, serve_split="split" if split is not None else None, **overrides
    )


def split_reason(s: Settings, split_name: str) -> str:
    """Why the served ranker learns from `split_name` ("auto: MovieLens 100K's default", ...).

    >>> split_reason(Settings(split="auto"), "u1"), split_reason(Settings(serve_split="all"), "all")
    ("auto: MovieLens 100K's default", 'serve_split = all')
    """
    if s.serve_split == "all":
        return "serve_split = all"
    if s.split.strip() == "auto":
        if split_name == "auto":  # not resolved yet: the dataset has not been read
            return "auto: the dataset's default (u1 for MovieLens 100K, else seeded random)"
        return ("auto: MovieLens 100K's default" if split_name == "u1"
                else "auto: seeded random, the default for any dataset but MovieLens 100K")
    return f"split = {s.split}"


def served_line(s: Settings, train_ratings: int, left_out: int, split_name: str) -> str:
    """What the served ranker learns from and how many ratings it leaves out, in one sentence.

    >>> line = served_line(Settings(split="auto"), 80_000, 20_000, "u1")
    >>> print(line)  # doctest: +NORMALIZE_WHITESPACE
    the ranker learns from split u1 (auto: MovieLens 100K's default): 80,000 ratings;
    20,000 left out for evaluation
    """
    if not left_out:
        why = "serve_split = all" if s.serve_split == "all" else f"split {split_name}"
        return f"the ranker learns from every rating ({train_ratings:,}; {why}); none left out"
    why = split_reason(s, split_name)
    return (
        f"the ranker learns from split {split_name} ({why}): {train_ratings:,} ratings; "
        f"{left_out:,} left out for evaluation"
    )


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
