"""`genrec train` and `genrec eval ranker`: fit the CF ranker and score it on a split.

Both use the cached model under GENREC_HOME/models/<dataset>/<split>/ (retrained when stale).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from genrec.commands._common import console, echo_json, settings_from, user_errors

if TYPE_CHECKING:
    from genrec.config import Settings
    from genrec.data import Dataset, Split


def _load(dataset: str | None, split: str | None, seed: int | None) -> tuple[Settings, Dataset, Split]:
    from genrec.data import UnknownDatasetError, load_split

    s = settings_from(dataset=dataset, split=split, seed=seed)
    with user_errors(UnknownDatasetError, ValueError):
        ds, sp = load_split(s.dataset, s.split, s.datasets_dir, seed=s.seed)
    return s, ds, sp


def train(
    dataset: str | None = typer.Option(None, help="Dataset name (default: settings.dataset)."),
    split: str | None = typer.Option(None, help="u1..u5, random[:F], temporal[:K] (default: settings.split)."),
    seed: int | None = typer.Option(None, help="Seed (default: settings.seed)."),
    force: bool = typer.Option(False, "--force", help="Retrain even if a fresh model is cached."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Train the CF ranker on a split's training part and store it under GENREC_HOME/models/.

    Hyperparameters are checked on a validation split carved from the training part (early
    stopping); the stored model is then refit on the whole training part.
    """
    import shutil

    from genrec.ranking import ModelFileError, load_or_train_ranker, model_dir

    s, ds, sp = _load(dataset, split, seed)
    where = model_dir(s, ds.name, sp.name)
    if force and where.exists():
        shutil.rmtree(where)
    with user_errors(ModelFileError, ValueError):
        ranker = load_or_train_ranker(s, ds, sp, progress=not quiet)
    m = ranker.metadata
    v = m.get("validation", {})
    typer.echo(f"ranker for {ds.name} split {sp.name} at {where}")
    typer.echo(
        f"validation ({v.get('split')}): RMSE {v.get('val_rmse')} at epoch {v.get('best_epoch')} "
        f"(validation fit {v.get('fit_seconds')} s); final fit {m.get('fit_seconds')} s on "
        f"{m.get('n_ratings')} ratings, {m.get('n_users')} users, {m.get('n_items')} items"
    )


def eval_ranker(
    dataset: str | None = typer.Option(None, help="Dataset name (default: settings.dataset)."),
    split: str | None = typer.Option(None, help="Split (default: settings.split)."),
    seed: int | None = typer.Option(None, help="Seed (default: settings.seed)."),
    k: int = typer.Option(10, "--k", min=1, help="List length for the top-N metrics."),
    predictions_out: Path | None = typer.Option(
        None, help="Write `user item predicted_rating` (TSV, no header) for every test rating."),
    topn_out: Path | None = typer.Option(
        None, help="Write `user item rank` (TSV, no header, rank 1..k) for every test user."),
    out: Path | None = typer.Option(None, help="Folder for metrics.json (and a report, if available)."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar if the model must be trained."),
) -> None:
    """Score the CF ranker on the split's test part: RMSE/MAE and top-N metrics.

    Protocol: predictions for every test rating; top-k over every item the user has not rated in
    train; relevant = test rating >= 4; means over test users with a relevant item. The
    popularity baseline is scored on the same users.
    """
    from genrec.evaluation import ranker_protocol as protocol
    from genrec.ranking import ModelFileError, load_or_train_ranker

    s, ds, sp = _load(dataset, split, seed)
    with user_errors(ModelFileError, ValueError):
        ranker = load_or_train_ranker(s, ds, sp, progress=not quiet)
        res = protocol.evaluate_ranker(ranker, ds, sp, k=k)
    if predictions_out:
        protocol.write_predictions(res, predictions_out)
    if topn_out:
        protocol.write_topn(res, topn_out)
    payload = res.payload()
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
        try:  # same report format as `genrec eval chat` (metrics.json keeps "final" and "protocol")
            from genrec.evaluation.report import write_ranker_report

            write_ranker_report(out, res.final, {"protocol": res.protocol, "k": k}, k=k,
                                extra={"protocol": res.protocol})
        except Exception as exc:  # noqa: BLE001 - the report is an extra, metrics.json is written
            console.print(f"[yellow]warning:[/yellow] report not written: {exc}")
    if as_json:
        echo_json(payload)
        return
    for line in protocol.format_table(res):
        typer.echo(line)
