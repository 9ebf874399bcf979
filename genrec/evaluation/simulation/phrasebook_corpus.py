"""The phrasebook from INSPIRED's corpus: each labelled seeker turn of dev.tsv read into a template
(or left out, with why) and a seeker move, and the built phrasebook loaded through a cache.

The corpus is read from its shared file and never copied into the project; the labels are our gold
(`gold/inspired_dev.jsonl`) plus the phrasebook's own (`gold/inspired_phrasebook.jsonl`). The cache
lives under GENREC_HOME/phrasebook, keyed by the corpus, the labels and `BUILD_VERSION`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from genrec.config import Settings
from genrec.evaluation.real_dialogues import GENRES, GoldTurn, default_corpus_path, load_gold
from genrec.evaluation.simulation.behaviour_mix import SeekerMove, behaviour_mix
from genrec.evaluation.simulation.phrasebook import (
    BUILD_VERSION,
    LABELS_FILE,
    Phrasebook,
    Template,
)

log = logging.getLogger(__name__)

_SLOT = re.compile(r"\[MOVIE_(TITLE|GENRE)_(\d+)\]")
_MORE_CUE = re.compile(r"\b(other|another|else|more|different)\b", re.I)
_ASK_CUE = re.compile(r"recomm?end|reccomend|recomend|suggest|\bany\b|give me|anything", re.I)
_CAPS_OK = {"I", "I'm", "I've", "I'd", "I'll", "Im", "OK", "Ok"}
_GENRE_NAMES = {g.casefold(): g for g in GENRES} | {
    "scifi": "Sci-Fi",
    "sci fi": "Sci-Fi",
    "animated": "Animation",
}


def _read_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        raise FileNotFoundError(
            f"INSPIRED's dev.tsv not found at {path}: set GENREC_INSPIRED_PATH to it"
        )
    csv.field_size_limit(10**7)
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        missing = {"dialog_id", "utt_id", "speaker", "text", "text_with_placeholder"} - set(
            reader.fieldnames or ()
        )
        if missing:
            raise ValueError(
                f"{path} is not an INSPIRED tsv file: columns {sorted(missing)} are missing"
            )
        return list(reader)


def _index_dict(text: str) -> dict[int, str]:
    """INSPIRED's `movie_dict` / `genre_dict` ("{'Title (Year)': 0, ...}", sometimes malformed) as
    index -> name."""
    out: dict[int, str] = {}
    body = (text or "").strip().strip("{}").strip()
    for piece in re.split(r",\s*(?=['\"])", body) if body else ():
        name, _, index = piece.rpartition(":")
        if index.strip().isdigit():
            out[int(index.strip())] = name.strip().strip("'\"")
    return out


def load_labels(path: Path | None = None) -> dict[tuple[str, int], dict[str, Any]]:
    """The phrasebook's own labels (gold/inspired_phrasebook.jsonl unless `path` is given), by
    key."""
    if path is None:
        text = resources.files("genrec.evaluation").joinpath(LABELS_FILE).read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return {(r["dialog_id"], int(r["utt_id"])): r for r in rows}


def _act(g: GoldTurn, text: str, opened: bool, after_question: bool, slotted: bool) -> str:
    content = g.act in ("request", "taste")
    if content and not opened:
        return "opener"
    if g.act == "request" and not slotted and _MORE_CUE.search(text) and _ASK_CUE.search(text):
        return "more"
    if content and after_question:
        return "answer"
    return {"greeting": "smalltalk", "acceptance": "reaction"}.get(g.act, g.act)


def _why_unusable(
    row: Mapping[str, str],
    g: GoldTurn,
    text: str,
    act: str,
    titles: list[str | None],
    genres: list[str | None],
    slot_titles: set[str],
) -> str | None:
    """Why a seeker sentence cannot be a simulator's template (None: it can)."""
    if re.search(r"\[MOVIE_(?!TITLE_|GENRE_)", text) or row.get("people_names", "").strip():
        return "people or plot"
    if None in titles or None in genres:
        return "slot polarity unknown"
    if set(g.titles()) - slot_titles:
        return "title written out"
    if len(set(g.genres_wanted) | set(g.genres_avoided)) > len(genres):
        return "genre written out"
    if g.year_min or g.year_max or g.recent or g.kids or g.genres_dropped or g.changes_mind:
        return "other facts"
    if act in ("smalltalk", "thanks") and (titles or genres):
        return "small talk with slots"
    for sentence in re.split(r"(?<=[.!?])\s+", _SLOT.sub("x", text).strip()):
        if any(w[:1].isupper() and w.strip(",.!?;:") not in _CAPS_OK for w in sentence.split()[1:]):
            return "a name"
    return None


def build_phrasebook(
    path: Path | str | None = None,
    *,
    gold: Iterable[GoldTurn] | None = None,
    labels: Mapping[tuple[str, int], Mapping[str, Any]] | None = None,
) -> Phrasebook:
    """Build the phrasebook from INSPIRED's dev.tsv (`path`; default: `default_corpus_path()`).

    Each labelled seeker turn becomes a template unless it is unusable (see `Phrasebook.dropped`);
    each becomes a `SeekerMove` either way, for `behaviour_mix`.
    """
    rows = _read_rows(Path(path) if path else default_corpus_path())
    gold_by = {(g.dialog_id, g.utt_id): g for g in (gold if gold is not None else load_gold())}
    ours = load_labels() if labels is None else labels
    templates: list[Template] = []
    moves: list[SeekerMove] = []
    dropped: Counter[str] = Counter()
    opened: set[str] = set()
    previous: dict[str, str] = {}
    for row in rows:
        d = row["dialog_id"]
        if row["speaker"] != "SEEKER":
            previous[d] = row["text"]
            continue
        g = gold_by.get((d, int(row["utt_id"])))
        if g is None:
            continue
        after_question = "?" in previous.pop(d, "")
        text = re.sub(
            r"\s+", " ", row["text_with_placeholder"].replace("QUOTATION_MARK", '"')
        ).strip()
        act = _act(g, text, d in opened, after_question, bool(_SLOT.search(text)))
        if act == "opener":
            opened.add(d)
        moves.append(SeekerMove.of(g, act, after_question))
        label = ours.get((d, g.utt_id), {})
        if label.get("drop"):
            dropped[f"labelled: {label['drop']}"] += 1
            continue
        template, slot_titles, titles, genres = _slots(text, row, g)
        titles = list(label.get("titles", titles))
        genres = list(label.get("genres", genres))
        why = _why_unusable(row, g, text, act, titles, genres, slot_titles)
        if why:
            dropped[why] += 1
            continue
        templates.append(
            Template(d, g.utt_id, act, template, tuple(map(str, titles)), tuple(map(str, genres)))
        )
    return Phrasebook(templates, moves, dict(sorted(dropped.items())))


def _slots(
    text: str, row: Mapping[str, str], g: GoldTurn
) -> tuple[str, set[str], list[str | None], list[str | None]]:
    """The text with slots renumbered [T0].. [G0].., the gold titles the slots hold, and each slot's
    polarity from the gold (None where the gold does not say)."""
    movies, genre_names = (
        _index_dict(row.get("movie_dict", "")),
        _index_dict(row.get("genre_dict", "")),
    )
    order: dict[tuple[str, int], int] = {}
    titles: list[str | None] = []
    genres: list[str | None] = []
    held: set[str] = set()
    mentioned = (
        "asked"
        if g.act == "question" or g.question
        else "wanted"
        if g.act == "acceptance"
        else None
    )
    for kind, n in ((m.group(1), int(m.group(2))) for m in _SLOT.finditer(text)):
        if (kind, n) in order:
            continue
        if kind == "TITLE":
            order[(kind, n)] = len(titles)
            name = movies.get(n, "")
            held.add(name)
            titles.append("liked" if name in g.liked else "disliked" if name in g.disliked
                          else mentioned if name in g.mentioned else None)
        else:
            order[(kind, n)] = len(genres)
            genre = _GENRE_NAMES.get(genre_names.get(n, "").casefold())
            genres.append(
                "wanted"
                if genre in g.genres_wanted
                else "avoided"
                if genre in g.genres_avoided
                else None
            )

    def renumber(m: re.Match[str]) -> str:
        return f"[{m.group(1)[0]}{order[(m.group(1), int(m.group(2)))]}]"

    return _SLOT.sub(renumber, text.replace("{", "(").replace("}", ")")), held, titles, genres


# ---- loading, with a cache under GENREC_HOME


def corpus_path(settings: Settings) -> Path:
    """INSPIRED's dev.tsv as configured (`inspired_path`), else `default_corpus_path()`."""
    return (
        Path(settings.inspired_path).expanduser()
        if settings.inspired_path
        else default_corpus_path()
    )


_LOADED: dict[Path, Phrasebook] = {}


def load_phrasebook(settings_or_home: Settings | Path | str | None = None) -> Phrasebook | None:
    """The phrasebook, built once and cached under GENREC_HOME/phrasebook; None (logged once, with
    where the corpus was expected) when INSPIRED's dev.tsv is absent."""
    settings = (settings_or_home if isinstance(settings_or_home, Settings)
                else Settings() if settings_or_home is None else Settings(home=settings_or_home))
    path = corpus_path(settings)
    if not path.exists():
        log.warning(
            "no phrasebook: INSPIRED's dev.tsv was expected at %s (set GENREC_INSPIRED_PATH)", path
        )
        return None
    labels_text = resources.files("genrec.evaluation").joinpath(LABELS_FILE).read_bytes()
    gold_text = (
        resources.files("genrec.evaluation").joinpath("gold/inspired_dev.jsonl").read_bytes()
    )
    key = hashlib.sha256(
        path.read_bytes() + gold_text + labels_text + str(BUILD_VERSION).encode()
    ).hexdigest()[:16]
    cache = settings.home / "phrasebook" / f"inspired-{key}.json"
    if cache in _LOADED:
        return _LOADED[cache]
    book: Phrasebook | None = None
    if cache.exists():
        try:
            book = Phrasebook.from_json(json.loads(cache.read_text("utf-8")))
        except (ValueError, KeyError, TypeError) as e:
            log.warning("phrasebook cache %s unreadable (%s); rebuilding", cache, e)
    if book is None:
        book = build_phrasebook(path)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(book.to_json()), "utf-8")
        tmp.replace(cache)
    _LOADED[cache] = book
    return book


def main() -> None:
    """Build (or load) the phrasebook and print its acts, what was left out and the behaviour
    mix."""
    book = load_phrasebook()
    if book is None:
        raise SystemExit(1)
    print(json.dumps({"templates": book.counts(), "dropped": book.dropped,
                      "behaviour_mix": behaviour_mix(book).to_dict()}, indent=2))


__all__ = ["build_phrasebook", "corpus_path", "load_labels", "load_phrasebook", "main"]

if __name__ == "__main__":
    main()
