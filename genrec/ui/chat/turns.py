"""The chat app's turn flow: a message streamed through the recommender in a worker thread, its
stages and Stop, a message sent during a turn queued, and the page's start, reset and shortlist.

`ChatTurns` holds the handlers the page's events call; `ChatPage` names the components they update.
"""

from __future__ import annotations

import html
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import gradio as gr
from gradio.components import Component

from genrec.ui.chat.cards import card_of, cards_of_state, shortlist_html
from genrec.ui.chat.notices import user_notices
from genrec.ui.chat.preference_chips import PrefChip, chips_of, remove_preference
from genrec.ui.chat.text import (
    banner_of,
    chip_updates,
    display_history,
    literal,
    session_label,
    stored_trace_markdown,
    streamed_lead,
    too_long_note,
    trace_markdown,
)

if TYPE_CHECKING:
    from genrec.agent import Recommender, Reply

log = logging.getLogger(__name__)

TURN_FAILED = "Sorry, I could not answer that just now; please try again."
STOPPED = "Stopped: nothing from that message was kept."
TOO_LATE = "That answer was already complete when you pressed Stop, so it is kept."
QUEUED = "Queued, sent when the current answer is done: “{}”"
QUEUE_WAIT_S = 600.0
STAGES = {"understanding": "Reading your message…", "searching": "Searching and ranking…",
          "writing": "Writing the answer…"}

Updates = dict[Component, object]
"""One update of the page: a component and its new value (or `gr.update(...)`)."""

Part = tuple[str, object]
"""What a turn's worker thread queues: ("stage", name), ("part", text or Reply), ("error",
exception) or ("done", None)."""


def new_session_id() -> str:
    return uuid.uuid4().hex


@dataclass
class ChatPage:
    """The components a turn, a reset and a resume update (created in `build_blocks`)."""

    session: gr.Textbox
    cards_state: gr.State
    prefs_state: gr.State
    banner: gr.Markdown
    chatbot: gr.Chatbot
    chips: list[gr.Button]
    working: gr.Markdown
    box: gr.Textbox
    send: gr.Button
    stop: gr.Button
    note: gr.Markdown
    new: gr.Button
    shortlist_btn: gr.Button
    shortlist: gr.HTML
    session_md: gr.Markdown
    trace: gr.Markdown

    def turn_outputs(self) -> list[Component]:
        """What a turn updates, in the order its events list them."""
        return [self.box, self.chatbot, self.session, self.cards_state, self.prefs_state,
                self.trace, self.banner, self.session_md, self.send, self.stop, self.working,
                self.note, *self.chips]

    def reset_outputs(self) -> list[Component]:
        """What "New conversation" and the chat's trash button reset (`new_conversation`)."""
        return [self.session, self.chatbot, self.cards_state, self.prefs_state, self.trace,
                self.banner, self.box, self.session_md, self.note, self.shortlist, *self.chips]

    def restore_outputs(self) -> list[Component]:
        """What the page's load fills in (`restore`)."""
        return [self.session, self.chatbot, self.cards_state, self.prefs_state, self.session_md,
                self.trace, self.box, self.send]


def preference_chips_of(recommender: Recommender, session_id: str) -> list[dict[str, object]]:
    """The session's stated preferences as chip dicts (none when the session cannot be read)."""
    try:
        state = recommender.state(session_id)
    except Exception:  # noqa: BLE001 - no chips rather than an error
        return []
    return [c.model_dump() for c in chips_of(state, recommender.catalog)]


def preference_remover(
    recommender: Recommender, chip: PrefChip
) -> Callable[[str], tuple[object, object]]:
    """The handler of a preference chip's ×: the session's chips without it, or a banner."""

    def remove(session_id: str) -> tuple[object, object]:
        try:
            remove_preference(recommender, session_id, chip)
        except Exception:  # noqa: BLE001 - a banner, not a traceback
            log.exception("removing a preference failed")
            return gr.skip(), banner_of(
                ["Sorry, I could not change that; please try again."]
            )
        return preference_chips_of(recommender, session_id), gr.skip()

    return remove


class ChatTurns:
    """The handlers of the page's events: turns (streamed, stoppable, queued while one runs),
    Stop, the shortlist, a new conversation and the resume on load."""

    def __init__(self, recommender: Recommender, page: ChatPage, *, backend: str,
                 dataset: str) -> None:
        self.recommender = recommender
        self.page = page
        self.backend = backend
        self.dataset = dataset
        self.max_chars = int(recommender.config.max_message_chars)  # longer: refused, not cut
        self.running: dict[str, threading.Event] = {}  # session id -> its turn's stop signal

    def label(self, sid: str) -> str:
        return session_label(sid, self.backend, self.dataset)

    def run_stream(self, session_id: str, message: str, stop_signal: threading.Event,
                   parts: queue.Queue[Part]) -> None:
        """The turn in a worker thread: its stages, text deltas and Reply into `parts`."""
        try:
            for part in self.recommender.stream(
                session_id, message, on_stage=lambda name: parts.put(("stage", name)),
                cancel=stop_signal,
            ):
                parts.put(("part", part))
        except Exception as exc:  # noqa: BLE001 - shown as a banner by the caller
            parts.put(("error", exc))
        finally:
            parts.put(("done", None))

    def respond(self, message: str, session_id: str, *, from_box: bool) -> Iterator[Updates]:
        """Stream one turn: the stage shown while it runs and Stop offered; the chat shows
        the answer's lead as it arrives; cards, chips, trace and banner at the end."""
        p = self.page
        message = (message or "").strip()
        session_id = session_id or new_session_id()
        if not message:
            return
        if len(message) > self.max_chars:  # refused, kept in the box: never cut silently
            yield {p.note: gr.update(value=too_long_note(len(message), self.max_chars),
                                     visible=True)}
            return
        if session_id in self.running:  # typed during a turn: sent after it, never lost
            yield {
                **({p.box: gr.update(value="")} if from_box else {}),
                p.note: gr.update(value=QUEUED.format(html.escape(message[:200])), visible=True),
            }
            deadline = time.monotonic() + QUEUE_WAIT_S
            while session_id in self.running and time.monotonic() < deadline:
                time.sleep(0.1)
        stop_signal = threading.Event()
        self.running[session_id] = stop_signal
        try:
            kept = len(self.recommender.history(session_id))
            past = display_history(self.recommender.history(session_id))
        except Exception:  # noqa: BLE001 - a fresh session has no history
            kept, past = 0, []
        chat = past + [{"role": "user", "content": literal(message)},
                       {"role": "assistant", "content": ""}]
        start: Updates = {p.box: gr.update(value="")} if from_box else {}
        yield {**start, p.chatbot: chat, p.session: session_id,
               p.session_md: self.label(session_id), p.send: gr.update(interactive=False),
               p.stop: gr.update(visible=True),
               p.working: gr.update(value=f"⏳ {STAGES['understanding']}", visible=True),
               p.note: gr.update(value="", visible=False),
               **dict(zip(p.chips, chip_updates([])))}
        parts: queue.Queue[Part] = queue.Queue()
        threading.Thread(target=self.run_stream,
                         args=(session_id, message, stop_signal, parts), daemon=True).start()
        try:
            yield from self.updates(session_id, chat, parts, stop_signal, past, kept)
        finally:  # after the last update was sent: a queued message may go now
            if self.running.get(session_id) is stop_signal:
                self.running.pop(session_id, None)

    def updates(self, session_id: str, chat: list[dict[str, str]], parts: queue.Queue[Part],
                stop_signal: threading.Event, past: list[dict[str, str]], kept: int
                ) -> Iterator[Updates]:
        """The running turn's updates: its stage, the answer's lead as it streams, then the
        cards, preference chips, trace, banner and answer buttons.

        Stop shows "Stopped" at once over the conversation as it was (the old cards stay);
        the turn is then followed to its end unseen, and only if it had been saved before
        Stop reached it is it shown whole, with a note saying so."""
        p = self.page
        done: Updates = {p.send: gr.update(interactive=True), p.stop: gr.update(visible=False),
                         p.working: gr.update(visible=False)}
        reply: Reply | None = None
        text, stage, stopped, finished = "", "understanding", False, False
        shown = None  # the stage last put on the page: each one is shown, however fast the turn
        while not finished:
            batch = _drain(parts)
            for kind, part in batch:
                if kind == "error":
                    log.error("recommender failed", exc_info=part)  # type: ignore[arg-type]
                    if not stopped:
                        chat[-1]["content"] = "Sorry, something went wrong on my side."
                        yield {p.chatbot: chat, p.banner: banner_of([TURN_FAILED]), **done}
                    return
                finished = finished or kind == "done"
                stage = str(part) if kind == "stage" else stage
                if kind == "part" and isinstance(part, str):
                    text, stage = text + part, "writing"
                elif kind == "part":
                    reply = part  # type: ignore[assignment]
            if stop_signal.is_set() and not stopped:
                stopped = True
                yield {p.chatbot: past + [{"role": "assistant", "content": STOPPED}], **done}
            elif batch and not stopped and (not finished or stage != shown):
                chat[-1]["content"] = streamed_lead(text)
                shown = stage
                # every update says the turn is running (working line, Stop): one stray update
                # of a turn that just ended (its "done") cannot leave the next turn unshown
                yield {
                    p.chatbot: chat,
                    p.working: gr.update(value=f"⏳ {STAGES.get(stage, stage)}", visible=True),
                    p.stop: gr.update(visible=not stop_signal.is_set()),
                }
        if stopped and len(self.recommender.history(session_id)) == kept:
            return  # nothing was saved: "Stopped" stands
        if reply is None:
            yield done
            return
        yield self.answered(session_id, chat, reply, stopped=stopped, done=done)

    def answered(self, session_id: str, chat: list[dict[str, str]], reply: Reply, *,
                 stopped: bool, done: Updates) -> Updates:
        """The finished turn's page: its chat text, cards (an answer without picks keeps the
        cards shown), preference chips, trace, banner and answer buttons."""
        p = self.page
        chat[-1]["content"] = reply.chat_text or chat[-1]["content"]
        cards: Updates = {p.cards_state: [card_of(r) for r in reply.recommendations]} if (
            reply.recommendations) else {}
        late: Updates = {p.note: gr.update(value=TOO_LATE, visible=True)} if stopped else {}
        return {
            p.chatbot: chat,
            **cards,
            p.prefs_state: preference_chips_of(self.recommender, session_id),
            p.trace: trace_markdown(reply),
            p.banner: banner_of(user_notices(list(reply.warnings))),
            **dict(zip(p.chips, chip_updates(list(reply.suggested_answers)))),
            **late,
            **done,
        }

    def respond_box(self, message: str, session_id: str) -> Iterator[Updates]:
        yield from self.respond(message, session_id, from_box=True)

    def respond_chip(self, answer: str, session_id: str) -> Iterator[Updates]:
        yield from self.respond(answer, session_id, from_box=False)

    def stop_turn(self, session_id: str) -> object:
        """Ask the running turn to stop; the turn's own event shows what is kept (`updates`)."""
        signal = self.running.get(session_id)
        if signal is not None:
            signal.set()
        return gr.update(visible=False)

    def show_shortlist(self, session_id: str) -> str:
        try:
            return shortlist_html(self.recommender, session_id)
        except Exception:  # noqa: BLE001 - a note, not a traceback
            log.exception("shortlist failed")
            return "<p><em>Could not compute the shortlist; try again.</em></p>"

    def new_conversation(self) -> tuple[object, ...]:
        sid = new_session_id()
        return (sid, [], [], [], trace_markdown(None), banner_of([]), "", self.label(sid),
                gr.update(value="", visible=False), "", *chip_updates([]))

    def restore(self, stored: str) -> tuple[object, ...]:
        """The browser's session, resumed (chat, cards, chips, trace), or a fresh one."""
        rec = self.recommender
        sid = stored if isinstance(stored, str) else ""
        try:
            known = bool(sid) and rec.session_exists(rec.check_session_id(sid))
        except Exception:  # noqa: BLE001 - a bad stored id: start over
            known = False
        ready = (gr.update(interactive=True), gr.update(interactive=True))  # box, send
        if not known:
            sid = new_session_id()
            return sid, [], [], [], self.label(sid), trace_markdown(None), *ready
        try:
            chat = display_history(rec.history(sid))
            cards = cards_of_state(rec, sid)
            steps = stored_trace_markdown(rec.last_trace(sid))
        except Exception:  # noqa: BLE001 - resume what can be resumed
            log.exception("resuming session failed")
            chat, cards, steps = [], [], trace_markdown(None)
        return sid, chat, cards, preference_chips_of(rec, sid), self.label(sid), steps, *ready


def _drain(parts: queue.Queue[Part], wait: float = 0.1) -> list[Part]:
    """What a turn's thread has queued: up to `wait` s for the first part, then all the rest (a
    finished turn's words arrive as one update, not one each)."""
    try:
        batch = [parts.get(timeout=wait)]
    except queue.Empty:
        return []
    while True:
        try:
            batch.append(parts.get_nowait())
        except queue.Empty:
            return batch
