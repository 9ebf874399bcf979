"""The SQLite session backend: one file (or memory) for one process, the default store.

Each turn is one `BEGIN IMMEDIATE` transaction; the per-session lock is the facade's thread lock,
so turns are serialised inside one process only (use PostgreSQL for several replicas).
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

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


class SqliteSessions:
    """Sessions in one SQLite file (WAL) or in memory (`path=":memory:"`), as JSON text."""

    def __init__(self, path: str) -> None:
        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, timeout=30.0,
                                     isolation_level=None)
        self._db_lock = threading.RLock()
        with self._db_lock:
            if path != ":memory:":
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.executescript(_SCHEMA)

    @property
    def url(self) -> str:
        return "sqlite://" if self.path == ":memory:" else f"sqlite:///{self.path}"

    def close(self) -> None:
        with self._db_lock:
            self._conn.close()

    def hold(self, session_id: str) -> AbstractContextManager[None]:
        """No lock beyond the facade's thread lock: one SQLite file serves one process."""
        return nullcontext()

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._db_lock:
            return self._conn.execute(sql, args).fetchall()

    def exists(self, session_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM sessions WHERE id = ?", (session_id,)))

    def state_json(self, session_id: str) -> str | None:
        rows = self._query("SELECT state FROM sessions WHERE id = ?", (session_id,))
        return rows[0][0] if rows else None

    def trace_json(self, session_id: str) -> str | None:
        rows = self._query("SELECT last_trace FROM sessions WHERE id = ?", (session_id,))
        return rows[0][0] if rows else None

    def messages(self, session_id: str) -> list[tuple[str, str]]:
        rows = self._query(
            "SELECT role, content FROM messages WHERE session_id = ? ORDER BY seq", (session_id,))
        return [(r, c) for r, c in rows]

    def save_turn(self, session_id: str, state_json: str, messages: list[tuple[str, str]],
                  trace_json: str, now: float) -> None:
        with self._db_lock:
            cur = self._conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                cur.execute(
                    "INSERT INTO sessions (id, state, last_trace, created, updated) "
                    "VALUES (?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET state=excluded.state, "
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
