"""Persisted sessions: dialogue state, message history and the last trace, in SQLite or PostgreSQL.

Each turn is committed in a single transaction after it succeeds, so a failing turn never leaves
a half-written state; per-session locks serialise concurrent turns of the same session (across
processes too on PostgreSQL, where they are advisory locks).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from genrec.agent.sessions.sqlite import SqliteSessions
from genrec.agent.state import DialogueState
from genrec.config import Settings

#: The variable naming the session store when Settings has no `sessions_url` (see `store_url`).
URL_ENV = "GENREC_SESSIONS_URL"

_SESSION_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")


def check_session_id(session_id: str) -> str:
    """The session id when it is valid (1-200 printable characters, not only spaces): the one
    rule of every front door (`Recommender.check_session_id`).

    Raises:
        ValueError: saying what is wrong with the id.
    """
    if (not isinstance(session_id, str) or not _SESSION_ID.match(session_id)
            or not session_id.strip()):
        raise ValueError(f"invalid session id {session_id!r}: use 1-200 printable characters "
                         "(no control characters, not only spaces)")
    return session_id


class SessionBackend(Protocol):
    """What a store keeps per session, as JSON text; `hold` is its cross-process lock."""

    @property
    def url(self) -> str: ...

    def hold(self, session_id: str) -> AbstractContextManager[None]: ...
    def exists(self, session_id: str) -> bool: ...
    def state_json(self, session_id: str) -> str | None: ...
    def trace_json(self, session_id: str) -> str | None: ...
    def messages(self, session_id: str) -> list[tuple[str, str]]: ...
    def save_turn(self, session_id: str, state_json: str, messages: list[tuple[str, str]],
                  trace_json: str, now: float) -> None: ...
    def delete(self, session_id: str) -> bool: ...
    def list_sessions(self) -> list[str]: ...
    def close(self) -> None: ...


def store_url(settings: Settings, default_path: Path | None = None) -> str:
    """The session store a process should open: `settings.sessions_url`, else $GENREC_SESSIONS_URL,
    else the SQLite file `default_path` (by default `settings.sessions_path`).

    >>> from types import SimpleNamespace
    >>> store_url(SimpleNamespace(sessions_url="postgresql://genrec@db/genrec"))  # type: ignore
    'postgresql://genrec@db/genrec'
    """
    url = getattr(settings, "sessions_url", "") or os.environ.get(URL_ENV, "")
    if url:
        return str(url)
    path = default_path if default_path is not None else settings.sessions_path
    return str(path)


def open_backend(target: Path | str | None) -> SessionBackend:
    """The backend for a path or URL: None, ":memory:" or "sqlite://" (memory), a file path or
    "sqlite:///relative.db" / "sqlite:////absolute.db", or "postgresql://user:pw@host/db".

    Raises:
        ValueError: an unsupported URL scheme.
        ImportError: a postgresql URL without SQLAlchemy / psycopg installed.
    """
    if target is None:
        return SqliteSessions(":memory:")
    text = str(target)
    if isinstance(target, Path) or "://" not in text:
        return SqliteSessions(text)
    scheme = text.split("://", 1)[0].lower()
    if scheme == "sqlite":
        path = text[len("sqlite:///"):] if text.startswith("sqlite:///") else ""
        return SqliteSessions(path if path and path != ":memory:" else ":memory:")
    if scheme.split("+")[0] in ("postgresql", "postgres"):
        try:
            from genrec.agent.sessions.postgres import PostgresSessions
        except ImportError as exc:
            raise ImportError(f"a PostgreSQL session store needs SQLAlchemy 2 and psycopg ({exc}); "
                              "install them with: pip install 'genrec[postgres]'") from exc
        return PostgresSessions(text)
    raise ValueError(
        f"unsupported session store URL scheme {scheme!r}: use sqlite:///PATH "
        "(one process) or postgresql://USER:PASSWORD@HOST:PORT/DB (shared by replicas)"
    )


class SessionStore:
    """Sessions, safe to share between threads, Recommender instances and (on PostgreSQL) processes.

    >>> import tempfile, pathlib
    >>> store = SessionStore(pathlib.Path(tempfile.mkdtemp()) / "s.sqlite")
    >>> store.save_turn("a", DialogueState(liked=[1]), [("user", "hi"), ("assistant", "hello")])
    >>> store.load_state("a").liked, len(store.history("a"))
    ([1], 2)

    `SessionStore("postgresql://genrec@db/genrec")` opens the shared store of API replicas.
    """

    def __init__(self, path: Path | str | None = None) -> None:
        """Open (creating when missing) the store at `path`: a file, a URL (see `open_backend`),
        or `None` / ":memory:" for memory."""
        self.backend = open_backend(path)
        self.path = getattr(self.backend, "path", self.backend.url)
        self._locks: dict[str, threading.RLock] = {}
        self._locks_guard = threading.Lock()

    @property
    def url(self) -> str:
        """Where sessions live, as a URL (password hidden)."""
        return self.backend.url

    def close(self) -> None:
        self.backend.close()

    @contextmanager
    def lock(self, session_id: str) -> Iterator[None]:
        """Hold this session's lock (one turn at a time per session, many sessions in parallel)."""
        with self._locks_guard:
            lk = self._locks.setdefault(session_id, threading.RLock())
        with lk, self.backend.hold(session_id):
            yield

    def exists(self, session_id: str) -> bool:
        return self.backend.exists(session_id)

    def load_state(self, session_id: str) -> DialogueState:
        """The session's state; a fresh empty state when the session does not exist yet."""
        raw = self.backend.state_json(session_id)
        return DialogueState() if raw is None else DialogueState.model_validate_json(raw)

    def history(self, session_id: str, limit: int | None = None) -> list[dict]:
        """Messages oldest first as {"role", "content"} (the last `limit` when given)."""
        rows = self.backend.messages(session_id)
        if limit is not None:
            rows = rows[-limit:] if limit > 0 else []
        return [{"role": r, "content": c} for r, c in rows]

    def last_trace(self, session_id: str) -> list[dict]:
        raw = self.backend.trace_json(session_id)
        return json.loads(raw) if raw is not None else []

    def save_turn(
        self,
        session_id: str,
        state: DialogueState,
        messages: list[tuple[str, str]] = (),  # type: ignore[assignment]
        trace: list[dict] | None = None,
    ) -> None:
        """Write the new state, append messages and replace the last trace, all or nothing;
        committed when this returns."""
        self.backend.save_turn(session_id, state.model_dump_json(), list(messages),
                               json.dumps(trace or [], default=str), time.time())

    def delete(self, session_id: str) -> bool:
        """Delete a session and its messages; False when there was none."""
        return self.backend.delete(session_id)

    def list_sessions(self) -> list[str]:
        return self.backend.list_sessions()
