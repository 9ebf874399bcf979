"""The Gradio chat app: streaming chat, recommendation cards with 👍/👎, a "why these?" trace panel.

Each page load gets its own session id (gr.State), so two browsers never share a conversation;
the message limit is the recommender's (`config.max_message_chars`), as for every front door.
"""

from __future__ import annotations

import html
import json
import logging
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import gradio as gr

from genrec.ui._notices import user_notices

if TYPE_CHECKING:
    from genrec.agent import Recommender, Reply
    from genrec.config import Settings

log = logging.getLogger(__name__)

MAX_CHIPS = 6  # answer buttons under the chat (a reply's suggested_answers)
TURN_FAILED = "Sorry, I could not answer that just now; please try again."
FEEDBACK_FAILED = "Sorry, I could not record that 👍/👎; please try again."

CSS = """
#genrec-banner {background:#fff4e5;border:1px solid #f0a020;border-radius:8px;padding:8px 12px;}
#genrec-banner, #genrec-banner * {color:#3d2a00 !important;}
#genrec-cards, #genrec-cards-list {flex-wrap:nowrap !important;min-width:0 !important;}
#genrec-cards-list {display:grid !important;gap:10px;
  grid-template-columns:repeat(auto-fill, minmax(min(100%, 260px), 1fr));}
#genrec-cards-list > * {min-width:0;}
.genrec-card {border:1px solid var(--border-color-primary);border-radius:10px;padding:10px 12px;
  overflow-wrap:anywhere;}
.genrec-card h4 {margin:0 0 4px 0;font-size:1.05em;}
.genrec-card .meta {color:#374151;font-size:.9em;margin-bottom:4px;}
.dark .genrec-card .meta {color:#e5e7eb;}
.genrec-card .why {font-size:.92em;}
.genrec-card .verified {color:#1a7f37;font-weight:600;}
.genrec-card .fb {font-size:.85em;margin-top:4px;}
.genrec-card.disliked {opacity:.55;filter:grayscale(1);}
.genrec-fb-row {flex-wrap:wrap !important;}
.genrec-fb-row button {min-width:0 !important;}
#genrec-chips {flex-wrap:wrap !important;gap:6px;}
#genrec-chips button {flex:0 1 auto !important;min-width:0 !important;width:auto !important;}
#genrec-note {color:#8a1c1c;}
"""


def new_session_id() -> str:
    return uuid.uuid4().hex


def card_of(rec: Any) -> dict[str, Any]:
    """A Recommendation as the plain dict the cards render (plus the user's feedback, if any)."""
    d = rec.model_dump(mode="json") if hasattr(rec, "model_dump") else dict(rec)
    d.setdefault("feedback", None)
    return d


def card_html(card: dict[str, Any]) -> str:
    """One card: title (year), ✓ when the rationale was verified, genres, predicted rating, why."""
    e = html.escape
    title = e(str(card.get("title", "")))
    year = f" ({card['year']})" if card.get("year") else ""
    check = (
        ' <span class="verified" title="every fact in the rationale was checked">✓</span>'
        if card.get("verified")
        else ""
    )
    genres = ", ".join(e(str(g)) for g in card.get("genres") or [])
    rating = card.get("predicted_rating")
    meta = [genres] if genres else []
    if rating is not None:
        meta.append(f"predicted ★ {float(rating):.1f}")
    fb = card.get("feedback")
    classes = "genrec-card" + (" liked" if fb is True else " disliked" if fb is False else "")
    note = ""
    if fb is True:
        note = '<div class="fb">👍 noted: more like this</div>'
    elif fb is False:
        note = '<div class="fb">👎 noted: it will not be recommended again</div>'
    return (
        f'<div class="{classes}" data-item-id="{int(card.get("item_id", 0))}">'
        f"<h4>{title}{e(year)}{check}</h4>"
        f'<div class="meta">{" · ".join(meta)}</div>'
        f'<div class="why">{e(str(card.get("rationale", "")))}</div>{note}</div>'
    )


def trace_markdown(reply: Reply | None) -> str:
    """The tool calls of the last turn as a Markdown table, then the turn's raw warnings."""
    if reply is None or not reply.trace:
        return "_No tool calls yet: send a message._" + _warnings_markdown(reply)

    def cell(text: str, limit: int = 160) -> str:
        text = text if len(text) <= limit else text[: limit - 1] + "…"
        return html.escape(text).replace("|", "\\|").replace("\n", " ")

    rows = ["| # | tool | arguments | ok | result | ms |", "|---|---|---|---|---|---|"]
    for i, t in enumerate(reply.trace, 1):
        args = json.dumps(t.arguments, ensure_ascii=False, default=str)
        rows.append(
            f"| {i} | `{cell(t.name, 40)}` | {cell(args)} | {'✓' if t.ok else '✗'} | "
            f"{cell(t.summary)} | {t.ms:.0f} |"
        )
    extra = f"\n\n{reply.llm_calls} LLM call(s); backend `{html.escape(reply.backend)}`."
    return "\n".join(rows) + extra + _warnings_markdown(reply)


def _warnings_markdown(reply: Reply | None) -> str:
    """The turn's warnings as they are (details for the curious), in code spans: never links."""
    if reply is None or not reply.warnings:
        return ""
    lines = "\n".join("- `" + str(w).replace("`", "'")[:400] + "`" for w in reply.warnings)
    return f"\n\n**Notes on this turn**\n\n{lines}"


def banner_of(notices: list[str]) -> dict[str, Any]:
    """The banner showing user-worded sentences (see `user_notices`), hidden when there are none."""
    if not notices:
        return gr.update(value="", visible=False)
    return gr.update(value=" ".join(html.escape(n) for n in notices), visible=True)


def chip_updates(answers: list[str]) -> list[dict[str, Any]]:
    """The answer buttons for a reply's `suggested_answers` (the rest hidden)."""
    answers = [a for a in answers if str(a).strip()][:MAX_CHIPS]
    return [gr.update(value=answers[i], visible=True) if i < len(answers)
            else gr.update(value="", visible=False) for i in range(MAX_CHIPS)]


def too_long_note(length: int, limit: int) -> str:
    return (f"Your message is {length:,} characters long; the limit is {limit:,}. Please shorten "
            "it: nothing was sent.")


def _fresh_session() -> tuple[str, str]:
    sid = new_session_id()
    return sid, session_label(sid)


def session_label(session_id: str) -> str:
    return f"session `{html.escape(session_id or '')}`"


def _display(history: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [
        {"role": m["role"], "content": str(m.get("content", ""))}
        for m in history
        if m.get("role") in ("user", "assistant")
    ]


def build_blocks(recommender: Recommender, settings: Settings, *, concurrency: int = 4) -> gr.Blocks:
    """The chat app as a gr.Blocks (create_app mounts it); `concurrency` turns run at once."""
    backend = str(getattr(recommender, "backend_name", settings.llm))
    max_chars = int(recommender.config.max_message_chars)  # longer: refused with a note, not cut

    with gr.Blocks(title="genrec", analytics_enabled=False) as demo:
        session = gr.State("")  # set on every page load (below): one session per browser tab
        cards_state = gr.State([])
        gr.Markdown(
            "## genrec — tell me what you like, I'll recommend movies\n"
            f"LLM backend: **`{html.escape(backend)}`** · dataset **{html.escape(settings.dataset)}**",
            elem_id="genrec-header",
        )
        session_md = gr.Markdown(elem_id="genrec-session")
        banner = gr.Markdown(visible=False, elem_id="genrec-banner")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Conversation",
                    elem_id="genrec-chat",
                    height=460,
                    feedback_options=None,
                    buttons=["copy_all"],
                    placeholder="Say what you loved, what you're in the mood for, what to avoid.",
                )
                with gr.Row(elem_id="genrec-chips"):
                    chips = [gr.Button("", visible=False, size="sm", elem_classes=["genrec-chip"])
                             for _ in range(MAX_CHIPS)]
                working = gr.Markdown("⏳ Working on your answer…", visible=False,
                                      elem_id="genrec-working")
                with gr.Row():
                    box = gr.Textbox(
                        show_label=False,
                        placeholder="e.g. I loved Toy Story, recommend animated movies",
                        elem_id="genrec-input",
                        scale=5,
                        autofocus=True,
                    )
                    send = gr.Button("Send", variant="primary", elem_id="genrec-send", scale=1)
                note = gr.Markdown(visible=False, elem_id="genrec-note")
                new = gr.Button("New conversation", elem_id="genrec-new", size="sm")
                with gr.Accordion("My shortlist (the best 10 for you now)", open=False,
                                  elem_id="genrec-shortlist-box"):
                    shortlist_btn = gr.Button("Show my shortlist", size="sm",
                                              elem_id="genrec-shortlist-btn")
                    shortlist = gr.HTML("", elem_id="genrec-shortlist")
                with gr.Accordion("Why these? (tool calls of the last turn)", open=False,
                                  elem_id="genrec-why"):
                    trace = gr.Markdown(trace_markdown(None), elem_id="genrec-trace")
            with gr.Column(scale=2, elem_id="genrec-cards"):
                gr.Markdown("### Recommendations")
                with gr.Column(elem_id="genrec-cards-list"):

                    @gr.render(inputs=[cards_state, session])
                    def render_cards(cards: list[dict[str, Any]], session_id: str) -> None:
                        if not cards:
                            gr.Markdown("_Cards appear here after the first answer._")
                            return
                        for card in cards:
                            _card_block(recommender, card, session, cards_state, banner)

        turn_outputs = [box, chatbot, session, cards_state, trace, banner, session_md, send,
                        working, note, *chips]

        def respond(message: str, session_id: str, *, from_box: bool) -> Iterator[dict[Any, Any]]:
            """Stream one turn: input locked with a visible "working" note while it runs; the chat
            grows as text arrives; cards, trace, banner and answer buttons at the end."""
            message = (message or "").strip()
            session_id = session_id or new_session_id()
            if not message:
                return
            if len(message) > max_chars:  # refused, kept in the box: never cut silently
                yield {note: gr.update(value=too_long_note(len(message), max_chars), visible=True)}
                return
            try:
                past = _display(recommender.history(session_id))
            except Exception:  # noqa: BLE001 - a fresh session has no history
                past = []
            chat = past + [{"role": "user", "content": message}, {"role": "assistant", "content": ""}]
            locked = gr.update(value="", interactive=False) if from_box else gr.update(interactive=False)
            yield {box: locked, chatbot: chat, session: session_id, session_md: session_label(session_id),
                   send: gr.update(interactive=False), working: gr.update(visible=True),
                   note: gr.update(value="", visible=False), **dict(zip(chips, chip_updates([])))}
            unlock = {box: gr.update(interactive=True), send: gr.update(interactive=True),
                      working: gr.update(visible=False)}
            reply = None
            try:
                for part in recommender.stream(session_id, message):
                    if isinstance(part, str):
                        chat[-1]["content"] += part
                        yield {chatbot: chat}
                    else:
                        reply = part
            except Exception:  # noqa: BLE001 - shown as a banner, never a traceback
                log.exception("recommender failed")
                chat[-1]["content"] = chat[-1]["content"] or "Sorry, something went wrong on my side."
                yield {chatbot: chat, banner: banner_of([TURN_FAILED]), **unlock}
                return
            if reply is None:
                yield unlock
                return
            chat[-1]["content"] = reply.text or chat[-1]["content"]
            yield {chatbot: chat, cards_state: [card_of(r) for r in reply.recommendations],
                   trace: trace_markdown(reply), banner: banner_of(user_notices(list(reply.warnings))),
                   **dict(zip(chips, chip_updates(list(reply.suggested_answers)))), **unlock}

        def respond_box(message: str, session_id: str) -> Iterator[dict[Any, Any]]:
            yield from respond(message, session_id, from_box=True)

        def respond_chip(answer: str, session_id: str) -> Iterator[dict[Any, Any]]:
            yield from respond(answer, session_id, from_box=False)

        turn = {"outputs": turn_outputs, "concurrency_limit": concurrency,
                "concurrency_id": "genrec-turn"}  # Enter, Send and the chips share one limit
        refocus = "() => { document.querySelector('#genrec-input textarea')?.focus(); }"
        for trigger in (box.submit, send.click):
            trigger(respond_box, inputs=[box, session], **turn).then(  # type: ignore[arg-type]
                None, js=refocus)  # the box is unlocked: the cursor goes back into it
        for chip in chips:
            chip.click(respond_chip, inputs=[chip, session], **turn).then(  # type: ignore[arg-type]
                None, js=refocus)

        def show_shortlist(session_id: str) -> str:
            try:
                return shortlist_html(recommender, session_id)
            except Exception:  # noqa: BLE001 - a note, not a traceback
                log.exception("shortlist failed")
                return "<p><em>Could not compute the shortlist; try again.</em></p>"

        def new_conversation() -> tuple[Any, ...]:
            sid = new_session_id()
            return (sid, [], [], trace_markdown(None), banner_of([]), "", session_label(sid),
                    gr.update(value="", visible=False), *chip_updates([]))

        shortlist_btn.click(show_shortlist, inputs=[session], outputs=[shortlist])
        reset_outputs = [session, chatbot, cards_state, trace, banner, box, session_md, note, *chips]
        new.click(new_conversation, outputs=reset_outputs)
        chatbot.clear(new_conversation, outputs=reset_outputs)  # the chat's trash button too
        demo.load(_fresh_session, outputs=[session, session_md])
    return demo


def _card_block(recommender: Recommender, card: dict[str, Any], session: Any, cards_state: Any,
                banner: Any) -> None:
    """One card (inside `gr.render`): its HTML and the 👍/👎 buttons wired to the recommender."""
    item_id = int(card["item_id"])
    with gr.Group(elem_classes=["genrec-card-box"]):
        gr.HTML(card_html(card), elem_classes=["genrec-card-html"])
        with gr.Row(elem_classes=["genrec-fb-row"]):
            up = gr.Button("👍 Like", size="sm", elem_classes=["genrec-like"],
                           elem_id=f"like-{item_id}")
            down = gr.Button("👎 Not for me", size="sm", elem_classes=["genrec-dislike"],
                             elem_id=f"dislike-{item_id}")
    for button, liked in ((up, True), (down, False)):
        button.click(_feedback_handler(recommender, item_id, liked),
                     inputs=[session, cards_state], outputs=[cards_state, banner])


def shortlist_html(recommender: Recommender, session_id: str, k: int = 10) -> str:
    """The session's standing shortlist as an escaped HTML list (a note when there is none yet)."""
    if not session_id or not recommender.session_exists(session_id):
        return "<p><em>Nothing yet: tell me what you like first.</em></p>"
    rows = []
    for r in recommender.shortlist(session_id, k):
        year = f" ({r.year})" if r.year else ""
        genres = ", ".join(r.genres)
        rows.append(f"<li><strong>{html.escape(r.title)}</strong>{year}"
                    f" <span class='genrec-shortlist-genres'>{html.escape(genres)}</span></li>")
    if not rows:
        return "<p><em>No item fits your constraints right now.</em></p>"
    return "<ol class='genrec-shortlist-list'>" + "".join(rows) + "</ol>"


def _feedback_handler(recommender: Recommender, item_id: int, liked: bool):  # noqa: ANN202
    """A click handler recording 👍/👎 for one item and marking its card."""

    def handler(session_id: str, cards: list[dict[str, Any]]) -> tuple[Any, Any]:
        try:
            recommender.feedback(session_id, item_id, liked)
        except Exception:  # noqa: BLE001 - a banner, not a traceback
            log.exception("feedback failed")
            return gr.skip(), banner_of([FEEDBACK_FAILED])
        marked = [dict(c, feedback=liked) if int(c["item_id"]) == item_id else c for c in cards]
        return marked, gr.skip()

    return handler
