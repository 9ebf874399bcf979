"""The chat app's words and flow as a user sees them, in a real browser (Playwright + Debian's
headless chromium) on the real server and Recommender: a short chat answer that points
to the cards, varied reasons, the ✓ only on checked LLM text, no ids on screen, removable
preference chips, the session resumed on reload, the turn's stages, Stop, a message typed during
a turn sent after it."""

from __future__ import annotations

import faulthandler
import json
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from test_ui_browser import (  # noqa: F401 - browser, recommender, server are fixtures
    ASK,
    CHROMIUM,
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    bot_messages,
    browser,
    card_ids,
    open_app,
    recommender,
    send,
    server,
    session_of,
    wait_until,
)

from genrec.agent.replies import CARDS_POINTER
from genrec.config import Settings
from genrec.ui import BackgroundServer, create_app
from genrec.ui.chat.cards import CHECKED, TEMPLATED
from genrec.ui.chat.turns import STOPPED, TOO_LATE

pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def ui_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(home=tmp_path_factory.mktemp("ui-flow") / "home", llm="none")


def answered(page: Any, n: int) -> None:
    wait_until(lambda: len(bot_messages(page)) == n and bot_messages(page)[-1].strip()
               and len(card_ids(page)) > 0, f"answer {n} and its cards")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def test_chat_answer_is_short_points_to_the_cards_and_reasons_vary(
    server: BackgroundServer, browser: Any, recommender, tmp_path: Path
) -> None:
    page = open_app(browser, server.url)
    send(page, ASK)
    answered(page, 1)
    wait_until(lambda: CARDS_POINTER in bot_messages(page)[-1], "the final chat text")
    bubble = bot_messages(page)[-1]
    assert not re.search(r"^\s*\d+\.\s", bubble, re.M), bubble  # no numbered list in the chat
    titles = [recommender.catalog[i].title for i in card_ids(page)]
    assert len(titles) == 10
    assert sum(t in bubble for t in titles) <= 1, bubble  # the picks are on the cards
    reasons = page.locator(".genrec-card .why").all_inner_texts()
    said = [s for r in reasons for s in sentences(r)]
    assert len(said) == len(set(said)), said  # no sentence repeated across the list
    assert any("Toy Story" in r for r in reasons)  # the liked item it resembles
    # raw ids never on screen: no session id, no backend name
    body = page.locator("body").inner_text()
    assert not re.search(r"\b[0-9a-f]{32}\b", body)
    assert "backend" not in body.lower()
    # the README's pictures (both widths) are taken by tests/test_ui_phone_sessions.py
    shot = tmp_path / "screenshot.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 20_000
    page.context.close()


def _evidence(request: Any) -> list[dict]:
    text = request.last_user_text
    return json.JSONDecoder().raw_decode(text[text.index("[{"):])[0]


def half_honest_writer(request: Any) -> dict:
    """FAKE LLM writer: a true reason for the 1st, 3rd, ... item, a false one for the others."""
    ev = _evidence(request)
    out = []
    for n, e in enumerate(ev):
        if n % 2 == 0:
            out.append(
                {"item_id": e["item_id"], "rationale": f"A {e['genres'][0]} pick from {e['year']}."}
            )
        else:
            out.append(
                {"item_id": e["item_id"], "rationale": "Just like Titanic (1997), a classic."}
            )
    return {"text": "Here are some animated picks for you.", "rationales": out}


def test_fake_llm_check_mark_only_where_llm_text_passed_templated_shown_as_such(
    browser: Any, ui_settings: Settings, ml100k, ml100k_ranker, ml100k_store, tmp_path: Path
) -> None:
    from genrec.agent import AgentConfig, Recommender, SessionStore
    from genrec.llm import fake_backend

    rec = Recommender(catalog=ml100k.catalog, ranker=ml100k_ranker, store=ml100k_store,
                      llm=fake_backend([half_honest_writer]), policy="guided",
                      sessions=SessionStore(tmp_path / "s.sqlite"),
                      config=AgentConfig(llm_extraction=False))
    with BackgroundServer(create_app(rec, ui_settings)) as srv:
        page = open_app(browser, srv.url)
        send(page, ASK)
        answered(page, 1)
        boxes = page.locator(".genrec-card").all()
        marks = [b.locator(".src").inner_text().strip() for b in boxes]
        sid = session_of(page)
        rationale_source = {r.item_id: r.rationale_source for r in _last_reply_recs(rec, sid)}
        for box, mark in zip(boxes, marks):
            item = int(box.get_attribute("data-item-id") or 0)
            if rationale_source.get(item) == "llm":
                assert mark == CHECKED, (item, mark)
            else:
                assert mark == TEMPLATED, (item, mark)
        assert marks.count(CHECKED) >= 3 and marks.count(TEMPLATED) >= 3, marks
        page.context.close()


def _last_reply_recs(rec: Any, sid: str) -> list[Any]:
    """The reasons the last turn gave, as the cards show them (text and source) from the stored
    text: an LLM reason is one the writer produced (it starts 'A <genre> pick from')."""
    class R:
        def __init__(self, item_id: int, text: str) -> None:
            self.item_id = item_id
            self.rationale_source = (
                "llm" if re.match(r"A .+ pick from \d{4}\.$", text) else "template"
            )

    last = [m for m in rec.history(sid) if m["role"] == "assistant"][-1]["content"]
    ids = rec.state(sid).last_recommended
    out = []
    for line in last.split("\n"):
        num, _, rest = line.partition(". ")
        if num.isdigit() and " - " in rest:
            out.append(R(ids[int(num) - 1], rest.split(" - ", 1)[1]))
    return out


def test_preference_chips_show_the_constraints_and_a_click_drops_one(
    server: BackgroundServer, browser: Any, recommender
) -> None:
    page = open_app(browser, server.url)
    send(page, "recommend animated movies from the 90s, no musicals")
    answered(page, 1)
    sid = session_of(page)
    prefs = page.locator(".genrec-pref")
    wait_until(lambda: prefs.count() >= 3, "the preference chips")
    labels = [t.strip() for t in prefs.all_inner_texts()]
    assert {"Animation ×", "no Musical ×", "1990-1999 ×"} <= set(labels), labels
    assert all(recommender.catalog[i].year // 10 == 199 for i in card_ids(page))
    page.locator(".genrec-pref", has_text="1990-1999").click()
    wait_until(lambda: "1990-1999 ×" not in [t.strip() for t in prefs.all_inner_texts()],
               "the years chip gone")
    state = recommender.state(sid)
    assert state.year_min is None and state.year_max is None
    assert state.wanted_genres == ["Animation"] and state.avoided_genres == ["Musical"]
    first = card_ids(page)
    send(page, "more please")
    wait_until(lambda: len(bot_messages(page)) == 2 and card_ids(page) != first, "the next list")
    years = [recommender.catalog[i].year for i in card_ids(page)]
    assert any(y is not None and not 1990 <= y <= 1999 for y in years), years  # no longer applied
    assert all("Animation" in recommender.catalog[i].genres for i in card_ids(page))
    page.context.close()


def test_reload_resumes_the_conversation_and_new_conversation_starts_over(
    server: BackgroundServer, browser: Any, recommender
) -> None:
    page = open_app(browser, server.url)
    send(page, ASK)
    answered(page, 1)
    sid, cards = session_of(page), card_ids(page)
    page.reload()
    page.locator("#genrec-header").wait_for()
    wait_until(lambda: len(bot_messages(page)) == 1 and card_ids(page) == cards, "the resumed chat")
    assert CARDS_POINTER in bot_messages(page)[0]
    assert page.locator("#genrec-chat [data-testid=user]").inner_text().strip() == ASK
    assert session_of(page) == sid
    send(page, "more like that please")  # the resumed session goes on
    wait_until(lambda: len(recommender.history(sid)) == 4, "the second turn in the same session")
    answered(page, 2)
    page.locator("#genrec-new").click()
    wait_until(lambda: not bot_messages(page) and not card_ids(page), "an empty conversation")
    assert session_of(page) != sid
    page.reload()  # the old conversation does not come back
    page.locator("#genrec-header").wait_for()
    time.sleep(2)
    assert session_of(page) != sid and not bot_messages(page) and not card_ids(page)
    page.context.close()


class _SlowRecommender:
    """The real recommender, each turn starting `delay` s late (to watch a turn while it runs);
    `stream` takes what the real one takes. With `honours_stop=False` it ignores Stop (`cancel`),
    so a stopped turn runs on and is saved."""

    def __init__(self, rec: Any, delay: float = 4.0, *, honours_stop: bool = True) -> None:
        self._rec = rec
        self.delay = delay
        self.honours_stop = honours_stop

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rec, name)

    def stream(self, session_id: str, message: str, on_stage: Any = None,
               cancel: Any = None) -> Iterator[Any]:
        time.sleep(self.delay)
        cancel = cancel if self.honours_stop else None
        yield from self._rec.stream(session_id, message, on_stage=on_stage, cancel=cancel)


def test_the_stages_of_a_running_turn_are_shown(
    recommender, ui_settings: Settings, browser: Any
) -> None:
    with BackgroundServer(create_app(_SlowRecommender(recommender), ui_settings)) as srv:
        page = open_app(browser, srv.url)
        page.evaluate("""() => { window.__stages = [];
            new MutationObserver(() => { const w = document.querySelector('#genrec-working');
                if (w) window.__stages.push(w.innerText.trim()); })
              .observe(document.body, {subtree: true, childList: true, characterData: true}); }""")
        send(page, ASK)
        answered(page, 1)
        stages = " | ".join(page.evaluate("window.__stages"))
        for stage in ("Reading your message…", "Searching and ranking…", "Writing the answer…"):
            assert stage in stages, stages
        page.context.close()


def test_a_stopped_turn_keeps_nothing(recommender, ui_settings: Settings, browser: Any) -> None:
    slow = _SlowRecommender(recommender)
    with BackgroundServer(create_app(slow, ui_settings)) as srv:
        page = open_app(browser, srv.url)
        sid = session_of(page)
        send(page, ASK)
        answered(page, 1)
        before = recommender.history(sid)
        send(page, "now something from the 80s")
        page.locator("#genrec-stop").wait_for(state="visible")
        page.locator("#genrec-stop").click()
        wait_until(lambda: bot_messages(page)[-1].strip() == STOPPED, "the stopped note")
        time.sleep(slow.delay + 2)  # the stopped turn has finished computing by now
        assert recommender.history(sid) == before  # nothing of the stopped message was kept
        assert recommender.state(sid).year_min is None
        page.context.close()


@contextmanager
def _stacks_on_timeout(page: Any) -> Iterator[None]:
    """On a browser wait that times out: print what the page shows and every thread's stack
    (the app's server runs in this process), so an intermittent hang can be traced."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        yield
    except PlaywrightTimeout:
        print("bot messages:", bot_messages(page), file=sys.stderr)
        print("note:", page.locator("#genrec-note").all_inner_texts(), file=sys.stderr)
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        raise


def test_working_stage_stop_button_and_a_message_typed_during_a_turn(
    recommender, ui_settings: Settings, browser: Any
) -> None:
    # Stop is ignored here: the stopped turn runs on and is saved ("stopped and already saved")
    slow = _SlowRecommender(recommender, honours_stop=False)
    with BackgroundServer(create_app(slow, ui_settings)) as srv:
        page = open_app(browser, srv.url)
        box = page.locator("#genrec-input textarea")
        send(page, ASK)
        working = page.locator("#genrec-working")
        working.wait_for(state="visible")
        assert "…" in working.inner_text()
        stop = page.locator("#genrec-stop")
        stop.wait_for(state="visible")
        stop.click()
        wait_until(lambda: bot_messages(page) and bot_messages(page)[-1].strip() == STOPPED,
                   "the stopped note")
        working.wait_for(state="hidden")
        assert box.is_enabled()
        # the stopped turn was already past saving: it is shown whole, with a note saying so
        sid = session_of(page)
        note = page.locator("#genrec-note")
        wait_until(lambda: len(recommender.history(sid)) == 2 and note.is_visible()
                   and TOO_LATE in note.inner_text(), "the stopped turn shown whole, with its note")
        # a message typed while a turn runs is kept and sent when the turn ends
        send(page, ASK)
        with _stacks_on_timeout(page):
            working.wait_for(state="visible")
        box.fill("more like that please")
        box.press("Enter")
        note.wait_for(state="visible")
        assert "Queued" in note.inner_text() and "more like that please" in note.inner_text()
        wait_until(
            lambda: "more like that please" in [m["content"] for m in recommender.history(sid)],
            "the message typed during the turn, sent after it",
            timeout=90,
        )
        wait_until(lambda: len(bot_messages(page)) >= 2 and CARDS_POINTER in bot_messages(page)[-1],
                   "its answer")
        page.context.close()


def test_a_books_catalog_is_called_books_in_the_title_answer_and_reasons(
    browser: Any, ui_settings: Settings, ml100k, ml100k_ranker, ml100k_store, tmp_path: Path
) -> None:
    """The same items relabelled as a books catalog (`Catalog(item_noun="book")`, as `genrec
    data import --item-noun book` makes one): no "movie" or "film" left in what the user reads."""
    from genrec.agent import Recommender, SessionStore
    from genrec.data import Catalog
    from genrec.llm import get_llm

    books = Catalog(list(ml100k.catalog), name="books", item_noun="book")
    rec = Recommender(
        catalog=books,
        ranker=ml100k_ranker,
        store=ml100k_store,
        llm=get_llm("none", ui_settings),
        sessions=SessionStore(tmp_path / "b.sqlite"),
    )
    with BackgroundServer(create_app(rec, ui_settings)) as srv:
        page = open_app(browser, srv.url)
        assert "I'll recommend books" in page.locator("#genrec-header").inner_text()
        send(page, "I loved Toy Story, recommend animated ones")
        answered(page, 1)
        wait_until(lambda: CARDS_POINTER in bot_messages(page)[-1], "the final chat text")
        assert "10 books" in bot_messages(page)[-1]
        reasons = " ".join(page.locator(".genrec-card .why").all_inner_texts())
        assert "book" in reasons
        words = (bot_messages(page)[-1].split(CARDS_POINTER)[0] + " " + reasons).lower()
        assert "movie" not in words and "film" not in words
        page.context.close()


def test_html_and_markdown_typed_by_a_user_show_as_typed(
    server: BackgroundServer, browser: Any
) -> None:
    typed = (
        "I loved <b>Heat</b> <img src=x onerror=alert(1)> **and** [Toy Story](notes) _so_ `good`"
    )
    page = open_app(browser, server.url)
    send(page, typed)
    answered(page, 1)
    shown = page.locator("#genrec-chat [data-testid=user]").first
    assert shown.inner_text().strip() == typed
    assert shown.locator("img, b, strong, em, a, code").count() == 0  # no broken image, no markup
    page.reload()
    page.locator("#genrec-header").wait_for()
    wait_until(
        lambda: page.locator("#genrec-chat [data-testid=user]").count() == 1, "the resumed chat"
    )
    assert page.locator("#genrec-chat [data-testid=user]").first.inner_text().strip() == typed
    page.context.close()
