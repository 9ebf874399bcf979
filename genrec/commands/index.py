"""`genrec index ...`: build, info, serve and search the Chroma item index."""

from __future__ import annotations

import re

import typer

from genrec.commands._common import console, echo_json, settings_from, user_errors

app = typer.Typer(no_args_is_help=True)


def _errors() -> tuple[type[BaseException], ...]:
    from genrec.data import UnknownDatasetError, UnknownItemError
    from genrec.retrieval import (
        EmbeddingError,
        InvalidFilterError,
        StoreError,
        UnknownEmbedderError,
    )

    return (
        UnknownDatasetError,
        UnknownItemError,
        InvalidFilterError,
        StoreError,
        UnknownEmbedderError,
        EmbeddingError,
    )


def _years(spec: str | None) -> tuple[int | None, int | None]:
    """'1990-1999', '1990-', '-1999' or '1995' -> (min, max)."""
    if not spec:
        return None, None
    m = re.fullmatch(r"\s*(\d{1,5})?\s*(-)?\s*(\d{1,5})?\s*", spec)
    if not m or not (m.group(1) or m.group(3)):
        console.print(
            f"[red]error:[/red] --years {spec!r}: give FROM-TO (1990-1999), FROM- , -TO or one year"
        )
        raise typer.Exit(2)
    lo, dash, hi = m.groups()
    if not dash:
        return int(lo), int(lo)
    return (int(lo) if lo else None), (int(hi) if hi else None)


@app.command(
    "build",
    help="Build or refresh the item index of a dataset (atomic; unchanged items are not "
    "re-embedded).",
)
def build(
    dataset: str | None = typer.Option(None, help="Dataset to index (default: settings.dataset)."),
    embedder: str | None = typer.Option(None, help="Embedder (default: settings.embedder)."),
    force: bool = typer.Option(
        False, help="Rebuild even when the index is up to date (vectors are reused)."
    ),
) -> None:
    # its help (one line in `genrec index --help`) is the `help` above
    from genrec.commands.prepare import quiet_third_party
    from genrec.data import load_dataset
    from genrec.retrieval import ChromaStore, get_embedder, make_client

    s = settings_from(dataset=dataset, embedder=embedder)
    with user_errors(*_errors()):
        ds = load_dataset(s.dataset, s.datasets_dir)
        quiet_third_party()
        store = ChromaStore(make_client(s), ds, get_embedder(s.embedder, s), tags=s.index_tags)
        st = store.status()
        if st.state == "stale":
            console.print(f"index {st.collection} is stale: {st.reason}; rebuilding")
        report = store.build(force=force, progress=True)
    if report.up_to_date:
        typer.echo(f"index {report.collection} is up to date ({report.items} items)")
    else:
        typer.echo(
            f"index {report.collection}: {report.items} items ({report.embedded} embedded, "
            f"{report.reused} reused, {report.kept} kept from an unfinished build) "
            f"in {report.seconds:.1f}s"
        )


@app.command("info")
def info(
    dataset: str | None = typer.Option(
        None, help="Also check this dataset's index against its catalog."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Where the store is, which indexes it holds, and whether the dataset's index is up to date."""
    from genrec.commands.prepare import quiet_third_party
    from genrec.data import load_dataset
    from genrec.retrieval import ChromaStore, get_embedder, list_indexes, make_client

    s = settings_from(dataset=dataset)
    with user_errors(*_errors()):
        client = make_client(s)
        where = str(s.chroma_dir) if s.chroma_mode == "embedded" else f"http://{s.chroma_host}:{s.chroma_port}"
        out: dict = {"mode": s.chroma_mode, "location": where, "embedder": s.embedder,
                     "indexes": list_indexes(client)}
        if dataset is not None:
            ds = load_dataset(s.dataset, s.datasets_dir)
            quiet_third_party()
            out["check"] = ChromaStore(
                client, ds, get_embedder(s.embedder, s), tags=s.index_tags
            ).info()
    if as_json:
        echo_json(out)
        return
    typer.echo(f"chroma {out['mode']} at {out['location']}; embedder {out['embedder']}")
    if not out["indexes"]:
        typer.echo("no index yet; run: genrec index build --dataset ml-100k")
    for ix in out["indexes"]:
        if ix.get("in_use"):
            typer.echo(
                f"  {ix['dataset']} / {ix['embedder']}: {ix['collection']} ({ix['count']} items, "
                f"dim {ix['dim']}, fingerprint {ix['fingerprint']}, built {ix['built_at']})"
            )
        else:
            typer.echo(f"  {ix['collection']}: {ix['note']}")
    if "check" in out:
        c = out["check"]
        typer.echo(f"{c['dataset']} index: {c['state']} ({c['reason']})")


@app.command("serve")
def serve(
    host: str = typer.Option(
        "127.0.0.1", help="Interface to listen on (localhost only by default)."
    ),
    port: int | None = typer.Option(None, help="Port (default: settings.chroma_port)."),
) -> None:
    """Run a Chroma server on the same data directory (GENREC_HOME/chroma) until Ctrl-C or SIGTERM.

    Clients use it with GENREC_CHROMA_MODE=server (and GENREC_CHROMA_HOST / GENREC_CHROMA_PORT).
    Do not build with the embedded client on the same directory while the server runs.
    """
    from genrec.retrieval.server import chroma_command, run_passing_signals

    s = settings_from()
    port = port or s.chroma_port
    s.chroma_dir.mkdir(parents=True, exist_ok=True)
    console.print(f"chroma server on http://{host}:{port} serving {s.chroma_dir} "
                  f"(clients: GENREC_CHROMA_MODE=server GENREC_CHROMA_PORT={port})")
    # Ctrl-C, `kill` and a closed terminal are passed to the server, which stops; nothing is left
    raise typer.Exit(run_passing_signals(chroma_command(s.chroma_dir, host, port)))


@app.command(
    "search",
    help="Semantic search over the item index with genre / year / id filters (builds the index "
    "if needed).",
)
def search(
    query: str = typer.Argument(..., help="What to look for, in words."),
    dataset: str | None = typer.Option(None, help="Dataset (default: settings.dataset)."),
    genre: list[str] = typer.Option(
        [], "--genre", help="Item has at least one of these genres (repeat)."
    ),
    not_genre: list[str] = typer.Option(
        [], "--not-genre", help="Item has none of these genres (repeat)."
    ),
    years: str | None = typer.Option(None, help="Release years: 1990-1999, 1990-, -1999 or 1995."),
    exclude: list[int] = typer.Option([], "--exclude", help="Item id never to return (repeat)."),
    similar_to: int | None = typer.Option(
        None, "--similar-to", help="Search near this item id instead."
    ),
    k: int = typer.Option(10, "--k", "-k", min=1, max=1000, help="Number of results."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of results."),
) -> None:
    # its help (one line in `genrec index --help`) is the `help` above
    from genrec.commands.prepare import quiet_third_party
    from genrec.data import load_dataset
    from genrec.retrieval import SearchFilters, open_store

    year_min, year_max = _years(years)
    s = settings_from(dataset=dataset)
    with user_errors(*_errors()):
        ds = load_dataset(s.dataset, s.datasets_dir)
        filters = SearchFilters(genres_any=genre, genres_none=not_genre, year_min=year_min,
                                year_max=year_max, exclude_ids=exclude)
        quiet_third_party()
        store = open_store(s, ds, progress=True)
        hits = (
            store.similar(similar_to, k, filters)
            if similar_to is not None
            else store.search(query, k, filters)
        )
    if as_json:
        echo_json(
            [
                {
                    "item_id": h.item.item_id,
                    "title": h.item.title,
                    "year": h.item.year,
                    "genres": list(h.item.genres),
                    "score": round(h.score, 6),
                    "text": h.text,
                }
                for h in hits
            ]
        )
        return
    if not hits:
        typer.echo("no item matches these filters")
    for rank, h in enumerate(hits, 1):
        typer.echo(
            f"{rank:>3}. {h.score:.3f}  [{h.item.item_id}] {h.item.label}  "
            f"{', '.join(h.item.genres)}"
        )
