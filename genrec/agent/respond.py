"""The respond stage: evidence per pick, the writer LLM call, the fact check and the reply text.

LLM text (the intro and each rationale) is kept only when the checker accepts it; everything
else is templated from the evidence, so every stated fact is true.
"""

from __future__ import annotations

import json
import re
import time

from pydantic import BaseModel, Field

from genrec.agent import prompts
from genrec.agent.candidates import Candidate
from genrec.agent.operations import Toolkit
from genrec.agent.rationales.evidence import Evidence, build_evidence, item_nouns
from genrec.agent.rationales.fact_check import FactChecker
from genrec.agent.rationales.reasons import template_rationales
from genrec.agent.replies import Recommendation
from genrec.agent.state import DialogueState
from genrec.agent.turn import Response, TurnInput, TurnReport
from genrec.knobs import AgentConfig
from genrec.llm.safe_text import plain_text, unsafe_prefix


class WriterOutput(BaseModel):
    """What the writer LLM call returns."""

    text: str = ""
    rationales: list[dict[str, object]] = Field(default_factory=list)


VAGUE_QUESTION = ("What are you in the mood for? Tell me a movie you loved, a genre "
                  "(e.g. sci-fi, comedy) or a decade (e.g. the 90s).")


def vague_question(noun: str = "movie") -> str:
    """The templated clarifying question, in the catalog's item noun.

    >>> vague_question("book").startswith("What are you in the mood for? Tell me a book you loved")
    True
    """
    return VAGUE_QUESTION.replace("a movie you loved", f"{_a(noun)} you loved")


def _a(word: str) -> str:
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def ask(turn: TurnInput, report: TurnReport, checker: FactChecker, config: AgentConfig
        ) -> Response:
    """A clarifying question (LLM-phrased when possible and checked, templated otherwise)."""
    text = None
    noun, _ = item_nouns(checker.extractor.catalog)
    if config.llm_rationales:
        res = turn.budget.try_invoke([("human", prompts.QUESTION_PROMPT.format(
            noun=noun, message=turn.message[:500],
            focus=f"{_a(noun)} they loved, a genre, or a decade"))],
            report.warnings, max_tokens=60)
        cand = (res.text or "").strip() if res is not None else ""
        if cand and "?" in cand and len(cand) < 300:
            result = checker.check(cand, set())
            if result.ok:
                text = cand
                report.count("llm_text")
            else:
                _note_markup(report, result.problems)
    return Response(text or vague_question(noun), question=True)


def _note_markup(report: TurnReport, problems: list[str]) -> None:
    """Count (timings["llm_text_unsafe"]) and warn when LLM text held links, HTML or URLs."""
    unsafe = [p for p in problems if p.startswith("contains ")]
    if unsafe:
        report.count("llm_text_unsafe")
        report.warnings.append(f"LLM text {unsafe[0]}; it was not shown")


def answer(turn: TurnInput, report: TurnReport, state: DialogueState, cands: list[Candidate], *,
           toolkit: Toolkit, checker: FactChecker, config: AgentConfig, intro: str | None = None,
           use_llm: bool = True) -> Response:
    """Recommendations with rationales (LLM-written and checked, else templated) and text.

    `intro` is text the LLM already wrote (the tool-calling answer); it is checked like the rest.
    """
    if not cands:
        return Response(nothing_found(state, toolkit), question=True)
    started = time.perf_counter()
    report.stage("writing")
    cands = cands[: config.k]
    evidence = build_evidence(toolkit, state, cands)
    allowed = {c.item_id for c in cands} | set(state.liked)
    rationales: dict[int, tuple[str, str]] = {}
    llm_intro = None
    if use_llm and config.llm_rationales:
        stream = (IntroStream(report, checker.forbidden) if report.streaming and intro is None
                  else None)
        out = _write(turn, report, state, evidence[: config.rationale_items], toolkit, stream)
        if out is not None:
            llm_intro = out.text.strip() or None
            by_id = {e.item_id: e for e in evidence}
            for r in out.rationales:
                try:
                    iid = int(r.get("item_id"))  # type: ignore[call-overload]
                    text = str(r.get("rationale", "")).strip()
                except (TypeError, ValueError, AttributeError):
                    continue
                if iid not in by_id or iid in rationales:
                    continue
                if not config.check_rationales:
                    rationales[iid] = (plain_text(text).text, "unchecked")
                    continue
                result = checker.check(text, allowed, by_id[iid], state)
                if result.ok:
                    rationales[iid] = (text, "llm")
                else:
                    report.count("rationales_rejected")
                    _note_markup(report, result.problems)
    recs = []
    for c, ev, templated in zip(cands, evidence, template_rationales(evidence, state)):
        it = toolkit.catalog[c.item_id]
        text, source = rationales.get(c.item_id, (templated, "template"))
        recs.append(Recommendation(
            item_id=it.item_id, title=it.title, year=it.year, genres=list(it.genres),
            score=round(float(c.score), 6),
            predicted_rating=None if c.predicted_rating is None else round(c.predicted_rating, 3),
            rationale=text, verified=source != "unchecked",
            rationale_source="llm" if source in ("llm", "unchecked") else "template",
            evidence=ev.model_dump(exclude_none=True)))
    chosen = None
    for cand in (intro, llm_intro):
        if not cand:
            continue
        if not config.check_rationales:
            chosen = plain_text(cand).text.strip() or None
            break
        result = checker.check(cand, allowed)
        if result.ok:
            chosen = cand.strip()
            break
        report.warnings.append("LLM reply text failed the fact check; used templated text")
        _note_markup(report, result.problems)
    if chosen is None:
        chosen = template_intro(state, len(recs), toolkit)
    else:
        report.count("llm_text")
    lines = [f"{i}. {r.title} ({r.year}) - {r.rationale}" if r.year else
             f"{i}. {r.title} - {r.rationale}" for i, r in enumerate(recs, 1)]
    report.tick("respond", started)
    return Response(chosen + "\n" + "\n".join(lines), recs)


def _write(turn: TurnInput, report: TurnReport, state: DialogueState, evidence: list[Evidence],
           toolkit: Toolkit, stream: IntroStream | None) -> WriterOutput | None:
    """The writer call: intro text and rationales as JSON; None on any fault.

    With `stream`, the answer is streamed and its intro text passed on as it arrives."""
    if not turn.budget.can_call():
        return None
    payload = json.dumps([e.for_prompt() for e in evidence], ensure_ascii=False)
    noun, nouns = item_nouns(toolkit.catalog)
    res = turn.budget.try_invoke(
        [
            (
                "human",
                prompts.WRITER_PROMPT.format(
                    noun=noun,
                    nouns=nouns,
                    message=turn.message[:1000],
                    state=state.summary(toolkit.catalog),
                    evidence=payload,
                ),
            )
        ],
        report.warnings,
        response_format=WriterOutput,
        on_delta=stream.feed if stream is not None else None,
    )
    out = res.parsed if res is not None else None
    if isinstance(out, dict):
        try:
            out = WriterOutput.model_validate(out)
        except Exception:  # noqa: BLE001 - a malformed answer counts as none
            out = None
    return out if isinstance(out, WriterOutput) else None


class IntroStream:
    """The writer's raw JSON deltas in, its intro text out to the client, sanitised as it goes.

    The "text" field is decoded as it streams (`genrec.llm.JsonFieldStream`); leading and
    trailing blanks and the last HOLD characters are held back (so a prompt leak is caught
    before it shows), and the stream stops for good on a control character, a prompt snippet,
    text longer than MAX_CHARS or anything that is or may start a link, image, HTML tag or URL
    (`genrec.llm.safe_text.unsafe_prefix`). The fact check on the whole answer still decides what
    stays.

    >>> from genrec.agent.turn import TurnReport
    >>> shown = []
    >>> s = IntroStream(TurnReport(on_text=shown.append), ["Never reveal"], hold=0)
    >>> for raw in ('{"text": " Try', ' Alien ', '(1979). ', 'Never reveal', '"}'):
    ...     s.feed(raw)
    >>> shown
    ['Try', ' Alien', ' (1979).']
    """

    HOLD = 60
    MAX_CHARS = 1500

    def __init__(self, report: TurnReport, forbidden: list[str], *, hold: int = HOLD) -> None:
        from genrec.llm import JsonFieldStream

        self.report = report
        self.forbidden = [f.lower() for f in forbidden if f]
        self.hold = hold
        self.field = JsonFieldStream("text")
        self.text = ""
        self.sent = 0
        self.stopped = False

    def feed(self, raw: str) -> None:
        if self.stopped:
            return
        self.text += self.field.feed(raw)
        text = self.text.lstrip()
        low = text.lower()
        if (len(text) > self.MAX_CHARS or any(f in low for f in self.forbidden)
                or _CONTROL.search(text) or unsafe_prefix(text)):
            self.stopped = True
            return
        safe = text[: len(text) - self.hold].rstrip() if self.hold else text.rstrip()
        if len(safe) > self.sent:
            self.report.stream_text(safe[self.sent:])
            self.sent = len(safe)


_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


def template_intro(state: DialogueState, n: int, toolkit: Toolkit) -> str:
    """'Here are n movies (what was asked for):' ('Here is one movie ...') from the state alone,
    in the catalog's noun."""
    parts = []
    if state.wanted_genres:
        parts.append(" / ".join(state.wanted_genres))
    leaning = [*[g for g in state.preferred_genres if g not in state.wanted_genres],
               *[f"the {d}s" for d in state.preferred_decades]]
    if leaning:
        parts.append("leaning to " + " / ".join(leaning))
    if state.year_min is not None or state.year_max is not None:
        if state.year_min is not None and state.year_max is not None:
            parts.append(f"from {state.year_min}-{state.year_max}")
        elif state.year_min is not None:
            parts.append(f"from {state.year_min} on")
        else:
            parts.append(f"up to {state.year_max}")
    if state.avoided_genres:
        parts.append("no " + " / ".join(state.avoided_genres))
    if state.liked:
        parts.append("for someone who liked " + ", ".join(
            toolkit.catalog[i].label for i in state.liked[-2:]))
    what = f" ({'; '.join(parts)})" if parts else ""
    noun, nouns = item_nouns(toolkit.catalog)
    return f"Here is one {noun}{what}:" if n == 1 else f"Here are {n} {nouns}{what}:"


def nothing_found(state: DialogueState, toolkit: Toolkit) -> str:
    """Which constraints left nothing, and the catalog's year span, asking to relax one."""
    span = toolkit.year_span
    cons = []
    if state.wanted_genres:
        cons.append("genres " + ", ".join(state.wanted_genres))
    if state.avoided_genres:
        cons.append("no " + ", ".join(state.avoided_genres))
    if state.year_min is not None or state.year_max is not None:
        cons.append(f"years {state.year_min or '...'}-{state.year_max or '...'}")
    noun, _ = item_nouns(toolkit.catalog)
    return (f"I couldn't find {_a(noun)} I haven't already shown you that matches "
            f"{'; '.join(cons) or 'what you asked'} (the catalog covers {span[0]}-{span[1]}). "
            "Could you relax one of these?")
