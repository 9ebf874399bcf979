"""The run folder of `genrec eval chat`: config.json (checked on resume), transcripts.jsonl (one
finished user a line, a torn last line repaired), metrics.json and report.html.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from genrec.data import Split
from genrec.evaluation.protocols.replay import ChatEvalConfig
from genrec.provenance import git_commit, provenance

TRANSCRIPTS, CONFIG, METRICS, REPORT = (
    "transcripts.jsonl",
    "config.json",
    "metrics.json",
    "report.html",
)


class RunMismatchError(ValueError):
    """The output folder holds a run made with different settings."""


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
            raise ValueError(
                f"{path} line {n + 1} is not a transcript record; delete the folder or fix the line"
            ) from None
        if uid not in seen:
            seen.add(uid)
            good.append(rec)
    if torn or len(good) != sum(1 for ln in lines if ln.strip()):
        path.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in good), encoding="utf-8"
        )
    return good


def split_seed(split_name: str) -> int | None:
    """The seed a split was drawn with, read from its name; None for a split no seed draws (the
    fixed MovieLens 100K folds u1..u5, temporal, all).

    >>> split_seed("random:0.2:seed42"), split_seed("u1"), split_seed("temporal:1")
    (42, None, None)
    """
    m = re.search(r":seed(\d+)$", split_name)
    return int(m.group(1)) if m else None


def config_doc(
    cfg: ChatEvalConfig, extra: Mapping[str, Any], split: Split | None = None
) -> dict[str, Any]:
    """config.json of a new chat run: the settings, their identity, seeds, provenance and `extra`.

    ``seeds.split`` is the seed `split` was drawn with (None for a fixed or unseeded split, or when
    no split is given); the run's seed drives the simulated users only.
    """
    return {
        "kind": "chat",
        "identity": cfg.identity(),
        "config": cfg.model_dump(),
        "git_commit": git_commit(),
        "provenance": provenance(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seeds": {
            "run": cfg.seed,
            "per_user": "genrec.evaluation.simulation.persona.persona_seed(run, user_id)",
            "split": None if split is None else split_seed(split.name),
        },
        **extra,
    }


def _json_default(o: object) -> object:
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
    except ImportError:  # pragma: no cover
        pass
    return str(o)


class RunFolder:
    """One chat run's folder on disk; creating it makes the directory.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     folder = RunFolder(Path(tmp) / "run")
    ...     folder.start(ChatEvalConfig(turns=2), {})
    ...     try:
    ...         folder.start(ChatEvalConfig(turns=3), {})
    ...     except RunMismatchError as exc:
    ...         print(str(exc).split("(")[1].split(")")[0])
    turns: 2 in the folder vs 3 now
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    @property
    def transcripts_path(self) -> Path:
        return self.path / TRANSCRIPTS

    def start(
        self, cfg: ChatEvalConfig, extra: Mapping[str, Any], split: Split | None = None
    ) -> None:
        """Write config.json for a new run (`split`: the split it scores, for its seed), or check
        that a resumed run has the same identity.

        Raises:
            RunMismatchError: the folder holds a run with other identity settings.
        """
        path = self.path / CONFIG
        if path.is_file():
            old = json.loads(path.read_text(encoding="utf-8"))
            prev = old.get("identity") or {}
            diff = {k: (prev.get(k), v) for k, v in cfg.identity().items() if prev.get(k) != v}
            if diff:
                what = ", ".join(
                    f"{k}: {a!r} in the folder vs {b!r} now" for k, (a, b) in diff.items()
                )
                raise RunMismatchError(
                    f"{self.path} holds a run with other settings ({what}); "
                    "resume it with the same settings, or choose another --out folder"
                )
            return
        doc = config_doc(cfg, extra, split)
        path.write_text(
            json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
        )

    def config(self) -> dict[str, Any]:
        """config.json as written."""
        return dict(json.loads((self.path / CONFIG).read_text(encoding="utf-8")))

    def transcripts(self) -> list[dict[str, Any]]:
        """The finished users' records (see `read_transcripts`)."""
        return read_transcripts(self.transcripts_path)

    @contextmanager
    def appender(self) -> Iterator[Callable[[Mapping[str, Any]], None]]:
        """A writer of finished users: each record becomes one flushed line of transcripts.jsonl."""
        with self.transcripts_path.open("a", encoding="utf-8") as fh:

            def append(rec: Mapping[str, Any]) -> None:
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                fh.flush()

            yield append

    def write_metrics(self, metrics: Mapping[str, Any]) -> None:
        """metrics.json (numpy scalars written as numbers)."""
        (self.path / METRICS).write_text(
            json.dumps(metrics, indent=2, default=_json_default) + "\n", encoding="utf-8"
        )

    def write_report(self, metrics: Mapping[str, Any], *, latencies: Sequence[float], title: str,
                     notes: Sequence[str], sections: Sequence[str] = ()) -> Path:
        """report.html from the metrics and config.json (see `report.write_report`)."""
        from genrec.evaluation.report import write_report

        return write_report(
            self.path,
            metrics,
            self.config(),
            latencies=latencies,
            title=title,
            notes=notes,
            sections=sections,
        )


__all__ = [
    "CONFIG",
    "METRICS",
    "REPORT",
    "TRANSCRIPTS",
    "RunFolder",
    "RunMismatchError",
    "config_doc",
    "split_seed",
    "read_transcripts",
]
