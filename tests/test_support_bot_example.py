"""examples/support_bot: FAQ answered by the bot, movie questions through a real genrec server."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from genrec.config import Settings
from genrec.ui import BackgroundServer, create_app
from genrec.ui.api.security import load_secret, principal_of, stored_session_id

BOT_PATH = Path(__file__).resolve().parents[1] / "examples" / "support_bot" / "bot.py"


def load_bot_module():
    spec = importlib.util.spec_from_file_location("support_bot_example", BOT_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def genrec_server(tmp_path_factory: pytest.TempPathFactory,
                  make_small_recommender) -> Iterator[tuple[BackgroundServer, object]]:
    home = tmp_path_factory.mktemp("bot") / "home"
    settings = Settings(home=home, llm="none", api_key="bot-token")
    rec = make_small_recommender(settings)
    with BackgroundServer(create_app(rec, settings, ui=False)) as srv:
        yield srv, rec, home


def test_support_bot_answers_faq_itself_and_asks_genrec_for_movies(genrec_server) -> None:
    server, rec, home = genrec_server
    bot_module = load_bot_module()
    # the server stores the bot's session under a keyed hash of (its key, the OpenAI `user` field)
    session = stored_session_id(load_secret(home), principal_of("bot-token", None), "support-u1")
    bot = bot_module.SupportBot(server.url, api_key="bot-token")

    hours = bot.answer("u1", "What are your opening hours?")
    refund = bot.answer("u1", "I was charged twice, can I get a refund?")
    account = bot.answer("u1", "I forgot my password")
    assert (hours.source, refund.source, account.source) == (
        "faq:hours",
        "faq:refund",
        "faq:account",
    )
    assert "9:00" in hours.text and "14 days" in refund.text and "password" in account.text.lower()
    assert not rec.session_exists(session)  # genrec was not asked

    movie = bot.answer("u1", "I loved Toy Story, what should I watch next?")
    assert movie.source == "genrec" and movie.recommendations
    for r in movie.recommendations:
        assert rec.catalog[r["item_id"]].title == r["title"]
    for r in movie.recommendations[:5]:
        assert r["title"] in movie.text  # the bot lists genrec's top picks
    follow_up = bot.answer("u1", "Any other animated movie to watch?")
    assert follow_up.source == "genrec"
    # one genrec session per customer, holding the whole movie conversation
    assert not rec.session_exists("support-u1")  # the customer id is never stored in the clear
    history = rec.history(session)
    assert [m["role"] for m in history] == ["user", "assistant"] * 2
    assert history[0]["content"] == "I loved Toy Story, what should I watch next?"
    first = {r["item_id"] for r in movie.recommendations}
    assert not first & {r["item_id"] for r in follow_up.recommendations}

    other = bot.answer("u2", "Recommend a movie to watch tonight")
    u2 = stored_session_id(load_secret(home), principal_of("bot-token", None), "support-u2")
    assert other.source == "genrec" and len(rec.history(u2)) == 2
    assert bot.answer("u3", "hello?").source == "fallback"


def test_support_bot_needs_the_servers_api_key(genrec_server) -> None:
    server, _, _ = genrec_server
    bot = load_bot_module().SupportBot(server.url, api_key="wrong")
    import openai

    with pytest.raises(openai.AuthenticationError):
        bot.answer("u9", "what should I watch?")
    assert httpx.get(server.url + "healthz").json()["auth"] is True
