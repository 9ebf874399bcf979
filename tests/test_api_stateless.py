"""Stateless OpenAI clients on a real server (uvicorn on 127.0.0.1, the real Recommender, `none`
LLM): without `user` or `X-Session-Id` the conversation is read from `messages` (the earlier
user turns, and which items the earlier assistant turns recommended) and answered as if the
session had been kept, whether genrec answered the earlier turns itself or not."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest

from genrec.config import Settings
from genrec.ui import BackgroundServer, create_app

HEAT, CASINO, THE_ROCK, FARGO = 273, 693, 117, 100  # ml-100k ids
OPENER = "I loved Heat, something like it please"
FOLLOW_UPS = ["something from the 90s", "more like those, but no horror"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, make_small_recommender
           ) -> Iterator[tuple[BackgroundServer, object]]:
    settings = Settings(home=tmp_path_factory.mktemp("stateless") / "home", llm="none")
    rec = make_small_recommender(settings)
    with BackgroundServer(create_app(rec, settings, ui=False)) as srv:
        yield srv, rec


@pytest.fixture(scope="module")
def other_server(tmp_path_factory: pytest.TempPathFactory, make_small_recommender
                 ) -> Iterator[BackgroundServer]:
    """A second genrec server with its own session store: it never saw the first one's turns."""
    settings = Settings(home=tmp_path_factory.mktemp("stateless-other") / "home", llm="none")
    with BackgroundServer(create_app(make_small_recommender(settings), settings, ui=False)) as srv:
        yield srv


@pytest.fixture(scope="module")
def kept(server) -> list[dict]:
    """The reference: the same conversation in one kept session (the `user` field)."""
    srv, _ = server
    out = []
    for message in [OPENER, *FOLLOW_UPS]:
        r = httpx.post(srv.url + "v1/chat/completions", timeout=60, json={
            "user": "kept-reference", "messages": [{"role": "user", "content": message}]})
        assert r.status_code == 200, r.text
        out.append(r.json())
    return out


def ids(completion: dict) -> list[int]:
    return [r["item_id"] for r in completion["genrec"]["recommendations"]]


def text(completion: dict) -> str:
    return completion["choices"][0]["message"]["content"]


def client(srv: BackgroundServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.url + "v1", api_key="unused", max_retries=0, timeout=60)


def test_a_stateless_client_is_answered_as_if_the_session_had_been_kept(server, kept) -> None:
    srv, _ = server
    oai = client(srv)
    messages: list[dict] = []
    given = []
    for turn, message in enumerate([OPENER, *FOLLOW_UPS]):
        messages.append({"role": "user", "content": message})
        done = oai.chat.completions.create(model="gpt-4o-mini", messages=messages)  # no user
        extra = done.model_extra["genrec"]
        got = [r["item_id"] for r in extra["recommendations"]]
        assert got == ids(kept[turn]), (turn, message)  # the same picks, in the same order
        assert done.choices[0].message.content == text(kept[turn])
        assert HEAT not in got
        given.append(extra["session_id"])
        messages.append({"role": "assistant", "content": done.choices[0].message.content})
    shown = [set(ids(k)) for k in kept]
    assert not (shown[0] & shown[1]) and not (shown[1] & shown[2])  # never shown twice
    assert len(set(given)) == 3  # each request is given its own id


def test_streaming_stateless_turn_matches_the_kept_one(server, kept) -> None:
    srv, _ = server
    messages = [{"role": "user", "content": OPENER},
                {"role": "assistant", "content": text(kept[0])},
                {"role": "user", "content": FOLLOW_UPS[0]}]
    with httpx.stream("POST", srv.url + "v1/chat/completions", timeout=60,
                      json={"messages": messages, "stream": True}) as r:
        assert r.status_code == 200
        events = [json.loads(ln[6:]) for ln in r.iter_lines() if ln.startswith("data: {")]
    final = [e for e in events if e.get("genrec")]
    assert len(final) == 1
    assert [x["item_id"] for x in final[0]["genrec"]["recommendations"]] == ids(kept[1])


def test_a_transcript_genrec_never_saw_is_read_from_its_turns(other_server, kept) -> None:
    """Another server answered the earlier turns: this one replays the user turns and takes the
    items shown from the assistant turns' text, so the answer is still the kept session's."""
    messages: list[dict] = []
    for turn, message in enumerate([OPENER, *FOLLOW_UPS]):
        messages.append({"role": "user", "content": message})
        if turn < 2:
            messages.append({"role": "assistant", "content": text(kept[turn])})
    r = httpx.post(other_server.url + "v1/chat/completions", json={"messages": messages},
                   timeout=120)
    assert r.status_code == 200, r.text
    assert ids(r.json()) == ids(kept[2])


def test_free_text_assistant_turns_count_as_shown_and_the_given_id_continues(
        other_server) -> None:
    """An assistant turn written by someone else ('You might enjoy Casino (1995) and The Rock
    (1996)'): those two are shown and never come again; the user's like of Heat holds; the id
    the response gives continues this very conversation server-side."""
    messages = [
        {"role": "system", "content": "You are a helpful movie assistant."},
        {"role": "user", "content": "I loved Heat"},
        {"role": "assistant", "content": "Since you liked Heat (1995), you might enjoy Casino "
                                         "(1995) and The Rock (1996). <img src=x onerror=1>"},
        {"role": "user", "content": "more like those please"},
    ]
    r = httpx.post(other_server.url + "v1/chat/completions", json={"messages": messages},
                   timeout=120)
    assert r.status_code == 200, r.text
    got = ids(r.json())
    assert got and not {HEAT, CASINO, THE_ROCK} & set(got)
    given = r.headers["x-session-id"]
    assert r.json()["genrec"]["session_id"] == given
    view = httpx.get(other_server.url + f"api/sessions/{given}", timeout=30)
    assert view.status_code == 200, view.text
    state = view.json()["state"]
    assert HEAT in state["liked"]
    assert {CASINO, THE_ROCK} <= set(state["recommended"]) and set(got) <= set(state["recommended"])
    assert HEAT not in state["recommended"]  # named by the user: a like, not a pick
    assert [m["content"] for m in view.json()["history"]] == [
        m["content"] for m in messages[1:]] + [r.json()["choices"][0]["message"]["content"]]
    # continued with the header: server-side history from here on
    more = httpx.post(other_server.url + "v1/chat/completions", headers={"X-Session-Id": given},
                      json={"messages": [{"role": "user", "content": "and from the 80s?"}]},
                      timeout=60)
    assert more.status_code == 200 and more.headers["x-session-id"] == given
    assert not set(ids(more.json())) & ({HEAT, CASINO, THE_ROCK} | set(got))
    assert len(httpx.get(other_server.url + f"api/sessions/{given}").json()["history"]) == 6


def test_a_retried_request_gets_the_same_answer_not_the_next_one(server) -> None:
    """Regenerating (the same messages again) answers the same turn again, from the same
    conversation: the first answer's picks are not taken as already shown."""
    srv, _ = server
    messages = [{"role": "user", "content": "a comedy from the 80s"}]
    first = httpx.post(srv.url + "v1/chat/completions", json={"messages": messages}, timeout=60)
    again = httpx.post(srv.url + "v1/chat/completions", json={"messages": messages}, timeout=60)
    assert ids(first.json()) and ids(first.json()) == ids(again.json())
    follow = messages + [{"role": "assistant", "content": text(first.json())},
                         {"role": "user", "content": "more please"}]
    a = httpx.post(srv.url + "v1/chat/completions", json={"messages": follow}, timeout=60)
    b = httpx.post(srv.url + "v1/chat/completions", json={"messages": follow}, timeout=60)
    assert ids(a.json()) == ids(b.json())
    assert not set(ids(a.json())) & set(ids(first.json()))


def test_stateless_conversations_of_two_keys_never_meet(tmp_path_factory, make_small_recommender
                                                        ) -> None:
    """The same transcript from two API keys is two conversations: what one does with its given
    id never reaches the other, and a principal that never sent the transcript gets 404."""
    settings = Settings(home=tmp_path_factory.mktemp("stateless-keys") / "home", llm="none",
                        api_key="key-a-0123456789,key-b-0123456789")
    with BackgroundServer(create_app(make_small_recommender(settings), settings,
                                     ui=False)) as srv:
        def call(key: str, method: str, path: str, **kw) -> httpx.Response:
            headers = {"Authorization": f"Bearer {key}", **kw.pop("headers", {})}
            return httpx.request(method, srv.url + path, headers=headers, timeout=60, **kw)

        opener = {"messages": [{"role": "user", "content": "I loved Fargo"}]}
        a = call("key-a-0123456789", "POST", "v1/chat/completions", json=opener)
        b = call("key-b-0123456789", "POST", "v1/chat/completions", json=opener)
        assert ids(a.json()) == ids(b.json())
        given_a = a.headers["x-session-id"]
        more = call("key-a-0123456789", "POST", "v1/chat/completions",
                    headers={"X-Session-Id": given_a},
                    json={"messages": [{"role": "user", "content": "I also loved Heat"}]})
        assert more.status_code == 200
        assert HEAT in call("key-a-0123456789", "GET", f"api/sessions/{given_a}"
                            ).json()["state"]["liked"]
        seen_by_b = call("key-b-0123456789", "GET", f"api/sessions/{given_a}").json()
        assert FARGO in seen_by_b["state"]["liked"] and HEAT not in seen_by_b["state"]["liked"]
        assert len(seen_by_b["history"]) == 2  # B's own opener, not A's conversation
        stranger = call("key-a-0123456789", "GET", f"api/sessions/{given_a}",
                        headers={"X-Genrec-User": "someone-else"})
        assert stranger.status_code == 404
