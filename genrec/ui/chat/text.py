"""What the chat app writes: header, banner, answer chips, session line, trace table, and the
chat text of a reply (streamed or stored) without the list the cards show.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gradio as gr

if TYPE_CHECKING:
    from genrec.agent import Recommender, Reply

MAX_CHIPS = 6  # answer buttons under the chat (a reply's suggested_answers)


NO_TURN_YET = "_No tool calls yet: send a message._"
NO_TOOLS = (
    "_The last answer used no tool calls: it came from your message alone (a question back, "
    "or an answer about a title)._"
)


def trace_markdown(reply: Reply | None) -> str:
    """The tool calls of the last turn as a Markdown table, then each pick's score parts and the
    turn's raw warnings; a turn without tool calls says so."""
    if reply is None:
        return NO_TURN_YET
    if not reply.trace:
        return NO_TOOLS + _warnings_markdown(reply)
    source = ("written by the language model and fact-checked" if reply.text_source == "llm"
              else "templated from the data")
    extra = (f"\n\n{reply.llm_calls} LLM call(s); backend `{html.escape(reply.backend)}`; "
             f"reply text {source}.")
    table = _tool_table([t.model_dump() for t in reply.trace])
    return table + extra + _picks_markdown(reply, _cell) + _warnings_markdown(reply)


def stored_trace_markdown(records: list[dict[str, Any]]) -> str:
    """The tool calls of a resumed session's last turn (`Recommender.last_trace`), as a table."""
    return _tool_table(records) if records else NO_TOOLS


def _cell(text: str, limit: int = 160) -> str:
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return html.escape(text).replace("|", "\\|").replace("\n", " ")


def _tool_table(records: list[dict[str, Any]]) -> str:
    """Tool-call records (name, arguments, ok, summary, ms) as a Markdown table."""
    rows = ["| # | tool | arguments | ok | result | ms |", "|---|---|---|---|---|---|"]
    for i, t in enumerate(records, 1):
        args = json.dumps(t.get("arguments", {}), ensure_ascii=False, default=str)
        rows.append(f"| {i} | `{_cell(str(t.get('name', '')), 40)}` | {_cell(args)} | "
                    f"{'✓' if t.get('ok') else '✗'} | {_cell(str(t.get('summary', '')))} | "
                    f"{float(t.get('ms') or 0):.0f} |")
    return "\n".join(rows)


def _picks_markdown(reply: Reply, cell: Callable[[str, int], str]) -> str:
    """Each pick's score parts: fused score, predicted rating, the liked item it is near, the
    asked-for genres it has, and where its reason comes from."""
    if not reply.recommendations:
        return ""
    rows = ["| pick | score | predicted | near a liked item | asked-for genres | reason |",
            "|---|---|---|---|---|---|"]
    for r in reply.recommendations:
        ev = r.evidence or {}
        near = ev.get("nearest_liked_title") or ""
        sim = ev.get("nearest_liked_similarity")
        near = f"{near} ({float(sim):.2f})" if near and sim is not None else near
        rating = "" if r.predicted_rating is None else f"{r.predicted_rating:.2f}"
        rows.append(f"| {cell(r.title, 60)} | {r.score:.3f} | {rating} | {cell(str(near), 60)} | "
                    f"{cell(', '.join(ev.get('matched_genres') or []), 60)} | "
                    f"{r.rationale_source} |")
    return "\n\n**Score parts of each pick**\n\n" + "\n".join(rows)


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


def session_label(session_id: str, backend: str = "", dataset: str = "") -> str:
    """The ids behind the page, for the "why these?" panel only."""
    bits = [f"Session `{html.escape(session_id or '')}`"]
    if backend:
        bits.append(f"LLM backend `{html.escape(backend)}`")
    if dataset:
        bits.append(f"dataset `{html.escape(dataset)}`")
    return " · ".join(bits)


def header_markdown(recommender: Recommender, backend: str) -> str:
    """The title in the catalog's noun, its size, and one calm line on who writes the answers."""
    from genrec.agent.rationales import item_nouns

    _, nouns = item_nouns(recommender.catalog)
    size = len(recommender.catalog)
    choice = getattr(getattr(recommender, "llm", None), "choice", None)
    notice = getattr(choice, "notice", None)  # the LLM choice's one calm line, when it has one
    if notice:
        how = str(notice)
    elif backend == "none":
        how = ("Answers are rule-based: no language model is set up (the README says how to add "
               "one).")
    else:
        how = "Replies are written by a language model and checked against the catalog."
    return (f"## genrec — tell me what you like, I'll recommend {nouns}\n"
            f"{size:,} {nouns} in the catalog. {html.escape(how)}")


def streamed_lead(text: str) -> str:
    """What the chat bubble shows of a reply still streaming: everything before its numbered
    list (the cards show the list)."""
    for i in range(len(text) - 1):
        if text[i] == "\n" and text[i + 1].isdigit():
            return text[:i]
    return text[:-1] if text.endswith("\n") else text


_MARKDOWN = re.compile(r"([\\`*_\[\]{}#+!|~-])")


def literal(text: str) -> str:
    r"""A user's message as the chat shows it: as typed, never as HTML or Markdown.

    >>> print(literal("<img src=x> **hi**"))
    &lt;img src=x&gt; \*\*hi\*\*
    """
    return _MARKDOWN.sub(r"\\\1", html.escape(text, quote=False))


def display_history(history: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Stored messages as the chat shows them: the user's as typed, replies without the list."""
    from genrec.agent.replies import chat_text_of

    return [
        {"role": m["role"], "content": chat_text_of(str(m.get("content", "")))
         if m["role"] == "assistant" else literal(str(m.get("content", "")))}
        for m in history
        if m.get("role") in ("user", "assistant") and str(m.get("content", "")).strip()
    ]
