"""Dialogue policies: `guided` (understand -> gather candidates -> respond) and `tool-calling`.

Both compose the same stages; every constraint is enforced in code after any LLM step, any LLM
fault falls back to templated text, and each returns the turn's new state in one `Outcome`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from genrec.agent import prompts
from genrec.agent.candidates import Candidate, CandidatePool, gather, score_pool
from genrec.agent.elicitation import choose_question
from genrec.agent.llm_tools import LISTING_TOOLS, ToolResult, ToolRunner, langchain_tools
from genrec.agent.operations import Profile, Toolkit
from genrec.agent.rationales.fact_check import FactChecker
from genrec.agent.rationales.reasons import item_nouns
from genrec.agent.respond import answer, ask
from genrec.agent.state import DialogueState
from genrec.agent.turn import Response, TurnContext, short
from genrec.agent.understand import Understood, understand
from genrec.agent.understanding.extraction import CatalogExtractor
from genrec.knobs import AgentConfig

__all__ = ["POLICIES", "Agent", "AgentConfig", "Outcome", "guided", "tool_calling"]

POLICIES = ("guided", "tool-calling")


@dataclass(frozen=True)
class Agent:
    """The parts every stage uses: typed operations, the extractor, the fact checker, the LLM."""

    toolkit: Toolkit
    extractor: CatalogExtractor
    checker: FactChecker
    llm: Any
    config: AgentConfig

    @classmethod
    def build(cls, catalog: Any, ranker: Any, store: Any, llm: Any, config: AgentConfig) -> Agent:
        extractor = CatalogExtractor(catalog)
        return cls(Toolkit(catalog, ranker, store), extractor,
                   FactChecker(extractor, prompts.leak_snippets()), llm, config)


@dataclass
class Outcome:
    """A policy's result: what to say and the state to save."""

    response: Response
    state: DialogueState


def guided(agent: Agent, ctx: TurnContext, prior: DialogueState) -> Outcome:
    """understand -> gather candidates -> respond, with at most 2 LLM calls (extraction, writer)."""
    ctx.stage("understanding")
    u = understand(ctx.message, prior, extractor=agent.extractor, toolkit=agent.toolkit, ctx=ctx,
                   use_llm=agent.config.llm_extraction)
    early = _early(agent, ctx, u, starter=True)
    if early is not None:
        return Outcome(early, u.state)
    ctx.stage("searching")
    pool = _candidates(agent, ctx, u.state, u.allow_repeats, agent.toolkit.profile(u.state))
    response = _answer(agent, ctx, u.state, pool.candidates)
    if (
        u.vague and response.recommendations
    ):  # "what would you recommend?": crowd favourites, and a question
        question = ask(ctx, agent.checker, agent.config)
        return _finish(
            u.state,
            Response(
                f"{response.text}\n\n{question.text}", response.recommendations, question=True
            ),
        )
    return _finish(u.state, _ask_too(agent, u.state, pool, response))


def _ask_too(
    agent: Agent, state: DialogueState, pool: CandidatePool, response: Response
) -> Response:
    """One question alongside the recommendations, when the elicitation policy finds one worth it."""
    if not (agent.config.ask_questions and response.recommendations) or response.question:
        return response
    q = choose_question(state, pool.ranked or pool.candidates, agent.toolkit.catalog,
                        agent.config.question_attributes)
    if q is None:
        return response
    return Response(f"{response.text}\n\n{q.text}", response.recommendations, question=True,
                    suggested_answers=q.options, asked=q.attribute)


def _early(
    agent: Agent, ctx: TurnContext, u: Understood, *, starter: bool = False
) -> Response | None:
    """A question instead of recommendations (refusal, which-one, or nothing to go on), or only
    the answers when the message only asked about items; other answers go before the reply. With
    `starter`, a message with nothing to go on that asks for picks ("what would you recommend?")
    goes on to a list (the most popular items) and the question goes with it."""
    if u.only_answers:
        return Response("\n".join(u.answers))
    ctx.notes.extend(u.answers)
    if u.question is not None:
        return Response(u.question, question=True, suggested_answers=u.suggested)
    if u.vague and not (starter and wants_picks(ctx.message)):
        return ask(ctx, agent.checker, agent.config)
    return None


_WANTS_PICKS = re.compile(
    r"\b(?:recomm?end\w*|reccomm?end\w*|recomend\w*|suggest\w*|ideas|something (?:good |nice |great )?to "
    r"(?:watch|read|see)|(?:a|some|any) (?:good |nice |great |new )?(?:movies?|films?|books?|items?)|"
    r"(?:watch|see|read) (?:tonight|this weekend|later))\b",
    re.I,
)


def wants_picks(message: str) -> bool:
    """Does a message with nothing to rank on still ask for picks (not only "hi")?

    >>> wants_picks("What would you recommend?"), wants_picks("i really need a nice movie to watch")
    (True, True)
    >>> wants_picks("hi"), wants_picks("hello how are you"), wants_picks("")
    (False, False, False)
    """
    return bool(_WANTS_PICKS.search(message or ""))


def _candidates(agent: Agent, ctx: TurnContext, state: DialogueState, allow_repeats: bool,
                profile: Profile | None) -> CandidatePool:
    """The last list again when asked for, else a fresh pool (search ∪ ranker ∪ popular)."""
    cfg = agent.config
    if allow_repeats and state.last_recommended:
        started = time.perf_counter()
        again = score_pool(agent.toolkit, state,
                           {i: Candidate(i, sources={"repeat"}) for i in state.last_recommended},
                           config=cfg.candidates, profile=profile, allow_repeats=True)
        order = {i: n for n, i in enumerate(state.last_recommended)}
        again.sort(key=lambda c: order[c.item_id])
        if again:
            ctx.tick("candidates", started)
            return CandidatePool(again[: cfg.k], profile)
    return gather(agent.toolkit, state, config=cfg.candidates, k=cfg.k, ctx=ctx,
                  allow_repeats=allow_repeats, profile=profile)


def _answer(agent: Agent, ctx: TurnContext, state: DialogueState, cands: list[Candidate], *,
            intro: str | None = None, use_llm: bool = True) -> Response:
    return answer(ctx, state, cands, toolkit=agent.toolkit, checker=agent.checker,
                  config=agent.config, intro=intro, use_llm=use_llm)


def _finish(state: DialogueState, response: Response) -> Outcome:
    """The one place a turn's answer changes the state: what was shown, what was asked."""
    if response.recommendations:
        state.record_shown([r.item_id for r in response.recommendations])
    if response.asked is not None:
        state.asked.append(response.asked)
        state.asking = response.asked
    return Outcome(response, state)


def tool_calling(agent: Agent, ctx: TurnContext, prior: DialogueState) -> Outcome:
    """The LLM decides which tools to call (bounded rounds); code checks and completes its work.

    Invalid tool calls (malformed JSON, unknown tools, arguments that fail validation) get one
    repair round; a second failure hands the turn to the guided policy. Recommendations are the
    items the LLM's tool calls returned, constrained and fused in code; titles the LLM names
    come first. A record_feedback call proposes a change that is applied here, to the turn's state.
    """
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

    from genrec.llm import LLMError, LLMResponseError, LLMUnavailableError

    cfg, tk = agent.config, agent.toolkit
    u = understand(ctx.message, prior, extractor=agent.extractor, toolkit=tk, ctx=ctx,
                   use_llm=False)
    early = _early(agent, ctx, u)
    if early is not None:
        return Outcome(early, u.state)
    state = u.state
    runner = ToolRunner(
        tk, state, allow_repeats=u.allow_repeats, trace=ctx.trace, message=ctx.message
    )
    if not (ctx.budget.has_llm and getattr(agent.llm, "supports_tools", False)):
        ctx.warnings.append("the LLM backend has no tool calling; used the guided policy")
        pool = _candidates(agent, ctx, state, u.allow_repeats, runner.profile())
        return _finish(state, _answer(agent, ctx, state, pool.candidates))
    found: dict[int, Candidate] = {}

    def execute(name: str, arguments: Any) -> ToolResult:
        """The one path a tool call takes: run it, apply its state change, keep its items."""
        nonlocal state
        res = runner.run(name, arguments)
        if res.change is not None:
            state = state.model_copy(deep=True)
            state.record_feedback(res.change)
            runner.use(state)
        if res.ok and name in LISTING_TOOLS:
            for h in res.hits:
                c = found.setdefault(h.item_id, Candidate(h.item_id))
                c.sources.add(name)
                c.add_hit(h)
        return res

    noun, nouns = item_nouns(tk.catalog)
    msgs: list[Any] = [SystemMessage(prompts.SYSTEM_PROMPT.format(
        catalog=tk.catalog.name, state=state.summary(tk.catalog), noun=noun, nouns=nouns))]
    for m in ctx.history[-cfg.history_messages:] if cfg.history_messages else []:
        msgs.append(HumanMessage(m["content"]) if m["role"] == "user" else AIMessage(m["content"]))
    msgs.append(HumanMessage(ctx.message))
    tools = langchain_tools(lambda name, arguments: execute(name, arguments).content)
    repairs = 1
    final: str | None = None
    fallback_reason = None
    for _ in range(cfg.max_tool_rounds):
        started = time.perf_counter()
        try:
            res = ctx.budget.invoke(msgs, tools=tools)
        except LLMResponseError as exc:
            if exc.invalid_tool_calls and repairs > 0:
                repairs -= 1
                ctx.warnings.append(f"invalid tool call repaired: {short(exc)}")
                msgs.append(HumanMessage(
                    "Your last tool call was invalid: " + "; ".join(
                        f"{c.get('name')}: {c.get('error')}" for c in exc.invalid_tool_calls)
                    + ". Call the tools again with valid JSON arguments that match their "
                      "schemas, or answer without tools."))
                continue
            fallback_reason = f"invalid tool calls after one repair ({short(exc)})"
            break
        except LLMUnavailableError as exc:
            fallback_reason = f"LLM unavailable ({short(exc)})"
            break
        except LLMError as exc:
            fallback_reason = f"LLM error ({short(exc)})"
            break
        except Exception as exc:  # noqa: BLE001
            fallback_reason = f"LLM call failed ({type(exc).__name__}: {short(exc)})"
            break
        finally:
            ctx.tick("llm_loop", started)
        if not res.tool_calls:
            final = res.text
            break
        msgs.append(res.message if res.message is not None else AIMessage(
            content=res.text, tool_calls=[{"name": c.name, "args": c.arguments, "id": c.id}
                                          for c in res.tool_calls]))
        invalid = 0
        for n, call in enumerate(res.tool_calls):
            r = execute(call.name, call.arguments)
            msgs.append(ToolMessage(r.content, tool_call_id=call.id or f"call_{n}", name=call.name))
            invalid += not r.ok
        if invalid == len(res.tool_calls):
            if repairs > 0:
                repairs -= 1
                ctx.warnings.append(
                    "tool call arguments were invalid; asked the LLM to repair them"
                )
            else:
                fallback_reason = "tool call arguments invalid after one repair"
                break
    else:
        ctx.warnings.append(f"the LLM used all {cfg.max_tool_rounds} tool rounds")
    profile = runner.profile()
    if fallback_reason is not None:
        ctx.warnings.append(f"{fallback_reason}; answered with the guided policy")
        ctx.policy = "guided"
        pool = _candidates(agent, ctx, state, u.allow_repeats, profile)
        return _finish(state, _answer(agent, ctx, state, pool.candidates,
                                         use_llm=ctx.budget.up))
    started = time.perf_counter()
    ranked = score_pool(tk, state, found, config=cfg.candidates, profile=profile,
                        allow_repeats=u.allow_repeats)
    ctx.tick("candidates", started)
    if not ranked:
        if (
            final
            and final.strip().endswith("?")
            and agent.checker.check(final, set(state.liked)).ok
        ):
            return Outcome(Response(final.strip(), question=True), state)
        if found:
            ctx.warnings.append("the LLM's tool results broke the user's constraints; "
                                "used the guided candidates")
        pool = _candidates(agent, ctx, state, u.allow_repeats, profile)
        return _finish(state, _answer(agent, ctx, state, pool.candidates))
    named: list[int] = []
    if final:
        pool_ids = {c.item_id for c in ranked}
        for mention in agent.extractor.find_titles(final):
            named += [i for i in mention.ids if i in pool_ids and i not in named]
    order = {i: n for n, i in enumerate(named)}
    ranked.sort(key=lambda c: (order.get(c.item_id, len(order)), -c.score, c.item_id))
    return _finish(state, _answer(agent, ctx, state, ranked, intro=final))
