"""examples/support_bot against a real genrec server: genrec's answer is shown once, as it
comes (no second list, its question last), and once the movie conversation has begun every
follow-up that is not an FAQ question goes to genrec, in the same genrec session."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from test_support_bot_example import load_bot_module

from genrec.config import Settings
from genrec.ui import BackgroundServer, create_app
from genrec.ui.api.security import load_secret, principal_of, stored_session_id

LIST_LINE = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, make_small_recommender
           ) -> Iterator[tuple[BackgroundServer, object, object]]:
    home = tmp_path_factory.mktemp("bot-routing") / "home"
    settings = Settings(home=home, llm="none")
    rec = make_small_recommender(settings)
    with BackgroundServer(create_app(rec, settings, ui=False)) as srv:
        yield srv, rec, home


def test_the_bot_shows_genrecs_answer_once_with_its_question_last(served) -> None:
    server, rec, home = served
    bot = load_bot_module().SupportBot(server.url)
    movie = bot.answer("c1", "I loved Toy Story, what should I watch?")
    assert movie.source == "genrec" and movie.recommendations
    listed = [ln for ln in movie.text.splitlines() if LIST_LINE.match(ln)]
    assert len(listed) == len(movie.recommendations)  # each pick listed once, no second list
    for r, line in zip(movie.recommendations, listed):
        assert r["title"] in line
    said = rec.history(stored_session_id(load_secret(home), principal_of(None, None),
                                         "support-c1"))[-1]["content"]
    assert movie.text == said  # genrec's words as they came: its question stays last
    assert movie.text.rstrip().endswith("?")


def test_the_whole_movie_conversation_goes_to_genrec(served) -> None:
    server, rec, home = served
    bot = load_bot_module().SupportBot(server.url)
    assert bot.answer("c2", "something funnier please").source == "fallback"  # not begun yet

    first = bot.answer("c2", "I loved Toy Story, what should I watch?")
    funnier = bot.answer("c2", "something funnier please")
    assert funnier.source == "genrec" and funnier.recommendations
    assert not {r["item_id"] for r in first.recommendations} & {
        r["item_id"] for r in funnier.recommendations}
    fargo = bot.answer("c2", "is fargo any good?")
    assert fargo.source == "genrec" and "Fargo" in fargo.text
    hours = bot.answer("c2", "what are your opening hours?")
    assert hours.source == "faq:hours"  # FAQ questions are still the bot's
    nineties = bot.answer("c2", "and from the 90s?")
    assert nineties.source == "genrec"
    session = stored_session_id(load_secret(home), principal_of(None, None), "support-c2")
    said = [m["content"] for m in rec.history(session) if m["role"] == "user"]
    assert said == ["I loved Toy Story, what should I watch?", "something funnier please",
                    "is fargo any good?", "and from the 90s?"]
    # another customer's movie conversation is theirs alone
    assert bot.answer("c3", "is fargo any good?").source == "fallback"
