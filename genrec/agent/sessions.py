"""Persisted sessions: dialogue state, message history and the last trace, in one SQLite file.

Each turn is committed in a single transaction after it succeeds, so a failing turn never leaves
a half-written state; per-session locks serialise concurrent turns of the same session.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from genrec.agent.state import DialogueState

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    last_trace TEXT NOT NULL DEFAULT '[]',
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL,
    PRIMARY KEY (session_id, seq)
);
"""


class SessionStore:
    """SQLite-backed sessions, safe to share between threads and Recommender instances.

    >>> import tempfile, pathlib
    >>> store = SessionStore(pathlib.Path(tempfile.mkdtemp()) / "s.sqlite")
    >>> store.save_turn("a", DialogueState(liked=[1]), [("user", "hi"), ("assistant", "hello")])
    >>> store.load_state("a").liked, len(store.history("a"))
    ([1], 2)
    """

    def __init__(self, path: Path | str | None = None) -> None:
        """Open (creating when missing) the session file; `None` or ":memory:" keeps it in memory."""
        self.path = str(path) if path is not None else ":memory:"
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0,
                                     isolation_level=None)
        self._db_lock = threading.RLock()
        self._locks: dict[str, threading.RLock] = {}
        self._locks_guard = threading.Lock()
        with self._db_lock:
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        with self._db_lock:
            self._conn.close()

    @contextmanager
    def lock(self, session_id: str) -> Iterator[None]:
        """Hold this session's lock (one turn at a time per session, many sessions in parallel)."""
        with self._locks_guard:
            lk = self._locks.setdefault(session_id, threading.RLock())
        with lk:
            yield

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._db_lock:
            return self._conn.execute(sql, args).fetchall()

    def exists(self, session_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM sessions WHERE id = ?", (session_id,)))

    def load_state(self, session_id: str) -> DialogueState:
        """The session's state; a fresh empty state when the session does not exist yet."""
        rows = self._query("SELECT state FROM sessions WHERE id = ?", (session_id,))
        if not rows:
            return DialogueState()
        return DialogueState.model_validate_json(rows[0][0])

    def history(self, session_id: str, limit: int | None = None) -> list[dict]:
        """Messages oldest first as {"role", "content"} (the last `limit` when given)."""
        rows = self._query(
            "SELECT role, content FROM messages WHERE session_id = ? ORDER BY seq", (session_id,)
        )
        if limit is not None:
            rows = rows[-limit:] if limit > 0 else []
        return [{"role": r, "content": c} for r, c in rows]

    def last_trace(self, session_id: str) -> list[dict]:
        rows = self._query("SELECT last_trace FROM sessions WHERE id = ?", (session_id,))
        return json.loads(rows[0][0]) if rows else []

    def save_turn(
        self,
        session_id: str,
        state: DialogueState,
        messages: list[tuple[str, str]] = (),  # type: ignore[assignment]
        trace: list[dict] | None = None,
    ) -> None:
        """Write the new state, append messages and replace the last trace, all or nothing."""
        now = time.time()
        state_json = state.model_dump_json()
        trace_json = json.dumps(trace or [], default=str)
        with self._db_lock:
            cur = self._conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                cur.execute(
                    "INSERT INTO sessions (id, state, last_trace, created, updated) VALUES (?,?,?,?,?) "
                    "ON CONFLICT(id) DO UPDATE SET state=excluded.state, "
                    "last_trace=excluded.last_trace, updated=excluded.updated",
                    (session_id, state_json, trace_json, now, now),
                )
                (seq,) = cur.execute(
                    "SELECT COALESCE(MAX(seq), 0) FROM messages WHERE session_id = ?", (session_id,)
                ).fetchone()
                for i, (role, content) in enumerate(messages, start=1):
                    cur.execute(
                        "INSERT INTO messages (session_id, seq, role, content, created) "
                        "VALUES (?,?,?,?,?)",
                        (session_id, seq + i, role, content, now),
                    )
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    def delete(self, session_id: str) -> bool:
        """Delete a session and its messages; False when there was none."""
        with self._db_lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.execute("DELETE FROM messages WHERE session_id = ?", (session_id,))
                n = cur.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return n > 0

    def list_sessions(self) -> list[str]:
        return [r[0] for r in self._query("SELECT id FROM sessions ORDER BY updated DESC")]
