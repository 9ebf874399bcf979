"""The chat app's recommendation cards: one card's HTML, its 👍/👎 buttons, the shortlist view.

A ✓ marks a reason the language model wrote and the fact check passed; a templated reason says so.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import gradio as gr

from genrec.agent.rationales import shown_rating

if TYPE_CHECKING:
    from genrec.agent import DialogueState, Recommendation, Recommender

BannerOf = Callable[[list[str]], dict[str, Any]]
"""Notices to the banner's update (`genrec.ui.chat.text.banner_of`)."""

log = logging.getLogger(__name__)

FEEDBACK_FAILED = "Sorry, I could not record that 👍/👎; please try again."
CHECKED = "✓ checked"
CHECKED_TIP = "Written by the language model; every fact in it was checked against the catalog."
TEMPLATED = "Reason built from the catalog data"
UNCHECKED = "Written by the language model, not checked"


def card_of(rec: Recommendation | Mapping[str, Any]) -> dict[str, Any]:
    """A Recommendation as the plain dict the cards render (plus the user's feedback, if any)."""
    d = rec.model_dump(mode="json") if hasattr(rec, "model_dump") else dict(rec)
    d.setdefault("feedback", None)
    return d


def source_html(card: dict[str, Any]) -> str:
    """Where the reason comes from: ✓ only for LLM text that passed the check."""
    if card.get("rationale_source") == "llm":
        if card.get("verified"):
            return f'<span class="verified" title="{html.escape(CHECKED_TIP)}">{CHECKED}</span>'
        return f'<span class="source">{UNCHECKED}</span>'
    return f'<span class="source">{TEMPLATED}</span>'


def links_html(links: Iterable[tuple[str, str]] | None) -> str:
    """The item's pages ("IMDb", "TMDb") as links that open in a new tab that gets no handle on this
    page (rel="noopener"); only https links are shown.

    >>> print(links_html([("IMDb", "https://www.imdb.com/title/tt0114709/"),
    ...                   ("x", "javascript:alert(1)")]))  # doctest: +NORMALIZE_WHITESPACE
    <span class="links"><a href="https://www.imdb.com/title/tt0114709/" target="_blank"
    rel="noopener">IMDb</a></span>
    """
    e = html.escape
    anchors = [f'<a href="{e(str(url))}" target="_blank" rel="noopener">{e(str(site))}</a>'
               for site, url in links or () if str(url).startswith("https://")]
    return f'<span class="links">{" · ".join(anchors)}</span>' if anchors else ""


def card_html(card: dict[str, Any], links: Iterable[tuple[str, str]] | None = ()) -> str:
    """One card: title (year), genres, predicted rating, the item's pages (`links`: (site, URL)
    pairs, `Item.links`), the reason and where it comes from."""
    e = html.escape
    title = e(str(card.get("title", "")))
    year = f" ({card['year']})" if card.get("year") else ""
    genres = ", ".join(e(str(g)) for g in card.get("genres") or [])
    rating = card.get("predicted_rating")
    meta = [genres] if genres else []
    if rating is not None:
        meta.append(f"predicted ★ {shown_rating(float(rating))}")
    if links_html(links):
        meta.append(links_html(links))
    fb = card.get("feedback")
    classes = "genrec-card" + (" liked" if fb is True else " disliked" if fb is False else "")
    note = ""
    if fb is True:
        note = '<div class="fb">👍 noted: more like this</div>'
    elif fb is False:
        note = '<div class="fb">👎 noted: it will not be recommended again</div>'
    return (
        f'<div class="{classes}" data-item-id="{int(card.get("item_id", 0))}">'
        f"<h4>{title}{e(year)}</h4>"
        f'<div class="meta">{" · ".join(meta)}</div>'
        f'<div class="why">{e(str(card.get("rationale", "")))}</div>'
        f'<div class="src">{source_html(card)}</div>{note}</div>'
    )


def card_block(recommender: Recommender, card: dict[str, Any], session: gr.Textbox,
               cards_state: gr.State, banner: gr.Markdown, banner_of: BannerOf) -> None:
    """One card (inside `gr.render`): its HTML and the 👍/👎 buttons wired to the recommender."""
    item_id = int(card["item_id"])
    item = recommender.catalog.get(item_id)
    with gr.Group(elem_classes=["genrec-card-box"]):
        gr.HTML(
            card_html(card, item.links if item is not None else ()),
            elem_classes=["genrec-card-html"],
        )
        with gr.Row(elem_classes=["genrec-fb-row"]):
            up = gr.Button("👍 Like", size="sm", elem_classes=["genrec-like"],
                           elem_id=f"like-{item_id}")
            down = gr.Button("👎 Not for me", size="sm", elem_classes=["genrec-dislike"],
                             elem_id=f"dislike-{item_id}")
    for button, liked in ((up, True), (down, False)):
        button.click(_feedback_handler(recommender, item_id, liked, banner_of),
                     inputs=[session, cards_state], outputs=[cards_state, banner])


def _feedback_handler(
    recommender: Recommender, item_id: int, liked: bool, banner_of: BannerOf
) -> Callable[[str, list[dict[str, Any]]], tuple[object, object]]:
    """A click handler recording 👍/👎 for one item and marking its card."""

    def handler(session_id: str, cards: list[dict[str, Any]]) -> tuple[object, object]:
        try:
            recommender.feedback(session_id, item_id, liked)
        except Exception:  # noqa: BLE001 - a banner, not a traceback
            log.exception("feedback failed")
            return gr.skip(), banner_of([FEEDBACK_FAILED])
        marked = [dict(c, feedback=liked) if int(c["item_id"]) == item_id else c for c in cards]
        return marked, gr.skip()

    return handler


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
        return "<p><em>Nothing fits your constraints right now.</em></p>"
    return "<ol class='genrec-shortlist-list'>" + "".join(rows) + "</ol>"


def cards_of_state(recommender: Recommender, session_id: str) -> list[dict[str, Any]]:
    """The last list shown in a session, as cards (for a page reload): each card's reason is the
    one the last reply gave (read back from its text), marked as templated, and its predicted
    rating the ranker's for the session's state (as the turn had it)."""
    state = recommender.state(session_id)
    ids = list(state.last_recommended)
    if not ids:
        return []
    predicted = _predicted(recommender, state, ids)
    reasons: dict[int, str] = {}
    for m in reversed(recommender.history(session_id)):
        if m.get("role") == "assistant" and "\n1. " in str(m.get("content", "")):
            for line in str(m["content"]).split("\n"):
                num, _, rest = line.partition(". ")
                if num.isdigit() and " - " in rest and 0 < int(num) <= len(ids):
                    reasons[ids[int(num) - 1]] = rest.split(" - ", 1)[1]
            break
    cards = []
    for i in ids:
        it = recommender.catalog.get(i)
        if it is None:
            continue
        fb = True if i in state.liked else False if i in state.disliked else None
        cards.append({"item_id": i, "title": it.title, "year": it.year, "genres": list(it.genres),
                      "rationale": reasons.get(i, ""), "rationale_source": "template",
                      "verified": True, "feedback": fb, "predicted_rating": predicted.get(i)})
    return cards


def _predicted(recommender: Recommender, state: DialogueState, ids: list[int]
               ) -> dict[int, float]:
    """The ranker's predicted ratings of `ids` for the session's state (none without a profile),
    rounded as a Recommendation's are."""
    toolkit = recommender.toolkit
    try:
        profile = toolkit.profile(state)
        found = toolkit.predict(profile, ids) if profile is not None else {}
    except Exception:  # noqa: BLE001 - a card without its star rather than no cards
        log.exception("predicting resumed cards failed")
        return {}
    return {i: round(float(p), 3) for i, p in found.items()}
