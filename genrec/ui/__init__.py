"""The Gradio chat app and the HTTP API for bots, served together on one FastAPI app."""

from genrec.ui.api.schemas import ApiLimits
from genrec.ui.api.security import is_loopback
from genrec.ui.server import BackgroundServer, create_app, serve

__all__ = ["ApiLimits", "BackgroundServer", "create_app", "is_loopback", "serve"]
