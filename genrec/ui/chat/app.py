"""The Gradio chat app: a short streamed answer, cards with 👍/👎, removable preference chips,
the stages of a running turn with a Stop button, and a "why these?" panel.

The page is built panel by panel (conversation and input, preference chips, shortlist, "why
these?", cards), then its events are wired to the turn flow (`genrec.ui.chat.turns`). The
browser keeps its session id (gr.BrowserState), so a reload resumes the conversation; "New
conversation" starts a fresh one. The message limit is the recommender's, as everywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gradio as gr

from genrec.agent.rationales import item_nouns
from genrec.ui.chat.cards import card_block
from genrec.ui.chat.preference_chips import PrefChip
from genrec.ui.chat.text import MAX_CHIPS, banner_of, header_markdown, trace_markdown
from genrec.ui.chat.turns import ChatPage, ChatTurns, preference_remover

if TYPE_CHECKING:
    from genrec.agent import Recommender
    from genrec.config import Settings

ONE_RENDER_AT_A_TIME: dict[str, Any] = {"concurrency_id": "genrec-render", "concurrency_limit": 1}
"""Gradio's dynamic renders register their buttons' events in one shared table; two at once (two
tabs, or cards and chips together) can fail with "dictionary changed size during iteration" and
leave a page without its cards (gradio-app/gradio#9991), so they take turns. Each is quick."""

STORAGE_KEY = "genrec-session"
REFOCUS = "() => { document.querySelector('#genrec-input textarea')?.focus(); }"
# the browser keeps the session id (also after a turn: one sent before the page's load event
# finished started its own session)
REMEMBER = f"(sid) => {{ if (sid) localStorage.setItem('{STORAGE_KEY}', sid); }}"
RECALL = f"() => [localStorage.getItem('{STORAGE_KEY}') || '']"


def build_blocks(
    recommender: Recommender, settings: Settings, *, concurrency: int = 4
) -> gr.Blocks:
    """The chat app as a gr.Blocks (create_app mounts it); `concurrency` turns run at once."""
    backend = str(getattr(recommender, "backend_name", settings.llm))
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
                chatbot, chips = _conversation_panel()
                _preference_chips_panel(recommender, prefs_state, session, banner)
                _, nouns = item_nouns(recommender.catalog)
                working, box, send, stop, note, new = _input_panel(nouns)
                shortlist_btn, shortlist = _shortlist_panel()
                session_md, trace = _why_panel()
            _cards_panel(recommender, cards_state, session, banner)
        page = ChatPage(
            session=session, cards_state=cards_state, prefs_state=prefs_state, banner=banner,
            chatbot=chatbot, chips=chips, working=working, box=box, send=send, stop=stop,
            note=note, new=new, shortlist_btn=shortlist_btn, shortlist=shortlist,
            session_md=session_md, trace=trace,
        )
        turns = ChatTurns(recommender, page, backend=backend, dataset=settings.dataset)
        events = _wire_turns(page, turns, concurrency)
        _wire_page(demo, page, turns, events)
    return demo


def _conversation_panel() -> tuple[gr.Chatbot, list[gr.Button]]:
    """The conversation, and under it the suggested answers as buttons (hidden until a reply
    suggests some)."""
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
    return chatbot, chips


def _preference_chips_panel(recommender: Recommender, prefs_state: gr.State,
                            session: gr.Textbox, banner: gr.Markdown) -> None:
    """What the agent is going by, one removable chip per stated preference."""
    with gr.Row(elem_id="genrec-prefs"):

        @gr.render(inputs=[prefs_state, session], **ONE_RENDER_AT_A_TIME)
        def render_prefs(prefs: list[dict[str, Any]], session_id: str) -> None:
            if not prefs:
                return
            chip_list = [PrefChip(**p) for p in prefs]
            gr.Markdown("Going by (× to drop one):", elem_id="genrec-prefs-line")
            for chip in chip_list:
                b = gr.Button(f"{chip.label} ×", size="sm", elem_classes=["genrec-pref"])
                b.click(preference_remover(recommender, chip), inputs=[session],
                        outputs=[prefs_state, banner])


def _input_panel(nouns: str) -> tuple[gr.Markdown, gr.Textbox, gr.Button, gr.Button,
                                      gr.Markdown, gr.Button]:
    """The running turn's stage, the message box (its example in the catalog's plural noun) with
    Send and Stop, the note under it and "New conversation"."""
    working = gr.Markdown("", visible=False, elem_id="genrec-working")
    with gr.Row(elem_id="genrec-input-row"):
        box = gr.Textbox(
            show_label=False,
            placeholder=f"e.g. I loved Toy Story, recommend animated {nouns}",
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
    return working, box, send, stop, note, new


def _shortlist_panel() -> tuple[gr.Button, gr.HTML]:
    """The best 10 for the session now, shown on request."""
    with gr.Accordion("My shortlist (the best 10 for you now)", open=False,
                      elem_id="genrec-shortlist-box"):
        shortlist_btn = gr.Button("Show my shortlist", size="sm", elem_id="genrec-shortlist-btn")
        shortlist = gr.HTML("", elem_id="genrec-shortlist")
    return shortlist_btn, shortlist


def _why_panel() -> tuple[gr.Markdown, gr.Markdown]:
    """"Why these?": the session line and the last turn's tool calls."""
    with gr.Accordion("Why these? (tool calls of the last turn)", open=False,
                      elem_id="genrec-why"):
        session_md = gr.Markdown(elem_id="genrec-session")
        trace = gr.Markdown(trace_markdown(None), elem_id="genrec-trace")
    return session_md, trace


def _cards_panel(recommender: Recommender, cards_state: gr.State, session: gr.Textbox,
                 banner: gr.Markdown) -> None:
    """The recommendation cards, each with its 👍/👎."""
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


def _wire_turns(page: ChatPage, turns: ChatTurns, concurrency: int) -> list[dict[str, Any]]:
    """Enter, Send and the suggested answers start a turn; they share one limit. The box stays
    editable during a turn, and a message sent then waits for the turn (`ChatTurns.running`):
    nothing typed is lost. Returns the turns' events (what "New conversation" cancels)."""
    turn: dict[str, Any] = {"outputs": page.turn_outputs(), "concurrency_limit": concurrency,
                            "concurrency_id": "genrec-turn", "trigger_mode": "multiple"}
    respond_box, respond_chip = turns.respond_box, turns.respond_chip
    events: list[dict[str, Any]] = []
    for trigger in (page.box.submit, page.send.click):
        ev = trigger(respond_box, inputs=[page.box, page.session], **turn)
        ev.then(None, js=REFOCUS).then(None, inputs=[page.session], js=REMEMBER)
        events.append(ev)
    for chip in page.chips:
        ev = chip.click(respond_chip, inputs=[chip, page.session], **turn)
        ev.then(None, js=REFOCUS).then(None, inputs=[page.session], js=REMEMBER)
        events.append(ev)
    return events


def _wire_page(demo: gr.Blocks, page: ChatPage, turns: ChatTurns,
               events: list[dict[str, Any]]) -> None:
    """Stop (answered at once, outside the queue), the shortlist, "New conversation" and the
    chat's trash button (a running turn stops), and the resume when the page loads."""
    page.stop.click(turns.stop_turn, inputs=[page.session], outputs=[page.stop], queue=False)
    page.shortlist_btn.click(turns.show_shortlist, inputs=[page.session],
                             outputs=[page.shortlist])
    new_conversation = turns.new_conversation  # one handler (and concurrency group) for both
    reset_outputs = page.reset_outputs()
    page.new.click(
        new_conversation, outputs=reset_outputs, cancels=events
    ).then(  # a running turn stops
        None, inputs=[page.session], js=REMEMBER
    )
    page.chatbot.clear(new_conversation, outputs=reset_outputs).then(  # the chat's trash button
        None, inputs=[page.session], js=REMEMBER)
    demo.load(turns.restore, inputs=[page.session], js=RECALL,
              outputs=page.restore_outputs()).then(
        None, inputs=[page.session], js=REMEMBER).then(None, js=REFOCUS)
