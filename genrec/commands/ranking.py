"""`genrec train` and `genrec eval ranker`: fit the CF ranker (torch, or Spark ALS) and score it.

Both use the cached model under GENREC_HOME/models/<dataset>/<split>/ (retrained when stale).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from genrec.commands._common import console, echo_json, error, settings_from, user_errors

if TYPE_CHECKING:
    from genrec.config import Settings
    from genrec.data import Dataset, Split
    from genrec.ranking.spark_als import SparkALSConfig


def _load(
    dataset: str | None, split: str | None, seed: int | None
) -> tuple[Settings, Dataset, Split]:
    from genrec.data import UnknownDatasetError, load_split

    s = settings_from(dataset=dataset, split=split, seed=seed)
    with user_errors(UnknownDatasetError, ValueError):
        ds, sp = load_split(s.dataset, s.split, s.datasets_dir, seed=s.seed)
    return s, ds, sp


def _floats(text: str, what: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise typer.BadParameter(
            f"{what}: {text!r} is not a comma-separated list of numbers"
        ) from None


def train(
    dataset: str | None = typer.Option(None, help="Dataset name (default: settings.dataset)."),
    split: str | None = typer.Option(
        None,
        help="auto (the dataset's default: u1 for ml-100k, else random:0.2), "
        "u1..u5 (ml-100k only), random[:F], temporal[:K], or all "
        "(every rating, what `serve_split = all` serves) "
        "(default: settings.split).",
    ),
    seed: int | None = typer.Option(None, help="Seed (default: settings.seed)."),
    force: bool = typer.Option(False, "--force", help="Retrain even if a fresh model is cached."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    engine: str = typer.Option(
        "torch", help="torch (the autoencoder + EASE ranker) or spark (MLlib ALS)."
    ),
    master: str = typer.Option(
        "local[*]", help="spark: master URL (local[N], spark://HOST:7077, yarn, k8s://...)."
    ),
    implicit: bool = typer.Option(
        True,
        "--implicit/--explicit",
        help="spark: implicit feedback (tuned on NDCG@10) or explicit ratings (RMSE).",
    ),
    ranks: str = typer.Option("16,32,64", help="spark: factor sizes to try (comma-separated)."),
    regs: str = typer.Option("0.05,0.1,0.2", help="spark: regParam values to try."),
    alphas: str = typer.Option("0.5,1,2", help="spark: confidence alphas to try (implicit)."),
    max_iter: int = typer.Option(15, min=1, help="spark: ALS iterations."),
    checkpoint_dir: str = typer.Option(
        "",
        help="spark: checkpoint folder (default: under GENREC_HOME; shared storage on a cluster).",
    ),
    data_dir: str = typer.Option(
        "",
        help="spark: where the ratings Parquet is staged (default: under "
        "GENREC_HOME; shared storage on a cluster).",
    ),
    driver_memory: str = typer.Option("4g", help="spark: spark.driver.memory."),
) -> None:
    """Train the CF ranker on a split's training part and store it under GENREC_HOME/models/.

    Hyperparameters are checked on a validation split carved from the training part (early
    stopping for torch; the rank/regParam/alpha grid for spark); the stored model is then refit
    on the whole training part. `--engine spark` writes the same artifact (recording the engine),
    so `genrec up`, `chat` and `eval ranker` use it as they are; Spark needs Java 17+.
    """
    import shutil

    from genrec.ranking import model_dir

    if engine not in ("torch", "spark"):
        raise typer.BadParameter(
            f"unknown engine {engine!r}: use torch or spark", param_hint="--engine"
        )
    s, ds, sp = _load(dataset, split, seed)
    where = model_dir(s, ds.name, sp.name)
    if force and where.exists():
        shutil.rmtree(where)
    if engine == "spark":
        from genrec.ranking.spark_als import SparkALSConfig

        cfg = SparkALSConfig(
            master=master, implicit=implicit, ranks=[int(x) for x in _floats(ranks, "--ranks")],
            regs=_floats(regs, "--regs"), alphas=_floats(alphas, "--alphas"), max_iter=max_iter,
            checkpoint_dir=checkpoint_dir, data_dir=data_dir, driver_memory=driver_memory,
            seed=s.seed)
        _train_spark(s, ds, sp, where, cfg)
        return
    _train_torch(s, ds, sp, where, quiet=quiet)


def _train_torch(s: Settings, ds: Dataset, sp: Split, where: Path, *, quiet: bool) -> None:
    """`genrec train` (torch): reuse a fresh cached model, else train one; say how it fit."""
    from genrec.ranking import ModelFileError, load_or_train_ranker

    with user_errors(ModelFileError, ValueError):
        ranker = load_or_train_ranker(s, ds, sp, progress=not quiet)
    m = ranker.metadata
    v = m.get("validation", {})
    typer.echo(
        f"ranker for {ds.name} split {sp.name} at {where} (engine {m.get('engine', 'torch')})"
    )
    if m.get("engine", "torch") != "torch":
        typer.echo(f"kept the cached {m['engine']} model; retrain with --force")
        return
    typer.echo(
        f"validation ({v.get('split')}): RMSE {v.get('val_rmse')} at epoch {v.get('best_epoch')} "
        f"(validation fit {v.get('fit_seconds')} s); final fit {m.get('fit_seconds')} s on "
        f"{m.get('n_ratings')} ratings, {m.get('n_users')} users, {m.get('n_items')} items"
    )


def _train_spark(s: Settings, ds: Dataset, sp: Split, where: Path, cfg: SparkALSConfig) -> None:
    """`genrec train --engine spark`: reuse a fresh Spark model, else tune, fit and save one."""
    from genrec.ranking import MFRanker, ModelFileError, ranker_config
    from genrec.ranking.artifacts import SPARK_ENGINE, expected_metadata, reusable
    from genrec.ranking.spark_als import train_spark_ranker

    try:
        old = MFRanker.load(
            where, expected=reusable(where, expected_metadata(ds, sp, ranker_config(s)))
        )
        if old.metadata.get("engine") == SPARK_ENGINE:
            typer.echo(f"ranker for {ds.name} split {sp.name} at {where}: a fresh {SPARK_ENGINE} "
                       f"model is cached ({old.metadata['spark']['best']}); retrain with --force")
            return
    except ModelFileError:
        pass
    with user_errors(ImportError, ValueError):
        try:
            ranker = train_spark_ranker(ds, sp, where, config=cfg, ranker_config=ranker_config(s),
                                        work_dir=s.home / "spark" / ds.name / where.parent.name,
                                        log=typer.echo)
        except Exception as exc:
            if type(exc).__name__ in ("PySparkRuntimeError", "Py4JJavaError", "Py4JError"):
                raise ValueError(f"Spark failed ({str(exc).splitlines()[0][:300]}); is Java 17+ "
                                 f"installed and is {cfg.master} reachable?") from None
            raise
    m = ranker.metadata
    typer.echo(
        f"ranker for {ds.name} split {sp.name} at {where} (engine {SPARK_ENGINE}, {cfg.master})"
    )
    typer.echo(f"best on validation: {m['spark']['best']}; final fit {m['fit_seconds']} s "
               f"({m['seconds_per_iteration']} s per iteration) on {m['n_ratings']} ratings, "
               f"{m['n_users']} users, {m['n_items']} items")


def eval_ranker(
    dataset: str | None = typer.Option(None, help="Dataset name (default: settings.dataset)."),
    split: str | None = typer.Option(
        None,
        help="A held-out split: auto (the dataset's default), u1..u5 "
        "(ml-100k only), random[:F], temporal[:K] (default: "
        "settings.split).",
    ),
    seed: int | None = typer.Option(None, help="Seed (default: settings.seed)."),
    k: int = typer.Option(10, "--k", min=1, help="List length for the top-N metrics."),
    predictions_out: Path | None = typer.Option(
        None, help="Write `user item predicted_rating` (TSV, no header) for every test rating."
    ),
    topn_out: Path | None = typer.Option(
        None, help="Write `user item rank` (TSV, no header, rank 1..k) for every test user."
    ),
    out: Path | None = typer.Option(
        None, help="Folder for metrics.json (and a report, if available)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
    quiet: bool = typer.Option(
        False, "--quiet", help="No progress bar if the model must be trained."
    ),
) -> None:
    """Score the CF ranker on the split's test part: RMSE/MAE and top-N metrics.

    Protocol: predictions for every test rating; top-k over every item the user has not rated in
    train; relevant = test rating >= 4; means over test users with a relevant item. The
    popularity baseline is scored on the same users.
    """
    from genrec.evaluation.protocols import ranker as protocol
    from genrec.ranking import ModelFileError, load_or_train_ranker

    s, ds, sp = _load(dataset, split, seed)
    if not len(sp.test):
        error(
            f"split {sp.name!r} holds no ratings out, so there is nothing to score; evaluate on a "
            "held-out split (auto, u1..u5 for ml-100k, random[:F], temporal[:K])"
        )
        raise typer.Exit(2)
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
