"""The chat app as a user sees it, in a real browser (Playwright + Debian's headless chromium) on
the real server and Recommender (`none` LLM): cards that fit the screen, answer buttons, banners in
user words, over-long messages refused, input locked while a turn runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
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
    open_why,
    recommender,
    send,
    server,
    session_of,
    wait_until,
)

from genrec.config import Settings
from genrec.ui import BackgroundServer, create_app
from genrec.ui.chat.notices import LLM_DOWN

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ui_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(home=tmp_path_factory.mktemp("ui-app") / "home", llm="none")


def contrast_of(page: Any, selector: str) -> float:
    """WCAG contrast of the first `selector`'s text on the first opaque background behind it."""
    return float(
        page.locator(selector).first.evaluate("""el => {
        const rgb = s => s.match(/[\\d.]+/g).map(Number);
        const lum = ([r, g, b]) => {
            const f = c => {
                c /= 255;
                return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
            };
            return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
        };
        let bg = [255, 255, 255];
        for (let n = el; n; n = n.parentElement) {
            const c = rgb(getComputedStyle(n).backgroundColor);
            if (c.length < 4 || c[3] > 0.99) { bg = c.slice(0, 3); break; }
        }
        const a = lum(rgb(getComputedStyle(el).color)), b = lum(bg);
        return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    }""")
    )


@pytest.mark.parametrize("width,height", [(390, 844), (1280, 900), (1920, 1080)])
def test_all_ten_cards_fit_the_screen_without_sideways_scrolling(
    server: BackgroundServer, browser: Any, width: int, height: int
) -> None:
    page = open_app(browser, server.url, width, height)
    send(page, ASK)
    wait_until(lambda: len(card_ids(page)) == 10, "10 cards")
    for box in page.locator(".genrec-card-box").all():
        b = box.bounding_box()
        assert b is not None and b["x"] >= 0 and b["x"] + b["width"] <= width + 0.5, (width, b)
        assert box.locator(".genrec-card h4").inner_text().strip()
        assert box.locator(".genrec-card .why").inner_text().strip()  # the reason
        assert box.locator(".genrec-like").inner_text().strip() == "👍 Like"
        assert box.locator(".genrec-dislike").inner_text().strip() == "👎 Not for me"
        for button in (box.locator(".genrec-like"), box.locator(".genrec-dislike")):
            bb = button.bounding_box()
            assert bb is not None and bb["x"] + bb["width"] <= width + 0.5
    scroll = page.evaluate(
        "[document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]"
    )
    assert scroll[0] <= scroll[1], f"sideways scrolling at {width} px: {scroll}"
    meta = page.locator(".genrec-card .meta").first.inner_text()
    assert "predicted ★" in meta
    assert contrast_of(page, ".genrec-card .meta") >= 4.5
    # the last card's 👍 works where the old layout hid it
    last = card_ids(page)[-1]
    page.locator(f"#like-{last}").click()
    page.get_by_text("👍 noted").wait_for()
    first = card_ids(page)[0]  # a 👎 card greys out
    page.locator(f"#dislike-{first}").click()
    grey = page.locator(f".genrec-card.disliked[data-item-id='{first}']")
    grey.wait_for()
    assert float(grey.evaluate("el => getComputedStyle(el).opacity")) < 1
    page.context.close()


def test_suggested_answers_are_buttons_that_send_the_answer(
    server: BackgroundServer, browser: Any, recommender
) -> None:
    page = open_app(browser, server.url)
    sid = session_of(page)
    send(page, ASK)  # (the agent asks "a film you loved?", no likely answers to offer)
    wait_until(lambda: len(recommender.history(sid)) == 2, "the first turn to be saved")
    send(page, "more like that please")  # then "Any particular decade you'd like?"
    chip = page.locator(".genrec-chip").first
    chip.wait_for(state="visible")
    wait_until(lambda: "decade" in bot_messages(page)[-1], "the decade question")
    answers = [a.strip() for a in page.locator(".genrec-chip:visible").all_inner_texts()]
    assert "the 1990s" in answers
    page.locator(".genrec-chip", has_text="the 1990s").click()
    wait_until(lambda: len(recommender.history(sid)) == 6, "the chip's turn")
    assert recommender.history(sid)[4]["content"] == "the 1990s"  # sent as the user's message
    users = page.locator("#genrec-chat [data-testid=user]")
    wait_until(lambda: users.count() == 3, "the chip shown as the user's message")
    assert users.nth(2).inner_text().strip() == "the 1990s"
    wait_until(lambda: len(bot_messages(page)) == 3 and bot_messages(page)[-1].strip(), "an answer")
    wait_until(lambda: card_ids(page) and all(
        1990 <= (recommender.catalog[i].year or 0) <= 1999 for i in card_ids(page)), "1990s cards")
    page.context.close()


def test_llm_down_banner_is_one_calm_sentence_details_in_why_panel(
    ui_settings: Settings, browser: Any, make_ml100k_recommender
) -> None:
    down = ui_settings.model_copy(update={"llm": "openai", "llm_base_url": "http://127.0.0.1:9/v1",
                                          "llm_model": "m", "llm_timeout": 2.0})
    rec = make_ml100k_recommender(down, llm="openai")
    with BackgroundServer(create_app(rec, down)) as srv:
        page = open_app(browser, srv.url)
        send(page, ASK)
        banner = page.locator("#genrec-banner")
        banner.wait_for(state="visible")
        text = banner.inner_text().strip()
        assert text == LLM_DOWN
        assert banner.locator("a").count() == 0
        open_why(page)
        trace = page.locator("#genrec-trace")
        wait_until(lambda: "127.0.0.1" in trace.inner_text() or "LLM" in trace.inner_text(),
                   "the details in the why-these panel")
        assert "LLM unavailable" in trace.inner_text()
        page.context.close()


def test_message_over_the_limit_is_refused_with_a_note_not_cut(
    server: BackgroundServer, browser: Any, recommender
) -> None:
    limit = recommender.config.max_message_chars
    page = open_app(browser, server.url)
    sid = session_of(page)
    long = ("I loved Toy Story " * 400)[: limit + 200]
    page.locator("#genrec-input textarea").fill(long)
    assert len(page.locator("#genrec-input textarea").input_value()) == limit + 200  # not cut
    page.locator("#genrec-send").click()
    note = page.locator("#genrec-note")
    note.wait_for(state="visible")
    assert f"{limit:,}" in note.inner_text() and "nothing was sent" in note.inner_text()
    assert page.locator("#genrec-input textarea").input_value() == long  # kept to shorten
    assert not bot_messages(page) and not recommender.session_exists(sid)
    send(page, ASK)  # a message within the limit goes through, and the note goes
    note.wait_for(state="hidden")
    wait_until(lambda: len(bot_messages(page)) == 1 and bot_messages(page)[0].strip(), "an answer")
    page.context.close()


class _SlowRecommender:
    """The real recommender, with each turn starting 3 s late (to watch the "working" state)."""

    def __init__(self, rec: Any) -> None:
        self._rec = rec

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rec, name)

    def stream(self, session_id: str, message: str, on_stage: Any = None,
               cancel: Any = None) -> Iterator[Any]:
        time.sleep(3.0)
        yield from self._rec.stream(session_id, message, on_stage=on_stage, cancel=cancel)


def test_send_is_locked_with_a_working_note_while_a_turn_runs(
    recommender, ui_settings: Settings, browser: Any
) -> None:
    with BackgroundServer(create_app(_SlowRecommender(recommender), ui_settings)) as srv:
        page = open_app(browser, srv.url)
        sid = session_of(page)
        box = page.locator("#genrec-input textarea")
        send(page, ASK)
        page.locator("#genrec-working").wait_for(state="visible")
        assert page.locator("#genrec-send").is_disabled()
        assert box.is_enabled()  # typing goes on: a message sent now waits for this turn
        wait_until(
            lambda: len(bot_messages(page)) == 1 and bot_messages(page)[0].strip(), "an answer"
        )
        page.locator("#genrec-working").wait_for(state="hidden")
        wait_until(lambda: box.is_enabled(), "the input unlocked")
        wait_until(
            lambda: page.evaluate("document.activeElement?.closest('#genrec-input') !== null"),
            "the cursor back in the input",
        )
        send(page, "more like that please")
        wait_until(lambda: len(recommender.history(sid)) == 4, "the second turn")
        page.context.close()
