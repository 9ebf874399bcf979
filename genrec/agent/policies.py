"""The decide stage: the `guided` policy (understand -> gather candidates -> respond) and the
`tool-calling` policy (the LLM picks the operations; code checks and completes its work).

Both compose the same stages; every constraint is enforced in code after any LLM step, any LLM
fault falls back to templated text, and each returns a `Decision`: the response and the turn's
state changes, which only the commit (`genrec.agent.state.commit`) writes.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from genrec.agent import prompts
from genrec.agent.candidates import Candidate, CandidatePool, gather, score_pool
from genrec.agent.elicitation import choose_question
from genrec.agent.llm_tools import LISTING_TOOLS, ToolResult, ToolRunner, langchain_tools
from genrec.agent.operations import AgentRanker, Profile, Toolkit
from genrec.agent.rationales.evidence import item_nouns
from genrec.agent.rationales.fact_check import FactChecker
from genrec.agent.respond import answer, ask
from genrec.agent.state import DialogueState, TurnChanges, commit
from genrec.agent.turn import Response, TurnInput, TurnReport, short
from genrec.agent.understand import Understood, understand
from genrec.agent.understanding.extraction import CatalogExtractor
from genrec.data import Catalog
from genrec.knobs import AgentConfig

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from genrec.llm.base import LLMBackend
    from genrec.retrieval.store import ChromaStore

__all__ = ["POLICIES", "Agent", "AgentConfig", "Decision", "guided", "tool_calling"]

POLICIES = ("guided", "tool-calling")


@dataclass(frozen=True)
class Agent:
    """The parts every stage uses: typed operations, the extractor, the fact checker, the LLM."""

    toolkit: Toolkit
    extractor: CatalogExtractor
    checker: FactChecker
    llm: LLMBackend | None
    config: AgentConfig

    @classmethod
    def build(cls, catalog: Catalog, ranker: AgentRanker, store: ChromaStore,
              llm: LLMBackend | None, config: AgentConfig) -> Agent:
        toolkit = Toolkit(catalog, ranker, store)
        extractor = CatalogExtractor(catalog, popularity=toolkit.popularity)
        return cls(toolkit, extractor,
                   FactChecker(extractor, prompts.leak_snippets()), llm, config)


@dataclass
class Decision:
    """A policy's result: what to say, the turn's state changes (for the commit) and the policy
    that answered ("guided" when the tool-calling policy handed the turn over)."""

    response: Response
    changes: TurnChanges = field(default_factory=TurnChanges)
    policy: str = "guided"


def _decided(changes: TurnChanges, response: Response, policy: str) -> Decision:
    """The decision for a response: what it shows and what it asks join the turn's changes."""
    if response.recommendations:
        changes.shown = [r.item_id for r in response.recommendations]
    if response.asked is not None:
        changes.asked = response.asked
    return Decision(response, changes, policy)


def guided(agent: Agent, turn: TurnInput, report: TurnReport, prior: DialogueState) -> Decision:
    """understand -> gather candidates -> respond, with at most 2 LLM calls (extraction, writer)."""
    report.stage("understanding")
    u = understand(turn, report, prior, extractor=agent.extractor, toolkit=agent.toolkit,
                   use_llm=agent.config.llm_extraction)
    early = _early(agent, turn, report, u, starter=True)
    if early is not None:
        return _decided(u.changes, early, "guided")
    report.stage("searching")
    pool = _candidates(agent, report, u.state, u.allow_repeats, agent.toolkit.profile(u.state))
    response = _answer(agent, turn, report, u.state, pool.candidates)
    if u.vague and response.recommendations:
        # "what would you recommend?": crowd favourites, and a question
        question = ask(turn, report, agent.checker, agent.config)
        both = Response(f"{response.text}\n\n{question.text}", response.recommendations,
                        question=True)
        return _decided(u.changes, both, "guided")
    return _decided(u.changes, _ask_too(agent, u.state, pool, response), "guided")


def _ask_too(
    agent: Agent, state: DialogueState, pool: CandidatePool, response: Response
) -> Response:
    """One question alongside the recommendations, when the elicitation policy finds one worth
    it."""
    if not (agent.config.ask_questions and response.recommendations) or response.question:
        return response
    q = choose_question(state, pool.ranked or pool.candidates, agent.toolkit.catalog,
                        agent.config.question_attributes)
    if q is None:
        return response
    return Response(f"{response.text}\n\n{q.text}", response.recommendations, question=True,
                    suggested_answers=q.options, asked=q.attribute)


def _early(agent: Agent, turn: TurnInput, report: TurnReport, u: Understood, *,
           starter: bool = False) -> Response | None:
    """A question instead of recommendations (refusal, which-one, or nothing to go on), or only
    the answers when the message only asked about items; other answers go before the reply with
    the understanding's notes. With `starter`, a message with nothing to go on that asks for
    picks ("what would you recommend?") goes on to a list (the most popular items) and the
    question goes with it."""
    report.notes.extend(u.notes)
    if u.only_answers:
        return Response("\n".join(u.answers))
    report.notes.extend(u.answers)
    if u.question is not None:
        return Response(u.question, question=True, suggested_answers=u.suggested)
    if u.vague and not (starter and wants_picks(turn.message)):
        return ask(turn, report, agent.checker, agent.config)
    return None


_WANTS_PICKS = re.compile(
    r"\b(?:recomm?end\w*|reccomm?end\w*|recomend\w*|suggest\w*|ideas"
    r"|something (?:good |nice |great )?to (?:watch|read|see)"
    r"|(?:a|some|any) (?:good |nice |great |new )?(?:movies?|films?|books?|items?)"
    r"|(?:watch|see|read) (?:tonight|this weekend|later))\b",
    re.I,
)


def wants_picks(message: str) -> bool:
    """Does a message with nothing to rank on still ask for picks (not only "hi")?

    >>> wants_picks("What would you recommend?"), wants_picks("i need a nice movie to watch")
    (True, True)
    >>> wants_picks("hi"), wants_picks("hello how are you"), wants_picks("")
    (False, False, False)
    """
    return bool(_WANTS_PICKS.search(message or ""))


def _candidates(agent: Agent, report: TurnReport, state: DialogueState, allow_repeats: bool,
                profile: Profile | None) -> CandidatePool:
    """The last list again when asked for, else a fresh pool (search ∪ ranker ∪ popular); its
    operations and time go to the report."""
    cfg = agent.config
    if allow_repeats and state.last_recommended:
        started = time.perf_counter()
        again = score_pool(agent.toolkit, state,
                           {i: Candidate(i, sources={"repeat"}) for i in state.last_recommended},
                           config=cfg.candidates, profile=profile, allow_repeats=True)
        order = {i: n for n, i in enumerate(state.last_recommended)}
        again.sort(key=lambda c: order[c.item_id])
        if again:
            report.tick("candidates", started)
            return CandidatePool(again[: cfg.k], profile)
    pool = gather(agent.toolkit, state, config=cfg.candidates, k=cfg.k,
                  allow_repeats=allow_repeats, profile=profile)
    report.trace.extend(pool.trace)
    report.add_ms("candidates", pool.ms)
    return pool


def _answer(agent: Agent, turn: TurnInput, report: TurnReport, state: DialogueState,
            cands: list[Candidate], *, intro: str | None = None, use_llm: bool = True
            ) -> Response:
    return answer(turn, report, state, cands, toolkit=agent.toolkit, checker=agent.checker,
                  config=agent.config, intro=intro, use_llm=use_llm)


def tool_calling(agent: Agent, turn: TurnInput, report: TurnReport, prior: DialogueState
                 ) -> Decision:
    """The LLM decides which tools to call (bounded rounds); code checks and completes its work.

    Invalid tool calls (malformed JSON, unknown tools, arguments that fail validation) get one
    repair round; a second failure hands the turn to the guided policy. Recommendations are the
    items the LLM's tool calls returned, constrained and fused in code; titles the LLM names
    come first. A record_feedback call proposes a change that joins the turn's changes.
    """
    u = understand(turn, report, prior, extractor=agent.extractor, toolkit=agent.toolkit,
                   use_llm=False)
    early = _early(agent, turn, report, u)
    if early is not None:
        return _decided(u.changes, early, "tool-calling")
    tools = _ToolTurn(agent, turn, report, prior, u)
    if not (turn.budget.has_llm and getattr(agent.llm, "supports_tools", False)):
        report.warnings.append("the LLM backend has no tool calling; used the guided policy")
        return tools.guided_answer("tool-calling")
    final, fallback_reason = tools.rounds()
    if fallback_reason is not None:
        report.warnings.append(f"{fallback_reason}; answered with the guided policy")
        return tools.guided_answer("guided", use_llm=turn.budget.up)
    return tools.conclude(final)


class _ToolTurn:
    """One tool-calling turn: the tool rounds with the LLM, the items its calls found, and the
    state its record_feedback calls lead to (their changes join the turn's changes)."""

    def __init__(self, agent: Agent, turn: TurnInput, report: TurnReport, prior: DialogueState,
                 u: Understood) -> None:
        self.agent, self.turn, self.report, self.prior = agent, turn, report, prior
        self.changes, self.state, self.allow_repeats = u.changes, u.state, u.allow_repeats
        self.runner = ToolRunner(agent.toolkit, u.state, allow_repeats=u.allow_repeats,
                                 trace=report.trace, message=turn.message)
        self.found: dict[int, Candidate] = {}

    def execute(self, name: str, arguments: object) -> ToolResult:
        """The one path a tool call takes: run it, take its state change, keep its items."""
        res = self.runner.run(name, arguments)
        if res.change is not None:
            self.changes.feedback.append(res.change)
            self.state = commit(self.prior, self.changes)
            self.runner.use(self.state)
        if res.ok and name in LISTING_TOOLS:
            for h in res.hits:
                c = self.found.setdefault(h.item_id, Candidate(h.item_id))
                c.sources.add(name)
                c.add_hit(h)
        return res

    def _messages(self) -> list[BaseMessage]:
        """The system prompt (with the state), the recent history and the user's message."""
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        cfg, catalog = self.agent.config, self.agent.toolkit.catalog
        noun, nouns = item_nouns(catalog)
        msgs: list[BaseMessage] = [SystemMessage(prompts.SYSTEM_PROMPT.format(
            catalog=catalog.name, state=self.state.summary(catalog), noun=noun, nouns=nouns))]
        for m in self.turn.history[-cfg.history_messages:] if cfg.history_messages else []:
            msgs.append(HumanMessage(m["content"]) if m["role"] == "user"
                        else AIMessage(m["content"]))
        msgs.append(HumanMessage(self.turn.message))
        return msgs

    def rounds(self) -> tuple[str | None, str | None]:
        """Run the tool rounds: (the LLM's final text, why the guided policy must answer)."""
        from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

        from genrec.llm import LLMError, LLMResponseError, LLMUnavailableError

        cfg, report = self.agent.config, self.report
        msgs = self._messages()
        tools = langchain_tools(lambda name, arguments: self.execute(name, arguments).content,
                                item_nouns(self.agent.toolkit.catalog)[0])
        repairs = 1
        for _ in range(cfg.max_tool_rounds):
            started = time.perf_counter()
            try:
                res = self.turn.budget.invoke(msgs, tools=tools)
            except LLMResponseError as exc:
                if exc.invalid_tool_calls and repairs > 0:
                    repairs -= 1
                    report.warnings.append(f"invalid tool call repaired: {short(exc)}")
                    msgs.append(HumanMessage(
                        "Your last tool call was invalid: " + "; ".join(
                            f"{c.get('name')}: {c.get('error')}" for c in exc.invalid_tool_calls)
                        + ". Call the tools again with valid JSON arguments that match their "
                          "schemas, or answer without tools."))
                    continue
                return None, f"invalid tool calls after one repair ({short(exc)})"
            except LLMUnavailableError as exc:
                return None, f"LLM unavailable ({short(exc)})"
            except LLMError as exc:
                return None, f"LLM error ({short(exc)})"
            except Exception as exc:  # noqa: BLE001
                return None, f"LLM call failed ({type(exc).__name__}: {short(exc)})"
            finally:
                report.tick("llm_loop", started)
            if not res.tool_calls:
                return res.text, None
            msgs.append(res.message if res.message is not None else AIMessage(
                content=res.text, tool_calls=[{"name": c.name, "args": c.arguments, "id": c.id}
                                              for c in res.tool_calls]))
            invalid = 0
            for n, call in enumerate(res.tool_calls):
                r = self.execute(call.name, call.arguments)
                msgs.append(ToolMessage(r.content, tool_call_id=call.id or f"call_{n}",
                                        name=call.name))
                invalid += not r.ok
            if invalid == len(res.tool_calls):
                if repairs == 0:
                    return None, "tool call arguments invalid after one repair"
                repairs -= 1
                report.warnings.append(
                    "tool call arguments were invalid; asked the LLM to repair them")
        report.warnings.append(f"the LLM used all {cfg.max_tool_rounds} tool rounds")
        return None, None

    def guided_answer(self, policy: str, *, use_llm: bool = True) -> Decision:
        """The guided candidates and answer, on the state the tool calls led to."""
        pool = _candidates(self.agent, self.report, self.state, self.allow_repeats,
                           self.runner.profile())
        response = _answer(self.agent, self.turn, self.report, self.state, pool.candidates,
                           use_llm=use_llm)
        return _decided(self.changes, response, policy)

    def conclude(self, final: str | None) -> Decision:
        """The items the tool calls found, constrained and fused in code, titles the LLM named
        first; a question the LLM asked instead when they found nothing allowed."""
        agent, state = self.agent, self.state
        started = time.perf_counter()
        ranked = score_pool(agent.toolkit, state, self.found, config=agent.config.candidates,
                            profile=self.runner.profile(), allow_repeats=self.allow_repeats)
        self.report.tick("candidates", started)
        if not ranked:
            if (final and final.strip().endswith("?")
                    and agent.checker.check(final, set(state.liked)).ok):
                return Decision(Response(final.strip(), question=True), self.changes,
                                "tool-calling")
            if self.found:
                self.report.warnings.append("the LLM's tool results broke the user's "
                                            "constraints; used the guided candidates")
            return self.guided_answer("tool-calling")
        named: list[int] = []
        if final:
            pool_ids = {c.item_id for c in ranked}
            for mention in agent.extractor.find_titles(final):
                named += [i for i in mention.ids if i in pool_ids and i not in named]
        order = {i: n for n, i in enumerate(named)}
        ranked.sort(key=lambda c: (order.get(c.item_id, len(order)), -c.score, c.item_id))
        response = _answer(agent, self.turn, self.report, state, ranked, intro=final)
        return _decided(self.changes, response, "tool-calling")
