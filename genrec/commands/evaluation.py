"""`genrec eval chat`: replay simulated users against the agent and score every turn; its options,
and the steps of a run (settings, parts, the run itself, the printed summary)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

import typer

from genrec.commands._common import console, error, settings_from, user_errors
from genrec.config import Settings

if TYPE_CHECKING:
    from genrec.evaluation.harness import ChatEvalResult
    from genrec.evaluation.protocols.replay import ChatEvalConfig

EXIT_LEAKAGE = 3


# The options of `genrec eval chat` (flags, defaults and help text as `--help` shows them).
_DATASET = typer.Option(None, help="Dataset (default: settings.dataset).")
_SPLIT = typer.Option(
    None,
    help="Split; its test users are simulated (default: settings.split, "
    "auto: the dataset's default, u1 for ml-100k).",
)
_USERS = typer.Option(0, help="First N eligible test users, sorted by id; 0 = all.")
_TURNS = typer.Option(5, help="User messages per conversation.")
_SIMULATOR = typer.Option("template", help="template (seeded, rule-based) or llm (persona prompt).")
_LLM = typer.Option(None, help="The agent's LLM backend (default: settings.llm).")
_SIMULATOR_LLM = typer.Option(None, help="The llm simulator's backend (default: --llm).")
_POLICY = typer.Option(None, help="auto, tool-calling or guided (default: settings.policy).")
_CONCURRENCY = typer.Option(4, help="Conversations in flight at once (in each worker).")
_WORKERS = typer.Option(
    1,
    min=1,
    help="Processes replaying users in parallel (e.g. the machine's "
    "cores); each loads the ranker and index once. Same results.",
)
_SEED = typer.Option(
    None,
    help="Seed of the simulators only (default: settings.seed); the "
    "ranker and index are the ones `genrec up` serves.",
)
_PHRASING = typer.Option(
    "mixed",
    help="What template users say: real (real seekers' sentences from "
    "INSPIRED's dev dialogues), template (the project's phrasings) or "
    "mixed (half the users each way, seeded).",
)
_PROTOCOL = typer.Option(
    "taste",
    help="taste (default): score what the user likes overall; "
    "target: find the one held-out item the user has in mind "
    "(success rate by turn, avg_turns, hdcg); intent: the user "
    "wants one kind of film tonight (recall_cum@10_intent).",
)
_K = typer.Option(10, help="List length that is scored.")
_OUT = typer.Option(
    None,
    help="Run folder (default: GENREC_HOME/runs/chat-TIME); "
    "rerunning with the same folder resumes it.",
)
_STOP_AFTER = typer.Option(None, hidden=True, help="Stop after N new users (testing).")
_PROGRESS = typer.Option(True, help="Show a progress bar.")
_TORCH_THREADS = typer.Option(
    1,
    help="Torch and BLAS threads per process; conversations already "
    "run in parallel, and 1 avoids oversubscribing small machines.",
)


def eval_chat(
    dataset: str | None = _DATASET,
    split: str | None = _SPLIT,
    users: int = _USERS,
    turns: int = _TURNS,
    simulator: str = _SIMULATOR,
    llm: str | None = _LLM,
    simulator_llm: str | None = _SIMULATOR_LLM,
    policy: str | None = _POLICY,
    concurrency: int = _CONCURRENCY,
    workers: int = _WORKERS,
    seed: int | None = _SEED,
    phrasing: str = _PHRASING,
    protocol: str = _PROTOCOL,
    k: int = _K,
    out: Path | None = _OUT,
    stop_after: int | None = _STOP_AFTER,
    progress: bool = _PROGRESS,
    torch_threads: int = _TORCH_THREADS,
) -> None:
    """Replay simulated users against the agent and score every turn against held-out ratings.

    Each simulated user knows only one real user's training ratings; the agent gets an opaque
    session id, never the user id. After every turn the agent, the peers under its rules
    (popularity, mentioned_fold_in, content_only, constrained_fold_in: conversation only, new items each turn) and the
    oracles (oracle_popularity, full_history) are scored on that user's held-out ratings
    (relevant: rating >= 4): recall_cum@10 (headline, with paired bootstrap intervals), success,
    turns_to_hit, ndcg@10_standing and ndcg@10.

    With --protocol intent each user wants one kind of film tonight (the genre, maybe the decade,
    covering the most of its held-out liked items) and says so at once, only when asked, or only
    through reactions: recall_cum@10_intent (headline, paired intervals) next to recall_cum@10.

    With --protocol target each user has one seeded held-out target and a simulated user who wants
    "something like it" and accepts when it is shown; the agent and the target peers
    (attribute_popularity, attribute_fold_in, max_entropy) each talk to their own copy of that user:
    success per turn (SR@t), sr@T (headline, paired intervals), avg_turns and hdcg. A target user
    writing a distinctive word of its target's title fails the run (exit code 3).

    Writes config.json, transcripts.jsonl, metrics.json and report.html into --out and prints a
    summary; rerunning into the same folder resumes it. A simulated user naming a held-out item
    fails the run (exit code 3).
    """  # noqa: E501 - the help text's line breaks
    _check_choices(simulator, protocol, phrasing)
    s = held_out_settings(settings_from(dataset=dataset, split=split, llm=llm, policy=policy))
    cfg = _run_config(
        s,
        users=users,
        turns=turns,
        simulator=cast(Literal["template", "llm"], simulator),
        simulator_llm=simulator_llm,
        concurrency=concurrency,
        workers=workers,
        seed=s.seed if seed is None else seed,
        k=k,
        protocol=cast(Literal["taste", "target", "intent"], protocol),
        phrasing=cast(Literal["real", "template", "mixed"], phrasing),
    )
    out_dir = out or s.runs_dir / time.strftime("chat-%Y%m%d-%H%M%S")
    _limit_threads(torch_threads)
    started = time.perf_counter()
    res = _run(
        s, cfg, out_dir, stop_after=stop_after, progress=progress, torch_threads=torch_threads
    )
    _print_result(res, time.perf_counter() - started, out_dir)


def _check_choices(simulator: str, protocol: str, phrasing: str) -> None:
    """Exit 2 with a message on a --simulator, --protocol or --phrasing that does not exist or
    does not go together."""
    if simulator not in ("template", "llm"):
        console.print(f"[red]error:[/red] --simulator {simulator!r}: use template or llm")
        raise typer.Exit(2)
    if protocol not in ("taste", "target", "intent"):
        console.print(f"[red]error:[/red] --protocol {protocol!r}: use taste, target or intent")
        raise typer.Exit(2)
    if protocol in ("target", "intent") and simulator != "template":
        console.print(
            f"[red]error:[/red] --protocol {protocol} has its own rule-based user; "
            "use --simulator template"
        )
        raise typer.Exit(2)
    if phrasing not in ("real", "template", "mixed"):
        console.print(f"[red]error:[/red] --phrasing {phrasing!r}: use real, template or mixed")
        raise typer.Exit(2)


def _run_config(
    s: Settings,
    *,
    users: int,
    turns: int,
    simulator: Literal["template", "llm"],
    simulator_llm: str | None,
    concurrency: int,
    workers: int,
    seed: int,
    k: int,
    protocol: Literal["taste", "target", "intent"],
    phrasing: Literal["real", "template", "mixed"],
) -> ChatEvalConfig:
    """The run's settings; an `auto` LLM is resolved (and printed) so the run records, and a
    resume checks, what it meant here."""
    from genrec.evaluation.harness import ChatEvalConfig

    agent_llm = s.llm
    if agent_llm == "auto":
        from genrec.llm import resolve_auto

        choice = resolve_auto(s)
        agent_llm = choice.spec
        console.print(f"LLM: auto -> {agent_llm} ({choice.reason})", markup=False, highlight=False)
    return ChatEvalConfig(
        dataset=s.dataset,
        split=s.split,
        users=users,
        turns=turns,
        simulator=simulator,
        llm=agent_llm,
        simulator_llm=simulator_llm,
        policy=s.policy,
        concurrency=concurrency,
        workers=workers,
        seed=seed,
        k=k,
        protocol=protocol,
        phrasing=phrasing,
    )


def _limit_threads(torch_threads: int) -> None:
    """Torch and BLAS threads of this process (none set when `torch_threads` is 0 or less)."""
    if torch_threads > 0:
        import torch

        from genrec.evaluation.workers import limit_blas_threads

        torch.set_num_threads(torch_threads)
        limit_blas_threads(torch_threads)


def _user_errors() -> tuple[type[BaseException], ...]:
    """The errors a run reports as a message (exit 1) rather than a traceback."""
    from genrec.evaluation.harness import RunMismatchError
    from genrec.llm import LLMError

    return (RunMismatchError, ValueError, LookupError, LLMError)


def _run(
    s: Settings,
    cfg: ChatEvalConfig,
    out_dir: Path,
    *,
    stop_after: int | None,
    progress: bool,
    torch_threads: int,
) -> ChatEvalResult:
    """Build the parts and run (or resume) the evaluation into `out_dir`; a leak of the target or
    a ranker that saw the test ratings exits with EXIT_LEAKAGE."""
    import sys

    from genrec.evaluation.harness import (
        RankerLeakError,
        TargetLeakError,
        build_components,
        run_chat_eval,
    )

    with user_errors(*_user_errors()):
        parts = build_components(s, cfg, progress=progress)
        for w in parts.warnings:
            console.print(f"[yellow]warning:[/yellow] {w}")
        settings_doc = s.model_dump(mode="json", exclude={"llm_api_key", "api_key"})
        try:
            return run_chat_eval(
                cfg,
                dataset=parts.dataset,
                split=parts.split,
                agent=parts.agent,
                out_dir=out_dir,
                ranker=parts.ranker,
                store=parts.store,
                popularity_ranker=parts.popularity_ranker,
                generate=parts.generate,
                stop_after=stop_after,
                progress=progress,
                settings=s,
                torch_threads=torch_threads,
                extra_config={
                    "settings": settings_doc,
                    "args": sys.argv[1:],
                    "warnings": parts.warnings,
                    "agent_backend": getattr(parts.agent, "backend_name", cfg.llm),
                    "agent_policy": getattr(parts.agent, "policy_name", cfg.policy),
                    "agent_config": _dump(getattr(parts.agent, "config", None)),
                    "ranker_metadata": _dump(getattr(parts.ranker, "metadata", None)),
                    "torch_threads": torch_threads,
                },
            )
        except (TargetLeakError, RankerLeakError) as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(EXIT_LEAKAGE) from None


def _print_result(res: ChatEvalResult, elapsed: float, out_dir: Path) -> None:
    """The run's summary, intervals and groups, its size and cost, and the report's path; exit
    EXIT_LEAKAGE when a simulated user named a held-out item."""
    from genrec.evaluation.harness import LeakageError, check_leakage
    from genrec.evaluation.report import format_summary
    from genrec.evaluation.report_chat import format_ci, format_groups

    m = res.metrics
    typer.echo(format_summary(m))
    if format_ci(m):
        typer.echo("\n" + format_ci(m))
    if format_groups(m):
        typer.echo("\n" + format_groups(m))
    lat = m.get("latency_ms", {})
    typer.echo(
        f"\n{m['n_users']}/{m.get('users_selected')} users x {m['turns']} turns in {elapsed:.1f}s "
        f"({res.new_users} new, {res.skipped_users} resumed); "
        f"agent latency p50 {lat.get('p50', 0):.1f} ms, "
        f"p95 {lat.get('p95', 0):.1f} ms; LLM calls/turn {m['llm_calls']['per_turn']:.2f}; "
        f"leakage {m['leakage']['count']}"
    )
    typer.echo(f"report: {out_dir / 'report.html'}")
    try:
        check_leakage(res)
    except LeakageError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_LEAKAGE) from None


def held_out_settings(s: Settings) -> Settings:
    """`s` with its split named as the run records it (`auto` resolved: u1 for ml-100k, so its runs
    are unchanged); a split that holds nothing out (`all`) is refused (exit 2) before anything is
    trained."""
    from genrec.data import FetchError, UnknownDatasetError, load_dataset, resolve_split
    from genrec.data.splits import ALL

    if s.split.strip() == ALL:
        error(
            "split 'all' holds no ratings out, so a run has nothing to score; "
            "evaluate on a held-out split (auto, u1..u5 for ml-100k, random[:FRACTION], "
            "temporal[:K]); serve_split = all is what lets the app learn from every rating"
        )
        raise typer.Exit(2)
    with user_errors(UnknownDatasetError, FetchError):
        ds = load_dataset(s.dataset, s.datasets_dir)
    return s.model_copy(update={"split": resolve_split(ds.ratings, s.split)})


def _dump(obj: object) -> object:
    """A JSON-friendly view of a pydantic model, dataclass or dict (None when absent)."""
    if obj is None:
        return None
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if isinstance(obj, dict):
        return obj
    try:
        from dataclasses import asdict

        return asdict(obj)  # type: ignore[call-overload]
    except TypeError:
        return repr(obj)
