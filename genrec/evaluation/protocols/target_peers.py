"""The peers of the target-seeking protocol: small conversational systems over the same catalog
and ranker that know only the conversation and show only new items.

`attribute_popularity` and `attribute_fold_in` recommend every turn; `max_entropy` asks the
attribute (genre or decade) with the highest entropy over the remaining candidates on odd turns.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from genrec.agent.preferences import Preferences
from genrec.data import Catalog, Item
from genrec.evaluation.simulation.user import Stated, Utterance

if TYPE_CHECKING:
    from genrec.ranking import Ranker

TARGET_PEERS = ("attribute_popularity", "attribute_fold_in", "max_entropy")
"""The target protocol's peers, in report order."""

GENRE_QUESTION = "Which genre are you in the mood for?"
DECADE_QUESTION = "Any particular decade? Older or newer films?"
QUESTIONS = {"genre": GENRE_QUESTION, "decade": DECADE_QUESTION}
"""How `max_entropy` asks about each attribute (`TargetUser` understands both)."""


@dataclass(frozen=True)
class PeerMove:
    """One peer turn: a question (and the attribute it asks about), or the new items it shows."""

    question: str | None
    attribute: str | None
    items: list[int] = field(default_factory=list)


class TargetPeer(Protocol):
    """One peer in one conversation (it may remember what it asked)."""

    name: str

    def turn(self, stated: Preferences, shown: set[int], turn_index: int) -> PeerMove: ...


def allows(item: Item, stated: Preferences, *, genres: str = "all") -> bool:
    """Whether an item fits the attributes stated so far.

    `genres`: "all" (every wanted genre: a target user only names genres its target has), "any"
    (at least one), or "none" (wanted genres ignored). Avoided genres and year bounds always apply.

    >>> from genrec.data import Item
    >>> p = Preferences(wanted_genres=["Comedy", "Romance"], avoided_genres=["War"], year_min=1990)
    >>> it = Item(1, "X", 1995, ("Comedy",))
    >>> (allows(it, p), allows(it, p, genres="any"),
    ...  allows(Item(2, "Y", 1985, ("Comedy",)), p, genres="none"))
    (False, True, False)
    """
    return attribute_filter(stated, genres=genres)(item)


def attribute_filter(stated: Preferences, *, genres: str = "all") -> Callable[[Item], bool]:
    """`allows` for many items: the stated constraints built once, then checked item by item."""
    hard = stated.constraints()  # avoided genres and years: the retrieval rule, item by item
    if genres != "any":
        hard.genres_any = []
    wanted = set(stated.wanted_genres) if genres == "all" else set()
    return lambda item: hard.allows(item) and wanted <= set(item.genres)


def entropy(counts: Mapping[Any, int]) -> float:
    """Shannon entropy (bits) of a count distribution.

    >>> entropy({"a": 2, "b": 2}), entropy({"a": 3}), entropy({})
    (1.0, 0.0, 0.0)
    """
    n = sum(counts.values())
    return abs(sum(c / n * math.log2(c / n) for c in counts.values() if c)) if n else 0.0


class TargetPeers:
    """The shared parts of the target peers: catalog, ranker (`fold_in`, `recommend`,
    `popularity`, `knows_item`) and the popularity order; `conversation(name)` makes one peer for
    one user.

    Args:
        catalog: the items (genres, years).
        ranker: the CF ranker, or None (then `attribute_fold_in` and `max_entropy` rank by
        popularity).
        popularity: training rating counts per item; by default `ranker.popularity()`.
        k: items shown per recommendation.
        few: `max_entropy` recommends when this many candidates or fewer remain.
    """

    def __init__(
        self,
        catalog: Catalog,
        ranker: Ranker | None = None,
        *,
        popularity: Mapping[int, int] | None = None,
        k: int = 10,
        few: int = 30,
    ) -> None:
        if popularity is None:
            if ranker is None:
                raise ValueError("TargetPeers needs a ranker or the training popularity counts")
            popularity = ranker.popularity()
        self.catalog, self.ranker, self.k, self.few = catalog, ranker, k, few
        self.order = [
            it
            for it in sorted(
                catalog, key=lambda it: (-int(popularity.get(it.item_id, 0)), it.item_id)
            )
        ]

    def conversation(self, name: str) -> TargetPeer:
        """A fresh peer `name` (one of `TARGET_PEERS`) for one user's conversation."""
        if name == "attribute_popularity":
            return AttributePopularity(self)
        if name == "attribute_fold_in":
            return AttributeFoldIn(self)
        if name == "max_entropy":
            return MaxEntropy(self)
        raise ValueError(f"unknown target peer {name!r}; known: {', '.join(TARGET_PEERS)}")

    def candidates(self, stated: Preferences, blocked: set[int], genres: str = "all") -> list[Item]:
        """Items fitting the stated attributes, not blocked, most popular first."""
        fits = attribute_filter(stated, genres=genres)
        return [it for it in self.order if it.item_id not in blocked and fits(it)]

    def fill(
        self,
        stated: Preferences,
        blocked: set[int],
        rank: Callable[[list[Item], int, set[int]], list[int]],
    ) -> list[int]:
        """k items ranked by `rank(candidates, n, exclude)`, relaxing the stated attributes in steps
        (every wanted genre, then any, then none) until k are found or nothing is left."""
        out: list[int] = []
        for level in ("all", "any", "none"):
            pool = self.candidates(stated, blocked | set(out), genres=level)
            if pool:
                out += rank(pool, self.k - len(out), blocked | set(out))
            if len(out) >= self.k:
                break
        return out[: self.k]

    def by_popularity(self, pool: list[Item], n: int, exclude: set[int]) -> list[int]:
        return [it.item_id for it in pool if it.item_id not in exclude][:n]

    def by_fold_in(self, stated: Preferences) -> Callable[[list[Item], int, set[int]], list[int]]:
        """Rank by the ranker's fold-in of the named items; popularity when none is named."""
        if self.ranker is None or not stated.liked:
            return self.by_popularity
        ranker = self.ranker
        profile = ranker.fold_in(liked=stated.liked, disliked=stated.disliked)

        def rank(pool: list[Item], n: int, exclude: set[int]) -> list[int]:
            ids = [it.item_id for it in pool if ranker.knows_item(it.item_id)]
            if not ids:
                return []
            return [
                s.item_id
                for s in ranker.recommend(profile, n, exclude=sorted(exclude), candidates=ids)
            ]

        return rank


def _blocked(stated: Preferences, shown: set[int]) -> set[int]:
    return set(shown) | set(stated.mentioned()) | set(getattr(stated, "rejected", ()))


@dataclass
class AttributePopularity:
    """The most popular new items that fit the attributes stated so far, every turn."""

    peers: TargetPeers
    name: str = "attribute_popularity"

    def turn(self, stated: Preferences, shown: set[int], turn_index: int) -> PeerMove:
        return PeerMove(
            None, None, self.peers.fill(stated, _blocked(stated, shown), self.peers.by_popularity)
        )


@dataclass
class AttributeFoldIn:
    """Ranker fold-in of the titles named so far (popularity when none), stated attributes as
    filters, new items every turn."""

    peers: TargetPeers
    name: str = "attribute_fold_in"

    def turn(self, stated: Preferences, shown: set[int], turn_index: int) -> PeerMove:
        return PeerMove(
            None,
            None,
            self.peers.fill(stated, _blocked(stated, shown), self.peers.by_fold_in(stated)),
        )


@dataclass
class MaxEntropy:
    """The classic question policy: on odd turns (1, 3, ...) ask about the attribute, genre or
    decade, with the highest entropy over the remaining candidates (each at most once, and only
    while it still splits them); recommend, as `attribute_fold_in` ranks, on even turns, when
    `few` candidates or fewer remain, or when nothing is left to ask. `turn_index` is 1-based."""

    peers: TargetPeers
    name: str = "max_entropy"
    asked: list[str] = field(default_factory=list)

    def attribute_entropy(self, remaining: Sequence[Item], stated: Preferences) -> dict[str, float]:
        """Entropy of each attribute not asked yet over `remaining` (genres the user already
        wants are left out; decade only while no year bound is stated)."""
        out: dict[str, float] = {}
        if "genre" not in self.asked:
            wanted = set(stated.wanted_genres)
            out["genre"] = entropy(
                Counter(g for it in remaining for g in it.genres if g not in wanted)
            )
        if "decade" not in self.asked and stated.year_min is None and stated.year_max is None:
            out["decade"] = entropy(Counter((it.year // 10) * 10 for it in remaining if it.year))
        return out

    def turn(self, stated: Preferences, shown: set[int], turn_index: int) -> PeerMove:
        blocked = _blocked(stated, shown)
        remaining = self.peers.candidates(stated, blocked)
        scores = {a: h for a, h in self.attribute_entropy(remaining, stated).items() if h > 0}
        if turn_index % 2 == 1 and len(remaining) > self.peers.few and scores:
            attribute = max(sorted(scores), key=lambda a: scores[a])
            self.asked.append(attribute)
            return PeerMove(QUESTIONS[attribute], attribute, [])
        return PeerMove(None, None, self.peers.fill(stated, blocked, self.peers.by_fold_in(stated)))


RECOMMEND_TEXT = "Here are a few films you might like."
"""What a peer says when it shows items (the user reacts to the items, not to this text)."""


class _TargetSeeker(Protocol):
    """What `play` needs of a simulated user (`TargetUser` has it)."""

    stated: Stated
    accepted: bool
    target_item_id: int

    def opening(self) -> Utterance: ...

    def respond(self, agent_text: str, recommended: Sequence[int], question: bool) -> Utterance: ...


def play(user: _TargetSeeker, peer: TargetPeer, turns: int) -> dict[str, Any]:
    """One peer's whole conversation with its own target user, shaped like a transcripts.jsonl line.

    ``turns[t]`` holds the user message the peer answered (``user``), the peer's question or
    `RECOMMEND_TEXT` (``agent``), the items it showed (``ranked_item_ids``), ``question``,
    ``attribute`` and what the user had stated (``stated``); ``last_user`` is the user's answer to
    the last turn (its acceptance, when ``accepted``). It stops after `turns` turns or on
    acceptance.
    """
    out: list[dict[str, Any]] = []
    utt = user.opening()
    shown: set[int] = set()
    for t in range(1, turns + 1):
        move = peer.turn(user.stated, shown, t)
        shown |= set(move.items)
        text = move.question or RECOMMEND_TEXT
        out.append({"user": utt.text, "agent": text, "ranked_item_ids": list(move.items),
                    "question": move.question is not None, "attribute": move.attribute,
                    "stated": user.stated.to_dict()})
        utt = user.respond(text, move.items, move.question is not None)
        if user.accepted:
            break
    return {
        "target_item_id": user.target_item_id,
        "turns": out,
        "last_user": utt.text,
        "accepted": user.accepted,
    }


__all__ = [
    "DECADE_QUESTION",
    "GENRE_QUESTION",
    "QUESTIONS",
    "RECOMMEND_TEXT",
    "TARGET_PEERS",
    "AttributeFoldIn",
    "AttributePopularity",
    "MaxEntropy",
    "PeerMove",
    "TargetPeer",
    "TargetPeers",
    "allows",
    "entropy",
    "play",
]
