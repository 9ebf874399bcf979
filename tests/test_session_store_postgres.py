"""The shared session store on a real PostgreSQL (a throwaway cluster, tests/pg_cluster.py):
durability, per-session locks across connections and processes, and two API replicas sharing
conversations (real Recommenders over ML-100K, real HTTP on 127.0.0.1, LLM backend `none`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from pg_cluster import TemporaryPostgres, _free_port, server_bin

from genrec.agent import DialogueState, SessionStore

pytestmark = pytest.mark.skipif(
    server_bin() is None and not os.environ.get("GENREC_TEST_POSTGRES_URL"),
    reason="PostgreSQL is not installed (apt-get install postgresql; .ci/run does)")


@pytest.fixture(scope="module")
def pg_url():
    with TemporaryPostgres() as pg:
        yield pg.url


@pytest.fixture
def store(pg_url):
    s = SessionStore(pg_url)
    for sid in s.list_sessions():
        s.delete(sid)
    yield s
    s.close()


def test_postgres_roundtrip_isolation_delete(store, pg_url):
    store.save_turn("x", DialogueState(liked=[1]), [("user", "hi"), ("assistant", "hello")],
                    [{"tool": "search"}])
    store.save_turn("y", DialogueState(disliked=[2]), [("user", "yo")])
    other = SessionStore(pg_url)  # another replica: its own engine and connections
    assert other.url.startswith("postgresql+psycopg://") and "@127.0.0.1" in other.url
    assert other.load_state("x").liked == [1] and other.load_state("y").disliked == [2]
    assert [m["role"] for m in other.history("x")] == ["user", "assistant"]
    assert other.last_trace("x") == [{"tool": "search"}]
    assert set(other.list_sessions()) == {"x", "y"}
    assert other.delete("x") and not other.exists("x") and not other.delete("x")
    assert other.history("x") == [] and other.load_state("x") == DialogueState()
    assert store.exists("y")
    other.close()


def test_a_failed_turn_leaves_the_state_as_it_was(store):
    store.save_turn("d", DialogueState(liked=[1]), [("user", "a"), ("assistant", "b")])
    with pytest.raises(Exception, match="(?i)nul|0x00"):  # PostgreSQL text refuses NUL bytes
        store.save_turn("d", DialogueState(liked=[1, 2]), [("user", "bad\x00message")])
    assert store.load_state("d").liked == [1] and len(store.history("d")) == 2


def test_one_session_lock_holds_across_replicas(store, pg_url):
    other = SessionStore(pg_url)
    held, order = threading.Event(), []

    def first() -> None:
        with store.lock("s"):
            held.set()
            time.sleep(0.5)
            order.append("first done")

    t = threading.Thread(target=first)
    t.start()
    held.wait(5)
    started = time.monotonic()
    with other.lock("s"):  # waits for the other replica's turn to finish
        order.append("second in")
        waited = time.monotonic() - started
    with other.lock("another"):  # other sessions are not blocked
        pass
    t.join()
    other.close()
    assert order == ["first done", "second in"] and waited >= 0.3


def test_concurrent_turns_on_one_session_are_serialised(store, pg_url):
    replicas = [store, SessionStore(pg_url)]

    def turn(i: int) -> None:
        s = replicas[i % 2]
        with s.lock("c"):
            state = s.load_state("c")
            time.sleep(0.01)  # the agent thinking: a lost update would show here
            state.turns += 1
            s.save_turn("c", state, [("user", f"m{i}"), ("assistant", f"r{i}")])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(turn, range(20)))
    assert store.load_state("c").turns == 20
    history = store.history("c")
    assert len(history) == 40
    pairs = [(history[j]["content"], history[j + 1]["content"]) for j in range(0, 40, 2)]
    assert all(u[1:] == a[1:] for u, a in pairs)  # each answer right after its own question
    replicas[1].close()


# ---- two API replicas (processes) on one PostgreSQL ----------------------------------------------


@pytest.fixture(scope="module")
def replicas(pg_url, ml100k_datasets_dir, ml100k, ml100k_store, ml100k_ranker, tmp_path_factory):
    """Two `genrec up --llm none` processes, each with its own GENREC_HOME (same dataset, ranker
    and a copy of the Chroma index), sessions in one PostgreSQL (GENREC_SESSIONS_URL)."""
    from genrec.config import Settings
    from genrec.data import movielens_fold
    from genrec.ranking import model_dir
    from genrec.ranking.artifacts import expected_metadata, ranker_config

    env_ranker = {"GENREC_RANKER__EMBEDDING_SIZE": "128", "GENREC_RANKER__EPOCHS": "40",
                  "GENREC_RANKER__LEARNING_RATE": "0.02", "GENREC_RANKER__DEVICE": "cpu"}
    chroma = Path(ml100k_store.client.get_settings().persist_directory)
    secret = os.urandom(32).hex()  # replicas share the API's session-hash secret (docs/deploy.md)
    procs, urls, logs = [], [], []
    for n in range(2):
        home = tmp_path_factory.mktemp(f"replica{n}")
        logs.append(home / "up.log")
        settings = Settings(home=home, ranker={"embedding_size": 128, "epochs": 40,
                                               "learning_rate": 0.02, "device": "cpu"})
        settings.datasets_dir.mkdir(parents=True)
        (settings.datasets_dir / "ml-100k").symlink_to(ml100k_datasets_dir / "ml-100k")
        shutil.copytree(chroma, settings.chroma_dir)
        (home / "api-session-secret").write_text(secret)
        split = movielens_fold(ml100k.ratings, 1)
        saved = ml100k_ranker.variant()
        saved.metadata.update(expected_metadata(ml100k, split, ranker_config(settings)))
        saved.save(model_dir(settings, "ml-100k", split.name))
        port = _free_port()
        env = {**os.environ, **env_ranker, "GENREC_HOME": str(home), "GENREC_SESSIONS_URL": pg_url}
        procs.append(subprocess.Popen(
            [sys.executable, "-c", "from genrec.cli import app; app()", "up", "--llm", "none",
             "--policy", "guided", "--port", str(port)],
            env=env, stdout=(home / "up.log").open("w"), stderr=subprocess.STDOUT))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for p, url, log in zip(procs, urls, logs):
            deadline = time.monotonic() + 240
            while True:
                assert p.poll() is None, log.read_text()[-3000:]
                try:
                    if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "replica did not start in 240 s"
                time.sleep(0.5)
        yield urls
    finally:
        for p in procs:
            p.terminate()
            p.wait(30)


def _say(url: str, sid: str, message: str) -> dict:
    r = httpx.post(f"{url}/api/sessions/{sid}/messages", json={"message": message}, timeout=120)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.slow
def test_a_conversation_alternating_between_replicas_keeps_its_state(replicas):
    a, b = replicas
    sid = httpx.post(f"{a}/api/sessions", timeout=30).json()["session_id"]
    r1 = _say(a, sid, "I loved Star Wars, no horror please")
    r2 = _say(b, sid, "more")  # the other replica knows what was said and shown
    r3 = _say(a, sid, "something else")
    shown = [{x["item_id"] for x in r["recommendations"]} for r in (r1, r2, r3)]
    assert all(shown) and not (shown[0] & shown[1]) and not (shown[1] & shown[2])
    assert all("Horror" not in x["genres"] for r in (r2, r3) for x in r["recommendations"])
    view = httpx.get(f"{b}/api/sessions/{sid}", timeout=30).json()
    assert view["state"]["turns"] == 3 and 50 in view["state"]["liked"]
    assert [m["content"] for m in view["history"][::2]] == [
        "I loved Star Wars, no horror please", "more", "something else"]


@pytest.mark.slow
def test_two_concurrent_turns_on_one_session_over_two_replicas_are_serialised(replicas):
    a, b = replicas
    sid = httpx.post(f"{b}/api/sessions", timeout=30).json()["session_id"]
    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(lambda ab: _say(ab[0], sid, ab[1]),
                                [(a, "I loved Fargo"), (b, "I loved Toy Story")]))
    assert all(r["recommendations"] for r in replies)
    view = httpx.get(f"{a}/api/sessions/{sid}", timeout=30).json()
    assert view["state"]["turns"] == 2  # neither turn overwrote the other's state
    assert sorted(view["state"]["liked"]) == [1, 100]  # Toy Story (1) and Fargo (100)
    users = [m["content"] for m in view["history"] if m["role"] == "user"]
    assert sorted(users) == ["I loved Fargo", "I loved Toy Story"] and len(view["history"]) == 4


@pytest.mark.slow
def test_fifty_concurrent_sessions_over_two_replicas_lose_and_cross_nothing(replicas):
    turns = 3

    def conversation(n: int) -> str:
        sid = httpx.post(f"{replicas[n % 2]}/api/sessions", timeout=30).json()["session_id"]
        for t in range(turns):
            _say(replicas[(n + t) % 2], sid, f"session {n} turn {t}: I loved Star Wars")
        return sid

    with ThreadPoolExecutor(50) as pool:
        sids = list(pool.map(conversation, range(50)))
    for n, sid in enumerate(sids):
        view = httpx.get(f"{replicas[n % 2]}/api/sessions/{sid}", timeout=30).json()
        users = [m["content"] for m in view["history"] if m["role"] == "user"]
        assert users == [f"session {n} turn {t}: I loved Star Wars" for t in range(turns)], sid
        assert view["state"]["turns"] == turns and len(view["history"]) == 2 * turns
