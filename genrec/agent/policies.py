"""Dialogue policies: `guided` (understand -> search -> rank -> respond) and `tool-calling`.

Both share the tools, the state, the candidate fusion and the rationale checker; every constraint
is enforced in code after any LLM step, and any LLM fault falls back to templated text.
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from genrec.agent import prompts
from genrec.agent.candidates import Candidate, fuse, gather, query_text, satisfies
from genrec.agent.models import Recommendation, Reply, ToolCallRecord
from genrec.agent.rationales import Evidence, build_evidence, check_text, template_rationale
from genrec.agent.state import DialogueState
from genrec.agent.tools import LISTING_TOOLS, Toolkit, langchain_tools
from genrec.agent.understanding import CatalogExtractor, Extraction, LLMExtraction, apply, merge
from genrec.components import AgentConfig

POLICIES = ("guided", "tool-calling")


class WriterOutput(BaseModel):
    """What the writer LLM call returns."""

    text: str = ""
    rationales: list[dict[str, Any]] = Field(default_factory=list)


@dataclass
class Turn:
    """Everything one turn works on; `state` is a working copy saved only if the turn succeeds."""

    session_id: str
    message: str
    state: DialogueState
    history: list[dict]
    backend: str
    policy: str
    trace: list[ToolCallRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    extraction: Extraction | None = None
    allow_repeats: bool = False
    llm_ok: bool = True
    llm_calls: int = 0

    def tick(self, name: str, started: float) -> None:
        self.timings[name] = round(self.timings.get(name, 0.0) + (time.perf_counter() - started)
                                   * 1000, 3)


def clean_message(message: Any, max_chars: int) -> tuple[str, list[str], bool]:
    """(cleaned text, warnings, readable). Control characters go; very long text is truncated."""
    warnings: list[str] = []
    if isinstance(message, bytes):
        message = message.decode("utf-8", errors="replace")
    if not isinstance(message, str):
        message = "" if message is None else str(message)
    if len(message) > max_chars:
        warnings.append(f"message truncated from {len(message)} to {max_chars} characters")
        message = message[:max_chars]
    raw_len = len(message.strip())
    junk = sum(1 for ch in message if (unicodedata.category(ch)[0] == "C" and ch not in "\n\t\r")
               or ch == "\ufffd")
    text = "".join(ch if (ch in "\n\t" or unicodedata.category(ch)[0] not in "C") and ch != "\ufffd"
                   else " " for ch in message)
    text = re.sub(r"[ \t]+", " ", text).strip()
    words = re.findall(r"[^\W\d_]{2,}", text)
    readable = bool(text) and bool(words) and junk / max(1, raw_len) <= 0.2
    if raw_len and not readable:
        warnings.append("message is not readable text")
    return text, warnings, readable


class AgentCore:
    """The shared machinery both policies use (no session handling; see Recommender)."""

    def __init__(self, catalog: Any, ranker: Any, store: Any, llm: Any, config: AgentConfig) -> None:
        self.catalog = catalog
        self.toolkit = Toolkit(catalog, ranker, store)
        self.extractor = CatalogExtractor(catalog)
        self.llm = llm
        self.config = config
        self._leaks = prompts.leak_snippets()

    # ---- LLM access ---------------------------------------------------------------------
    @property
    def has_llm(self) -> bool:
        return self.llm is not None and getattr(self.llm, "chat_model", None) is not None

    def call_llm(self, turn: Turn, messages: Any, **kwargs: Any) -> Any | None:
        """One LLM call; None (and a warning) on any LLM error. Marks the LLM down on outages."""
        from genrec.llm import LLMError, LLMUnavailableError

        if not (self.has_llm and turn.llm_ok):
            return None
        turn.llm_calls += 1
        try:
            return self.llm.invoke(messages, **kwargs)
        except LLMUnavailableError as exc:
            turn.llm_ok = False
            turn.warnings.append(f"LLM unavailable ({_short(exc)}); answered with templated text")
        except LLMError as exc:
            turn.warnings.append(f"LLM answer unusable ({_short(exc)}); used templated text")
        except Exception as exc:  # noqa: BLE001 - any backend bug is a handled fault
            turn.warnings.append(f"LLM call failed ({type(exc).__name__}: {_short(exc)})")
        return None

    # ---- understanding ------------------------------------------------------------------
    def understand(self, turn: Turn, *, use_llm: bool) -> Reply | None:
        """Update turn.state from the message; a Reply when the turn ends here (question etc.)."""
        started = time.perf_counter()
        ex = self.extractor.extract(turn.message, turn.state)
        if ex.injection:
            turn.tick("understand", started)
            turn.warnings.append("prompt injection attempt refused")
            return self.reply(turn, prompts.REFUSAL, question=True)
        if use_llm and self.config.llm_extraction and self.has_llm and not ex.reset:
            res = self.call_llm(turn, [("human", prompts.EXTRACT_PROMPT.format(
                message=turn.message[:2000]))], response_format=LLMExtraction)
            if res is not None and res.parsed is not None:
                raw = res.parsed.model_dump() if isinstance(res.parsed, BaseModel) else res.parsed
                ex = merge(ex, self.extractor.ground_llm(raw, turn.message))
        turn.extraction = ex
        turn.allow_repeats = ex.allow_repeats
        turn.state = apply(turn.state, ex)
        for iid in ex.unknown_item_refs:
            turn.notes.append(f"There is no item {iid} in the catalog (item ids run "
                              f"{self.catalog.min_id}..{self.catalog.max_id}).")
        if ex.user_id is not None and not self.toolkit.ranker.knows_user(ex.user_id):
            turn.notes.append(f"User {ex.user_id} is not a known user here; I'll go by what you "
                              "tell me.")
            turn.state.user_id = None
        ack = []
        for pol, verb in (("liked", "you like"), ("disliked", "you dislike"),
                          ("seen", "you've seen"), ("excluded", "not to show")):
            ids = getattr(ex, pol)
            if ids:
                ack.append(f"{verb} {', '.join(self.catalog[i].label for i in ids[:5])}")
        if ack:
            turn.notes.append("Noted: " + "; ".join(ack) + ".")
        turn.tick("understand", started)
        if ex.ambiguous:
            ch = ex.ambiguous[0]
            opts = ", ".join(self.catalog[i].label for i in ch.options[:6])
            return self.reply(turn, f"Which {ch.mention!r} did you mean: {opts}? "
                                    "Tell me the year or the full title.", question=True)
        if not turn.state.has_preferences():
            return self.ask(turn)
        return None

    def ask(self, turn: Turn) -> Reply:
        """A clarifying question (LLM-phrased when possible, templated otherwise)."""
        focus = "a movie they loved, a genre, or a decade"
        text = None
        if self.config.llm_rationales and self.has_llm and turn.llm_calls < 2:
            res = self.call_llm(turn, [("human", prompts.QUESTION_PROMPT.format(
                message=turn.message[:500], focus=focus))], max_tokens=60)
            cand = (res.text or "").strip() if res is not None else ""
            if cand and "?" in cand and len(cand) < 300 and self.check(cand, set()).ok:
                text = cand
        if text is None:
            text = ("What are you in the mood for? Tell me a movie you loved, a genre "
                    "(e.g. sci-fi, comedy) or a decade (e.g. the 90s).")
        return self.reply(turn, text, question=True)

    # ---- candidates and the answer ------------------------------------------------------
    def candidates(self, turn: Turn, extra: dict[int, Candidate] | None = None) -> list[Candidate]:
        started = time.perf_counter()
        if turn.allow_repeats and turn.state.last_recommended:
            again = self.score_pool(turn, _repeat_pool(turn))
            order = {i: n for n, i in enumerate(turn.state.last_recommended)}
            again.sort(key=lambda c: order[c.item_id])
            if again:
                turn.tick("candidates", started)
                return again[: self.config.k]
        q = query_text(turn.state, self.catalog, None) if (
            turn.state.wishes or turn.state.taste_genres() or turn.state.liked) else None
        out = gather(self.toolkit, turn.state, config=self.config.candidates, k=self.config.k,
                     query=q, trace=turn.trace, allow_repeats=turn.allow_repeats, extra=extra)
        turn.tick("candidates", started)
        return out

    def score_pool(self, turn: Turn, pool: dict[int, Candidate]) -> list[Candidate]:
        """Constrain and fuse the items the LLM's tool calls returned (no new retrieval)."""
        blocked = turn.state.blocked(allow_repeats=turn.allow_repeats)
        pool = {i: c for i, c in pool.items() if i in self.catalog and i not in blocked
                and satisfies(self.catalog[i], turn.state)}
        prof = self.toolkit.profile(turn.state)
        if prof is not None and pool:
            ids = [i for i in pool if self.toolkit.ranker.knows_item(i)]
            if ids:
                for i, p in zip(ids, self.toolkit.ranker.predict(prof, ids)):
                    pool[i].predicted_rating = float(p)
                    if pool[i].ranker_score is None:
                        pool[i].ranker_score = float(p)
        weights = self.config.candidates.weights_for(turn.state, prof)
        return fuse(pool, turn.state, weights, self.catalog, self.toolkit.popularity)

    def check(self, text: str, allowed: set[int], evidence: Evidence | None = None,
              state: DialogueState | None = None):
        return check_text(text, self.extractor, allowed_ids=allowed, evidence=evidence,
                          state=state, forbidden=self._leaks,
                          max_chars=600 if evidence is not None else 1500)

    def answer(self, turn: Turn, cands: list[Candidate], *, intro: str | None = None,
               use_llm: bool = True) -> Reply:
        """Recommendations with rationales (LLM-written and checked, else templated) and text."""
        if not cands:
            return self.reply(turn, self._nothing_found(turn.state), question=True)
        started = time.perf_counter()
        cands = cands[: self.config.k]
        evidence = build_evidence(self.toolkit, turn.state, cands)
        allowed = {c.item_id for c in cands} | set(turn.state.liked)
        rationales: dict[int, tuple[str, str]] = {}
        llm_intro = None
        if use_llm and self.config.llm_rationales and self.has_llm and turn.llm_ok:
            n = self.config.rationale_items
            payload = json.dumps([e.for_prompt() for e in evidence[:n]], ensure_ascii=False)
            res = self.call_llm(turn, [("human", prompts.WRITER_PROMPT.format(
                message=turn.message[:1000], state=turn.state.summary(self.catalog),
                evidence=payload))], response_format=WriterOutput)
            out = res.parsed if res is not None else None
            if isinstance(out, dict):
                out = WriterOutput.model_validate(out) if _valid_writer(out) else None
            if isinstance(out, WriterOutput):
                llm_intro = out.text.strip() or None
                by_id = {e.item_id: e for e in evidence}
                for r in out.rationales:
                    try:
                        iid, text = int(r.get("item_id")), str(r.get("rationale", "")).strip()
                    except (TypeError, ValueError, AttributeError):
                        continue
                    if iid not in by_id or iid in rationales:
                        continue
                    if not self.config.check_rationales:
                        rationales[iid] = (text, "unchecked")
                    elif self.check(text, allowed, by_id[iid], turn.state).ok:
                        rationales[iid] = (text, "llm")
                    else:
                        turn.timings["rationales_rejected"] = turn.timings.get(
                            "rationales_rejected", 0) + 1
        recs = []
        for c, ev in zip(cands, evidence):
            it = self.catalog[c.item_id]
            text, source = rationales.get(c.item_id, (template_rationale(ev, turn.state), "template"))
            recs.append(Recommendation(
                item_id=it.item_id, title=it.title, year=it.year, genres=list(it.genres),
                score=round(float(c.score), 6),
                predicted_rating=None if c.predicted_rating is None else round(c.predicted_rating, 3),
                rationale=text, verified=source != "unchecked",
                rationale_source="llm" if source in ("llm", "unchecked") else "template",
                evidence=ev.model_dump(exclude_none=True)))
        chosen = None
        for cand in (intro, llm_intro):
            if cand and (not self.config.check_rationales or self.check(cand, allowed).ok):
                chosen = cand.strip()
                break
            if cand:
                turn.warnings.append("LLM reply text failed the fact check; used templated text")
        if chosen is None:
            chosen = self._template_intro(turn.state, len(recs))
        lines = [f"{i}. {r.title} ({r.year}) - {r.rationale}" if r.year else
                 f"{i}. {r.title} - {r.rationale}" for i, r in enumerate(recs, 1)]
        turn.state.recommended = list(dict.fromkeys([*turn.state.recommended,
                                                     *[r.item_id for r in recs]]))
        turn.state.last_recommended = [r.item_id for r in recs]
        turn.tick("respond", started)
        return self.reply(turn, chosen + "\n" + "\n".join(lines), recs=recs)

    def _template_intro(self, state: DialogueState, n: int) -> str:
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
                self.catalog[i].label for i in state.liked[-2:]))
        what = f" ({'; '.join(parts)})" if parts else ""
        return f"Here are {n} picks{what}:"

    def _nothing_found(self, state: DialogueState) -> str:
        span = self.toolkit.year_span
        cons = []
        if state.wanted_genres:
            cons.append("genres " + ", ".join(state.wanted_genres))
        if state.avoided_genres:
            cons.append("no " + ", ".join(state.avoided_genres))
        if state.year_min is not None or state.year_max is not None:
            cons.append(f"years {state.year_min or '...'}-{state.year_max or '...'}")
        return ("I couldn't find a movie I haven't already shown you that matches "
                f"{'; '.join(cons) or 'what you asked'} (the catalog covers {span[0]}-{span[1]}). "
                "Could you relax one of these?")

    def reply(self, turn: Turn, text: str, *, recs: list[Recommendation] | None = None,
              question: bool = False) -> Reply:
        if turn.notes:
            text = " ".join(turn.notes) + "\n" + text
        return Reply(session_id=turn.session_id, text=text, recommendations=recs or [],
                     question=question, trace=turn.trace, timings=turn.timings,
                     warnings=turn.warnings, backend=turn.backend, policy=turn.policy)


def _valid_writer(d: dict) -> bool:
    try:
        WriterOutput.model_validate(d)
        return True
    except Exception:  # noqa: BLE001
        return False


def _short(exc: BaseException, n: int = 160) -> str:
    s = str(exc).replace("\n", " ")
    return s if len(s) <= n else s[:n] + "..."


class GuidedPolicy:
    """understand -> search -> rank -> respond, with at most 2 LLM calls per turn.

    The LLM (when there is one) extracts preferences (call 1) and writes the text and
    rationales (call 2); everything else is code.
    """

    name = "guided"

    def __init__(self, core: AgentCore) -> None:
        self.core = core

    def run(self, turn: Turn) -> Reply:
        early = self.core.understand(turn, use_llm=True)
        if early is not None:
            return early
        return self.core.answer(turn, self.core.candidates(turn))


def _repeat_pool(turn: Turn) -> dict[int, Candidate]:
    """The last list shown, when the user asks to see it again."""
    if not (turn.allow_repeats and turn.state.last_recommended):
        return {}
    return {i: Candidate(i, sources={"repeat"}) for i in turn.state.last_recommended}


class ToolCallingPolicy:
    """The LLM decides which tools to call (bounded rounds); code checks and completes its work.

    Invalid tool calls (malformed JSON, unknown tools, arguments that fail validation) get one
    repair round; a second failure hands the turn to the guided policy. Recommendations are the
    items the LLM's tool calls returned, constrained and fused in code; titles the LLM names
    come first.
    """

    name = "tool-calling"

    def __init__(self, core: AgentCore) -> None:
        self.core = core

    def run(self, turn: Turn) -> Reply:
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

        from genrec.llm import LLMError, LLMResponseError, LLMUnavailableError

        core = self.core
        early = core.understand(turn, use_llm=False)
        if early is not None:
            return early
        if not (core.has_llm and getattr(core.llm, "supports_tools", False)):
            turn.warnings.append("the LLM backend has no tool calling; used the guided policy")
            return core.answer(turn, core.candidates(turn))
        system = prompts.SYSTEM_PROMPT.format(catalog=core.catalog.name,
                                              state=turn.state.summary(core.catalog))
        msgs: list[Any] = [SystemMessage(system)]
        for m in turn.history[-core.config.history_messages:] if core.config.history_messages else []:
            msgs.append(HumanMessage(m["content"]) if m["role"] == "user" else AIMessage(m["content"]))
        msgs.append(HumanMessage(turn.message))
        tools = langchain_tools(core.toolkit, lambda: turn.state)
        pool: dict[int, Candidate] = {}
        repairs = 1
        final: str | None = None
        fallback_reason = None
        for _ in range(core.config.max_tool_rounds):
            turn.llm_calls += 1
            started = time.perf_counter()
            try:
                res = core.llm.invoke(msgs, tools=tools)
            except LLMResponseError as exc:
                if exc.invalid_tool_calls and repairs > 0:
                    repairs -= 1
                    turn.warnings.append(f"invalid tool call repaired: {_short(exc)}")
                    msgs.append(HumanMessage(
                        "Your last tool call was invalid: " + "; ".join(
                            f"{c.get('name')}: {c.get('error')}" for c in exc.invalid_tool_calls)
                        + ". Call the tools again with valid JSON arguments that match their "
                          "schemas, or answer without tools."))
                    continue
                fallback_reason = f"invalid tool calls after one repair ({_short(exc)})"
                break
            except LLMUnavailableError as exc:
                turn.llm_ok = False
                fallback_reason = f"LLM unavailable ({_short(exc)})"
                break
            except LLMError as exc:
                fallback_reason = f"LLM error ({_short(exc)})"
                break
            except Exception as exc:  # noqa: BLE001
                fallback_reason = f"LLM call failed ({type(exc).__name__}: {_short(exc)})"
                break
            finally:
                turn.tick("llm_loop", started)
            if not res.tool_calls:
                final = res.text
                break
            msgs.append(res.message if res.message is not None else AIMessage(
                content=res.text, tool_calls=[{"name": c.name, "args": c.arguments, "id": c.id}
                                              for c in res.tool_calls]))
            invalid = 0
            for n, call in enumerate(res.tool_calls):
                r = core.toolkit.run(call.name, call.arguments, turn.state, trace=turn.trace,
                                     allow_repeats=turn.allow_repeats)
                msgs.append(ToolMessage(r.content, tool_call_id=call.id or f"call_{n}",
                                        name=call.name))
                if r.ok and call.name in LISTING_TOOLS:
                    for h in r.hits:
                        c = pool.setdefault(h.item_id, Candidate(h.item_id))
                        c.sources.add(call.name)
                        if h.source == "ranker":
                            c.ranker_score, c.predicted_rating = h.score, h.predicted_rating
                        elif h.source == "search":
                            c.search_score = max(c.search_score or h.score, h.score)
                elif not r.ok:
                    invalid += 1
            if invalid == len(res.tool_calls):
                if repairs > 0:
                    repairs -= 1
                    turn.warnings.append("tool call arguments were invalid; asked the LLM to "
                                         "repair them")
                else:
                    fallback_reason = "tool call arguments invalid after one repair"
                    break
        else:
            turn.warnings.append(f"the LLM used all {core.config.max_tool_rounds} tool rounds")
        if fallback_reason is not None:
            turn.warnings.append(f"{fallback_reason}; answered with the guided policy")
            turn.policy = "guided"
            return core.answer(turn, core.candidates(turn), use_llm=turn.llm_ok)
        started = time.perf_counter()
        ranked = core.score_pool(turn, pool)
        turn.tick("candidates", started)
        if not ranked:
            if final and final.strip().endswith("?") and core.check(final, set(turn.state.liked)).ok:
                return core.reply(turn, final.strip(), question=True)
            if pool:
                turn.warnings.append("the LLM's tool results broke the user's constraints; "
                                     "used the guided candidates")
            return core.answer(turn, core.candidates(turn), intro=None)
        named = []
        if final:
            pool_ids = {c.item_id for c in ranked}
            for m in core.extractor.find_titles(final):
                named += [i for i in m.ids if i in pool_ids and i not in named]
        order = {i: n for n, i in enumerate(named)}
        ranked.sort(key=lambda c: (order.get(c.item_id, len(order)), -c.score, c.item_id))
        return core.answer(turn, ranked, intro=final)
