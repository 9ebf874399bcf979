"""`genrec train` and `genrec eval ranker`: fit the CF ranker and score it on a split.

Both use the cached model under GENREC_HOME/models/<dataset>/<split>/ (retrained when stale).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from genrec.commands._common import console, echo_json, settings_from, user_errors


def _load(dataset: str | None, split: str | None, seed: int | None):  # noqa: ANN202
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


def evaluate_ranker(ranker: Any, dataset: Any, split: Any, *, k: int = 10,
                    threshold: float = 4.0) -> dict[str, Any]:
    """Score `ranker` and the popularity baseline on `split.test` under the project's protocol.

    Predictions for every test rating (a test user unknown to the ranker is the average user);
    top-k over every item the user has not rated in train, relevant = test rating >= threshold,
    metrics averaged over test users with at least one relevant item.

    Returns ``{"final": {"ranker": {...}, "popularity": {...}}, "predictions": DataFrame,
    "topn": {user: [item ids]}, "protocol": {...}}``.
    """
    import numpy as np

    from genrec.evaluation.metrics import (
        catalog_coverage,
        intra_list_diversity,
        mae,
        novelty,
        rmse,
        topn_metrics,
    )
    from genrec.ranking import PopularityRanker

    test = split.test.df
    avg = ranker.fold_in()
    preds = np.empty(len(test), dtype=np.float64)
    for user, idx in test.groupby("user").indices.items():
        who = int(user) if ranker.knows_user(int(user)) else avg
        preds[idx] = ranker.predict(who, test["item"].to_numpy()[idx].tolist())
    predictions = test[["user", "item"]].assign(predicted_rating=preds)
    relevant = {int(u): set(g.loc[g["rating"] >= threshold, "item"].astype(int))
                for u, g in test.groupby("user")}
    topn = {u: [s.item_id for s in ranker.recommend(u if ranker.knows_user(u) else avg, k)]
            for u in relevant}
    pop = PopularityRanker().fit(split.train)
    topn_pop = {u: [s.item_id for s in pop.recommend(u, k)] if pop.knows_user(u) else
                [s.item_id for s in pop.recommend(avg, k)] for u in relevant}
    popularity = ranker.popularity()
    n_users = split.train.n_users
    genres = {it.item_id: it.genres for it in dataset.catalog}

    def beyond(lists: dict[int, list[int]]) -> dict[str, float]:
        return {
            f"coverage@{k}": catalog_coverage(lists, len(dataset.catalog), k),
            f"novelty@{k}": novelty(lists, popularity, n_users, k),
            f"ild_genre@{k}": float(np.mean([intra_list_diversity(v, genres, k) for v in lists.values()])),
        }

    ranker_metrics = {"rmse": rmse(preds, test["rating"]), "mae": mae(preds, test["rating"]),
                      **topn_metrics(topn, relevant, k), **beyond(topn)}
    pop_metrics = {**topn_metrics(topn_pop, relevant, k), **beyond(topn_pop)}
    return {
        "final": {"ranker": ranker_metrics, "popularity": pop_metrics},
        "protocol": {
            "dataset": dataset.name, "split": split.name, "k": k, "relevant": f"test rating >= {threshold:g}",
            "candidates": "every catalog item the user has not rated in train",
            "test_ratings": len(test), "test_users": len(relevant),
        },
        "predictions": predictions,
        "topn": topn,
    }


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
    from genrec.ranking import ModelFileError, load_or_train_ranker

    s, ds, sp = _load(dataset, split, seed)
    with user_errors(ModelFileError, ValueError):
        ranker = load_or_train_ranker(s, ds, sp, progress=not quiet)
        res = evaluate_ranker(ranker, ds, sp, k=k)
    if predictions_out:
        predictions_out.parent.mkdir(parents=True, exist_ok=True)
        res["predictions"].to_csv(predictions_out, sep="\t", header=False, index=False, float_format="%.6f")
    if topn_out:
        topn_out.parent.mkdir(parents=True, exist_ok=True)
        with topn_out.open("w", encoding="utf-8") as fh:
            for user in sorted(res["topn"]):
                for rank, item in enumerate(res["topn"][user], start=1):
                    fh.write(f"{user}\t{item}\t{rank}\n")
    payload = {"final": res["final"], "protocol": res["protocol"]}
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
        try:
            from genrec.evaluation import report  # type: ignore[attr-defined]
        except ImportError:
            report = None
        if report is not None and hasattr(report, "write_ranker_report"):
            try:  # same report format as `genrec eval chat` (metrics.json keeps "final" and "protocol")
                report.write_ranker_report(out, res["final"], {"protocol": res["protocol"], "k": k},
                                           k=k, extra={"protocol": res["protocol"]})
            except Exception as exc:  # noqa: BLE001 - the report is an extra, metrics.json is written
                console.print(f"[yellow]warning:[/yellow] report not written: {exc}")
    if as_json:
        echo_json(payload)
        return
    p = res["protocol"]
    typer.echo(f"{p['dataset']} split {p['split']}: {p['test_ratings']} test ratings, "
               f"{p['test_users']} test users; relevant = {p['relevant']}; candidates = {p['candidates']}")
    names = list(res["final"]["ranker"])
    typer.echo(f"{'metric':>14}  {'ranker':>9}  {'popularity':>10}")
    for n in names:
        r = res["final"]["ranker"][n]
        b = res["final"]["popularity"].get(n)
        typer.echo(f"{n:>14}  {r:>9.4f}  {'' if b is None else f'{b:>10.4f}'}")
