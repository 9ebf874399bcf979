"""`genrec config show`: the effective settings and where each value came from."""

from __future__ import annotations

import typer
from rich.table import Table

from genrec.commands._common import echo_json, settings_from

app = typer.Typer(no_args_is_help=True)


@app.command("show")
def show(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """Print every setting, its value, and its source (env, genrec.toml or default)."""
    s = settings_from()
    sources = s.sources()
    rows = {name: (getattr(s, name), sources[name]) for name in type(s).model_fields}
    secret = {"llm_api_key", "api_key"}
    shown = {k: ("***" if k in secret and v and v != "EMPTY" else v) for k, (v, _) in rows.items()}
    if as_json:
        echo_json({k: {"value": shown[k], "source": src} for k, (_, src) in rows.items()})
        return
    table = Table(title="genrec settings")
    for col in ("setting", "value", "source"):
        table.add_column(col)
    for k, (_, src) in rows.items():
        table.add_row(k, str(shown[k]), src)
    from rich.console import Console

    Console().print(table)
