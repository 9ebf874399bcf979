"""The `genrec` command: wires the subcommands of each area together.

Each area's commands live in genrec/commands/<area>.py and import heavy modules lazily.
"""

from __future__ import annotations

import typer

from genrec.commands import agent, config, data, evaluation, index, prepare, ranking, ui

app = typer.Typer(
    name="genrec",
    help="genrec: a conversational recommender (LLM agent + Chroma retrieval + CF ranker).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(data.app, name="data", help="Fetch, inspect, split, export and import datasets.")
app.add_typer(config.app, name="config", help="Show the effective settings.")
app.add_typer(
    index.app, name="index", help="Build, inspect, serve and search the Chroma item index."
)
app.add_typer(agent.llm_app, name="llm", help="Serve an LLM with vLLM.")

eval_app = typer.Typer(
    help="Offline evaluation: the ranker alone, or whole conversations.", no_args_is_help=True
)
eval_app.command("ranker")(ranking.eval_ranker)
eval_app.command("chat")(evaluation.eval_chat)
app.add_typer(eval_app, name="eval")

app.command("train")(ranking.train)
app.command("chat")(agent.chat)
app.command("up")(ui.up)
app.command("prepare")(prepare.prepare)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
