"""The llm simulated user: a persona prompt voiced by any LLM backend, falling back to the
template user when the backend cannot write text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence

from genrec.data import Catalog
from genrec.evaluation.simulation.persona import Persona
from genrec.evaluation.simulation.phrasings import genre_word
from genrec.evaluation.simulation.template_user import TemplateSimulator
from genrec.evaluation.simulation.user import Utterance, mentionable

log = logging.getLogger(__name__)

_PERSONA_PROMPT = """You are role-playing a person who is chatting with a movie \
recommendation assistant.
Stay in character and write only the person's next message: one to three short sentences, no lists.
What you know about your own taste (and nothing else):
- Movies you loved: {liked}
- Movies you disliked: {disliked}
- Favourite genres: {genres}
- Genres you avoid: {avoided}
- You mostly enjoy films from: {decades}
Rules: reveal one or two of these facts per message, starting with your favourite genres and a loved
movie. Never name a movie that is not in the lists above. If the assistant asks a question, \
answer it.
If it recommends movies you have already seen (see below), say so and whether you liked them."""


_WARNED: set[str] = set()


class LLMSimulator:
    """A simulated user voiced by an LLM from a persona prompt (any backend the agent supports).

    Only training-rated titles are put in the prompt; the titles it names are found in its text
    afterwards (for the fold-in baseline). When the backend cannot generate, it falls back to the
    template simulator for the rest of the conversation (with a warning).
    """

    name = "llm"

    def __init__(self, persona: Persona, catalog: Catalog, *, generate: Callable[[list[dict]], str],
                 seed: int = 0) -> None:
        self.persona = persona
        self.catalog = catalog
        self._generate = generate
        self._fallback = TemplateSimulator(persona, catalog, seed=seed)
        self.stated = self._fallback.stated
        self.failed: str | None = None
        ok = mentionable(catalog)
        self._liked = [i for i in persona.liked if ok(i)][:10]
        self._disliked = [i for i in persona.disliked if ok(i)][:5]
        self._known = {catalog[i].title: i for i in [*self._liked, *self._disliked]}
        self._history: list[dict] = []

    def _system(self, recommended: Sequence[int]) -> str:
        def titles(ids: Sequence[int]) -> str:
            return "; ".join(f'"{self.catalog[i].title}"' for i in ids) or "none"

        text = _PERSONA_PROMPT.format(
            liked=titles(self._liked),
            disliked=titles(self._disliked),
            genres=", ".join(genre_word(g) for g in self.persona.favourite_genres)
            or "no strong preference",
            avoided=", ".join(genre_word(g) for g in self.persona.avoided_genres) or "none",
            decades=", ".join(f"the {d}s" for d in self.persona.decades) or "any decade",
        )
        ok = mentionable(self.catalog)
        seen = [
            (i, self.persona.rating_of(i))
            for i in recommended
            if self.persona.rating_of(i) and ok(i)
        ]
        if seen:
            text += "\nOf the assistant's latest suggestions you have already seen: " + "; ".join(
                f'"{self.catalog[i].title}" (you rated it {r:g}/5)' for i, r in seen
            )
        return text

    def _ask(self, recommended: Sequence[int]) -> Utterance | None:
        if self.failed:
            return None
        messages = [{"role": "system", "content": self._system(recommended)}, *self._history]
        if not self._history:
            messages.append({"role": "user", "content": "(Start the conversation.)"})
        try:
            text = (self._generate(messages) or "").strip()
        except Exception as exc:  # noqa: BLE001 - any backend failure -> template fallback
            text, self.failed = "", f"{type(exc).__name__}: {exc}"
        if not text:
            self.failed = self.failed or "the backend returned no text"
            if self.failed not in _WARNED:  # once per kind of failure, not once per user
                _WARNED.add(self.failed)
                log.warning(
                    "llm simulator: %s; falling back to the template simulator", self.failed
                )
            return None
        named = self._record(text, recommended)
        return Utterance(text, tuple(named), ("llm",))

    def _record(self, text: str, recommended: Sequence[int]) -> list[int]:
        named: list[int] = []
        low = text.casefold()
        s = self.stated
        rec_titles = {self.catalog[i].title: i for i in recommended if self.persona.rating_of(i)}
        for title, i in {**self._known, **rec_titles}.items():
            if title.casefold() in low:
                named.append(i)
                s.add_item(i, "seen")
                r = self.persona.rating_of(i) or 3.0
                if r >= 4:
                    s.add_item(i, "liked")
                elif r <= 2:
                    s.add_item(i, "disliked")
        for g in self.persona.favourite_genres:
            if genre_word(g) in low:
                s.want_genre(g, True)
        for g in self.persona.avoided_genres:
            if genre_word(g) in low and re.search(r"\b(no|not|avoid|don't|hate|skip)\b", low):
                s.want_genre(g, False)
        return named

    def opening(self) -> Utterance:
        u = self._ask(())
        if u is None:
            return self._fallback.opening()
        self._history.append({"role": "assistant", "content": u.text})
        return u

    def respond(self, agent_text: str, recommended: Sequence[int], question: bool) -> Utterance:
        if self.failed:
            return self._fallback.respond(agent_text, recommended, question)
        # roles are swapped: the simulator is the "assistant" of its own chat
        self._history.append({"role": "user", "content": agent_text})
        u = self._ask(recommended)
        if u is None:
            return self._fallback.respond(agent_text, recommended, question)
        self._history.append({"role": "assistant", "content": u.text})
        return u


__all__ = ["LLMSimulator"]
