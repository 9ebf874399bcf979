"""`genrec config show`: the effective settings and where each value came from.

Nested component settings are listed one value a line, by dotted name (`agent.k`, `ranker.reg`).
"""

from __future__ import annotations

import typer
from rich.table import Table

from genrec.commands._common import echo_json, settings_from

app = typer.Typer(no_args_is_help=True)

#: Values shown as *** (when set): tokens must not end up in logs or screenshots.
SECRETS = frozenset({"llm_api_key", "api_key"})


@app.command("show")
def show(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """Print every setting (nested ones as agent.k, ranker.learning_rate, ...), its value, and its
    source (argument, env GENREC_*, genrec.toml or default)."""
    s = settings_from()
    values, sources = s.flat(), s.sources()
    shown = {k: ("***" if k in SECRETS and v and v != "EMPTY" else v) for k, v in values.items()}
    if as_json:
        echo_json({k: {"value": shown[k], "source": sources[k]} for k in values})
        return
    table = Table(title="genrec settings")
    table.add_column("setting", no_wrap=True)  # dotted names stay whole on a narrow terminal
    table.add_column("value")
    table.add_column("source")
    for k in values:
        table.add_row(k, str(shown[k]), sources[k])
    from rich.console import Console

    Console().print(table)
