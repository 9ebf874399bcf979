"""The PostgreSQL session backend (SQLAlchemy 2 + psycopg): one store shared by API replicas.

A session's lock is a PostgreSQL advisory lock held on one connection for the whole turn, and the
turn's reads and its commit run on that connection, so it holds across processes and hosts.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, create_engine, make_url, text

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS genrec_sessions (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        last_trace TEXT NOT NULL DEFAULT '[]',
        created DOUBLE PRECISION NOT NULL,
        updated DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS genrec_messages (
        session_id TEXT NOT NULL REFERENCES genrec_sessions(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        role TEXT NOT NULL,
        content TEXT NOT NULL,
        extra TEXT NOT NULL DEFAULT '{}',
        created DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (session_id, seq))""",
    "CREATE INDEX IF NOT EXISTS genrec_sessions_updated ON genrec_sessions (updated)",
]
#: Advisory-lock key that serialises schema creation when several replicas start at once.
_SCHEMA_LOCK = 0x67656E726563  # "genrec"
#: Pool settings a URL may carry as query parameters (?pool_size=10&max_overflow=40).
_POOL_KEYS = {"pool_size": 5, "max_overflow": 25, "pool_timeout": 60}


def lock_key(session_id: str) -> int:
    """The signed 64-bit advisory-lock key of a session id (stable across processes).

    >>> lock_key("alice") == lock_key("alice") != lock_key("bob")
    True
    """
    digest = hashlib.blake2b(session_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def redact(url: str) -> str:
    """The URL with its password hidden, for logs and errors.

    >>> redact("postgresql://genrec:secret@db:5432/genrec")
    'postgresql://genrec:***@db:5432/genrec'
    """
    return make_url(url).render_as_string(hide_password=True)


class PostgresSessions:
    """Sessions in two tables (genrec_sessions, genrec_messages) of one PostgreSQL database.

    `postgresql://` URLs use the psycopg (3) driver; `?pool_size=` and `?max_overflow=` size the
    connection pool (each turn in flight holds one connection).
    """

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        query = dict(parsed.query)
        pool: dict[str, int] = {k: int(str(query.pop(k, d))) for k, d in _POOL_KEYS.items()}
        parsed = parsed.set(query=query)
        self.url = parsed.render_as_string(hide_password=True)
        self.engine = create_engine(parsed, pool_pre_ping=True, **pool)
        self._local = threading.local()
        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK})
            for stmt in _SCHEMA:
                conn.execute(text(stmt))

    def close(self) -> None:
        self.engine.dispose()

    def _held(self) -> dict[str, Connection]:
        held = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = {}
        return held

    @contextmanager
    def hold(self, session_id: str) -> Iterator[None]:
        """Hold the session's advisory lock (waits for any other process holding it)."""
        held = self._held()
        if session_id in held:  # re-entered by the same thread
            yield
            return
        key = {"k": lock_key(session_id)}
        conn = self.engine.connect()
        try:
            with conn.begin():
                conn.execute(text("SELECT pg_advisory_lock(:k)"), key)
            held[session_id] = conn
            try:
                yield
            finally:
                del held[session_id]
                try:
                    with conn.begin():
                        conn.execute(text("SELECT pg_advisory_unlock(:k)"), key)
                except Exception:
                    conn.invalidate()  # closing the connection releases the lock server-side
                    raise
        finally:
            conn.close()

    @contextmanager
    def _tx(self, session_id: str | None = None) -> Iterator[Connection]:
        """One transaction: on the session's lock connection when this thread holds it."""
        conn = self._held().get(session_id) if session_id is not None else None
        if conn is not None:
            with conn.begin():
                yield conn
        else:
            with self.engine.begin() as fresh:
                yield fresh

    def _one(self, sql: str, session_id: str) -> Any:
        with self._tx(session_id) as conn:
            return conn.execute(text(sql), {"id": session_id}).scalar()

    def exists(self, session_id: str) -> bool:
        return self._one("SELECT 1 FROM genrec_sessions WHERE id = :id", session_id) is not None

    def state_json(self, session_id: str) -> str | None:
        return self._one("SELECT state FROM genrec_sessions WHERE id = :id", session_id)

    def trace_json(self, session_id: str) -> str | None:
        return self._one("SELECT last_trace FROM genrec_sessions WHERE id = :id", session_id)

    def messages(self, session_id: str) -> list[tuple[str, str]]:
        with self._tx(session_id) as conn:
            rows = conn.execute(text("SELECT role, content FROM genrec_messages "
                                     "WHERE session_id = :id ORDER BY seq"), {"id": session_id})
            return [(r, c) for r, c in rows]

    def save_turn(self, session_id: str, state_json: str, messages: list[tuple[str, str]],
                  trace_json: str, now: float) -> None:
        """Upsert the session row (locking it), append the messages; committed on return."""
        with self._tx(session_id) as conn:
            conn.execute(text(
                "INSERT INTO genrec_sessions (id, state, last_trace, created, updated) "
                "VALUES (:id, :state, :trace, :now, :now) ON CONFLICT (id) DO UPDATE SET "
                "state = EXCLUDED.state, last_trace = EXCLUDED.last_trace, "
                "updated = EXCLUDED.updated"),
                {"id": session_id, "state": state_json, "trace": trace_json, "now": now})
            seq = conn.execute(text("SELECT COALESCE(MAX(seq), 0) FROM genrec_messages "
                                    "WHERE session_id = :id"), {"id": session_id}).scalar_one()
            if messages:
                conn.execute(text(
                    "INSERT INTO genrec_messages (session_id, seq, role, content, created) "
                    "VALUES (:id, :seq, :role, :content, :now)"),
                    [{"id": session_id, "seq": seq + i, "role": role, "content": content,
                      "now": now} for i, (role, content) in enumerate(messages, start=1)])

    def delete(self, session_id: str) -> bool:
        with self._tx(session_id) as conn:
            conn.execute(text("DELETE FROM genrec_messages WHERE session_id = :id"),
                         {"id": session_id})
            n = conn.execute(text("DELETE FROM genrec_sessions WHERE id = :id"),
                             {"id": session_id}).rowcount
        return n > 0

    def list_sessions(self) -> list[str]:
        with self._tx() as conn:
            rows = conn.execute(text("SELECT id FROM genrec_sessions ORDER BY updated DESC"))
            return [r[0] for r in rows]
