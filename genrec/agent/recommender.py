"""The Recommender facade: one object the UI, HTTP API, CLI and evaluation harness all call.

It owns the session store and picks the policy; a turn's new state is written only after the
turn succeeds, and no exception from bad input or a failing LLM reaches the caller.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Literal

from genrec.agent.builder import build_parts
from genrec.agent.candidates import standing_list
from genrec.agent.operations import AgentRanker
from genrec.agent.policies import POLICIES, Agent, Decision, guided, tool_calling
from genrec.agent.rationales.evidence import item_nouns
from genrec.agent.replies import Recommendation, Reply
from genrec.agent.sessions.store import SessionStore, check_session_id, store_url
from genrec.agent.state import DialogueState, FeedbackEvent, TurnChanges, commit
from genrec.agent.turn import (
    EMPTY_MESSAGE_ANSWER,
    GUIDED_LLM_CALLS,
    UNREADABLE_MESSAGE_ANSWER,
    LLMBudget,
    Response,
    TurnInput,
    TurnReport,
    clean_message,
    word_deltas,
)
from genrec.config import Settings
from genrec.data import Catalog
from genrec.knobs import AgentConfig

if TYPE_CHECKING:
    from genrec.llm.base import LLMBackend
    from genrec.retrieval.store import ChromaStore

log = logging.getLogger(__name__)

class Recommender:
    """Chat with a conversational recommender over one catalog, ranker, Chroma store and LLM.

    Set-up from settings (builds whatever is missing: data, ranker, index)::

        rec = Recommender.from_settings(llm="none")
        reply = rec.chat("alice", "I loved Star Wars, something from the 80s please")
        [r.title for r in reply.recommendations]      # catalog items, best first
        reply.recommendations[0].rationale            # why, verified against the data
        rec.feedback("alice", reply.recommendations[0].item_id, liked=False)
        rec.chat("alice", "more like that, no horror")

    Or from explicit parts (`genrec.agent.builder.build_parts` wires them, as `from_settings`
    and the evaluation harness do)::

        parts = build_parts(settings)
        rec = Recommender(catalog=parts.catalog, ranker=parts.ranker, store=parts.store,
                          llm=get_llm("none", settings), sessions=SessionStore(None))

    Every front door goes through the public methods: `chat` / `stream` (see its protocol) /
    `achat` / `astream`, `feedback`, `create_session`, `check_session_id`, `state`, `history`,
    `last_trace`, `session_exists`, `delete_session`, `close`.

    Args:
        catalog: the items (genrec.data.Catalog).
        ranker: an MFRanker (any `AgentRanker`: recommend, predict, fold_in, similar_items).
        store: a ChromaStore (search/similar).
        llm: an LLMBackend from `get_llm` (None = no LLM, like the `none` backend).
        policy: "auto" (tool-calling for openai/vllm backends with tool calling, else guided),
            "tool-calling" or "guided".
        sessions: where sessions live (None: in memory).
        config: AgentConfig (k, fusion weights, MMR, limits).
    """

    def __init__(self, *, catalog: Catalog, ranker: AgentRanker, store: ChromaStore,
                 llm: LLMBackend | None = None, policy: str = "auto",
                 sessions: SessionStore | None = None,
                 config: AgentConfig | None = None) -> None:
        if policy not in ("auto", *POLICIES):
            raise ValueError(f"unknown policy {policy!r}; choose auto, tool-calling or guided")
        self.catalog = catalog
        self.ranker = ranker
        self.store = store
        self.llm = llm
        self.config = config or AgentConfig()
        self.sessions = sessions if sessions is not None else SessionStore(None)
        self.agent = Agent.build(catalog, ranker, store, llm, self.config)
        self.toolkit = self.agent.toolkit
        self.backend_name: str = getattr(llm, "name", "none") if llm is not None else "none"
        self.policy_name = self._pick_policy(policy)
        self._closers: list[LLMBackend] = []

    def _pick_policy(self, policy: str) -> str:
        if policy != "auto":
            return policy
        name = self.backend_name.split(":")[0]
        if name in ("openai", "vllm") and getattr(self.llm, "supports_tools", False):
            return "tool-calling"
        return "guided"

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, llm: str | None = None,
                      policy: str | None = None, progress: bool = True,
                      config: AgentConfig | None = None) -> Recommender:
        """Load (building when missing or stale) dataset, ranker, index, LLM and sessions.

        The parts come from `genrec.agent.builder.build_parts` (the ranker is trained on the TRAIN
        part of `settings.split`, never on its test part); `config` defaults to `settings.agent`.
        """
        from genrec.llm import get_llm

        s = settings or Settings()
        parts = build_parts(s, progress=progress)
        backend = get_llm(llm or s.llm, s)
        rec = cls(catalog=parts.catalog, ranker=parts.ranker, store=parts.store, llm=backend,
                  policy=policy or s.policy, sessions=SessionStore(store_url(s)),
                  config=config if config is not None else s.agent)
        rec._closers.append(backend)
        return rec

    def close(self) -> None:
        """Release the LLM backend (a vLLM child server) and the session store."""
        for c in self._closers:
            try:
                c.close()
            except Exception:  # noqa: BLE001
                log.warning("closing %r failed", c, exc_info=True)
        self._closers = []
        self.sessions.close()

    def __enter__(self) -> Recommender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- turns --------------------------------------------------------------------------
    def chat(self, session_id: str, message: str) -> Reply:
        """Answer one message. Never raises for bad input or LLM faults (see Reply.warnings).

        Raises:
            ValueError: `session_id` is empty or blank, longer than 200 characters or has
                control characters.
        """
        self.check_session_id(session_id)
        with self.sessions.lock(session_id):
            return self._turn(session_id, message)

    def _input(self, message: str, history: list[dict[str, str]], policy: str, *,
               llm_up: bool = True) -> TurnInput:
        """A turn's input: the message, its history and an LLM budget for `policy`."""
        limit = self.config.max_tool_rounds + 1 if policy == "tool-calling" else GUIDED_LLM_CALLS
        return TurnInput(message, history, LLMBudget(self.llm, limit=limit, up=llm_up))

    def _decide(self, turn: TurnInput, report: TurnReport, prior: DialogueState,
                readable: bool) -> Decision:
        """The policy's decision, or the question an empty or unreadable message gets."""
        noun, _ = item_nouns(self.catalog)
        if not turn.message:
            text = EMPTY_MESSAGE_ANSWER.format(noun=noun)
            return Decision(Response(text, question=True), policy=self.policy_name)
        if not readable:
            a_noun = f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"
            text = UNREADABLE_MESSAGE_ANSWER.format(a_noun=a_noun)
            return Decision(Response(text, question=True), policy=self.policy_name)
        run = tool_calling if self.policy_name == "tool-calling" else guided
        return run(self.agent, turn, report, prior)

    def _turn(self, session_id: str, message: object,
              on_text: Callable[[str], None] | None = None,
              on_stage: Callable[[str], None] | None = None,
              cancelled: threading.Event | None = None) -> Reply:
        from genrec.llm import meter
        from genrec.llm.breaker import time_budget

        started = time.perf_counter()
        try:
            prior = self.sessions.load_state(session_id)
            history = self.sessions.history(session_id, limit=self.config.history_messages)
        except Exception as exc:  # noqa: BLE001 - a broken session must not crash the caller
            log.exception("loading session %s failed", session_id)
            return Reply(session_id=session_id, backend=self.backend_name,
                         text="Sorry, I couldn't load this conversation; please try again.",
                         warnings=[f"session load failed: {type(exc).__name__}: {exc}"])
        msg = clean_message(message, self.config.max_message_chars)
        turn = self._input(msg.text, history, self.policy_name)
        report = TurnReport(warnings=list(msg.warnings), on_text=on_text, on_stage=on_stage)
        decision: Decision | None
        with meter() as usage, time_budget(self.config.llm_turn_seconds):
            try:
                decision = self._decide(turn, report, prior, msg.readable)
            except Exception as exc:  # noqa: BLE001 - last line of defence: guided, no LLM
                log.exception("policy %s failed in session %s", self.policy_name, session_id)
                report, decision = self._safe_fallback(turn, prior, exc)
        reply = _reply(session_id, self.backend_name, report, decision)
        reply.llm_calls = usage.calls
        reply.prompt_tokens = usage.prompt_tokens
        reply.completion_tokens = usage.completion_tokens
        total = (time.perf_counter() - started) * 1000
        reply.timings["llm"] = round(usage.seconds * 1000, 3)
        try:
            if cancelled is not None and cancelled.is_set():
                reply.warnings.append("the turn was stopped; nothing was saved")
            elif decision is not None:
                self.sessions.save_turn(
                    session_id, commit(prior, decision.changes, end_turn=True),
                    [("user", msg.text or "(empty message)"), ("assistant", reply.text)],
                    [t.model_dump() for t in reply.trace])
        except Exception as exc:  # noqa: BLE001 - state stays as it was before the turn
            log.exception("saving session %s failed", session_id)
            reply.warnings.append(f"the conversation could not be saved ({type(exc).__name__}); "
                                  "your previous state is kept")
        reply.timings["total"] = round((time.perf_counter() - started) * 1000, 3)
        reply.timings["overhead"] = round(max(0.0, total - reply.timings["llm"]), 3)
        return reply

    def _safe_fallback(self, failed: TurnInput, prior: DialogueState, exc: BaseException
                       ) -> tuple[TurnReport, Decision | None]:
        """Guided policy without the LLM; the decision is None when that fails too (state kept)."""
        turn = self._input(failed.message, failed.history, "guided", llm_up=False)
        report = TurnReport(warnings=[
            f"internal error in the {self.policy_name} policy ({type(exc).__name__}: {exc}); "
            "answered without the LLM"])
        try:
            return report, guided(self.agent, turn, report, prior)
        except Exception as exc2:  # noqa: BLE001
            log.exception("guided fallback failed too")
            report.trace, report.timings = [], {}
            report.warnings.append(f"fallback failed: {type(exc2).__name__}")
            return report, None

    def stream(self, session_id: str, message: str,
               on_stage: Callable[[str], None] | None = None,
               cancel: threading.Event | None = None) -> Iterator[str | Reply]:
        """Answer one message as a stream: text deltas (str) as they are produced, then the Reply.

        `on_stage(name)` (optional) is called from the turn's thread as each stage starts:
        "understanding", "searching", "writing". Closing the stream before its Reply, or setting
        `cancel` (a stop button, from any thread), stops the turn: nothing of it is saved.

        The protocol, for every front door that shows a stream:

        1. Zero or more `str` deltas; show them appended, in order. While the writer LLM call
           runs, they are its reply text as the backend produces it (after the notes line, if
           any), sanitised as it goes: blanks at the ends and the newest 60 characters are held
           back, and the stream stops early on a control character, a prompt snippet or a
           too-long text. Without an LLM, or for a question or a tool-calling answer, the
           deltas come word by word once the turn is done.
        2. Exactly one `Reply`, last. The fact check decides what stays: when the concatenated
           deltas equal `reply.text` (the usual case, the rest of the text is streamed first)
           what was shown is final; when they differ, the streamed intro failed the check (or
           the LLM failed mid-answer) and the client must REPLACE everything it showed with
           `reply.text` (checked or templated text).

        Raises:
            ValueError: an invalid session id (see `chat`), on the first `next()`.
        """
        self.check_session_id(session_id)
        parts: queue.Queue = queue.Queue()
        done = object()
        outcome: dict[str, Reply | BaseException] = {}
        cancelled = cancel if cancel is not None else threading.Event()

        def work() -> None:
            try:
                with self.sessions.lock(session_id):
                    outcome["reply"] = self._turn(session_id, message, on_text=parts.put,
                                                  on_stage=on_stage, cancelled=cancelled)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                outcome["error"] = exc
            finally:
                parts.put(done)

        threading.Thread(target=work, daemon=True).start()
        shown = []
        try:
            while (part := parts.get()) is not done:
                shown.append(part)
                yield part
        except GeneratorExit:  # the client stopped the turn: it must not be saved
            cancelled.set()
            raise
        error = outcome.get("error")
        if isinstance(error, BaseException):
            raise error
        reply = outcome["reply"]
        assert isinstance(reply, Reply)
        streamed = "".join(shown)
        if reply.text.startswith(streamed):
            yield from word_deltas(reply.text[len(streamed):])
        yield reply

    async def achat(self, session_id: str, message: str) -> Reply:
        """`chat` in a worker thread (the event loop stays free)."""
        return await asyncio.to_thread(self.chat, session_id, message)

    async def astream(self, session_id: str, message: str) -> AsyncIterator[str | Reply]:
        """`stream` in a worker thread, yielding as the deltas come."""
        q: queue.Queue = queue.Queue()
        done = object()

        def work() -> None:
            try:
                for part in self.stream(session_id, message):
                    q.put(part)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                q.put(exc)
            finally:
                q.put(done)

        threading.Thread(target=work, daemon=True).start()
        while True:
            part = await asyncio.to_thread(q.get)
            if part is done:
                return
            if isinstance(part, BaseException):
                raise part
            yield part

    def remove_preference(self, session_id: str, kind: str, value: str | int | None = None
                          ) -> DialogueState:
        """Drop one stated preference (a chip's ×): it no longer applies from the next turn
        (a genre takes the wishes that asked for it along).

        Raises:
            ValueError: an invalid session id or an unknown kind (see `Preferences.remove`).
        """
        self.check_session_id(session_id)
        with self.sessions.lock(session_id):
            state = self.sessions.load_state(session_id)
            changed = state.remove(kind, value)
            if kind == "genre":  # a wish that asked for the genre ("animated films") goes with it
                reader = self.agent.extractor.genres
                for wish in [w for w in state.wishes if value in reader.read(w).wanted]:
                    changed = state.remove("wish", wish) or changed
            if changed:
                self.sessions.save_turn(session_id, state, [], self.sessions.last_trace(session_id))
        return state

    # ---- standing shortlist ---------------------------------------------------------------
    def shortlist(self, session_id: str, k: int = 10) -> list[Recommendation]:
        """The session's current best k, best first, read-only (the session is not changed).

        The same candidate pipeline as a turn, with repeats allowed: hard constraints (avoided
        genres, year range) and dislikes are obeyed, items the user liked, disliked, has seen or
        excluded (reacted to or named) are left out, and items shown earlier may come back.
        Rationales are templated (no LLM call). An unknown session gives the cold-start list.

        Raises:
            ValueError: an invalid session id (see `chat`) or k < 1.
        """
        self.check_session_id(session_id)
        if int(k) < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        with self.sessions.lock(session_id):
            state = self.sessions.load_state(session_id).model_copy(deep=True)
        return standing_list(self.agent.toolkit, self.config.candidates, state, int(k))

    # ---- sessions -----------------------------------------------------------------------
    def feedback(self, session_id: str, item_id: int, liked: bool, *,
                 source: Literal["api", "chat", "tool"] = "api") -> DialogueState:
        """Record a like/dislike for an item (creating the session when new).

        `source` says where it came from: a button or API call ("api"), a tool call ("tool").

        Raises:
            genrec.data.UnknownItemError: `item_id` is not in the catalog.
        """
        self.check_session_id(session_id)
        self.catalog[item_id]  # raises UnknownItemError with a clear message
        with self.sessions.lock(session_id):
            event = FeedbackEvent(item_id=int(item_id), liked=bool(liked), source=source)
            state = commit(self.sessions.load_state(session_id), TurnChanges(feedback=[event]))
            self.sessions.save_turn(session_id, state, [], self.sessions.last_trace(session_id))
        return state

    def save_state(self, session_id: str, state: DialogueState,
                   messages: list[tuple[str, str]] | None = None) -> None:
        """Store `state` as the session's state and append `messages` ((role, text) pairs) to its
        history, in one write under the session's lock (a front door rebuilding a conversation).

        Raises:
            ValueError: an invalid session id.
        """
        self.check_session_id(session_id)
        with self.sessions.lock(session_id):
            self.sessions.save_turn(session_id, state, list(messages or []), [])

    def state(self, session_id: str) -> DialogueState:
        """The session's dialogue state (an empty state for an unknown session)."""
        return self.sessions.load_state(session_id)

    def history(self, session_id: str) -> list[dict]:
        """[{"role": "user"|"assistant", "content": str}, ...], oldest first ([] when unknown)."""
        return self.sessions.history(session_id)

    def last_trace(self, session_id: str) -> list[dict]:
        return self.sessions.last_trace(session_id)

    def session_exists(self, session_id: str) -> bool:
        return self.sessions.exists(session_id)

    def list_sessions(self) -> list[str]:
        """Every stored session id, most recently updated first."""
        return self.sessions.list_sessions()

    def delete_session(self, session_id: str) -> bool:
        """Delete a session; False when it did not exist."""
        with self.sessions.lock(session_id):
            return self.sessions.delete(session_id)

    def create_session(self, session_id: str) -> DialogueState:
        """Persist an empty session (idempotent: an existing one is left as it is)."""
        self.check_session_id(session_id)
        with self.sessions.lock(session_id):
            state = self.sessions.load_state(session_id)
            if not self.sessions.exists(session_id):
                self.sessions.save_turn(session_id, state, [])
        return state

    check_session_id = staticmethod(check_session_id)



def _reply(session_id: str, backend: str, report: TurnReport, decision: Decision | None
           ) -> Reply:
    """The Reply of a turn: the decision's text after its notes, with the turn's report."""
    if decision is None:
        return Reply(session_id=session_id, backend=backend, policy="guided",
                     text="Sorry, something went wrong on my side; your conversation is kept. "
                          "Please try again.", warnings=report.warnings)
    r = decision.response
    return Reply(
        session_id=session_id,
        text=report.preface() + r.text,
        recommendations=r.recommendations,
        question=r.question,
        suggested_answers=list(r.suggested_answers),
        trace=report.trace,
        timings=report.timings,
        warnings=report.warnings,
        backend=backend,
        policy=decision.policy,
    )
