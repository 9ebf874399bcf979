"""Stateless OpenAI clients: without a session id, the conversation is read from `messages`.

OpenAI-style clients send the whole conversation every call. When a request names no session
(no `X-Session-Id`, no `user`), its session is the one the conversation so far defines: the
earlier user turns, and which items the earlier assistant turns recommended. Answering then is
answering as if the session had been kept.

Each such request runs its turn on a session keyed by its transcript (`transcript_id`: a hash of
the user and assistant texts, up to and including the new user message), so the next request
of the same conversation finds the state it needs under the key of its own prefix:

* the transcript genrec answered itself (the stored session's history equals the prefix):
  its state and history are copied into the new turn's session (nothing is recomputed);
* any other transcript (the first call after another server answered, an edited or trimmed
  assistant turn, a conversation genrec never saw): it is replayed once, user turn by user turn,
  and after each replayed turn the items shown are set to the ones that turn's assistant
  message recommended (its numbered or bulleted "Title (Year)" lines, else every "Title (Year)"
  it names that the user did not), then cached the same way.

Assistant text is untrusted: it is only searched for catalog titles; what it says is never
acted on. Tool and system messages are ignored.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from genrec.agent import DialogueState, Recommender
    from genrec.data import Catalog

#: Prefix of the session ids a transcript defines (as a client sees them).
TRANSCRIPT_PREFIX = "t-"

_LIST_LINE = re.compile(r"^\s*(?:\d{1,3}[.)]|[-*•])\s+(.+)$")
_TITLE_YEAR = re.compile(r"\((\d{4})\)")
_MARKS = re.compile(r"[*_`]+")


def _flat(text: str) -> str:
    """One line, single spaces: what a transcript's turn is compared and keyed by."""
    return " ".join(text.split())


@dataclass(frozen=True)
class Transcript:
    """The user/assistant turns before the newest user message, and that message.

    >>> t = Transcript.of([("system", "be nice"), ("user", "I loved Heat"),
    ...                    ("assistant", "1. Ronin (1998) - ..."), ("user", "more please")])
    >>> t.before, t.message
    ((('user', 'I loved Heat'), ('assistant', '1. Ronin (1998) - ...')), 'more please')
    """

    before: tuple[tuple[str, str], ...]
    message: str

    @classmethod
    def of(cls, messages: Iterable[tuple[str, str]]) -> Transcript:
        """From (role, text) pairs: the last user message, and the user and assistant turns with
        text before it (what follows it is ignored).

        Raises:
            ValueError: there is no user message.
        """
        turns = [(role, text or "") for role, text in messages if role in ("user", "assistant")]
        last = max((i for i, (role, _) in enumerate(turns) if role == "user"), default=None)
        if last is None:
            raise ValueError("no message with role 'user'")
        return cls(tuple(t for t in turns[:last] if t[1].strip()), turns[last][1])

    def session_key(self) -> str:
        """The client-side session id of this request's turn (stable for the same texts)."""
        return transcript_id([*self.before, ("user", self.message)])

    def base_key(self) -> str | None:
        """The session id the previous request of this conversation ran its turn on: the prefix
        up to the user message the last assistant turn answered (None when there is none)."""
        if (
            len(self.before) < 2
            or self.before[-1][0] != "assistant"
            or self.before[-2][0] != "user"
        ):
            return None
        return transcript_id(self.before[:-1])


def transcript_id(turns: Sequence[tuple[str, str]]) -> str:
    """A session id from the turns' roles and texts (whitespace-insensitive).

    >>> transcript_id([("user", "hi  there")]) == transcript_id([("user", " hi there")])
    True
    """
    flat = json.dumps([[role, _flat(text)] for role, text in turns], ensure_ascii=False)
    return TRANSCRIPT_PREFIX + hashlib.sha256(flat.encode()).hexdigest()[:40]


def same_history(history: list[dict], turns: Sequence[tuple[str, str]]) -> bool:
    """True when a stored history is exactly these turns (roles and whitespace-flattened text)."""
    return len(history) == len(turns) and all(
        h.get("role") == role and _flat(str(h.get("content", ""))) == _flat(text)
        for h, (role, text) in zip(history, turns))


class TitleFinder:
    """Catalog items an assistant message recommends, found by their "Title (Year)" labels.

    >>> from genrec.data import Catalog, Item
    >>> cat = Catalog([Item(1, "Heat", 1995), Item(2, "Ronin", 1998), Item(3, "The Rock", 1996)])
    >>> f = TitleFinder(cat)
    >>> f.recommended(
    ...     "Noted: you like Heat (1995).\\n1. **Ronin** (1998) - tense\\n2. The Rock (1996)")
    [2, 3]
    >>> f.recommended("Since you liked Heat (1995), try Ronin (1998).",
    ...               said_by_user=["I loved Heat"])
    [2]
    """

    def __init__(self, catalog: Catalog) -> None:
        self._by_year: dict[int, dict[str, int]] = {}
        self._title_of: dict[int, str] = {}
        self._longest = 1
        for item in catalog:
            if item.year is None:
                continue
            title = _flat(item.title).lower()
            self._by_year.setdefault(int(item.year), {}).setdefault(title, int(item.item_id))
            self._title_of[int(item.item_id)] = title
            self._longest = max(self._longest, len(title.split()))

    def _ending_at(self, before: str, year: int) -> int | None:
        """The item whose title ends `before` (the text up to "(year)"), longest title first."""
        titles = self._by_year.get(year)
        if not titles:
            return None
        words = _flat(_MARKS.sub("", before)).split()
        for n in range(min(len(words), self._longest), 0, -1):
            found = titles.get(" ".join(words[-n:]).lower().strip("\"'“”‘’"))
            if found is not None:
                return found
        return None

    def _mentions(self, text: str) -> list[int]:
        out = []
        for m in _TITLE_YEAR.finditer(text):
            found = self._ending_at(text[:m.start()], int(m.group(1)))
            if found is not None:
                out.append(found)
        return out

    def recommended(self, text: str, said_by_user: Iterable[str] = ()) -> list[int]:
        """Item ids the message recommends, in order: its list lines' leading "Title (Year)";
        without list lines, each "Title (Year)" it names whose title the user did not write."""
        listed: list[int] = []
        for line in text.splitlines():
            m = _LIST_LINE.match(line)
            if m:
                year = _TITLE_YEAR.search(m.group(1))
                found = (
                    self._ending_at(m.group(1)[: year.start()], int(year.group(1)))
                    if year
                    else None
                )
                if found is not None:
                    listed.append(found)
        if listed:
            return list(dict.fromkeys(listed))
        user_text = _flat(" ".join(said_by_user)).lower()
        named = [i for i in self._mentions(text) if self._title_of[i] not in user_text]
        return list(dict.fromkeys(named))


def restore(rec: Recommender, session_id: str, base_id: str | None, transcript: Transcript,
            finder: TitleFinder) -> str:
    """Make `session_id` hold the conversation before `transcript.message`; say how.

    Returns "new" (no earlier turns), "kept" (copied from `base_id`, the session genrec's own
    earlier answer was given in) or "replayed" (rebuilt from the transcript's turns).
    """
    turns = transcript.before
    rec.delete_session(session_id)  # a retry or regeneration starts from the prefix again
    if not turns:
        return "new"
    if base_id is not None and rec.session_exists(base_id) and same_history(rec.history(base_id),
                                                                              turns):
        _put(rec, session_id, rec.state(base_id), list(turns))
        return "kept"
    _replay(rec, session_id, turns, finder)
    return "replayed"


def fork(rec: Recommender, session_id: str, source_id: str) -> bool:
    """Copy `source_id` (state and history) into `session_id` when that does not exist yet:
    the id a stateless request was given, continued with X-Session-Id, starts from the
    conversation that request ended. False when nothing was copied."""
    if rec.session_exists(session_id) or not rec.session_exists(source_id):
        return False
    turns = [(m["role"], m["content"]) for m in rec.history(source_id)]
    _put(rec, session_id, rec.state(source_id), turns)
    return True


def _put(rec: Recommender, session_id: str, state: DialogueState,
         turns: list[tuple[str, str]]) -> None:
    """Store `state` and `turns` as the whole of a (deleted) session, in one write."""
    rec.save_state(session_id, state, turns)


def _replay(rec: Recommender, session_id: str, turns: Sequence[tuple[str, str]],
            finder: TitleFinder) -> None:
    """Replay the user turns on `session_id`; after each, the items shown are the ones its
    assistant answer recommended; the stored history is the transcript's own."""
    groups: list[tuple[str | None, list[str]]] = []
    for role, text in turns:
        if role == "user":
            groups.append((text, []))
        elif groups:
            groups[-1][1].append(text)
        else:  # the assistant spoke first (a greeting): it may have shown items too
            groups.append((None, [text]))
    users: list[str] = []
    for user, answers in groups:
        before = rec.state(session_id)
        if user is not None:
            users.append(user)
            rec.chat(session_id, user)
        state = rec.state(session_id)
        shown = finder.recommended("\n".join(answers), users) if answers else []
        state.recommended = list(before.recommended)
        state.last_recommended = list(before.last_recommended)
        if shown:
            state.record_shown(shown)
        _put_state(rec, session_id, state)
    final = rec.state(session_id)
    rec.delete_session(session_id)
    _put(rec, session_id, final, list(turns))


def _put_state(rec: Recommender, session_id: str, state: DialogueState) -> None:
    rec.save_state(session_id, state)
