"""The Gradio chat app in a real browser (Playwright + Debian's headless chromium) against the real
server and Recommender (`none` LLM): streaming chat, cards, 👎 respected, isolation, LLM-down
banner."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from genrec.config import Settings
from genrec.ui import BackgroundServer, create_app

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ASK = "I loved Toy Story, recommend animated movies"
TIMEOUT_MS = 60_000

if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def ui_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """This module's own GENREC_HOME (sessions); ranker and index are the session's."""
    return Settings(home=tmp_path_factory.mktemp("ui") / "home", llm="none")


@pytest.fixture(scope="module")
def recommender(ui_settings: Settings, make_ml100k_recommender):
    return make_ml100k_recommender(ui_settings)


@pytest.fixture(scope="module")
def server(recommender, ui_settings: Settings) -> Iterator[BackgroundServer]:
    with BackgroundServer(create_app(recommender, ui_settings)) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_app(browser, url: str, width: int = 1280, height: int = 900):
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.locator("#genrec-header").wait_for()
    return page


def open_why(page) -> None:
    """Open the "why these?" panel (a no-op when it is open)."""
    if not page.locator("#genrec-why [data-testid=accordion-content]").first.is_visible():
        page.locator("#genrec-why button.label-wrap").first.click()
    page.locator("#genrec-trace").wait_for()


def session_of(page) -> str:
    """The session id, from the "why these?" panel: the only place it is on screen."""
    open_why(page)
    code = page.locator("#genrec-session code").first
    wait_until(lambda: code.count() and (code.text_content() or "").strip(), "the session id")
    return (code.text_content() or "").strip()


def send(page, message: str) -> None:
    page.locator("#genrec-input textarea").fill(message)
    page.locator("#genrec-send").click()


def bot_messages(page) -> list[str]:
    return page.locator("#genrec-chat [data-testid=bot]").all_inner_texts()


def card_ids(page) -> list[int]:
    return [int(x) for x in page.locator(".genrec-card").evaluate_all(
        "els => els.map(e => e.dataset.itemId)")]


def wait_until(predicate, what: str, timeout: float = TIMEOUT_MS / 1000) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def test_chat_cards_and_dislike_respected_in_a_real_browser(
    server: BackgroundServer, browser, recommender, tmp_path: Path
) -> None:
    page = open_app(browser, server.url)
    header = page.locator("#genrec-header").inner_text()
    assert "I'll recommend movies" in header and "rule-based" in header
    sid = session_of(page)
    assert re.fullmatch(r"[0-9a-f]{32}", sid)

    send(page, ASK)
    page.locator(".genrec-card").first.wait_for()
    first = card_ids(page)
    assert (
        first and len(first) == len(set(first)) and 1 not in first
    )  # Toy Story is liked, not shown
    wait_until(lambda: len(recommender.history(sid)) == 2, "the first turn to be saved")
    assert recommender.history(sid)[-1]["content"].strip()
    wait_until(lambda: bool(bot_messages(page) and bot_messages(page)[-1].strip()), "the answer")
    # every card is a real catalog item with its title
    titles = page.locator(".genrec-card h4").all_inner_texts()
    for item_id, title in zip(first, titles):
        assert recommender.catalog[item_id].title in title
    page.locator("#genrec-shortlist-box").click()  # "my shortlist": the standing best 10, read-only
    page.locator("#genrec-shortlist-btn").click()
    items = page.locator("#genrec-shortlist li")
    items.first.wait_for()
    listed = items.all_inner_texts()
    assert len(listed) == 10 and all("Animation" in row for row in listed)  # "animated" obeyed
    assert not any(row.startswith("Toy Story") for row in listed)  # named by the user: left out
    assert items.first.is_visible()
    assert len(recommender.history(sid)) == 2  # the shortlist changes nothing
    open_why(page)  # the "why these?" panel shows this turn's tool calls
    page.locator("#genrec-trace table").first.wait_for()
    assert "Score parts of each pick" in page.locator("#genrec-trace").inner_text()
    page.screenshot(path=str(tmp_path / "genrec-ui-first-turn.png"), full_page=True)

    disliked = first[0]
    page.locator(f"#dislike-{disliked}").click()
    page.get_by_text("👎 noted").wait_for()
    wait_until(lambda: disliked in recommender.state(sid).disliked, "the 👎 to be recorded")

    send(page, "more like that please")
    wait_until(lambda: len(recommender.history(sid)) == 4, "the second turn")
    wait_until(lambda: card_ids(page) != first, "the second set of cards")
    second = card_ids(page)
    assert second and disliked not in second
    disliked_title = recommender.catalog[disliked].title
    wait_until(lambda: len(bot_messages(page)) == 2, "the second answer")
    assert disliked_title not in bot_messages(page)[-1]
    page.screenshot(path=str(tmp_path / "genrec-ui-after-dislike.png"), full_page=True)
    assert (tmp_path / "genrec-ui-after-dislike.png").stat().st_size > 10_000
    page.context.close()


def test_two_browsers_never_share_a_conversation(server: BackgroundServer, browser) -> None:
    alice, bob = open_app(browser, server.url), open_app(browser, server.url)
    assert session_of(alice) != session_of(bob)
    send(alice, ASK)
    alice.locator(".genrec-card").first.wait_for()
    send(bob, "Recommend a horror movie")
    bob.locator(".genrec-card").first.wait_for()
    wait_until(lambda: len(bot_messages(bob)) == 1, "bob's answer")
    bob_chat = bob.locator("#genrec-chat").inner_text()
    assert "Toy Story" not in bob_chat.split("Recommend a horror movie")[0]
    assert "horror" not in alice.locator("#genrec-chat [data-testid=user]").inner_text().lower()
    # "new conversation" starts over with a new session id and an empty chat
    old = session_of(alice)
    alice.locator("#genrec-new").click()
    wait_until(lambda: session_of(alice) != old, "a new session id")
    wait_until(lambda: not bot_messages(alice), "an empty chat")
    # the cards are a gr.render block: it re-renders in its own event, just after the chat clears
    wait_until(lambda: not card_ids(alice), "the cards cleared")
    alice.context.close()
    bob.context.close()


def test_llm_down_shows_a_banner_not_a_traceback(
    ui_settings: Settings, browser, tmp_path: Path, make_ml100k_recommender
) -> None:
    down = ui_settings.model_copy(
        update={"llm": "openai", "llm_base_url": "http://127.0.0.1:9/v1", "llm_model": "m",
                "llm_timeout": 2.0}
    )
    rec = make_ml100k_recommender(down, llm="openai")
    with BackgroundServer(create_app(rec, down)) as srv:
        page = open_app(browser, srv.url)
        assert "written by a language model" in page.locator("#genrec-header").inner_text()
        send(page, ASK)
        banner = page.locator("#genrec-banner")
        banner.wait_for(state="visible")
        text = banner.inner_text()
        assert text.strip() and "Traceback" not in page.content()
        wait_until(lambda: len(bot_messages(page)) == 1 and bot_messages(page)[0].strip(),
                   "an answer despite the LLM being down")
        page.screenshot(path=str(tmp_path / "genrec-ui-llm-down.png"), full_page=True)
        page.context.close()
