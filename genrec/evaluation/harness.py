"""The conversational harness: replay the eligible users (`protocols`) with bounded concurrency,
resumably into a run folder (`run_folder`), score them by protocol and check for leakage.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genrec.config import Settings
from genrec.data import Catalog, Dataset, Split
from genrec.evaluation.baselines import Baselines
from genrec.evaluation.protocols.factory import make_protocol, phrasebook_for, reveal_shares
from genrec.evaluation.protocols.intent import (
    INTENT_NOTES,
    groups,
    phrasing_of,
    score_intent_records,
)
from genrec.evaluation.protocols.replay import (
    NOTES,
    ChatAgent,
    ChatEvalConfig,
    ChatProtocol,
    SimulatorFactory,
    eligible_users,
    session_id_for,
)
from genrec.evaluation.protocols.target import TARGET_NOTES, TargetProtocol
from genrec.evaluation.protocols.target_metrics import score_target_records
from genrec.evaluation.protocols.taste import score_records, truths
from genrec.evaluation.run_folder import (
    CONFIG,
    METRICS,
    REPORT,
    TRANSCRIPTS,
    RunFolder,
    RunMismatchError,
    read_transcripts,
)
from genrec.evaluation.simulation.factory import make_simulator
from genrec.evaluation.simulation.target_user import TargetLeakError, choose_target
from genrec.evaluation.wiring import EvalComponents, build_components, fingerprints, text_generator

if TYPE_CHECKING:
    from tqdm.auto import tqdm
    
    from genrec.ranking import Ranker
    from genrec.retrieval.store import ChromaStore


class LeakageError(RuntimeError):
    """A simulated user named a held-out item: the run is invalid."""


class RankerLeakError(LeakageError):
    """The ranker under test did not learn from the split's training part alone, so it may have
    seen the test ratings it would be scored on (a ranker served on every rating does)."""


def check_held_out(split: Split, *rankers: object) -> None:
    """Refuse a run whose split holds nothing out, or whose ranker saw (or may have seen) the
    split's test ratings: each ranker that records its training ratings (`metadata`'s
    `train_fingerprint`, or its `split` name where no fingerprint is kept) must have learned
    from `split.train` exactly.

    Raises:
        ValueError: the split's test part is empty (`all`): there is nothing to score.
        RankerLeakError: a ranker learned from other ratings than the split's training part.
    """
    if len(split.test) == 0:
        raise ValueError(
            f"split {split.name!r} holds no ratings out, so there is nothing to score; "
            "evaluate on a held-out split (auto, u1..u5 for MovieLens 100K, "
            "random[:FRACTION], temporal[:K]); `all` is for serving only"
        )
    from genrec.ranking.artifacts import ratings_fingerprint

    train_fp = None
    for ranker in rankers:
        meta = getattr(ranker, "metadata", None)
        if not isinstance(meta, dict) or not ({"train_fingerprint", "split"} & set(meta)):
            continue  # records nothing about its training data (a popularity count, a test double)
        if "train_fingerprint" in meta:
            train_fp = train_fp or ratings_fingerprint(split.train)
            if meta["train_fingerprint"] == train_fp:
                continue
        elif meta["split"] == split.name:
            continue
        seen = ("every rating of the dataset (split 'all')" if meta.get("split") == "all"
                else f"the training part of split {meta.get('split')!r}")
        raise RankerLeakError(
            f"the ranker under test learned from {seen}, not from split {split.name!r}'s training "
            f"part, so it may have seen the {len(split.test):,} test ratings it would be scored "
            "on; "
            f"evaluate the ranker trained on {split.name!r}'s training part (`genrec eval chat "
            "--split NAME` trains it when missing; serve_split = all is for serving only)"
        )


PROTOCOLS = ("taste", "target", "intent")
"""taste: score what the user likes overall; target: find the one held-out item the user has in
mind;
intent: the user wants one kind of film tonight (drawn from its held-out liked items)."""


def check_protocol(protocol: str) -> None:
    """Raise ValueError for a protocol other than taste, target or intent.

    >>> check_protocol("target")
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")


def has_target(split: Split, user_id: int, catalog: Catalog, relevant_min: float = 4.0) -> bool:
    """Whether a user can play the target protocol (a held-out liked item with a genre)."""
    try:
        choose_target(split, user_id, seed=0, relevant_min=relevant_min, catalog=catalog)
    except ValueError:
        return False
    return True


@dataclass
class ChatEvalResult:
    """What a run produced: the metrics, where it wrote them, and whether it finished."""

    out_dir: Path
    metrics: dict[str, Any]
    complete: bool
    new_users: int
    skipped_users: int
    baseline_errors: dict[str, str] = field(default_factory=dict)

    @property
    def leaks(self) -> int:
        return int(self.metrics.get("leakage", {}).get("count", 0))


async def arun_chat_eval(
    cfg: ChatEvalConfig,
    *,
    dataset: Dataset,
    split: Split,
    agent: ChatAgent,
    out_dir: Path,
    ranker: Ranker | None = None,
    store: ChromaStore | None = None,
    popularity_ranker: Ranker | None = None,
    generate: Callable[[list[dict]], str] | None = None,
    simulator_factory: SimulatorFactory | None = None,
    stop_after: int | None = None,
    progress: bool = True,
    extra_config: dict[str, Any] | None = None,
    report: bool = True,
    settings: Settings | None = None,
    torch_threads: int = 1,
) -> ChatEvalResult:
    """Run (or resume) a conversational evaluation; see `run_chat_eval`."""
    check_protocol(cfg.protocol)
    check_held_out(split, ranker, getattr(agent, "ranker", None))
    folder = RunFolder(Path(out_dir))
    voices = _voices(cfg)
    folder.start(
        cfg, {"fingerprints": fingerprints(ranker, store), **voices, **(extra_config or {})}, split
    )
    cat = dataset.catalog
    users = _run_users(cfg, split, cat)
    done = {int(r["user_id"]) for r in folder.transcripts()}
    todo = [u for u in users if u not in done]
    if stop_after is not None:
        todo = todo[: max(0, stop_after)]

    if cfg.workers > 1 and len(todo) > 1 and (settings is None or simulator_factory is not None):
        raise ValueError(
            "workers > 1 needs the settings to rebuild the parts in each process "
            "(pass settings=...) and cannot use a simulator_factory; run with workers=1 instead"
        )
    protocol, baselines = make_protocol(cfg, dataset, split, agent, ranker=ranker, store=store,
                                        popularity_ranker=popularity_ranker, generate=generate,
                                        simulator_factory=simulator_factory)
    bar = None
    if progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(users), initial=len(done & set(users)), desc="users", unit="user",
                   dynamic_ncols=True)
    new = await _replay_users(folder, protocol, baselines, cfg, todo, bar,
                              settings=settings, torch_threads=torch_threads)
    records = [r for r in folder.transcripts() if int(r["user_id"]) in set(users)]
    complete = len(records) == len(users)
    metrics, relevant = _score(cfg, records, split, cat, baselines)
    metrics["complete"] = complete
    metrics["users_selected"] = len(users)
    folder.write_metrics(metrics)
    if report:
        _write_report(folder, cfg, metrics, records, cat, relevant)
    return ChatEvalResult(
        folder.path, metrics, complete, new, len(done & set(users)), dict(baselines.errors)
    )


def _voices(cfg: ChatEvalConfig) -> dict[str, Any]:
    """config.json's record of the words the users speak: the behaviour mix and phrasebook counts
    (and the intent reveal shares), or nothing without a phrasebook."""
    book = phrasebook_for(cfg)
    voices = (
        {} if book is None else {"behaviour_mix": book.mix().to_dict(), "phrasebook": book.counts()}
    )
    if book is not None and cfg.protocol == "intent":
        voices["reveal_shares"] = {k: round(v, 3) for k, v in reveal_shares(book.mix()).items()}
    return voices


def _run_users(cfg: ChatEvalConfig, split: Split, catalog: Catalog) -> list[int]:
    """The users a run replays: the eligible test users (those with a target for the target
    protocol), the first ``cfg.users`` of them when set."""
    users = eligible_users(split, relevant_min=cfg.relevant_min, n=0)
    if cfg.protocol == "target":
        users = [u for u in users if has_target(split, u, catalog, cfg.relevant_min)]
    users = users[: cfg.users] if cfg.users else users
    if not users:
        raise ValueError(
            f"split {split.name!r} has no test user with a held-out rating >= {cfg.relevant_min}"
        )
    return users


async def _replay_users(
    folder: RunFolder,
    protocol: ChatProtocol | TargetProtocol,
    baselines: Baselines,
    cfg: ChatEvalConfig,
    todo: list[int],
    bar: tqdm | None,
    *,
    settings: Settings | None,
    torch_threads: int,
) -> int:
    """Replay the users in `todo` (in worker processes when ``cfg.workers > 1``, else
    ``cfg.concurrency`` at a time), appending each finished record; how many were added."""
    sem = asyncio.Semaphore(cfg.concurrency)
    new = 0
    with folder.appender() as append:

        async def one(uid: int) -> None:
            nonlocal new
            async with sem:
                rec = await protocol.replay(uid)
            append(rec)
            new += 1
            if bar is not None:
                bar.update(1)

        try:
            if cfg.workers > 1 and len(todo) > 1 and settings is not None:
                from genrec.evaluation.workers import replay_in_workers

                for res in replay_in_workers(settings, cfg, todo, torch_threads=torch_threads):
                    append(res.record)
                    baselines.errors.update(res.baseline_errors)
                    new += 1
                    if bar is not None:
                        bar.update(1)
            else:
                tasks = [asyncio.create_task(one(u)) for u in todo]
                try:
                    await asyncio.gather(*tasks)
                finally:
                    for tsk in tasks:
                        tsk.cancel()
        finally:
            if bar is not None:
                bar.close()
    return new


def _score(
    cfg: ChatEvalConfig,
    records: list[dict[str, Any]],
    split: Split,
    catalog: Catalog,
    baselines: Baselines,
) -> tuple[dict[str, Any], dict[int, set[int]] | None]:
    """metrics.json of the run's protocol, and each user's relevant held-out items (None for the
    target protocol, whose report needs none)."""
    if cfg.protocol == "target":
        return score_target_records(records, catalog, k=cfg.k, turns=cfg.turns), None
    user_truths = truths(
        split.train, split.test, [r["user_id"] for r in records], relevant_min=cfg.relevant_min
    )
    if cfg.protocol == "intent":
        metrics = score_intent_records(records, user_truths, catalog, k=cfg.k, turns=cfg.turns)
    else:
        metrics = score_records(records, user_truths, catalog, k=cfg.k, turns=cfg.turns)
        metrics["by_phrasing"] = groups(
            records, phrasing_of, user_truths, catalog, k=cfg.k, turns=cfg.turns, intent=False
        )
    metrics["baseline_errors"] = dict(baselines.errors)
    metrics["simulator_fallbacks"] = sum(1 for r in records if r.get("simulator_fallback"))
    return metrics, {u: t.relevant for u, t in user_truths.items()}


def _write_report(
    folder: RunFolder,
    cfg: ChatEvalConfig,
    metrics: dict[str, Any],
    records: list[dict[str, Any]],
    catalog: Catalog,
    relevant: dict[int, set[int]] | None,
) -> None:
    """report.html of the run: the protocol's notes and sections."""
    latencies = [t.get("latency_ms", 0.0) for r in records for t in r["turns"]]
    from genrec.evaluation.report_chat import chat_sections, target_sections

    if cfg.protocol == "target":
        sections = target_sections(metrics, records, seed=cfg.seed, catalog=catalog)
        notes: tuple[str, ...] = TARGET_NOTES
    else:
        sections = chat_sections(metrics, records, seed=cfg.seed, catalog=catalog,
                                 relevant=relevant or {})
        notes = (*NOTES, *INTENT_NOTES) if cfg.protocol == "intent" else NOTES
    folder.write_report(
        metrics,
        latencies=latencies,
        title=f"genrec eval chat ({cfg.protocol} protocol)",
        notes=notes,
        sections=sections,
    )


def run_chat_eval(cfg: ChatEvalConfig, **kwargs: Any) -> ChatEvalResult:
    """Run (or resume) a conversational evaluation and write its folder.

    Args:
        cfg: the run settings.
        dataset, split: the data; simulated users come from ``split.train``, scores from
        ``split.test``.
        agent: anything with ``achat(session_id, message)`` or ``chat(...)`` returning a Reply
            (a `genrec.agent.Recommender`). It is given an opaque session id, never the user id.
        out_dir: the run folder; users already in its transcripts.jsonl are skipped.
        ranker, store, popularity_ranker: for the baselines (missing ones are left out).
        generate: chat messages -> text, for the llm simulator.
        simulator_factory: (persona, seed) -> simulator, to replace the named simulator.
        stop_after: run at most this many new users, then score what is done.
        progress: show a progress bar.
        settings: what worker processes build their parts from (needed when ``cfg.workers > 1``).
        torch_threads: torch intra-op threads of each worker process.

    Returns:
        The metrics (also in metrics.json). ``result.leaks`` > 0 means the run is invalid.

    Example::

        cfg = ChatEvalConfig(users=20, turns=3, llm="none")
        res = run_chat_eval(cfg, dataset=ds, split=sp, agent=rec, ranker=rec.ranker,
                            store=rec.store, out_dir=Path("runs/x"))
        print(res.metrics["final"]["agent"]["recall_cum@10"], res.metrics["final"]["ci"])
    """
    return asyncio.run(arun_chat_eval(cfg, **kwargs))


def check_leakage(result: ChatEvalResult) -> None:
    """Raise `LeakageError` when a simulated user named a held-out item."""
    if result.leaks:
        ex = result.metrics["leakage"]["examples"][:3]
        raise LeakageError(
            f"leakage: simulated users named {result.leaks} held-out item(s) (e.g. {ex}); the run "
            "is invalid. Fix the simulator so it only names items from the user's training ratings."
        )


__all__ = [
    "CONFIG",
    "METRICS",
    "NOTES",
    "REPORT",
    "TRANSCRIPTS",
    "ChatEvalConfig",
    "ChatEvalResult",
    "EvalComponents",
    "LeakageError",
    "PROTOCOLS",
    "RankerLeakError",
    "RunMismatchError",
    "TargetLeakError",
    "has_target",
    "SimulatorFactory",
    "arun_chat_eval",
    "build_components",
    "check_leakage",
    "check_held_out",
    "check_protocol",
    "eligible_users",
    "make_protocol",
    "make_simulator",
    "read_transcripts",
    "run_chat_eval",
    "session_id_for",
    "text_generator",
]
