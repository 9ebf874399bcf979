"""`genrec config show`: the effective settings and where each value came from.

Nested component settings are listed one value a line, by dotted name (`agent.k`, `ranker.reg`),
followed by what the served ranker learns from (`served.split`, `served.train_ratings`,
`served.left_out_ratings`).
"""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from genrec.commands._common import echo_json, settings_from, split_reason
from genrec.config import Settings

app = typer.Typer(no_args_is_help=True)

#: Values shown as *** (when set): tokens must not end up in logs or screenshots.
SECRETS = frozenset({"llm_api_key", "api_key"})


@app.command("show")
def show(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Print every setting (nested ones as agent.k, ranker.learning_rate, ...), its value, and its
    source (argument, env GENREC_*, genrec.toml or default)."""
    s = settings_from()
    values, sources = s.flat(), s.sources()
    shown = {k: ("***" if k in SECRETS and v and v != "EMPTY" else v) for k, v in values.items()}
    for key, (value, source) in served(s).items():
        values[key], shown[key], sources[key] = value, value, source
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


def served(s: Settings) -> dict[str, tuple[Any, str]]:
    """The split the served ranker learns from and how many ratings it learns from and leaves out,
    as (value, source) rows; counts are None, with the reason, when the dataset cannot be read
    (not installed yet: nothing is downloaded here)."""
    from genrec.data import UnknownDatasetError, load_dataset, make_split, movielens

    try:
        ds = load_dataset(s.dataset, s.datasets_dir, fetch=False)
        split = make_split(ds.ratings, s.served_split, seed=s.seed)
    except (UnknownDatasetError, ValueError) as exc:
        why = str(exc).splitlines()[0]
        name = s.served_split
        if (
            name == "auto" and s.dataset == movielens.NAME
        ):  # the built-in is MovieLens 100K once fetched
            name = "u1"
        return {"served.split": (name, split_reason(s, name)),
                "served.train_ratings": (None, why), "served.left_out_ratings": (None, why)}
    where = f"{s.dataset} split {split.name}"
    return {"served.split": (split.name, split_reason(s, split.name)),
            "served.train_ratings": (len(split.train), where),
            "served.left_out_ratings": (len(split.test), where)}
