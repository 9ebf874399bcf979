"""One API replica for the shared-session tests and benchmarks/scale.py: the HTTP API (no chat
page) over the parts `build_parts` loads from $GENREC_HOME, sessions in `store_url(settings)`.

    GENREC_HOME=... GENREC_SESSIONS_URL=postgresql://... python tests/session_replica.py PORT

What `genrec up --llm none` serves, minus the Gradio page; prints "ready" once it listens.
"""

from __future__ import annotations

import sys


def main(port: int) -> None:
    from genrec.agent import Recommender, SessionStore, build_parts
    from genrec.agent.sessions import store_url
    from genrec.config import Settings
    from genrec.llm import get_llm
    from genrec.ui import create_app, serve

    settings = Settings(llm="none")
    parts = build_parts(settings, progress=False)
    rec = Recommender(catalog=parts.catalog, ranker=parts.ranker, store=parts.store,
                      llm=get_llm("none", settings), policy="guided",
                      sessions=SessionStore(store_url(settings)))
    app = create_app(rec, settings, ui=False)
    print("ready", flush=True)
    serve(app, host="127.0.0.1", port=port)


if __name__ == "__main__":
    main(int(sys.argv[1]))
