"""One turn's types: its input (`TurnInput`: the cleaned message, history, LLM budget), its
report (`TurnReport`: notes, trace, warnings, timings, the stream sink) and `Response`.

A turn runs read -> understand -> decide -> respond -> commit: each stage reads the input, logs
to the report and returns its result as a value; only the commit writes the dialogue state.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from genrec.agent.replies import Recommendation, ToolCallRecord

if TYPE_CHECKING:
    from genrec.llm.base import LLMBackend
    from genrec.llm.parsing import MessagesInput, ResponseFormat
    from genrec.llm.results import LLMResult

GUIDED_LLM_CALLS = 2
"""The guided policy's LLM calls per turn: extraction, then the writer (or a question)."""


@dataclass
class CleanMessage:
    """A user message made safe to read: `text`, what was changed, and whether it is text."""

    text: str
    warnings: list[str]
    readable: bool


def clean_message(message: object, max_chars: int) -> CleanMessage:
    """Control characters go, very long text is truncated; junk is marked unreadable.

    >>> clean_message("hi\\x00 there", 100).text
    'hi there'
    """
    warnings: list[str] = []
    if isinstance(message, bytes):
        message = message.decode("utf-8", errors="replace")
    if not isinstance(message, str):
        message = "" if message is None else str(message)
    if len(message) > max_chars:
        warnings.append(f"message truncated from {len(message)} to {max_chars} characters")
        message = message[:max_chars]
    raw_len = len(message.strip())
    junk = sum(1 for ch in message if (unicodedata.category(ch)[0] == "C" and ch not in "\n\t\r")
               or ch == "\ufffd")
    text = "".join(ch if (ch in "\n\t" or unicodedata.category(ch)[0] not in "C") and ch != "\ufffd"
                   else " " for ch in message)
    text = re.sub(r"[ \t]+", " ", text).strip()
    words = re.findall(r"[^\W\d_]{2,}", text)
    number = (
        re.fullmatch(r"[#(]?\s*\d{1,4}\s*[).!?]?", text) is not None
    )  # "1992" answers "which one?"
    readable = bool(text) and (bool(words) or number) and junk / max(1, raw_len) <= 0.2
    if raw_len and not readable:
        warnings.append("message is not readable text")
    return CleanMessage(text, warnings, readable)


EMPTY_MESSAGE_ANSWER = ("Your message was empty. What kind of {noun} would you like? A title you "
                        "loved, a genre or a decade helps.")
"""The answer to an empty message (`{noun}`: the catalog's item noun)."""
UNREADABLE_MESSAGE_ANSWER = ("I couldn't read that message; it doesn't look like text. Tell me "
                             "{a_noun} you like, a genre or a decade.")
"""The answer to a message that is not text (`{a_noun}`: "a movie", "a book" ...)."""


def word_deltas(text: str) -> Iterator[str]:
    """Word deltas of a text (each word with the blanks before it); they join back to `text`.

    >>> list(word_deltas(" Two  words"))
    [' Two', '  words']
    """
    buf = ""
    for w in re.split(r"(\s+)", text):
        buf += w
        if w.strip():
            yield buf
            buf = ""
    if buf:
        yield buf


def short(exc: BaseException, n: int = 160) -> str:
    """An exception's message on one line, at most n characters."""
    s = str(exc).replace("\n", " ")
    return s if len(s) <= n else s[:n] + "..."


class LLMBudget:
    """Counts and enforces one turn's LLM calls: at most `limit`, and none after an outage.

    >>> b = LLMBudget(None, limit=2); b.has_llm, b.can_call()
    (False, False)
    """

    def __init__(self, llm: LLMBackend | None, *, limit: int, up: bool = True) -> None:
        self.llm = llm
        self.limit = limit
        self.up = up
        self.calls = 0

    @property
    def has_llm(self) -> bool:
        """True when the backend can write text (not the `none` backend)."""
        return self.llm is not None and getattr(self.llm, "chat_model", None) is not None

    def can_call(self) -> bool:
        return self.has_llm and self.up and self.calls < self.limit

    def invoke(self, messages: MessagesInput, *, tools: Sequence[object] | None = None,
               response_format: ResponseFormat | None = None, max_tokens: int | None = None,
               on_delta: Callable[[str], None] | None = None) -> LLMResult:
        """One LLM call, counted; raises the backend's LLMError (an outage marks the LLM down).

        Options left None take the backend's defaults.

        Raises:
            genrec.llm.LLMCapabilityError: no LLM, the LLM is down or the budget is spent.
        """
        from genrec.llm import LLMCapabilityError, LLMUnavailableError

        if not self.can_call():
            raise LLMCapabilityError(f"no LLM call left in this turn ({self.calls} of {self.limit} "
                                     "used, or the LLM is down)")
        self.calls += 1
        assert self.llm is not None  # can_call() holds
        try:
            return self.llm.invoke(messages, tools=tools, response_format=response_format,
                                   max_tokens=max_tokens, on_delta=on_delta)
        except LLMUnavailableError:
            self.up = False
            raise

    def try_invoke(self, messages: MessagesInput, warnings: list[str], *,
                   response_format: ResponseFormat | None = None, max_tokens: int | None = None,
                   on_delta: Callable[[str], None] | None = None) -> LLMResult | None:
        """`invoke`, or None (and a warning) on any LLM fault or when no call is left."""
        from genrec.llm import LLMError, LLMUnavailableError

        if not self.can_call():
            return None
        try:
            return self.invoke(messages, response_format=response_format, max_tokens=max_tokens,
                               on_delta=on_delta)
        except LLMUnavailableError as exc:
            warnings.append(f"LLM unavailable ({short(exc)}); answered with templated text")
        except LLMError as exc:
            warnings.append(f"LLM answer unusable ({short(exc)}); used templated text")
        except Exception as exc:  # noqa: BLE001 - any backend bug is a handled fault
            warnings.append(f"LLM call failed ({type(exc).__name__}: {short(exc)})")
        return None


@dataclass(frozen=True)
class TurnInput:
    """What a turn reads: the cleaned message, the recent history and the turn's LLM budget."""

    message: str
    history: list[dict[str, str]]
    budget: LLMBudget


@dataclass
class TurnReport:
    """What one turn reports besides its answer: notes, the trace, warnings and timings.

    `notes` ("Noted: you like ...") go before the reply text. `on_text` (set by
    `Recommender.stream`) receives reply text as it is produced, through `stream_text`;
    `on_stage` hears which stage the turn is in.
    """

    notes: list[str] = field(default_factory=list)
    trace: list[ToolCallRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    on_text: Callable[[str], None] | None = None
    on_stage: Callable[[str], None] | None = None
    streamed: bool = False

    @property
    def streaming(self) -> bool:
        return self.on_text is not None

    def preface(self) -> str:
        """The text before the answer: the notes, one line."""
        return " ".join(self.notes) + "\n" if self.notes else ""

    def stream_text(self, text: str) -> None:
        """Send reply text to the streaming client (the notes first, once)."""
        if self.on_text is None or not text:
            return
        if not self.streamed and self.notes:
            self.on_text(self.preface())
        self.streamed = True
        self.on_text(text)

    def stage(self, name: str) -> None:
        """Tell a streaming client which stage the turn is in ("searching", "writing", ...)."""
        if self.on_stage is not None:
            try:
                self.on_stage(name)
            except Exception:  # noqa: BLE001 - a display hook never breaks a turn
                pass

    def tick(self, name: str, started: float) -> None:
        """Add the milliseconds since `started` to the stage `name`."""
        self.add_ms(name, (time.perf_counter() - started) * 1000)

    def add_ms(self, name: str, ms: float) -> None:
        """Add `ms` milliseconds to the stage `name`."""
        self.timings[name] = round(self.timings.get(name, 0.0) + ms, 3)

    def count(self, name: str) -> None:
        """Count an event in the timings (e.g. `rationales_rejected`)."""
        self.timings[name] = self.timings.get(name, 0) + 1


@dataclass
class Response:
    """What a turn says: its text, the recommendations and whether it asks a question."""

    text: str
    recommendations: list[Recommendation] = field(default_factory=list)
    question: bool = False
    suggested_answers: list[str] = field(default_factory=list)
    asked: str | None = None
    """The attribute the question asks about (the policy records it in the state)."""
