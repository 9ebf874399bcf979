"""Replay users in worker processes (`--workers N`): each process builds its own parts from the
settings, once, and replays the users it is handed; the parent writes and scores every record.

Conversations are independent and seeded per user, so a run gives the same transcripts (timings
aside) with any number of workers. Processes are started with ``spawn`` (no state is inherited).
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from genrec.config import Settings
from genrec.evaluation.protocols.replay import ChatEvalConfig


@dataclass
class WorkerResult:
    """One replayed user: its transcripts.jsonl record and the baselines that failed so far."""

    record: dict[str, Any]
    baseline_errors: dict[str, str]


_PART: dict[str, Any] = {}
"""The worker process's protocol and baselines, built once by `_start`."""


def _start(settings: Settings, cfg: ChatEvalConfig, torch_threads: int) -> None:
    """Worker initialiser: build the run's parts as the parent did (same settings, same cache)."""
    import torch

    from genrec.evaluation.protocols.factory import make_protocol
    from genrec.evaluation.wiring import build_components

    if torch_threads > 0:
        torch.set_num_threads(torch_threads)
        limit_blas_threads(torch_threads)
    parts = build_components(settings, cfg, progress=False)
    protocol, baselines = make_protocol(
        cfg,
        parts.dataset,
        parts.split,
        parts.agent,
        ranker=parts.ranker,
        store=parts.store,
        popularity_ranker=parts.popularity_ranker,
        generate=parts.generate,
    )
    _PART.update(protocol=protocol, baselines=baselines)


def limit_blas_threads(n: int) -> None:
    """At most `n` BLAS threads in this process (a turn's products are small: more threads only
    spin, and with one process per core they fight over the cores). Call from the main thread."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional; OPENBLAS_NUM_THREADS=1 before start does the same
        return
    threadpool_limits(n, user_api="blas")


def _replay(user_ids: list[int]) -> list[WorkerResult]:
    """Replay a few users in this worker (its conversations run concurrently, as in one process)."""
    protocol, baselines = _PART["protocol"], _PART["baselines"]
    sem = asyncio.Semaphore(max(1, protocol.cfg.concurrency))

    async def one(uid: int) -> dict[str, Any]:
        async with sem:
            return dict(await protocol.replay(uid))

    async def all_of() -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(one(u) for u in user_ids)))

    records = asyncio.run(all_of())
    errors = dict(getattr(baselines, "errors", {}) or {})
    return [WorkerResult(r, errors) for r in records]


def replay_in_workers(settings: Settings, cfg: ChatEvalConfig, user_ids: list[int], *,
                      torch_threads: int = 1, batch: int = 4) -> Iterator[WorkerResult]:
    """Yield every user's result as soon as its batch is done (order: completion, not user id).

    Args:
        settings: what each worker builds its parts from (`wiring.build_components`); the parent
            must have built them once already, so the ranker and index are cached, not rebuilt.
        cfg: the run (``cfg.workers`` processes, ``cfg.concurrency`` conversations in each).
        user_ids: the users still to replay.
        torch_threads: torch intra-op threads per worker.
        batch: users handed to a worker at a time (small: a crash or Ctrl+C loses little).

    Raises:
        Whatever a worker raised while building its parts or replaying a user (e.g.
        TargetLeakError).
    """
    batches = [user_ids[i:i + batch] for i in range(0, len(user_ids), batch)]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(cfg.workers, max(1, len(batches))), mp_context=ctx,
                             initializer=_start, initargs=(settings, cfg, torch_threads)) as pool:
        pending: set[Future[list[WorkerResult]]] = {pool.submit(_replay, b) for b in batches}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield from fut.result()
        finally:
            for fut in pending:
                fut.cancel()


__all__ = ["WorkerResult", "limit_blas_threads", "replay_in_workers"]
