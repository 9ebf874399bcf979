"""Real people's words: the seeker turns of INSPIRED's crowd-sourced dialogues, read from the corpus
file, and the project's own gold labels of what each turn says (keyed by dialogue and utterance id).

The corpus is never copied into the project (no licence is stated); only our labels ship, in
`gold/inspired_dev.jsonl`. Dialogues are split into a tuning half and a held-out half by a hash
of their id, so constants are tuned on one half and reported on both.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

GENRES = (
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
"""The genre names the gold labels use (MovieLens 100K's); mapped onto any catalog's vocabulary."""

Act = Literal[
    "greeting", "thanks", "smalltalk", "question", "request", "taste", "reaction", "acceptance"
]
Kind = Literal["greeting", "question", "acceptance", "preference", "reaction"]
KIND_OF_ACT: dict[str, Kind] = {
    "greeting": "greeting",
    "thanks": "greeting",
    "smalltalk": "greeting",
    "question": "question",
    "acceptance": "acceptance",
    "request": "preference",
    "taste": "preference",
    "reaction": "reaction",
}
"""The five kinds false additions are reported by."""

Half = Literal["tune", "heldout"]
CORPUS_ENV = "GENREC_INSPIRED"
"""Environment variable naming INSPIRED's dev.tsv (else ../shared/data/inspired/dev.tsv is
tried)."""


class GoldTurn(BaseModel):
    """What one seeker utterance says, as a person read it (titles as "Title (Year)")."""

    dialog_id: str
    utt_id: int
    act: Act
    question: bool = False
    changes_mind: bool = False
    reacts_to_last: bool = False
    liked: list[str] = Field(default_factory=list)
    disliked: list[str] = Field(default_factory=list)
    mentioned: list[str] = Field(
        default_factory=list, description="Named without a verdict of the person's own."
    )
    genres_wanted: list[str] = Field(default_factory=list)
    genres_avoided: list[str] = Field(default_factory=list)
    genres_dropped: list[str] = Field(default_factory=list)
    year_min: int | None = None
    year_max: int | None = None
    recent: bool = False
    kids: bool = False
    note: str = ""

    @property
    def kind(self) -> Kind:
        """greeting, question, acceptance, preference or reaction (for false additions)."""
        return KIND_OF_ACT[self.act]

    def titles(self) -> list[str]:
        """Every title the utterance names, whatever its polarity."""
        return [*self.liked, *self.disliked, *self.mentioned]


@dataclass(frozen=True)
class SeekerTurn:
    """One seeker utterance as typed (the corpus's QUOTATION_MARK put back as a quote mark)."""

    dialog_id: str
    utt_id: int
    text: str


@dataclass
class RealDialogue:
    """The seeker turns of one dialogue, in order, with their gold labels."""

    dialog_id: str
    turns: list[SeekerTurn] = field(default_factory=list)
    gold: list[GoldTurn] = field(default_factory=list)

    @property
    def half(self) -> Half:
        return half_of(self.dialog_id)


def half_of(dialog_id: str) -> Half:
    """The half a dialogue belongs to, by a stable hash of its id (about 50/50).

    >>> half_of("20191202-103716_425_live.pkl") in ("tune", "heldout")
    True
    """
    return "tune" if hashlib.sha256(dialog_id.encode()).digest()[0] % 2 == 0 else "heldout"


def default_corpus_path() -> Path:
    """Where INSPIRED's dev.tsv is looked for: $GENREC_INSPIRED, else
    ../shared/data/inspired/dev.tsv beside the repository, else beside the working directory."""
    env = os.environ.get(CORPUS_ENV)
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2]
    for base in (repo.parent, Path.cwd().parent):
        p = base / "shared" / "data" / "inspired" / "dev.tsv"
        if p.exists():
            return p
    return repo.parent / "shared" / "data" / "inspired" / "dev.tsv"


def read_seeker_turns(path: Path) -> list[SeekerTurn]:
    """Every SEEKER row of an INSPIRED tsv file, in file order.

    Raises:
        FileNotFoundError: no file at `path` (set $GENREC_INSPIRED to INSPIRED's dev.tsv).
        ValueError: the file lacks INSPIRED's columns.
    """
    if not path.exists():
        raise FileNotFoundError(
            f"INSPIRED corpus not found at {path}: set ${CORPUS_ENV} to its dev.tsv "
            "(github.com/sweetpeach/Inspired, data/dialog_data/dev.tsv)"
        )
    csv.field_size_limit(10**7)
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        missing = {"dialog_id", "utt_id", "speaker", "text"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(
                f"{path} is not an INSPIRED tsv file: columns {sorted(missing)} are missing"
            )
        return [
            SeekerTurn(
                r["dialog_id"], int(r["utt_id"]), r["text"].replace("QUOTATION_MARK", '"').strip()
            )
            for r in reader
            if r["speaker"] == "SEEKER"
        ]


def load_gold(path: Path | None = None) -> list[GoldTurn]:
    """The project's gold labels (gold/inspired_dev.jsonl unless `path` is given)."""
    if path is None:
        text = (
            resources.files("genrec.evaluation")
            .joinpath("gold/inspired_dev.jsonl")
            .read_text("utf-8")
        )
    else:
        text = path.read_text("utf-8")
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                out.append(GoldTurn.model_validate(json.loads(line)))
            except (ValueError, TypeError) as e:
                raise ValueError(f"gold line {n}: {e}") from e
    return out


def load_dialogues(corpus: Path | None = None, gold: Iterable[GoldTurn] | None = None,
                   *, half: Half | None = None) -> list[RealDialogue]:
    """The annotated dialogues: corpus text joined with gold labels by (dialog_id, utt_id).

    Raises:
        ValueError: a gold label names an utterance the corpus lacks, or its text is not a seeker's.
    """
    turns = read_seeker_turns(corpus or default_corpus_path())
    labels = {(g.dialog_id, g.utt_id): g for g in (gold if gold is not None else load_gold())}
    by_key = {(t.dialog_id, t.utt_id): t for t in turns}
    unknown = [k for k in labels if k not in by_key]
    if unknown:
        raise ValueError(
            f"{len(unknown)} gold labels name no seeker utterance of the corpus, e.g. "
            f"{unknown[0]}; "
            "is this INSPIRED's dev.tsv?"
        )
    dialogues: dict[str, RealDialogue] = {}
    for t in turns:
        g = labels.get((t.dialog_id, t.utt_id))
        if g is None:
            continue
        d = dialogues.setdefault(t.dialog_id, RealDialogue(t.dialog_id))
        d.turns.append(t)
        d.gold.append(g)
    out = list(dialogues.values())
    return [d for d in out if half is None or d.half == half]


__all__ = [
    "GENRES",
    "KIND_OF_ACT",
    "GoldTurn",
    "RealDialogue",
    "SeekerTurn",
    "default_corpus_path",
    "half_of",
    "load_dialogues",
    "load_gold",
    "read_seeker_turns",
]
