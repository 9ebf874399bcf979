"""The Gradio chat app: a short streamed answer, cards with 👍/👎, removable preference chips,
the stages of a running turn with a Stop button, and a "why these?" panel.

The browser keeps its session id (gr.BrowserState), so a reload resumes the conversation;
"New conversation" starts a fresh one. The message limit is the recommender's, as everywhere.
"""

from __future__ import annotations

import html
import inspect
import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import gradio as gr

from genrec.ui._cards import card_block, card_of, cards_of_state, shortlist_html
from genrec.ui._chat_text import (
    MAX_CHIPS,
    banner_of,
    chip_updates,
    display_history,
    header_markdown,
    literal,
    session_label,
    stored_trace_markdown,
    streamed_lead,
    too_long_note,
    trace_markdown,
)
from genrec.ui._notices import user_notices
from genrec.ui._state_chips import PrefChip, chips_of, remove_preference

if TYPE_CHECKING:
    from genrec.agent import Recommender
    from genrec.config import Settings

log = logging.getLogger(__name__)

ONE_RENDER_AT_A_TIME: dict[str, Any] = {"concurrency_id": "genrec-render", "concurrency_limit": 1}
"""Gradio's dynamic renders register their buttons' events in one shared table; two at once (two
tabs, or cards and chips together) can fail with "dictionary changed size during iteration" and
leave a page without its cards (gradio-app/gradio#9991), so they take turns. Each is quick."""

TURN_FAILED = "Sorry, I could not answer that just now; please try again."
STOPPED = "Stopped: nothing from that message was kept."
STOPPED_SAVED = "Stopped showing that answer (it may still appear after a reload)."
TOO_LATE = "That answer was already complete when you pressed Stop, so it is kept."
QUEUED = "Queued, sent when the current answer is done: “{}”"
QUEUE_WAIT_S = 600.0
STAGES = {"understanding": "Reading your message…", "searching": "Searching and ranking…",
          "writing": "Writing the answer…"}
STORAGE_KEY = "genrec-session"



def new_session_id() -> str:
    return uuid.uuid4().hex


def build_blocks(
    recommender: Recommender, settings: Settings, *, concurrency: int = 4
) -> gr.Blocks:
    """The chat app as a gr.Blocks (create_app mounts it); `concurrency` turns run at once."""
    backend = str(getattr(recommender, "backend_name", settings.llm))
    max_chars = int(recommender.config.max_message_chars)  # longer: refused with a note, not cut
    staged = "on_stage" in inspect.signature(recommender.stream).parameters
    cancellable = "cancel" in inspect.signature(recommender.stream).parameters
    running: dict[str, threading.Event] = {}  # session id -> its running turn's stop signal

    def label(sid: str) -> str:
        return session_label(sid, backend, settings.dataset)

    def prefs_of(sid: str) -> list[dict[str, Any]]:
        try:
            state = recommender.state(sid)
        except Exception:  # noqa: BLE001 - no chips rather than an error
            return []
        return [c.model_dump() for c in chips_of(state, recommender.catalog)]

    with gr.Blocks(title="genrec", analytics_enabled=False) as demo:
        # this tab's session id, held by the page itself (a gr.State lives on the server and is
        # empty after a restart); restored from the browser's localStorage on load
        session = gr.Textbox("", visible=False, elem_id="genrec-saved")
        cards_state = gr.State([])
        prefs_state = gr.State([])
        gr.Markdown(header_markdown(recommender, backend), elem_id="genrec-header")
        banner = gr.Markdown(visible=False, elem_id="genrec-banner")
        with gr.Row(equal_height=False, elem_id="genrec-main"):
            with gr.Column(scale=3, elem_id="genrec-left"):
                chatbot = gr.Chatbot(
                    label="Conversation",
                    elem_id="genrec-chat",
                    height=None,
                    min_height=120,
                    max_height=420,
                    feedback_options=None,
                    buttons=["copy_all"],
                    placeholder="Say what you loved, what you're in the mood for, what to avoid.",
                )
                with gr.Row(elem_id="genrec-chips"):
                    chips = [gr.Button("", visible=False, size="sm", elem_classes=["genrec-chip"])
                             for _ in range(MAX_CHIPS)]
                with gr.Row(elem_id="genrec-prefs"):

                    @gr.render(inputs=[prefs_state, session], **ONE_RENDER_AT_A_TIME)
                    def render_prefs(prefs: list[dict[str, Any]], session_id: str) -> None:
                        if not prefs:
                            return
                        chip_list = [PrefChip(**p) for p in prefs]
                        gr.Markdown("Going by (× to drop one):", elem_id="genrec-prefs-line")
                        for chip in chip_list:
                            b = gr.Button(f"{chip.label} ×", size="sm",
                                          elem_classes=["genrec-pref"])
                            b.click(_remover(chip), inputs=[session],
                                    outputs=[prefs_state, banner])

                working = gr.Markdown("", visible=False, elem_id="genrec-working")
                with gr.Row(elem_id="genrec-input-row"):
                    box = gr.Textbox(
                        show_label=False,
                        placeholder="e.g. I loved Toy Story, recommend animated movies",
                        elem_id="genrec-input",
                        scale=5,
                        interactive=False,  # until the page knows its session (load, below)
                    )
                    send = gr.Button("Send", variant="primary", elem_id="genrec-send", scale=0,
                                     min_width=72, interactive=False)
                    stop = gr.Button("Stop", variant="stop", elem_id="genrec-stop", scale=0,
                                     min_width=72, visible=False)
                note = gr.Markdown(visible=False, elem_id="genrec-note")
                new = gr.Button("New conversation", elem_id="genrec-new", size="sm")
                with gr.Accordion("My shortlist (the best 10 for you now)", open=False,
                                  elem_id="genrec-shortlist-box"):
                    shortlist_btn = gr.Button("Show my shortlist", size="sm",
                                              elem_id="genrec-shortlist-btn")
                    shortlist = gr.HTML("", elem_id="genrec-shortlist")
                with gr.Accordion("Why these? (tool calls of the last turn)", open=False,
                                  elem_id="genrec-why"):
                    session_md = gr.Markdown(elem_id="genrec-session")
                    trace = gr.Markdown(trace_markdown(None), elem_id="genrec-trace")
            with gr.Column(scale=2, elem_id="genrec-cards"):
                gr.Markdown("### Recommendations")
                with gr.Column(elem_id="genrec-cards-list"):

                    @gr.render(inputs=[cards_state, session], **ONE_RENDER_AT_A_TIME)
                    def render_cards(cards: list[dict[str, Any]], session_id: str) -> None:
                        if not cards:
                            gr.Markdown("_Cards appear here after the first answer._")
                            return
                        for card in cards:
                            card_block(recommender, card, session, cards_state, banner, banner_of)

        def _remover(chip: PrefChip):  # noqa: ANN202
            def remove(session_id: str) -> tuple[Any, Any]:
                try:
                    remove_preference(recommender, session_id, chip)
                except Exception:  # noqa: BLE001 - a banner, not a traceback
                    log.exception("removing a preference failed")
                    return gr.skip(), banner_of(
                        ["Sorry, I could not change that; please try again."]
                    )
                return prefs_of(session_id), gr.skip()

            return remove

        turn_outputs = [box, chatbot, session, cards_state, prefs_state, trace, banner,
                        session_md, send, stop, working, note, *chips]

        def run_stream(session_id: str, message: str, stop_signal: threading.Event,
                       parts: queue.Queue) -> None:
            """The turn in a worker thread: its stages, text deltas and Reply into `parts`."""
            kwargs: dict[str, Any] = {}
            if staged:
                kwargs["on_stage"] = lambda name: parts.put(("stage", name))
            if cancellable:
                kwargs["cancel"] = stop_signal
            try:
                for part in recommender.stream(session_id, message, **kwargs):
                    parts.put(("part", part))
            except Exception as exc:  # noqa: BLE001 - shown as a banner by the caller
                parts.put(("error", exc))
            finally:
                parts.put(("done", None))

        def respond(message: str, session_id: str, *, from_box: bool) -> Iterator[dict[Any, Any]]:
            """Stream one turn: the stage shown while it runs and Stop offered; the chat shows
            the answer's lead as it arrives; cards, chips, trace and banner at the end."""
            message = (message or "").strip()
            session_id = session_id or new_session_id()
            if not message:
                return
            if len(message) > max_chars:  # refused, kept in the box: never cut silently
                yield {note: gr.update(value=too_long_note(len(message), max_chars), visible=True)}
                return
            if session_id in running:  # typed during a turn: sent after it, never lost
                yield {
                    **({box: gr.update(value="")} if from_box else {}),
                    note: gr.update(value=QUEUED.format(html.escape(message[:200])), visible=True),
                }
                deadline = time.monotonic() + QUEUE_WAIT_S
                while session_id in running and time.monotonic() < deadline:
                    time.sleep(0.1)
            stop_signal = threading.Event()
            running[session_id] = stop_signal
            try:
                kept = len(recommender.history(session_id))
                past = display_history(recommender.history(session_id))
            except Exception:  # noqa: BLE001 - a fresh session has no history
                kept, past = 0, []
            chat = past + [{"role": "user", "content": literal(message)},
                           {"role": "assistant", "content": ""}]
            first = STAGES["understanding"] if staged else "Working on your answer…"
            start: dict[Any, Any] = {box: gr.update(value="")} if from_box else {}
            yield {**start, chatbot: chat, session: session_id, session_md: label(session_id),
                   send: gr.update(interactive=False), stop: gr.update(visible=True),
                   working: gr.update(value=f"⏳ {first}", visible=True),
                   note: gr.update(value="", visible=False), **dict(zip(chips, chip_updates([])))}
            parts: queue.Queue = queue.Queue()
            threading.Thread(target=run_stream, args=(session_id, message, stop_signal, parts),
                             daemon=True).start()
            try:
                yield from updates(session_id, chat, parts, stop_signal, past, kept)
            finally:  # after the last update was sent: a queued message may go now
                if running.get(session_id) is stop_signal:
                    running.pop(session_id, None)

        def updates(session_id: str, chat: list[dict[str, str]], parts: queue.Queue,
                    stop_signal: threading.Event, past: list[dict[str, str]], kept: int
                    ) -> Iterator[dict[Any, Any]]:
            """The running turn's updates: its stage, the answer's lead as it streams, then the
            cards, preference chips, trace, banner and answer buttons.

            Stop shows "Stopped" at once over the conversation as it was (the old cards stay);
            the turn is then followed to its end unseen, and only if it had been saved before
            Stop reached it is it shown whole, with a note saying so."""
            done = {send: gr.update(interactive=True), stop: gr.update(visible=False),
                    working: gr.update(visible=False)}
            reply, text, stage, stopped, finished = None, "", "understanding", False, False
            shown = None  # the stage last put on the page: each one is shown, however fast the turn
            while not finished:
                batch = _drain(parts)
                for kind, part in batch:
                    if kind == "error":
                        log.error("recommender failed", exc_info=part)
                        if not stopped:
                            chat[-1]["content"] = "Sorry, something went wrong on my side."
                            yield {chatbot: chat, banner: banner_of([TURN_FAILED]), **done}
                        return
                    finished = finished or kind == "done"
                    stage = part if kind == "stage" else stage
                    if kind == "part" and isinstance(part, str):
                        text, stage = text + part, "writing"
                    elif kind == "part":
                        reply = part
                if stop_signal.is_set() and not stopped:
                    stopped = True
                    said = STOPPED if cancellable else STOPPED_SAVED
                    yield {chatbot: past + [{"role": "assistant", "content": said}], **done}
                elif batch and not stopped and (not finished or stage != shown):
                    chat[-1]["content"] = streamed_lead(text)
                    shown = stage
                    yield {
                        chatbot: chat,
                        working: gr.update(value=f"⏳ {STAGES.get(stage, stage)}"),
                    }
            if stopped and len(recommender.history(session_id)) == kept:
                return  # nothing was saved: "Stopped" stands
            if reply is None:
                yield done
                return
            chat[-1]["content"] = reply.chat_text or chat[-1]["content"]
            cards = {cards_state: [card_of(r) for r in reply.recommendations]} if (
                reply.recommendations) else {}  # an answer without picks keeps the cards shown
            late = {note: gr.update(value=TOO_LATE, visible=True)} if stopped else {}
            yield {
                chatbot: chat,
                **cards,
                prefs_state: prefs_of(session_id),
                trace: trace_markdown(reply),
                banner: banner_of(user_notices(list(reply.warnings))),
                **dict(zip(chips, chip_updates(list(reply.suggested_answers)))),
                **late,
                **done,
            }

        def respond_box(message: str, session_id: str) -> Iterator[dict[Any, Any]]:
            yield from respond(message, session_id, from_box=True)

        def respond_chip(answer: str, session_id: str) -> Iterator[dict[Any, Any]]:
            yield from respond(answer, session_id, from_box=False)

        # Enter, Send and the chips share one limit; the box stays editable during a turn, and a
        # message sent then waits for the turn (see `running`): nothing typed is lost
        turn = {"outputs": turn_outputs, "concurrency_limit": concurrency,
                "concurrency_id": "genrec-turn", "trigger_mode": "multiple"}
        refocus = "() => { document.querySelector('#genrec-input textarea')?.focus(); }"
        # the browser keeps the session id (also after a turn: one sent before the page's load
        # event finished started its own session)
        remember = f"(sid) => {{ if (sid) localStorage.setItem('{STORAGE_KEY}', sid); }}"
        events: list[Any] = []
        for trigger in (box.submit, send.click):
            ev = trigger(respond_box, inputs=[box, session], **turn)  # type: ignore[arg-type]
            ev.then(None, js=refocus).then(None, inputs=[session], js=remember)
            events.append(ev)
        for chip in chips:
            ev = chip.click(respond_chip, inputs=[chip, session], **turn)  # type: ignore[arg-type]
            ev.then(None, js=refocus).then(None, inputs=[session], js=remember)
            events.append(ev)

        def stop_turn(session_id: str) -> Any:
            """Ask the running turn to stop; the turn's own event shows what is kept (`updates`)."""
            signal = running.get(session_id)
            if signal is not None:
                signal.set()
            return gr.update(visible=False)

        stop.click(stop_turn, inputs=[session], outputs=[stop], queue=False)

        def show_shortlist(session_id: str) -> str:
            try:
                return shortlist_html(recommender, session_id)
            except Exception:  # noqa: BLE001 - a note, not a traceback
                log.exception("shortlist failed")
                return "<p><em>Could not compute the shortlist; try again.</em></p>"

        def new_conversation() -> tuple[Any, ...]:
            sid = new_session_id()
            return (sid, [], [], [], trace_markdown(None), banner_of([]), "", label(sid),
                    gr.update(value="", visible=False), "", *chip_updates([]))

        def restore(stored: str) -> tuple[Any, ...]:
            """The browser's session, resumed (chat, cards, chips, trace), or a fresh one."""
            sid = stored if isinstance(stored, str) else ""
            try:
                known = bool(sid) and recommender.session_exists(recommender.check_session_id(sid))
            except Exception:  # noqa: BLE001 - a bad stored id: start over
                known = False
            ready = (gr.update(interactive=True), gr.update(interactive=True))  # box, send
            if not known:
                sid = new_session_id()
                return sid, [], [], [], label(sid), trace_markdown(None), *ready
            try:
                chat = display_history(recommender.history(sid))
                cards = cards_of_state(recommender, sid)
                steps = stored_trace_markdown(recommender.last_trace(sid))
            except Exception:  # noqa: BLE001 - resume what can be resumed
                log.exception("resuming session failed")
                chat, cards, steps = [], [], trace_markdown(None)
            return sid, chat, cards, prefs_of(sid), label(sid), steps, *ready

        shortlist_btn.click(show_shortlist, inputs=[session], outputs=[shortlist])
        reset_outputs = [session, chatbot, cards_state, prefs_state, trace, banner, box,
                         session_md, note, shortlist, *chips]
        new.click(
            new_conversation, outputs=reset_outputs, cancels=events
        ).then(  # a running turn stops
            None, inputs=[session], js=remember
        )
        chatbot.clear(new_conversation, outputs=reset_outputs).then(  # the chat's trash button
            None, inputs=[session], js=remember)
        recall = f"() => [localStorage.getItem('{STORAGE_KEY}') || '']"
        demo.load(restore, inputs=[session], js=recall,
                  outputs=[session, chatbot, cards_state, prefs_state, session_md, trace,
                           box, send]).then(None, inputs=[session], js=remember).then(
            None, js=refocus)
    return demo


def _drain(parts: queue.Queue, wait: float = 0.1) -> list[tuple[str, Any]]:
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
