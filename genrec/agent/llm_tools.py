"""The LLM-facing tools: search_items, rank_for_user, item_details, similar_items, record_feedback.

Argument schemas and descriptions, one dispatcher (`ToolRunner.run`: validate, run the typed
operation, JSON envelope, trace record; never raises) and the LangChain adapters over it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum, auto
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, Field, ValidationError

from genrec.agent.operations import Hit, Profile, Toolkit
from genrec.agent.rationales.evidence import item_nouns
from genrec.agent.replies import ToolCallRecord
from genrec.agent.state import DialogueState, FeedbackEvent
from genrec.retrieval.filters import InvalidFilterError, SearchFilters

if TYPE_CHECKING:
    from langchain_core.tools import StructuredTool


# ---- argument schemas ------------------------------------------------------------------------
class _FilterArgs(BaseModel):
    genres_any: list[str] = Field(default_factory=list,
                                  description="Only items with at least one of these genres.")
    genres_none: list[str] = Field(
        default_factory=list, description="No item with any of these genres."
    )
    year_min: int | None = Field(default=None, description="Earliest release year (inclusive).")
    year_max: int | None = Field(default=None, description="Latest release year (inclusive).")

    def requested(self) -> SearchFilters:
        return SearchFilters(genres_any=list(self.genres_any), genres_none=list(self.genres_none),
                             year_min=self.year_min, year_max=self.year_max, include_ids=None)


class SearchItemsArgs(_FilterArgs):
    """Search the catalog by meaning (title, genres, description) under optional filters."""

    query: str = Field(
        ...,
        min_length=1,
        max_length=500,
        description="What to look for, in words, e.g. 'funny animated film for kids'.",
    )
    k: int = Field(10, ge=1, le=50, description="How many items to return (1-50).")
    exclude_ids: list[int] = Field(default_factory=list, description="Item ids never to return.")


class RankForUserArgs(_FilterArgs):
    """Rank catalog items for this user with the collaborative-filtering ranker."""

    user_id: int | None = Field(
        default=None, description="A known dataset user id; else the session's likes."
    )
    liked_ids: list[int] = Field(default_factory=list, description="Extra item ids the user likes.")
    disliked_ids: list[int] = Field(
        default_factory=list, description="Extra item ids the user dislikes."
    )
    candidate_ids: list[int] | None = Field(
        default=None, description="Rank only these items (e.g. search results)."
    )
    k: int = Field(10, ge=1, le=50, description="How many items to return (1-50).")


class ItemDetailsArgs(BaseModel):
    """Title, year, genres, description and popularity of one catalog item."""

    item_id: int = Field(..., description="Catalog item id.")


class SimilarItemsArgs(_FilterArgs):
    """Items similar to a given item (rated alike by users, else alike in content)."""

    item_id: int = Field(..., description="Catalog item id to find neighbours of.")
    k: int = Field(10, ge=1, le=50, description="How many items to return (1-50).")


class RecordFeedbackArgs(BaseModel):
    """Record that the user liked or disliked an item (it is then never recommended again).

    Only an item the user's message of this turn names is recorded; other calls are refused."""

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
    "search_items": "Search the {noun} catalog by meaning, with optional genre and year filters. "
                    "Returns items with item_id, title, year, genres and a similarity score.",
    "rank_for_user": "Rank catalog items for the current user with the trained ranker (uses the "
                     "items they liked in this chat, or a known user_id). Optionally restrict to "
                     "candidate_ids. Returns items with predicted ratings.",
    "item_details": "Details of one catalog item by item_id.",
    "similar_items": "Items similar to a catalog item (by how users rate them, else by content).",
    "record_feedback": "Record that the user liked (liked=true) or disliked (liked=false) an item "
                       "that the user's latest message names; anything else is refused.",
}
LISTING_TOOLS = ("search_items", "rank_for_user", "similar_items")


@dataclass
class ToolResult:
    """One tool call's outcome: `ok`, the JSON `content` the LLM reads, the items or an `error`.

    `change` is the state change record_feedback proposes; the caller applies it.
    """

    name: str
    ok: bool
    content: str
    hits: list[Hit] = field(default_factory=list)
    error: str = ""
    change: FeedbackEvent | None = None


class ToolError(Exception):
    """A tool call that cannot run as asked; the message goes back to the LLM."""


def _fmt_validation(name: str, exc: ValidationError) -> str:
    parts = []
    for e in exc.errors()[:5]:
        loc = ".".join(str(p) for p in e["loc"]) or "(arguments)"
        parts.append(f"{loc}: {e['msg']}")
    return f"{name}: invalid arguments: " + "; ".join(parts) + ". Fix them and call again."


class _Unset(Enum):
    """The profile not computed yet (None is a profile: nothing to personalise on)."""

    UNSET = auto()


_UNSET = _Unset.UNSET


class ToolRunner:
    """The one dispatcher of tool calls over a Toolkit, acting on one dialogue state.

    `run(name, arguments)` validates, merges the state's constraints into every listing call,
    records a ToolCallRecord in `trace` and never raises. It never changes `state`: a
    record_feedback result carries the change for the caller to apply (then `use(new_state)`).

    State writes need the user's words: record_feedback acts only on an item `message` (the
    user's message of this turn) names, with a polarity it does not contradict; without a
    message, only on feedback the state already holds. Anything else is refused (ok=False in
    the trace, "refused" in its summary), so an LLM cannot add preferences the user never stated.
    """

    def __init__(self, toolkit: Toolkit, state: DialogueState | None = None, *,
                 allow_repeats: bool = False, trace: list[ToolCallRecord] | None = None,
                 profile: Profile | None | _Unset = _UNSET, message: str | None = None) -> None:
        self.toolkit = toolkit
        self.allow_repeats = allow_repeats
        self.trace = trace if trace is not None else []
        self.state = state
        self._profile = profile
        self.message = message

    def use(self, state: DialogueState | None, profile: Profile | None | _Unset = _UNSET) -> None:
        """Act on `state` from now on (its profile is computed once, when first needed)."""
        self.state, self._profile = state, profile

    def profile(self) -> Profile | None:
        """The state's ranker profile, computed once per state."""
        if isinstance(self._profile, _Unset):
            self._profile = self.toolkit.profile(self.state)
        return self._profile

    def run(self, name: str, arguments: object) -> ToolResult:
        """Validate and run one tool; never raises."""
        started = time.perf_counter()
        arguments = dict(arguments) if isinstance(arguments, dict) else {}
        schema = TOOL_SCHEMAS.get(name)
        try:
            if schema is None:
                raise ToolError(f"unknown tool {name!r}; known tools: {', '.join(TOOL_SCHEMAS)}")
            try:
                args = schema.model_validate(arguments)
            except ValidationError as exc:
                raise ToolError(_fmt_validation(name, exc)) from None
            res = getattr(self, f"_{name}")(args)
        except ToolError as exc:
            res = _error(name, str(exc))
        except InvalidFilterError as exc:
            res = _error(name, f"{name}: {exc}")
        except Exception as exc:  # noqa: BLE001 - tool errors go back to the model as text
            res = _error(name, f"{name} failed: {type(exc).__name__}: {exc}")
        summary = (f"{len(res.hits)} items" if res.ok and name in LISTING_TOOLS
                   else (res.error if not res.ok else res.content[:120]))
        self.trace.append(ToolCallRecord(name=name, arguments=arguments, ok=res.ok, summary=summary,
                                         ms=round((time.perf_counter() - started) * 1000, 3)))
        return res

    # ---- the tools ----------------------------------------------------------------------------
    def _check_item(self, name: str, item_id: int) -> None:
        cat = self.toolkit.catalog
        if item_id not in cat:
            raise ToolError(f"{name}: there is no item {item_id} in the catalog {cat.name!r} "
                            f"(ids {cat.min_id}..{cat.max_id}); use search_items to find ids")

    def _filters(self, args: _FilterArgs, exclude: set[int] | None = None) -> SearchFilters:
        return self.toolkit.constraints(self.state, args.requested(), exclude=exclude or set(),
                                        allow_repeats=self.allow_repeats)

    def _listing(self, name: str, hits: list[Hit], note: str = "") -> ToolResult:
        items = [_item_json(self.toolkit, h.item_id, score=h.score,
                            predicted_rating=h.predicted_rating) for h in hits]
        body: dict[str, object] = {"ok": True, "items": items}
        if note:
            body["note"] = note
        return ToolResult(name, True, json.dumps(body, ensure_ascii=False), hits)

    def _search_items(self, args: SearchItemsArgs) -> ToolResult:
        known = {i for i in args.exclude_ids if i in self.toolkit.catalog}
        hits = self.toolkit.search(args.query, args.k, self._filters(args, known))
        return self._listing("search_items", hits, "" if hits else "no item matches these filters")

    def _rank_for_user(self, args: RankForUserArgs) -> ToolResult:
        for iid in [*args.liked_ids, *args.disliked_ids, *(args.candidate_ids or [])]:
            self._check_item("rank_for_user", iid)
        if args.user_id is not None and not self.toolkit.ranker.knows_user(args.user_id):
            raise ToolError(f"rank_for_user: user {args.user_id} is not a known user; leave "
                            "user_id out to use the chat's likes")
        allowed = set(self.toolkit.allowed_ids(self._filters(args)))
        if args.candidate_ids is not None:
            allowed &= set(args.candidate_ids)
        if args.user_id is None and not args.liked_ids and not args.disliked_ids:
            prof = self.profile()
        else:
            prof = self.toolkit.profile(self.state, user_id=args.user_id, liked=args.liked_ids,
                                        disliked=args.disliked_ids)
        if not allowed:
            return self._listing("rank_for_user", [], "no item matches these filters")
        hits = self.toolkit.rank(prof, allowed, args.k)
        note = "no liked items known yet: ranked by popularity" if prof is None else ""
        return self._listing("rank_for_user", hits, note)

    def _item_details(self, args: ItemDetailsArgs) -> ToolResult:
        self._check_item("item_details", args.item_id)
        d = self.toolkit.details(args.item_id)
        body = _item_json(self.toolkit, d.item_id, description=d.description,
                          ratings_count=d.ratings_count)
        return ToolResult("item_details", True, json.dumps({"ok": True, "item": body},
                                                           ensure_ascii=False))

    def _similar_items(self, args: SimilarItemsArgs) -> ToolResult:
        self._check_item("similar_items", args.item_id)
        hits = self.toolkit.similar(args.item_id, args.k, self._filters(args, {args.item_id}))
        return self._listing("similar_items", hits)

    def _record_feedback(self, args: RecordFeedbackArgs) -> ToolResult:
        self._check_item("record_feedback", args.item_id)
        verb = "likes" if args.liked else "dislikes"
        label = self.toolkit.catalog[args.item_id].label
        why = self._unstated(args.item_id, args.liked)
        if why:
            raise ToolError(f"record_feedback refused: {why}, so '{label}' is not recorded; "
                            "record only what the user says about titles they name")
        return ToolResult("record_feedback", True,
                          json.dumps({"ok": True, "recorded": f"user {verb} {label}"}),
                          change=FeedbackEvent(item_id=args.item_id, liked=args.liked,
                                               source="tool"))

    def _unstated(self, item_id: int, liked: bool) -> str:
        """Why the user's words do not support this feedback ("" when they do)."""
        from genrec.agent.understanding.extraction import CatalogExtractor

        state = self.state or DialogueState()
        if self.message is None:
            held = state.liked if liked else state.disliked
            return "" if item_id in held else "no user message names this item"
        ex = CatalogExtractor(self.toolkit.catalog).extract(self.message, state)
        named = {*ex.liked, *ex.disliked, *ex.seen, *ex.excluded, *ex.asked_about,
                 *(i for choice in ex.ambiguous for i in choice.options)}
        if item_id not in named:
            return "the user's message does not name this item"
        if item_id in (ex.disliked if liked else ex.liked):
            return f"the user said the opposite ({'dislikes' if liked else 'likes'} it)"
        return ""


def _error(name: str, msg: str) -> ToolResult:
    return ToolResult(name, False, json.dumps({"ok": False, "error": msg}), error=msg)


def _item_json(toolkit: Toolkit, item_id: int, **extra: float | int | str | None
               ) -> dict[str, object]:
    it = toolkit.catalog[item_id]
    out = {"item_id": it.item_id, "title": it.title, "year": it.year, "genres": list(it.genres)}
    out.update({k: (round(v, 4) if isinstance(v, float) else v) for k, v in extra.items()
                if v is not None})
    return out


# ---- LangChain adapters ----------------------------------------------------------------------
def _described(name: str, noun: str) -> str:
    """A tool's description in the catalog's item noun ("Search the book catalog ...")."""
    return TOOL_DESCRIPTIONS[name].replace("{noun}", noun)


def langchain_tools(execute: Callable[[str, dict], str], noun: str = "movie"
                    ) -> list[StructuredTool]:
    """LangChain StructuredTools with the tools' schemas; `execute(name, arguments)` runs a call."""
    from langchain_core.tools import StructuredTool

    def make(tool_name: str) -> Callable[..., str]:
        def call(**kwargs: object) -> str:
            return execute(tool_name, kwargs)
        return call

    return [StructuredTool.from_function(
        func=make(name), name=name, description=_described(name, noun), args_schema=schema,
        handle_tool_error=True, handle_validation_error=lambda e, n=name: _fmt_validation(n, e))
        for name, schema in TOOL_SCHEMAS.items()]


class ToolHost(Protocol):
    """What `as_langchain_tools` needs of a `genrec.agent.Recommender` (its public methods)."""

    toolkit: Toolkit

    def state(self, session_id: str) -> DialogueState: ...

    def feedback(self, session_id: str, item_id: int, liked: bool, *,
                 source: Literal["api", "chat", "tool"] = "api") -> DialogueState: ...


def as_langchain_tools(recommender: ToolHost, session_id: str | None = None, *,
                       message: str | Callable[[], str] | None = None) -> list[StructuredTool]:
    """The agent's tools as LangChain StructuredTools, for any LangChain agent.

    With `session_id`, rank_for_user uses that session's likes and constraints and
    record_feedback is saved to that session; without, the tools act on an empty state.
    `message` is the user's current message (or a function returning it): record_feedback
    records only items it names; without it, only feedback the session already holds.

    >>> # tools = as_langchain_tools(Recommender.from_settings(llm="none"), session_id="s1")
    >>> # [t.name for t in tools] -> ['search_items', 'rank_for_user', 'item_details', ...]
    """
    runner = ToolRunner(recommender.toolkit)

    def execute(name: str, arguments: dict) -> str:
        runner.use(recommender.state(session_id) if session_id is not None else None)
        runner.message = message() if callable(message) else message
        runner.trace.clear()
        res = runner.run(name, arguments)
        if res.change is not None and session_id is not None:
            recommender.feedback(session_id, res.change.item_id, res.change.liked, source="tool")
        return res.content

    return langchain_tools(execute, item_nouns(recommender.toolkit.catalog)[0])
