"""The understand stage: one message read against the dialogue state, with notes and early
questions.

Rules (and, when allowed, one LLM extraction grounded in the catalog) give an Extraction; the
stage returns it as the turn's changes (with the state they lead to, to read) and says whether
the turn must ask something instead of answering.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pydantic import BaseModel

from genrec.agent import prompts
from genrec.agent.item_answers import answer_item_questions
from genrec.agent.operations import Toolkit
from genrec.agent.preferences import POLARITIES
from genrec.agent.rationales.evidence import item_nouns
from genrec.agent.state import DialogueState, TurnChanges, commit
from genrec.agent.turn import TurnInput, TurnReport
from genrec.agent.understanding.extraction import CatalogExtractor, Extraction
from genrec.agent.understanding.llm_reading import LLMExtraction, decide, ground_llm, read_something


@dataclass
class Understood:
    """What the message changes and what to do next.

    `changes` hold the message's reading (the commit writes it); `state` is the state it leads
    to, for the later stages to read. `notes` go before the reply ("Noted: you like ...").
    `question` is a fixed text to ask now (a refusal, "which one did you mean?");
    `vague` means there is nothing to rank on yet: ask what they like; `answers` answer the
    message's questions about items, and `only_answers` says the message asked nothing else.
    """

    changes: TurnChanges
    state: DialogueState
    notes: list[str] = field(default_factory=list)
    allow_repeats: bool = False
    question: str | None = None
    vague: bool = False
    answers: list[str] = field(default_factory=list)
    only_answers: bool = False
    suggested: list[str] = field(default_factory=list)
    """Likely answers to `question`, for a front door's buttons ("Yes", "No"; the options'
    labels)."""


def understand(turn: TurnInput, report: TurnReport, prior: DialogueState, *,
               extractor: CatalogExtractor, toolkit: Toolkit, use_llm: bool) -> Understood:
    """Read the turn's message against the catalog and `prior`; `prior` itself is not changed.

    Notes for the user (unknown ids, what was noted) come back in `Understood.notes`."""
    started = time.perf_counter()
    message = turn.message
    catalog = toolkit.catalog
    ex = extractor.extract(message, prior)
    if ex.injection:
        # No refusal on keywords (titles such as "Jailbreak" trip them): the defences are
        # structural (grounded extraction, gated state writes, checked output). The message is
        # answered as usual; its words are not kept as a wish that later prompts would carry.
        report.count("injection_cues")
    if use_llm and not ex.reset:
        ex = _llm_reading(turn, report, ex, extractor)
    changes = TurnChanges(reading=ex)
    notes = [f"There is no item {iid} in the catalog (item ids run "
             f"{catalog.min_id}..{catalog.max_id})." for iid in ex.unknown_item_refs]
    if ex.user_id is not None and not toolkit.ranker.knows_user(ex.user_id):
        notes.append(f"User {ex.user_id} is not a known user here; I'll go by what you tell me.")
        changes.forget_user = True
    state = commit(prior, changes)
    ack = []
    for pol, verb in (("liked", "you like"), ("disliked", "you dislike"),
                      ("seen", "you've seen"), ("interested", "you'd like to see"),
                      ("excluded", "not to show")):
        ids = getattr(ex, pol)
        if ids:
            ack.append(f"{verb} {', '.join(catalog[i].label for i in ids[:5])}")
    if ack:
        notes.append("Noted: " + "; ".join(ack) + ".")
    for iid, others in ex.alternatives.items():
        if iid in ex.mentioned():
            alts = " or ".join(catalog[o].label for o in others[:3])
            notes.append(f"(If you meant {alts} rather than {catalog[iid].label}, say which.)")
    report.tick("understand", started)
    out = Understood(changes, state, notes, allow_repeats=ex.allow_repeats)
    if ex.item_questions:
        out.answers = answer_item_questions(ex.item_questions, toolkit, state)
        out.only_answers = ex.is_empty() and not (
            ex.reset or ex.allow_repeats or ex.unknown_item_refs
        )
    if ex.ambiguous:
        ch = ex.ambiguous[0]
        opts = ", ".join(catalog[i].label for i in ch.options[:6])
        out.question = (
            f"Did you mean {catalog[ch.options[0]].label}? Say yes, or tell me the full title."
            if len(ch.options) == 1
            else f"Which {ch.mention!r} did you mean: {opts}? Tell me the year or the full title."
        )
        out.suggested = (["Yes", "No"] if len(ch.options) == 1
                         else [catalog[i].label for i in ch.options[:6]])
    elif not state.has_preferences():
        out.vague = True
    return out


def _llm_reading(turn: TurnInput, report: TurnReport, ex: Extraction,
                 extractor: CatalogExtractor) -> Extraction:
    """The message read by one LLM call, grounded in the catalog; the rules' reading `ex` when
    the LLM gives none (no call left, a fault, or "{}")."""
    catalog = extractor.catalog
    noun, nouns = item_nouns(catalog)
    prompt = prompts.EXTRACT_PROMPT.format(message=turn.message[:2000], noun=noun, nouns=nouns)
    res = turn.budget.try_invoke([("human", prompt)], report.warnings,
                                 response_format=LLMExtraction)
    if res is None or res.parsed is None:
        return ex
    raw = (res.parsed.model_dump(exclude_unset=True) if isinstance(res.parsed, BaseModel)
           else res.parsed)
    if not read_something(raw):  # "{}" is no reading
        return ex
    # the LLM's reading decides; the rules only ground it
    asked_about = {q.item_id for q in ex.item_questions} - set(ex.mentioned())
    ex = decide(ex, ground_llm(extractor, raw, turn.message))
    for pol in POLARITIES:  # an item asked about is not a preference, whatever the LLM read
        setattr(ex, pol, [i for i in getattr(ex, pol) if i not in asked_about])
    ex.mentioned_titles = [catalog[i].label for i in ex.mentioned()]
    return ex
