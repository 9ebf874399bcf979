"""Which session store a path or URL opens (SQLite file, memory, PostgreSQL), and what a wrong
URL says. PostgreSQL itself is exercised in test_session_store_postgres.py."""

from __future__ import annotations

import pytest

from genrec.agent import DialogueState, SessionStore
from genrec.agent.sessions.store import store_url
from genrec.config import Settings


def test_sqlite_url_is_the_same_file_as_its_path(tmp_path):
    path = tmp_path / "sub" / "s.sqlite"
    by_url = SessionStore(f"sqlite:///{path}")
    by_url.save_turn("a", DialogueState(liked=[3]), [("user", "hi")])
    by_url.close()
    by_path = SessionStore(path)
    assert by_path.load_state("a").liked == [3] and by_path.url == f"sqlite:///{path}"


@pytest.mark.parametrize("target", [None, ":memory:", "sqlite://", "sqlite:///:memory:"])
def test_memory_stores_keep_nothing_between_instances(target):
    a = SessionStore(target)
    a.save_turn("x", DialogueState(liked=[1]))
    assert a.exists("x") and not SessionStore(target).exists("x")
    assert a.url == "sqlite://"


def test_an_unknown_scheme_says_which_ones_work():
    with pytest.raises(ValueError, match=r"mysql.*sqlite:///PATH.*postgresql://"):
        SessionStore("mysql://db/genrec")


def test_store_url_default_file_then_env(tmp_path, monkeypatch):
    settings = Settings(home=tmp_path)
    assert store_url(settings) == str(tmp_path / "sessions.sqlite")
    monkeypatch.setenv("GENREC_SESSIONS_URL", "postgresql://genrec@db:5432/genrec")
    assert store_url(Settings(home=tmp_path)) == "postgresql://genrec@db:5432/genrec"
