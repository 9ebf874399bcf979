"""Simulated users by name: a seeded `template` one and an `llm` persona one (`make_simulator`).

A simulator knows only its `Persona` (training ratings) and the public catalog, never held-out data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from genrec.data import Catalog
from genrec.evaluation.llm_simulator import LLMSimulator
from genrec.evaluation.persona import Persona
from genrec.evaluation.phrasings import genre_word
from genrec.evaluation.simulated_user import Stated, UserSimulator, Utterance, mentionable
from genrec.evaluation.template_simulator import FACT_KINDS, TemplateSimulator

log = logging.getLogger(__name__)

SIMULATORS = ("template", "llm")


class UnknownSimulatorError(ValueError):
    """A simulator name that is not one of `SIMULATORS`."""


def make_simulator(
    kind: str,
    persona: Persona,
    catalog: Catalog,
    *,
    seed: int = 0,
    generate: Callable[[list[dict]], str] | None = None,
) -> UserSimulator:
    """A simulator by name: `template`, or `llm` (needs `generate`: chat messages -> text).

    >>> from genrec.data import Item
    >>> cat = Catalog([Item(1, "Heat", 1995, ("Action",))])
    >>> make_simulator("template", Persona(liked=(1,), disliked=(), ratings={1: 5.0}), cat).name
    'template'
    """
    if kind == "template":
        return TemplateSimulator(persona, catalog, seed=seed)
    if kind == "llm":
        if generate is None:
            log.warning("llm simulator without a text backend; using the template simulator")
            return TemplateSimulator(persona, catalog, seed=seed)
        return LLMSimulator(persona, catalog, generate=generate, seed=seed)
    raise UnknownSimulatorError(f"unknown simulator {kind!r}; known: {', '.join(SIMULATORS)}")


__all__ = [
    "FACT_KINDS", "LLMSimulator", "SIMULATORS", "Stated", "TemplateSimulator", "UnknownSimulatorError",
    "UserSimulator", "Utterance", "genre_word", "make_simulator", "mentionable",
]
