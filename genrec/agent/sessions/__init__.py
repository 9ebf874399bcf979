"""Sessions: the persisted dialogue state, message history and last trace of each session, in
one `SessionStore` over a SQLite file or a shared PostgreSQL database."""
