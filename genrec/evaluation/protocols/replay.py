"""The conversation protocol: which users are replayed, under which opaque session id, and how one
simulated user talks to the agent turn by turn while the baselines rank from the same words.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, Field

from genrec.data import Dataset, Split
from genrec.evaluation.baselines import Baselines
from genrec.evaluation.leakage import CatalogTitles, TitleMatcher
from genrec.evaluation.protocols.intent import intent_for, reveal_for
from genrec.evaluation.simulation.factory import make_simulator
from genrec.evaluation.simulation.intent_user import IntentUser
from genrec.evaluation.simulation.persona import Persona, build_persona, persona_seed
from genrec.evaluation.simulation.phrasebook import Phrasebook, phrasing_for_user
from genrec.evaluation.simulation.user import UserSimulator

NOTES = (
    "Protocol: each simulated user knows only one real user's training ratings; lists are scored "
    "against that user's held-out ratings (relevant: rating >= relevant_min). The agent gets an "
    "opaque session id, never the real user id: it knows only the conversation.",
    "Peers live under the agent's rules: they know only the conversation and show only new items "
    "each turn, never an item the user named or reacted to: popularity, mentioned_fold_in "
    "(ranker folded in "
    "from the items named so far), content_only (Chroma search on the user's words so far), "
    "constrained_fold_in (mentioned_fold_in showing only items that meet the constraints the user "
    "stated: avoided genres, year bounds and the genre of the request in force). Oracles "
    "are references, not the bar: oracle_popularity and full_history know the user's training "
    "items.",
    "Headline: recall_cum@10, the share of the held-out liked items among everything shown so far "
    "(10 new items a turn), with a paired bootstrap interval of agent minus each system; "
    "success: a "
    "liked item shown by then; turns_to_hit: turn of the first hit (T+1 when none); "
    "ndcg@10_standing: NDCG of the system's standing best 10 (re-listing allowed); ndcg@10: the "
    "new "
    "items of the turn. seen/repeated/constraint_violations are shares of the new list.",
)
"""The protocol in three sentences, printed in every chat report."""

AGENT_STATE_KEYS = (
    "liked",
    "disliked",
    "seen",
    "excluded",
    "wanted_genres",
    "avoided_genres",
    "year_min",
    "year_max",
    "preferred_genres",
    "preferred_decades",
)
"""The agent's preferences recorded after every turn (transcripts' ``agent_state``)."""


class ChatEvalConfig(BaseModel):
    """Settings of one conversational evaluation run (all of them are recorded in config.json)."""

    dataset: str = Field(default="ml-100k", description="Dataset name.")
    split: str = Field(default="u1", description="Train/test split; users are its test users.")
    users: int = Field(
        default=0, ge=0, description="First N eligible test users (sorted by id); 0 = all."
    )
    turns: int = Field(default=5, ge=1, description="User messages per conversation.")
    simulator: Literal["template", "llm"] = Field(
        default="template", description="Simulated user kind."
    )
    phrasing: Literal["real", "template", "mixed"] = Field(
        default="mixed",
        description="Template users' words: real seekers' sentences (INSPIRED's phrasebook), "
        "the project's templates, or mixed (half the users each way, seeded).",
    )
    llm: str = Field(default="none", description="The agent's LLM backend.")
    simulator_llm: str | None = Field(
        default=None, description="The llm simulator's backend (default: llm)."
    )
    policy: str = Field(default="auto", description="The agent's dialogue policy.")
    concurrency: int = Field(
        default=4, ge=1, description="Conversations in flight at once (per worker)."
    )
    workers: int = Field(
        default=1,
        ge=1,
        description="Processes replaying users in parallel; each builds "
        "its own parts from the settings (results unchanged).",
    )
    protocol: Literal["taste", "target", "intent"] = Field(
        default="taste",
        description="taste (score what the user likes overall), target (find one held-out "
        "item the user has in mind) or intent (the user wants one kind of film "
        "tonight, drawn from its held-out liked items).",
    )
    seed: int = Field(
        default=42, description="Seed of the simulators only (not of the ranker or index)."
    )
    k: int = Field(default=10, ge=1, description="List length that is scored.")
    relevant_min: float = Field(
        default=4.0, description="Held-out rating at or above which an item is relevant."
    )

    IDENTITY: ClassVar[tuple[str, ...]] = (
        "dataset",
        "split",
        "protocol",
        "turns",
        "simulator",
        "phrasing",
        "llm",
        "simulator_llm",
        "policy",
        "seed",
        "k",
        "relevant_min",
    )

    def identity(self) -> dict[str, Any]:
        """The settings a resumed run must share with the run it continues.

        >>> ChatEvalConfig(turns=3).identity()["turns"]
        3
        """
        d = self.model_dump()
        return {key: d[key] for key in self.IDENTITY}


SimulatorFactory = Callable[[Persona, int], UserSimulator]
"""(persona, per-user seed) -> simulator; lets tests plant a misbehaving simulator."""


def eligible_users(split: Split, *, relevant_min: float = 4.0, n: int = 0) -> list[int]:
    """The split's test users with at least one relevant held-out item, sorted; the first n (0 =
    all)."""
    df = split.test.df
    users = sorted(int(u) for u in df.loc[df["rating"] >= relevant_min, "user"].unique())
    return users[:n] if n else users


def session_id_for(seed: int, user_id: int, turns: int) -> str:
    """An opaque session id: the agent must not learn the real user id from it.

    >>> sid = session_id_for(0, 1, 5); sid.startswith("sim-") and len(sid) == 20
    True
    """
    h = hashlib.sha256(f"genrec-eval:{seed}:{user_id}:{turns}".encode()).hexdigest()[:16]
    return f"sim-{h}"


# --------------------------------------------------------------------------- the agent, duck-typed


class ChatAgent(Protocol):
    """The agent under test as a run sees it (a `genrec.agent.Recommender`): ``chat`` (or an
    async ``achat``) returning a reply; ``state``, ``shortlist`` and ``delete_session`` are read
    when it has them."""

    def chat(self, session_id: str, message: str) -> object: ...


async def call_agent(agent: ChatAgent, session_id: str, message: str) -> object:
    """The agent's reply to one message (its async ``achat`` when it has one)."""
    if hasattr(agent, "achat"):
        return await agent.achat(session_id, message)
    return await asyncio.to_thread(agent.chat, session_id, message)


async def agent_turn(agent: ChatAgent, session_id: str, message: str, k: int) -> dict[str, Any]:
    """One agent turn as transcript fields: ``agent`` (its text), ``ranked_item_ids`` (the first k
    shown), ``shortlist_item_ids``, ``question``, ``verified``, ``latency_ms``, ``llm_calls``,
    ``agent_timings`` and ``error`` (an agent fault scores as an empty list)."""
    t0 = time.perf_counter()
    error = None
    try:
        reply = await call_agent(agent, session_id, message)
    except Exception as exc:  # noqa: BLE001 - an agent fault scores as an empty list
        reply, error = None, f"{type(exc).__name__}: {exc}"
    latency = (time.perf_counter() - t0) * 1000.0
    recs = list(getattr(reply, "recommendations", None) or [])[:k]
    return {
        "agent": getattr(reply, "text", "") or "",
        "ranked_item_ids": [int(r.item_id) for r in recs],
        "shortlist_item_ids": await asyncio.to_thread(agent_shortlist, agent, session_id, k),
        "question": bool(getattr(reply, "question", False)),
        "verified": [bool(getattr(r, "verified", False)) for r in recs],
        "latency_ms": round(latency, 2),
        "llm_calls": int(getattr(reply, "llm_calls", 0) or 0),
        "agent_timings": dict(getattr(reply, "timings", None) or {}),
        "error": error,
    }


def agent_state(agent: ChatAgent, session_id: str) -> dict[str, Any] | None:
    """What the agent understood so far (read only, for the understanding diagnostics)."""
    fn = getattr(agent, "state", None)
    if fn is None:
        return None
    try:
        st = fn(session_id)
    except Exception:  # noqa: BLE001 - diagnostics only
        return None
    return {k: getattr(st, k, None) for k in AGENT_STATE_KEYS}


def agent_shortlist(agent: ChatAgent, session_id: str, k: int) -> list[int] | None:
    """The agent's standing best k (`Recommender.shortlist`, read-only); None when it has none."""
    fn = getattr(agent, "shortlist", None)
    if fn is None:
        return None
    try:
        return [int(r.item_id) for r in fn(session_id, k)][:k]
    except Exception:  # noqa: BLE001 - scored as an empty standing list
        return []


def forget_session(agent: ChatAgent, session_id: str) -> None:
    fn = getattr(agent, "delete_session", None)
    if fn is not None:
        try:
            fn(session_id)
        except Exception:  # noqa: BLE001 - cleanup only
            pass


# --------------------------------------------------------------------------- one conversation


@dataclass
class ChatProtocol:
    """Replays one simulated user at a time against `agent`, scoring nothing: it returns the
    transcript record (one line of transcripts.jsonl) that `taste.score_records` reads.

    The simulator is built from the user's TRAINING ratings only; its held-out items stay with
    the leakage guard. After every agent reply the baselines rank from what the user said so far.
    """

    cfg: ChatEvalConfig
    dataset: Dataset
    split: Split
    agent: ChatAgent
    baselines: Baselines
    make_sim: SimulatorFactory | None
    """Builds every user's simulator (tests plant one); None: the configured simulator and
    phrasing."""
    popularity: dict[int, int]
    """Training rating counts per item (the persona names famous favourites first)."""
    titles: CatalogTitles
    reveal_shares: Mapping[str, float] | None = None
    """How intent users reveal tonight's kind of film (intent protocol; None: the defaults)."""
    phrasebook: Phrasebook | None = None
    """Real seekers' sentences (None: every user speaks the templates)."""
    generate: Callable[[list[dict]], str] | None = None
    """chat messages -> text, for the llm simulator."""

    def phrasing_of(self, user_id: int) -> str:
        """Which words one template user speaks: real or template (template without a
        phrasebook)."""
        if self.phrasebook is None:
            return "template"
        return phrasing_for_user(self.cfg.phrasing, self.cfg.seed, user_id)

    async def replay(self, user_id: int) -> dict[str, Any]:
        """The whole conversation of one user: ``user_id``, ``turns``, ``simulator``, ``persona``
        ..."""
        cfg, cat = self.cfg, self.dataset.catalog
        train_rows = self.split.train.for_user(user_id)
        useed = persona_seed(cfg.seed, user_id)
        persona = build_persona(train_rows, cat, seed=useed, popularity=self.popularity)
        test_rows = self.split.test.for_user(user_id)
        test_items = test_rows["item"].astype(int).tolist()
        intent, reveal = None, None
        if cfg.protocol == "intent":
            intent = intent_for(
                test_rows.loc[test_rows["rating"] >= cfg.relevant_min, "item"].astype(int), cat
            )
        phrasing = self.phrasing_of(user_id)
        voice: dict[str, Any] = {"phrasing": phrasing, "phrasebook": self.phrasebook}
        if intent is not None:
            reveal = reveal_for(cfg.seed, user_id, self.reveal_shares)
            sim: UserSimulator = IntentUser(persona, cat, intent, reveal, seed=useed, **voice)
        elif self.make_sim is not None:
            sim, phrasing = self.make_sim(persona, useed), "custom"
        else:
            sim = make_simulator(
                cfg.simulator, persona, cat, seed=useed, generate=self.generate, **voice
            )
            phrasing = phrasing if cfg.simulator == "template" else cfg.simulator
        guard = TitleMatcher(cat, test_items)
        constant = self.baselines.constant(user_id)
        peers = self.baselines.conversation()
        session = session_id_for(cfg.seed, user_id, cfg.turns)
        forget_session(self.agent, session)
        user_texts: list[str] = []
        turns: list[dict[str, Any]] = []
        utt = await asyncio.to_thread(sim.opening)
        try:
            for t in range(cfg.turns):
                user_texts.append(utt.text)
                leaks = guard.find(utt.text, allowed=utt.named)
                stated = sim.stated
                said = await agent_turn(self.agent, session, utt.text, cfg.k)
                conv = await asyncio.to_thread(peers.turn, stated, list(user_texts))
                turns.append({
                    "user": utt.text,
                    **said,
                    "unknown_titles": self.titles.unknown_titles(said["agent"]),
                    "named": list(utt.named),
                    "source": getattr(utt, "source", "template"),
                    "facts": list(utt.facts),
                    "stated": stated.to_dict(),
                    "leaks": leaks,
                    "baselines": {**conv.shown, **constant},
                    "baselines_standing": {**conv.standing, **constant},
                    "agent_state": agent_state(self.agent, session),
                })
                if t + 1 < cfg.turns:
                    utt = await asyncio.to_thread(
                        sim.respond, said["agent"], said["ranked_item_ids"], said["question"]
                    )
        finally:
            forget_session(self.agent, session)
        return {
            "user_id": int(user_id),
            "turns": turns,
            **({"intent": None if intent is None else {**intent.to_dict(), "reveal": reveal}}
               if cfg.protocol == "intent" else {}),
            "simulator": getattr(sim, "name", type(sim).__name__),
            "phrasing": phrasing,
            "simulator_fallback": getattr(sim, "failed", None),
            "persona": {
                "favourite_genres": list(persona.favourite_genres),
                "avoided_genres": list(persona.avoided_genres),
                "decades": list(persona.decades),
                "n_liked": len(persona.liked), "n_disliked": len(persona.disliked),
            },
        }


__all__ = [
    "NOTES",
    "ChatAgent",
    "ChatEvalConfig",
    "ChatProtocol",
    "SimulatorFactory",
    "agent_shortlist",
    "agent_state",
    "agent_turn",
    "call_agent",
    "eligible_users",
    "forget_session",
    "session_id_for",
]
