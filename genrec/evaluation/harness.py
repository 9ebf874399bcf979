"""The conversational harness: replay simulated users against the agent, score every turn, write
config.json, transcripts.jsonl (resumable), metrics.json and report.html into one run folder.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from genrec.data import Dataset, Split
from genrec.evaluation.baselines import Baselines
from genrec.evaluation.leakage import CatalogTitles, TitleMatcher
from genrec.evaluation.persona import Persona, build_persona, persona_seed
from genrec.evaluation.scoring import score_records, truths
from genrec.evaluation.simulator import UserSimulator, make_simulator

log = logging.getLogger(__name__)

TRANSCRIPTS, CONFIG, METRICS, REPORT = "transcripts.jsonl", "config.json", "metrics.json", "report.html"


NOTES = (
    "Protocol: each simulated user knows only one real user's training ratings; lists are scored "
    "against that user's held-out ratings (relevant: rating >= relevant_min). The agent gets an "
    "opaque session id, never the real user id: it knows only the conversation.",
    "popularity and full_history know the user's id and exclude its training items; "
    "mentioned_fold_in (ranker folded in from the items named so far) and content_only (Chroma "
    "search on the user's words so far) know only the conversation, like the agent.",
    "seen: share of the list the user rated in training (never relevant in test); repeated: share "
    "already named or reacted to earlier; constraint_violations: share in an avoided genre or "
    "outside stated years.",
)


class ChatEvalConfig(BaseModel):
    """Settings of one conversational evaluation run (all of them are recorded in config.json)."""

    dataset: str = Field("ml-100k", description="Dataset name.")
    split: str = Field("u1", description="Train/test split; users are its test users.")
    users: int = Field(0, ge=0, description="First N eligible test users (sorted by id); 0 = all.")
    turns: int = Field(5, ge=1, description="User messages per conversation.")
    simulator: Literal["template", "llm"] = Field("template", description="Simulated user kind.")
    llm: str = Field("none", description="The agent's LLM backend.")
    simulator_llm: str | None = Field(None, description="The llm simulator's backend (default: llm).")
    policy: str = Field("auto", description="The agent's dialogue policy.")
    concurrency: int = Field(4, ge=1, description="Conversations in flight at once.")
    seed: int = Field(42, description="Seed of the simulators (and of random splits).")
    k: int = Field(10, ge=1, description="List length that is scored.")
    relevant_min: float = Field(4.0, description="Held-out rating at or above which an item is relevant.")

    IDENTITY: ClassVar[tuple[str, ...]] = ("dataset", "split", "turns", "simulator", "llm", "simulator_llm",
                                 "policy", "seed", "k", "relevant_min")

    def identity(self) -> dict[str, Any]:
        """The settings a resumed run must share with the run it continues."""
        d = self.model_dump()
        return {key: d[key] for key in self.IDENTITY}


class RunMismatchError(ValueError):
    """The output folder holds a run made with different settings."""


class LeakageError(RuntimeError):
    """A simulated user named a held-out item: the run is invalid."""


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


def eligible_users(split: Split, *, relevant_min: float = 4.0, n: int = 0) -> list[int]:
    """The split's test users with at least one relevant held-out item, sorted; the first n (0 = all)."""
    df = split.test.df
    users = sorted(int(u) for u in df.loc[df["rating"] >= relevant_min, "user"].unique())
    return users[:n] if n else users


def session_id_for(seed: int, user_id: int, turns: int) -> str:
    """An opaque session id: the agent must not learn the real user id from it."""
    h = hashlib.sha256(f"genrec-eval:{seed}:{user_id}:{turns}".encode()).hexdigest()[:16]
    return f"sim-{h}"


def git_commit() -> str | None:
    """The commit of the genrec checkout, when it is a git checkout (read-only)."""
    import subprocess

    try:
        root = Path(__file__).resolve().parents[2]
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except Exception:  # noqa: BLE001 - no git is fine
        return None


# --------------------------------------------------------------------------- transcripts


def read_transcripts(path: Path) -> list[dict[str, Any]]:
    """Finished users from transcripts.jsonl; a torn last line (killed mid-write) is dropped and
    the file is rewritten without it. Duplicates keep the first line."""
    if not path.is_file():
        return []
    good: list[dict[str, Any]] = []
    seen: set[int] = set()
    lines = path.read_text(encoding="utf-8").splitlines()
    torn = False
    for n, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            uid = int(rec["user_id"])
            rec["turns"]  # noqa: B018 - must exist
        except (ValueError, KeyError, TypeError):
            if n == len(lines) - 1:
                torn = True
                continue
            raise ValueError(f"{path} line {n + 1} is not a transcript record; delete the folder or fix the line") from None
        if uid not in seen:
            seen.add(uid)
            good.append(rec)
    if torn or len(good) != sum(1 for ln in lines if ln.strip()):
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in good), encoding="utf-8")
    return good


# --------------------------------------------------------------------------- one conversation


async def _call_agent(agent: Any, session_id: str, message: str) -> Any:
    if hasattr(agent, "achat"):
        return await agent.achat(session_id, message)
    return await asyncio.to_thread(agent.chat, session_id, message)


def _agent_state(agent: Any, session_id: str) -> dict[str, Any] | None:
    """What the agent understood so far (read only, for the understanding diagnostics)."""
    fn = getattr(agent, "state", None)
    if fn is None:
        return None
    try:
        st = fn(session_id)
    except Exception:  # noqa: BLE001 - diagnostics only
        return None
    keys = ("liked", "disliked", "seen", "excluded", "wanted_genres", "avoided_genres", "year_min", "year_max",
            "preferred_genres", "preferred_decades")
    return {k: getattr(st, k, None) for k in keys}


def _forget(agent: Any, session_id: str) -> None:
    fn = getattr(agent, "delete_session", None)
    if fn is not None:
        try:
            fn(session_id)
        except Exception:  # noqa: BLE001 - cleanup only
            pass


SimulatorFactory = Callable[[Persona, int], UserSimulator]
"""(persona, per-user seed) -> simulator; lets tests plant a misbehaving simulator."""


@dataclass
class _Run:
    cfg: ChatEvalConfig
    dataset: Dataset
    split: Split
    agent: Any
    baselines: Baselines
    make_sim: SimulatorFactory
    popularity: dict[int, int]
    titles: CatalogTitles

    async def conversation(self, user_id: int) -> dict[str, Any]:
        cfg, cat = self.cfg, self.dataset.catalog
        # The simulator gets the user's TRAINING rows only; held-out items stay with the guard.
        train_rows = self.split.train.for_user(user_id)
        useed = persona_seed(cfg.seed, user_id)
        persona = build_persona(train_rows, cat, seed=useed, popularity=self.popularity)
        sim = self.make_sim(persona, useed)
        test_items = self.split.test.for_user(user_id)["item"].astype(int).tolist()
        guard = TitleMatcher(cat, test_items)
        constant = self.baselines.constant(user_id)
        session = session_id_for(cfg.seed, user_id, cfg.turns)
        _forget(self.agent, session)
        user_texts: list[str] = []
        turns: list[dict[str, Any]] = []
        utt = await asyncio.to_thread(sim.opening)
        try:
            for t in range(cfg.turns):
                user_texts.append(utt.text)
                leaks = guard.find(utt.text, allowed=utt.named)
                stated = sim.stated
                t0 = time.perf_counter()
                error = None
                try:
                    reply = await _call_agent(self.agent, session, utt.text)
                except Exception as exc:  # noqa: BLE001 - an agent fault scores as an empty list
                    reply, error = None, f"{type(exc).__name__}: {exc}"
                latency = (time.perf_counter() - t0) * 1000.0
                recs = list(getattr(reply, "recommendations", None) or [])[: cfg.k]
                ranked = [int(r.item_id) for r in recs]
                text = getattr(reply, "text", "") or ""
                conv = await asyncio.to_thread(self.baselines.conversational, stated, list(user_texts))
                understood = _agent_state(self.agent, session)
                turns.append({
                    "user": utt.text,
                    "agent": text,
                    "ranked_item_ids": ranked,
                    "question": bool(getattr(reply, "question", False)),
                    "verified": [bool(getattr(r, "verified", False)) for r in recs],
                    "latency_ms": round(latency, 2),
                    "llm_calls": int(getattr(reply, "llm_calls", 0) or 0),
                    "agent_timings": dict(getattr(reply, "timings", None) or {}),
                    "unknown_titles": self.titles.unknown_titles(text),
                    "named": list(utt.named),
                    "facts": list(utt.facts),
                    "stated": stated.to_dict(),
                    "leaks": leaks,
                    "baselines": {**constant, **conv},
                    "agent_state": understood,
                    "error": error,
                })
                if t + 1 < cfg.turns:
                    utt = await asyncio.to_thread(sim.respond, text, ranked, bool(getattr(reply, "question", False)))
        finally:
            _forget(self.agent, session)
        return {
            "user_id": int(user_id),
            "turns": turns,
            "simulator": getattr(sim, "name", type(sim).__name__),
            "simulator_fallback": getattr(sim, "failed", None),
            "persona": {
                "favourite_genres": list(persona.favourite_genres),
                "avoided_genres": list(persona.avoided_genres),
                "decades": list(persona.decades),
                "n_liked": len(persona.liked), "n_disliked": len(persona.disliked),
            },
        }


def _load_or_write_config(out_dir: Path, cfg: ChatEvalConfig, extra: dict[str, Any]) -> None:
    path = out_dir / CONFIG
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        prev = old.get("identity") or {}
        diff = {k: (prev.get(k), v) for k, v in cfg.identity().items() if prev.get(k) != v}
        if diff:
            what = ", ".join(f"{k}: {a!r} in the folder vs {b!r} now" for k, (a, b) in diff.items())
            raise RunMismatchError(
                f"{out_dir} holds a run with other settings ({what}); "
                "resume it with the same settings, or choose another --out folder"
            )
        return
    doc = {
        "kind": "chat",
        "identity": cfg.identity(),
        "config": cfg.model_dump(),
        "git_commit": git_commit(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seeds": {"run": cfg.seed, "per_user": "genrec.evaluation.persona.persona_seed(run, user_id)",
                  "split": cfg.seed},
        **extra,
    }
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


async def arun_chat_eval(
    cfg: ChatEvalConfig,
    *,
    dataset: Dataset,
    split: Split,
    agent: Any,
    out_dir: Path,
    ranker: Any | None = None,
    store: Any | None = None,
    popularity_ranker: Any | None = None,
    generate: Callable[[list[dict]], str] | None = None,
    simulator_factory: SimulatorFactory | None = None,
    stop_after: int | None = None,
    progress: bool = True,
    extra_config: dict[str, Any] | None = None,
    report: bool = True,
) -> ChatEvalResult:
    """Run (or resume) a conversational evaluation; see `run_chat_eval`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _load_or_write_config(out_dir, cfg, extra_config or {})
    users = eligible_users(split, relevant_min=cfg.relevant_min, n=cfg.users)
    if not users:
        raise ValueError(f"split {split.name!r} has no test user with a held-out rating >= {cfg.relevant_min}")
    tpath = out_dir / TRANSCRIPTS
    done = {int(r["user_id"]) for r in read_transcripts(tpath)}
    todo = [u for u in users if u not in done]
    if stop_after is not None:
        todo = todo[: max(0, stop_after)]
    cat = dataset.catalog

    def default_factory(persona: Persona, seed: int) -> UserSimulator:
        return make_simulator(cfg.simulator, persona, cat, seed=seed, generate=generate)

    pop_counts = {int(i): int(n) for i, n in split.train.df.groupby("item").size().items()}
    run = _Run(cfg, dataset, split, agent,
               Baselines(split.train, ranker=ranker, store=store, popularity=popularity_ranker, k=cfg.k),
               simulator_factory or default_factory, pop_counts, CatalogTitles(cat))
    sem = asyncio.Semaphore(cfg.concurrency)
    bar = None
    if progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(users), initial=len(done & set(users)), desc="users", unit="user",
                   dynamic_ncols=True)
    new = 0
    with tpath.open("a", encoding="utf-8") as fh:

        async def one(uid: int) -> None:
            nonlocal new
            async with sem:
                rec = await run.conversation(uid)
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            fh.flush()
            new += 1
            if bar is not None:
                bar.update(1)

        tasks = [asyncio.create_task(one(u)) for u in todo]
        try:
            await asyncio.gather(*tasks)
        finally:
            for tsk in tasks:
                tsk.cancel()
            if bar is not None:
                bar.close()

    records = [r for r in read_transcripts(tpath) if int(r["user_id"]) in set(users)]
    complete = len(records) == len(users)
    metrics = score_records(records, truths(split.train, split.test, [r["user_id"] for r in records],
                                            relevant_min=cfg.relevant_min), cat, k=cfg.k, turns=cfg.turns)
    metrics["complete"] = complete
    metrics["users_selected"] = len(users)
    metrics["baseline_errors"] = dict(run.baselines.errors)
    fallbacks = sum(1 for r in records if r.get("simulator_fallback"))
    metrics["simulator_fallbacks"] = fallbacks
    (out_dir / METRICS).write_text(json.dumps(metrics, indent=2, default=_json_default) + "\n", encoding="utf-8")
    if report:
        from genrec.evaluation.report import write_report

        config_doc = json.loads((out_dir / CONFIG).read_text(encoding="utf-8"))
        latencies = [t.get("latency_ms", 0.0) for r in records for t in r["turns"]]
        write_report(out_dir, metrics, config_doc, latencies=latencies, title="genrec eval chat", notes=NOTES)
    return ChatEvalResult(out_dir, metrics, complete, new, len(done & set(users)), dict(run.baselines.errors))


def _json_default(o: Any) -> Any:
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
    except ImportError:  # pragma: no cover
        pass
    return str(o)


def run_chat_eval(cfg: ChatEvalConfig, **kwargs: Any) -> ChatEvalResult:
    """Run (or resume) a conversational evaluation and write its folder.

    Args:
        cfg: the run settings.
        dataset, split: the data; simulated users come from ``split.train``, scores from ``split.test``.
        agent: anything with ``achat(session_id, message)`` or ``chat(...)`` returning a Reply
            (a `genrec.agent.Recommender`). It is given an opaque session id, never the user id.
        out_dir: the run folder; users already in its transcripts.jsonl are skipped.
        ranker, store, popularity_ranker: for the baselines (missing ones are left out).
        generate: chat messages -> text, for the llm simulator.
        simulator_factory: (persona, seed) -> simulator, to replace the named simulator.
        stop_after: run at most this many new users, then score what is done.
        progress: show a progress bar.

    Returns:
        The metrics (also in metrics.json). ``result.leaks`` > 0 means the run is invalid.

    Example::

        cfg = ChatEvalConfig(users=20, turns=3, llm="none")
        res = run_chat_eval(cfg, dataset=ds, split=sp, agent=rec, ranker=rec.ranker,
                            store=rec.store, out_dir=Path("runs/x"))
        print(res.metrics["final"]["agent"]["ndcg@10"])
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
    "ChatEvalConfig", "ChatEvalResult", "LeakageError", "RunMismatchError", "arun_chat_eval",
    "check_leakage", "eligible_users", "read_transcripts", "run_chat_eval", "session_id_for",
]


# --------------------------------------------------------------------------- wiring from settings


@dataclass
class EvalComponents:
    """The real parts a run uses, built from settings (see `build_components`)."""

    dataset: Dataset
    split: Split
    agent: Any
    ranker: Any | None
    store: Any | None
    popularity_ranker: Any | None
    generate: Callable[[list[dict]], str] | None
    warnings: list[str] = field(default_factory=list)


def text_generator(backend: Any) -> Callable[[list[dict]], str] | None:
    """chat messages -> text through a genrec LLM backend; None when it cannot write text (`none`)."""
    if backend is None or getattr(backend, "chat_model", object()) is None:
        return None

    def generate(messages: list[dict]) -> str:
        return backend.invoke(messages).text

    return generate


def build_components(settings: Any, cfg: ChatEvalConfig, *, progress: bool = True) -> EvalComponents:
    """Load the dataset and split, the trained ranker, the Chroma index and the agent per settings.

    The agent is built with the same ranker and store the baselines use, an in-memory session
    store, and the backend named by ``cfg.llm``; the llm simulator gets its own backend
    (``cfg.simulator_llm`` or ``cfg.llm``), falling back to the template simulator with a warning
    when that backend cannot write text.
    """
    from genrec.agent import Recommender, SessionStore
    from genrec.data import load_split
    from genrec.llm import get_llm
    from genrec.ranking import load_or_train_ranker
    from genrec.retrieval import open_store

    warnings: list[str] = []
    dataset, split = load_split(cfg.dataset, cfg.split, settings.datasets_dir, seed=cfg.seed)
    ranker = load_or_train_ranker(settings, dataset, split, progress=progress)
    store = open_store(settings, dataset, progress=progress)
    try:
        from genrec.ranking import PopularityRanker

        popularity = PopularityRanker().fit(split.train)
    except Exception as exc:  # noqa: BLE001 - the harness ranks by counts itself then
        warnings.append(f"PopularityRanker unavailable ({exc}); popularity ranks by training counts")
        popularity = None
    llm = get_llm(cfg.llm, settings)
    agent = Recommender(catalog=dataset.catalog, ranker=ranker, store=store, llm=llm,
                        policy=cfg.policy, sessions=SessionStore(None))
    generate = None
    if cfg.simulator == "llm":
        spec = cfg.simulator_llm or cfg.llm
        try:
            generate = text_generator(get_llm(spec, settings))
        except Exception as exc:  # noqa: BLE001 - fall back to the template simulator
            warnings.append(f"llm simulator backend {spec!r} failed ({exc})")
        if generate is None:
            warnings.append(f"llm simulator: backend {spec!r} cannot write text; using the template simulator")
            log.warning(warnings[-1])
    return EvalComponents(dataset, split, agent, ranker, store, popularity, generate, warnings)
