"""The target-seeking conversation (`--protocol target`): one seeded held-out target per user, the
agent and every target peer each talk to their own copy of the same `TargetUser` until it accepts.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from genrec.data import Dataset, Split
from genrec.evaluation.leakage import CatalogTitles, TitleMatcher
from genrec.evaluation.protocols.replay import (
    ChatAgent,
    ChatEvalConfig,
    agent_state,
    agent_turn,
    forget_session,
    session_id_for,
)
from genrec.evaluation.protocols.target_peers import TARGET_PEERS, TargetPeers, play
from genrec.evaluation.simulation.persona import build_persona, persona_seed
from genrec.evaluation.simulation.target_user import TargetUser, choose_target

TARGET_NOTES = (
    "Protocol (target): per user, one seeded target among its held-out items rated >= "
    "relevant_min. "
    "The simulated user wants 'something like it': it opens with one attribute of the target (a "
    "genre, "
    "or a liked training title sharing a genre), answers questions truthfully from the target's "
    "attributes, turns shown items down with a reason from an attribute mismatch, and accepts (the "
    "conversation ends) when the target is shown. It never writes a distinctive word of the "
    "target's "
    "title (a guard fails the run).",
    "The agent and each peer talk to their own copy of the same seeded user. Peers know only the "
    "conversation and show only new items: attribute_popularity, attribute_fold_in (fold-in from "
    "named "
    "titles, stated attributes as filters) and max_entropy (asks the highest-entropy attribute "
    "on odd "
    "turns).",
    "Headline: sr@T, the share of users whose target was shown within T turns, with a paired "
    "bootstrap "
    "interval of agent minus each peer; success per turn is SR@t; avg_turns: turns to success (T+1 "
    "when none); hdcg: hierarchical DCG over turns and list positions (UNICORN).",
)
"""The target protocol in three paragraphs, printed in its reports."""


@dataclass
class TargetProtocol:
    """Replays one user's target-seeking conversation with the agent and with every target peer,
    returning one transcripts.jsonl line: the agent's turns as in the taste protocol plus
    ``target_item_id``, ``accepted`` and ``peers`` (each peer's own conversation)."""

    cfg: ChatEvalConfig
    dataset: Dataset
    split: Split
    agent: ChatAgent
    peers: TargetPeers
    popularity: dict[int, int]
    titles: CatalogTitles

    def _user(self, user_id: int) -> TargetUser:
        """A fresh, identically seeded target user (one per system, so each gets the same
        person)."""
        cat, useed = self.dataset.catalog, persona_seed(self.cfg.seed, user_id)
        persona = build_persona(
            self.split.train.for_user(user_id), cat, seed=useed, popularity=self.popularity
        )
        target = choose_target(
            self.split, user_id, seed=self.cfg.seed, relevant_min=self.cfg.relevant_min, catalog=cat
        )
        return TargetUser(cat, target, persona, seed=useed)

    async def replay(self, user_id: int) -> dict[str, Any]:
        """The agent's conversation and every peer's, for one user.

        Raises:
            TargetLeakError: the simulated user wrote a distinctive word of its target's title.
        """
        cfg = self.cfg
        sim = self._user(user_id)
        test_items = self.split.test.for_user(user_id)["item"].astype(int).tolist()
        held_out = TitleMatcher(
            self.dataset.catalog, [i for i in test_items if i != sim.target_item_id]
        )
        session = session_id_for(cfg.seed, user_id, cfg.turns)
        forget_session(self.agent, session)
        turns: list[dict[str, Any]] = []
        utt = await asyncio.to_thread(sim.opening)
        try:
            for _ in range(cfg.turns):
                sim.guard.check(utt.text)
                leaks = held_out.find(utt.text, allowed=utt.named)
                said = await agent_turn(self.agent, session, utt.text, cfg.k)
                turns.append({
                    "user": utt.text,
                    **said,
                    "unknown_titles": self.titles.unknown_titles(said["agent"]),
                    "named": list(utt.named),
                    "facts": list(utt.facts),
                    "stated": sim.stated.to_dict(),
                    "leaks": leaks,
                    "agent_state": agent_state(self.agent, session),
                })
                utt = await asyncio.to_thread(
                    sim.respond, said["agent"], said["ranked_item_ids"], said["question"]
                )
                sim.guard.check(utt.text)
                if sim.accepted:
                    break
        finally:
            forget_session(self.agent, session)
        peers = {name: await asyncio.to_thread(self._peer, name, user_id) for name in TARGET_PEERS}
        return {
            "user_id": int(user_id),
            "target_item_id": sim.target_item_id,
            "turns": turns,
            "accepted": sim.accepted,
            "last_user": utt.text,
            "simulator": sim.name,
            "peers": peers,
        }

    def _peer(self, name: str, user_id: int) -> dict[str, Any]:
        """One peer's whole conversation with its own copy of the user (lists and questions
        only)."""
        user = self._user(user_id)
        out = play(user, self.peers.conversation(name), self.cfg.turns)
        for turn in out["turns"]:
            user.guard.check(turn["user"])
        user.guard.check(out["last_user"])
        return {
            "accepted": out["accepted"],
            "turns": [
                {
                    "user": t["user"],
                    "agent": t["agent"],
                    "ranked_item_ids": t["ranked_item_ids"],
                    "question": t["question"],
                    "attribute": t["attribute"],
                }
                for t in out["turns"]
            ],
        }


__all__ = ["TARGET_NOTES", "TargetProtocol"]
