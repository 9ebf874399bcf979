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

if TYPE_CHECKING:
    from genrec.agent import Recommender, Reply
    from genrec.config import Settings

log = logging.getLogger(__name__)

CSS = """
#genrec-banner {background:#fff4e5;border:1px solid #f0a020;border-radius:8px;padding:8px 12px;}
.genrec-card {border:1px solid var(--border-color-primary);border-radius:10px;padding:10px 12px;}
.genrec-card h4 {margin:0 0 4px 0;font-size:1.05em;}
.genrec-card .meta {color:var(--body-text-color-subdued);font-size:.9em;margin-bottom:4px;}
.genrec-card .why {font-size:.92em;}
.genrec-card .verified {color:#1a7f37;font-weight:600;}
.genrec-card .fb {font-size:.85em;margin-top:4px;}
.genrec-fb-row button {min-width:0 !important;}
#genrec-cards {max-height:860px;overflow-y:auto;}
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
    note = ""
    if fb is True:
        note = '<div class="fb">👍 noted: more like this</div>'
    elif fb is False:
        note = '<div class="fb">👎 noted: it will not be recommended again</div>'
    return (
        f'<div class="genrec-card" data-item-id="{int(card.get("item_id", 0))}">'
        f"<h4>{title}{e(year)}{check}</h4>"
        f'<div class="meta">{" · ".join(meta)}</div>'
        f'<div class="why">{e(str(card.get("rationale", "")))}</div>{note}</div>'
    )


def trace_markdown(reply: Reply | None) -> str:
    """The tool calls of the last turn as a Markdown table."""
    if reply is None or not reply.trace:
        return "_No tool calls yet: send a message._"

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
    return "\n".join(rows) + extra


def banner_of(warnings: list[str]) -> dict[str, Any]:
    if not warnings:
        return gr.update(value="", visible=False)
    lines = "\n".join(f"- {html.escape(w)}" for w in warnings)
    return gr.update(value=f"**⚠ Heads-up**\n\n{lines}", visible=True)


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
    max_chars = recommender.config.max_message_chars  # the box stops longer input

    def respond(message: str, session_id: str) -> Iterator[tuple[Any, ...]]:
        """Stream one turn: the chat grows as text arrives; cards, trace and banner at the end."""
        message = (message or "").strip()  # over the limit: the agent truncates it, with a warning
        session_id = session_id or new_session_id()
        if not message:
            yield gr.skip(), gr.skip(), session_id, gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        try:
            past = _display(recommender.history(session_id))
        except Exception:  # noqa: BLE001 - a fresh session has no history
            past = []
        chat = past + [{"role": "user", "content": message}, {"role": "assistant", "content": ""}]
        yield "", chat, session_id, gr.skip(), gr.skip(), gr.skip(), session_label(session_id)
        reply = None
        try:
            for part in recommender.stream(session_id, message):
                if isinstance(part, str):
                    chat[-1]["content"] += part
                    yield gr.skip(), chat, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
                else:
                    reply = part
        except Exception as exc:  # noqa: BLE001 - shown as a banner, never a traceback
            log.exception("recommender failed")
            chat[-1]["content"] = chat[-1]["content"] or "Sorry, something went wrong on my side."
            yield gr.skip(), chat, gr.skip(), gr.skip(), gr.skip(), banner_of(
                [f"The recommender failed on this turn ({type(exc).__name__}); try again."]
            ), gr.skip()
            return
        if reply is None:
            return
        chat[-1]["content"] = reply.text or chat[-1]["content"]
        cards = [card_of(r) for r in reply.recommendations]
        yield (
            "", chat, session_id, cards, trace_markdown(reply), banner_of(list(reply.warnings)),
            gr.skip(),
        )

    def new_conversation() -> tuple[Any, ...]:
        sid = new_session_id()
        return sid, [], [], trace_markdown(None), banner_of([]), "", session_label(sid)

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
                with gr.Row():
                    box = gr.Textbox(
                        show_label=False,
                        placeholder="e.g. I loved Toy Story, recommend animated movies",
                        elem_id="genrec-input",
                        scale=5,
                        max_length=max_chars,
                        autofocus=True,
                    )
                    send = gr.Button("Send", variant="primary", elem_id="genrec-send", scale=1)
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

                @gr.render(inputs=[cards_state, session])
                def render_cards(cards: list[dict[str, Any]], session_id: str) -> None:
                    if not cards:
                        gr.Markdown("_Cards appear here after the first answer._")
                        return
                    for card in cards:
                        item_id = int(card["item_id"])
                        with gr.Group(elem_classes=["genrec-card-box"]):
                            gr.HTML(card_html(card), elem_classes=["genrec-card-html"])
                            with gr.Row(elem_classes=["genrec-fb-row"]):
                                up = gr.Button("👍 Like", size="sm", elem_classes=["genrec-like"],
                                               elem_id=f"like-{item_id}")
                                down = gr.Button("👎 Not for me", size="sm", elem_classes=["genrec-dislike"],
                                                 elem_id=f"dislike-{item_id}")
                        for button, liked in ((up, True), (down, False)):
                            button.click(
                                _feedback_handler(recommender, item_id, liked),
                                inputs=[session, cards_state],
                                outputs=[cards_state, banner],
                            )

        for trigger in (box.submit, send.click):
            trigger(
                respond,
                inputs=[box, session],
                outputs=[box, chatbot, session, cards_state, trace, banner, session_md],
                concurrency_limit=concurrency,
                concurrency_id="genrec-turn",  # Enter and the Send button share one limit
            )
        def show_shortlist(session_id: str) -> str:
            try:
                return shortlist_html(recommender, session_id)
            except Exception:  # noqa: BLE001 - a note, not a traceback
                log.exception("shortlist failed")
                return "<p><em>Could not compute the shortlist; try again.</em></p>"

        shortlist_btn.click(show_shortlist, inputs=[session], outputs=[shortlist])
        reset_outputs = [session, chatbot, cards_state, trace, banner, box, session_md]
        new.click(new_conversation, outputs=reset_outputs)
        chatbot.clear(new_conversation, outputs=reset_outputs)  # the chat's trash button too
        demo.load(_fresh_session, outputs=[session, session_md])
    return demo


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
        except Exception as exc:  # noqa: BLE001 - a banner, not a traceback
            log.exception("feedback failed")
            return gr.skip(), banner_of([f"Could not record the feedback ({type(exc).__name__})."])
        marked = [dict(c, feedback=liked) if int(c["item_id"]) == item_id else c for c in cards]
        return marked, gr.skip()

    return handler
