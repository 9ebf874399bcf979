"""The agent's tools: search_items, rank_for_user, item_details, similar_items, record_feedback.

Each tool has a pydantic argument schema, validates its arguments against the catalog and never
raises: a bad call returns an error result the LLM can read. `as_langchain_tools` exports them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError

from genrec.agent.models import ToolCallRecord
from genrec.agent.state import DialogueState, FeedbackEvent
from genrec.data import Catalog

if TYPE_CHECKING:
    from langchain_core.tools import StructuredTool

    from genrec.agent.recommender import Recommender


# ---- argument schemas ------------------------------------------------------------------------
class _FilterArgs(BaseModel):
    genres_any: list[str] = Field(default_factory=list,
                                  description="Only items with at least one of these genres.")
    genres_none: list[str] = Field(default_factory=list, description="No item with any of these genres.")
    year_min: int | None = Field(None, description="Earliest release year (inclusive).")
    year_max: int | None = Field(None, description="Latest release year (inclusive).")


class SearchItemsArgs(_FilterArgs):
    """Search the catalog by meaning (title, genres, description) under optional filters."""

    query: str = Field(..., min_length=1, max_length=500,
                       description="What to look for, in words, e.g. 'funny animated film for kids'.")
    k: int = Field(10, ge=1, le=50, description="How many items to return (1-50).")
    exclude_ids: list[int] = Field(default_factory=list, description="Item ids never to return.")


class RankForUserArgs(_FilterArgs):
    """Rank catalog items for this user with the collaborative-filtering ranker."""

    user_id: int | None = Field(None, description="A known dataset user id; else the session's likes.")
    liked_ids: list[int] = Field(default_factory=list, description="Extra item ids the user likes.")
    disliked_ids: list[int] = Field(default_factory=list, description="Extra item ids the user dislikes.")
    candidate_ids: list[int] | None = Field(None, description="Rank only these items (e.g. search results).")
    k: int = Field(10, ge=1, le=50, description="How many items to return (1-50).")


class ItemDetailsArgs(BaseModel):
    """Title, year, genres, description and popularity of one catalog item."""

    item_id: int = Field(..., description="Catalog item id.")


class SimilarItemsArgs(_FilterArgs):
    """Items similar to a given item (rated alike by users, else alike in content)."""

    item_id: int = Field(..., description="Catalog item id to find neighbours of.")
    k: int = Field(10, ge=1, le=50, description="How many items to return (1-50).")


class RecordFeedbackArgs(BaseModel):
    """Record that the user liked or disliked an item (it is then never recommended again)."""

    item_id: int = Field(..., description="Catalog item id.")
    liked: bool = Field(..., description="True: the user likes it; False: dislikes it.")


TOOL_SCHEMAS: dict[str, type[BaseModel]] = {
    "search_items": SearchItemsArgs,
    "rank_for_user": RankForUserArgs,
    "item_details": ItemDetailsArgs,
    "similar_items": SimilarItemsArgs,
    "record_feedback": RecordFeedbackArgs,
}
TOOL_DESCRIPTIONS = {
    "search_items": "Search the movie catalog by meaning, with optional genre and year filters. "
                    "Returns items with item_id, title, year, genres and a similarity score.",
    "rank_for_user": "Rank catalog items for the current user with the trained ranker (uses the "
                     "items they liked in this chat, or a known user_id). Optionally restrict to "
                     "candidate_ids. Returns items with predicted ratings.",
    "item_details": "Details of one catalog item by item_id.",
    "similar_items": "Items similar to a catalog item (by how users rate them, else by content).",
    "record_feedback": "Record that the user liked (liked=true) or disliked (liked=false) an item.",
}
LISTING_TOOLS = ("search_items", "rank_for_user", "similar_items")


# ---- results ---------------------------------------------------------------------------------
@dataclass
class ToolHit:
    """One item a tool returned, with whatever scores that tool knows."""

    item_id: int
    score: float
    predicted_rating: float | None = None
    source: str = ""


@dataclass
class ToolResult:
    """What a tool call gave: `ok`, a JSON `content` for the LLM, the items, or an `error`."""

    name: str
    ok: bool
    content: str
    hits: list[ToolHit] = field(default_factory=list)
    error: str = ""


def _fmt_validation(name: str, exc: ValidationError) -> str:
    parts = []
    for e in exc.errors()[:5]:
        loc = ".".join(str(p) for p in e["loc"]) or "(arguments)"
        parts.append(f"{loc}: {e['msg']}")
    return f"{name}: invalid arguments: " + "; ".join(parts) + ". Fix them and call again."


class Toolkit:
    """The tools over one catalog, ranker and store, acting on a session's state when given.

    `run(name, arguments, state)` validates, merges the state's hard constraints (avoided genres,
    years, blocked items) into every listing call, records a trace entry and never raises.

    >>> # tk = Toolkit(catalog, ranker, store); tk.run("item_details", {"item_id": 50}).ok
    """

    def __init__(self, catalog: Catalog, ranker: Any, store: Any) -> None:
        self.catalog = catalog
        self.ranker = ranker
        self.store = store
        from genrec.retrieval.filters import FilterTable

        self.table = FilterTable.from_catalog(catalog)
        self.genres = catalog.genres
        self._popularity: dict[int, int] | None = None
        self._profiles: dict[tuple, Any] = {}
        self._lock = threading.Lock()
        years = [it.year for it in catalog if it.year]
        self.year_span = (min(years), max(years)) if years else (None, None)

    # -- shared helpers ---------------------------------------------------------------------
    @property
    def popularity(self) -> dict[int, int]:
        if self._popularity is None:
            try:
                self._popularity = {int(k): int(v) for k, v in self.ranker.popularity().items()}
            except Exception:  # noqa: BLE001 - a ranker without popularity: none known
                self._popularity = {}
        return self._popularity

    def check_item(self, item_id: int) -> str | None:
        """An error message when `item_id` is not in the catalog, else None."""
        if item_id in self.catalog:
            return None
        return (f"there is no item {item_id} in the catalog {self.catalog.name!r} "
                f"(ids {self.catalog.min_id}..{self.catalog.max_id}); use search_items to find ids")

    def filters(self, args: _FilterArgs | None, state: DialogueState | None, *,
                exclude: set[int] | frozenset[int] = frozenset(), allow_repeats: bool = False):
        """SearchFilters from tool arguments intersected with the state's hard constraints.

        Raises InvalidFilterError (unknown genre, implausible year, min > max)."""
        from genrec.retrieval.filters import InvalidFilterError, SearchFilters, validate

        genres_any = list(args.genres_any) if args else []
        genres_none = list(args.genres_none) if args else []
        ymin = args.year_min if args else None
        ymax = args.year_max if args else None
        raw = SearchFilters(genres_any=genres_any, genres_none=genres_none, year_min=ymin,
                            year_max=ymax)
        f = validate(raw, self.genres)  # the LLM's own arguments are checked first, as given
        excl = set(exclude)
        if state is not None:
            for g in state.avoided_genres:
                if g not in f.genres_none:
                    f.genres_none.append(g)
            if state.wanted_genres and not f.genres_any:
                f.genres_any = list(state.wanted_genres)
            if state.year_min is not None:
                f.year_min = max(f.year_min or state.year_min, state.year_min)
            if state.year_max is not None:
                f.year_max = min(f.year_max or state.year_max, state.year_max)
            excl |= state.blocked(allow_repeats=allow_repeats)
        f.genres_any = [g for g in f.genres_any if g not in f.genres_none]
        f.exclude_ids = sorted(excl)
        if f.year_min is not None and f.year_max is not None and f.year_min > f.year_max:
            raise InvalidFilterError(
                f"the years asked for ({f.year_min}..{f.year_max}) conflict with the user's "
                f"year range ({state.year_min if state else None}..{state.year_max if state else None})")
        return validate(f, self.genres)

    def allowed_ids(self, filters: Any) -> list[int]:
        """Catalog ids that satisfy (validated) filters, in catalog order."""
        return [int(i) for i in self.table.ids[self.table.mask(filters)]]

    def profile(self, state: DialogueState | None, *, user_id: int | None = None,
                liked: list[int] = (), disliked: list[int] = ()) -> Any:  # type: ignore[assignment]
        """A known user id when the ranker knows it, else a fold-in of the liked/disliked items,
        else None (nothing to personalise on)."""
        uid = user_id if user_id is not None else (state.user_id if state else None)
        if uid is not None and self.ranker.knows_user(uid):
            return uid
        likes = list(dict.fromkeys([*(state.liked if state else []), *liked]))
        dislikes = list(dict.fromkeys([*(state.disliked if state else []), *disliked]))
        likes = [i for i in likes if self.ranker.knows_item(i)]
        dislikes = [i for i in dislikes if self.ranker.knows_item(i)]
        if not likes:
            return None
        key = (tuple(likes), tuple(dislikes))
        with self._lock:
            prof = self._profiles.get(key)
        if prof is None:
            prof = self.ranker.fold_in(liked=likes, disliked=dislikes)
            with self._lock:
                if len(self._profiles) > 256:
                    self._profiles.clear()
                self._profiles[key] = prof
        return prof

    def item_json(self, item_id: int, **extra: Any) -> dict:
        it = self.catalog[item_id]
        out = {"item_id": it.item_id, "title": it.title, "year": it.year, "genres": list(it.genres)}
        out.update({k: (round(v, 4) if isinstance(v, float) else v) for k, v in extra.items()
                    if v is not None})
        return out

    # -- the tools --------------------------------------------------------------------------
    def run(self, name: str, arguments: dict | None, state: DialogueState | None = None, *,
            trace: list[ToolCallRecord] | None = None, allow_repeats: bool = False) -> ToolResult:
        """Validate and run one tool; never raises. Appends a ToolCallRecord to `trace`."""
        started = time.perf_counter()
        arguments = dict(arguments or {}) if isinstance(arguments, dict) else {}
        try:
            schema = TOOL_SCHEMAS.get(name)
            if schema is None:
                res = self._error(name, f"unknown tool {name!r}; known tools: "
                                        f"{', '.join(TOOL_SCHEMAS)}")
            else:
                try:
                    args = schema.model_validate(arguments)
                except ValidationError as exc:
                    res = self._error(name, _fmt_validation(name, exc))
                else:
                    res = getattr(self, f"_{name}")(args, state, allow_repeats)
        except Exception as exc:  # noqa: BLE001 - tool errors go back to the model as text
            res = self._error(name, f"{name} failed: {type(exc).__name__}: {exc}")
        if trace is not None:
            summary = (f"{len(res.hits)} items" if res.ok and name in LISTING_TOOLS
                       else (res.error if not res.ok else res.content[:120]))
            trace.append(ToolCallRecord(name=name, arguments=arguments, ok=res.ok, summary=summary,
                                        ms=round((time.perf_counter() - started) * 1000, 3)))
        return res

    def _error(self, name: str, msg: str) -> ToolResult:
        return ToolResult(name, False, json.dumps({"ok": False, "error": msg}), error=msg)

    def _listing(self, name: str, hits: list[ToolHit], note: str = "") -> ToolResult:
        items = [self.item_json(h.item_id, score=h.score, predicted_rating=h.predicted_rating)
                 for h in hits]
        body: dict[str, Any] = {"ok": True, "items": items}
        if note:
            body["note"] = note
        return ToolResult(name, True, json.dumps(body, ensure_ascii=False), hits)

    def _search_items(self, args: SearchItemsArgs, state, allow_repeats) -> ToolResult:
        from genrec.retrieval.filters import InvalidFilterError

        bad = [i for i in args.exclude_ids if i not in self.catalog]
        try:
            f = self.filters(args, state, exclude=set(args.exclude_ids) - set(bad),
                             allow_repeats=allow_repeats)
        except InvalidFilterError as exc:
            return self._error("search_items", f"search_items: {exc}")
        results = self.store.search(args.query, k=args.k, filters=f)
        hits = [ToolHit(r.item.item_id, float(r.score), None, "search") for r in results]
        note = "no item matches these filters" if not hits else ""
        return self._listing("search_items", hits, note)

    def _rank_for_user(self, args: RankForUserArgs, state, allow_repeats) -> ToolResult:
        from genrec.retrieval.filters import InvalidFilterError

        for iid in [*args.liked_ids, *args.disliked_ids, *(args.candidate_ids or [])]:
            err = self.check_item(iid)
            if err:
                return self._error("rank_for_user", f"rank_for_user: {err}")
        if args.user_id is not None and not self.ranker.knows_user(args.user_id):
            return self._error("rank_for_user", f"rank_for_user: user {args.user_id} is not a known "
                                                "user; leave user_id out to use the chat's likes")
        try:
            f = self.filters(args, state, allow_repeats=allow_repeats)
        except InvalidFilterError as exc:
            return self._error("rank_for_user", f"rank_for_user: {exc}")
        allowed = set(self.allowed_ids(f))
        if args.candidate_ids is not None:
            allowed &= set(args.candidate_ids)
        prof = self.profile(state, user_id=args.user_id, liked=args.liked_ids,
                            disliked=args.disliked_ids)
        if not allowed:
            return self._listing("rank_for_user", [], "no item matches these filters")
        if prof is None:
            pop = self.popularity
            ids = sorted(allowed, key=lambda i: (-pop.get(i, 0), i))[: args.k]
            hits = [ToolHit(i, float(pop.get(i, 0)), None, "popularity") for i in ids]
            return self._listing("rank_for_user", hits,
                                 "no liked items known yet: ranked by popularity")
        scored = self.ranker.recommend(prof, k=args.k, candidates=sorted(allowed))
        hits = [ToolHit(s.item_id, float(s.score), s.predicted_rating, "ranker") for s in scored]
        return self._listing("rank_for_user", hits)

    def _item_details(self, args: ItemDetailsArgs, state, allow_repeats) -> ToolResult:
        err = self.check_item(args.item_id)
        if err:
            return self._error("item_details", f"item_details: {err}")
        it = self.catalog[args.item_id]
        body = self.item_json(it.item_id, description=it.description,
                              ratings_count=self.popularity.get(it.item_id))
        return ToolResult("item_details", True, json.dumps({"ok": True, "item": body},
                                                           ensure_ascii=False))

    def _similar_items(self, args: SimilarItemsArgs, state, allow_repeats) -> ToolResult:
        from genrec.retrieval.filters import InvalidFilterError

        err = self.check_item(args.item_id)
        if err:
            return self._error("similar_items", f"similar_items: {err}")
        try:
            f = self.filters(args, state, exclude={args.item_id}, allow_repeats=allow_repeats)
        except InvalidFilterError as exc:
            return self._error("similar_items", f"similar_items: {exc}")
        if self.ranker.knows_item(args.item_id):
            allowed = [i for i in self.allowed_ids(f) if i != args.item_id]
            scored = self.ranker.similar_items(args.item_id, k=args.k, candidates=allowed) if allowed else []
            hits = [ToolHit(s.item_id, float(s.score), None, "ranker-similar") for s in scored]
        else:
            hits = [ToolHit(r.item.item_id, float(r.score), None, "content-similar")
                    for r in self.store.similar(args.item_id, k=args.k, filters=f)]
        return self._listing("similar_items", hits)

    def _record_feedback(self, args: RecordFeedbackArgs, state, allow_repeats) -> ToolResult:
        err = self.check_item(args.item_id)
        if err:
            return self._error("record_feedback", f"record_feedback: {err}")
        if state is not None:
            state.add_item(args.item_id, "liked" if args.liked else "disliked")
            state.feedback.append(FeedbackEvent(item_id=args.item_id, liked=args.liked, source="tool"))
        verb = "likes" if args.liked else "dislikes"
        return ToolResult("record_feedback", True, json.dumps(
            {"ok": True, "recorded": f"user {verb} {self.catalog[args.item_id].label}"}))


def langchain_tools(toolkit: Toolkit, state_fn: Callable[[], DialogueState | None],
                    trace: list[ToolCallRecord] | None = None,
                    on_result: Callable[[ToolResult], None] | None = None) -> list[StructuredTool]:
    """LangChain StructuredTools over a Toolkit; `state_fn` gives the state each call acts on."""
    from langchain_core.tools import StructuredTool

    def make(tool_name: str) -> Callable[..., str]:
        def call(**kwargs: Any) -> str:
            res = toolkit.run(tool_name, kwargs, state_fn(), trace=trace)
            if on_result is not None:
                on_result(res)
            return res.content
        return call

    tools = []
    for name, schema in TOOL_SCHEMAS.items():
        tools.append(StructuredTool.from_function(
            func=make(name), name=name, description=TOOL_DESCRIPTIONS[name], args_schema=schema,
            handle_tool_error=True,
            handle_validation_error=lambda e, n=name: _fmt_validation(n, e),
        ))
    return tools


def as_langchain_tools(recommender: Recommender, session_id: str | None = None) -> list[StructuredTool]:
    """The agent's tools as LangChain StructuredTools, for any LangChain agent.

    With `session_id`, rank_for_user uses that session's likes and constraints and
    record_feedback is saved to that session; without, the tools act on an empty state.

    >>> # tools = as_langchain_tools(Recommender.from_settings(llm="none"), session_id="s1")
    >>> # [t.name for t in tools] -> ['search_items', 'rank_for_user', 'item_details', ...]
    """
    holder: dict[str, DialogueState | None] = {"state": None}

    def state_fn() -> DialogueState | None:
        if session_id is None:
            return None
        holder["state"] = recommender.state(session_id)
        return holder["state"]

    def on_result(res: ToolResult) -> None:
        if session_id is not None and res.ok and res.name == "record_feedback" and holder["state"]:
            recommender._save_state(session_id, holder["state"])  # noqa: SLF001

    return langchain_tools(recommender.toolkit, state_fn, on_result=on_result)
