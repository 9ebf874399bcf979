"""Simulated users by name: a seeded `template` one and an `llm` persona one (`make_simulator`).

A simulator knows only its `Persona` (training ratings) and the public catalog, never held-out data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from genrec.data import Catalog
from genrec.evaluation.simulation.llm_user import LLMSimulator
from genrec.evaluation.simulation.persona import Persona
from genrec.evaluation.simulation.phrasebook import Phrasebook, phrasing_for_user
from genrec.evaluation.simulation.phrasebook_corpus import load_phrasebook
from genrec.evaluation.simulation.phrasings import genre_word
from genrec.evaluation.simulation.template_user import FACT_KINDS, TemplateSimulator
from genrec.evaluation.simulation.user import Stated, UserSimulator, Utterance, mentionable

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
    phrasing: str = "template",
    phrasebook: Phrasebook | None = None,
) -> UserSimulator:
    """A simulator by name: `template`, or `llm` (needs `generate`: chat messages -> text).

    `phrasing` is whose words a template user speaks: `template` (the project's phrasings) or
    `real` (real seekers' sentences where one fits, and their behaviour mix; pick it per user with
    `phrasing_for_user`); `real` takes `phrasebook`, else `load_phrasebook()`.

    Raises:
        ValueError: `real` without a phrasebook and none to load (INSPIRED's dev.tsv is absent).

    >>> from genrec.data import Item
    >>> cat = Catalog([Item(1, "Heat", 1995, ("Action",))])
    >>> make_simulator("template", Persona(liked=(1,), disliked=(), ratings={1: 5.0}), cat).name
    'template'
    """
    if kind == "template":
        if phrasing == "real" and phrasebook is None:
            phrasebook = load_phrasebook()
            if phrasebook is None:
                raise ValueError(
                    "phrasing='real' needs the phrasebook, built from INSPIRED's dev.tsv: "
                    "set GENREC_INSPIRED_PATH to it"
                )
        return TemplateSimulator(
            persona, catalog, seed=seed, phrasing=phrasing, phrasebook=phrasebook
        )
    if kind == "llm":
        if generate is None:
            log.warning("llm simulator without a text backend; using the template simulator")
            return TemplateSimulator(persona, catalog, seed=seed)
        return LLMSimulator(persona, catalog, generate=generate, seed=seed)
    raise UnknownSimulatorError(f"unknown simulator {kind!r}; known: {', '.join(SIMULATORS)}")


__all__ = [
    "FACT_KINDS",
    "LLMSimulator",
    "Phrasebook",
    "SIMULATORS",
    "Stated",
    "TemplateSimulator",
    "UnknownSimulatorError",
    "UserSimulator",
    "Utterance",
    "genre_word",
    "load_phrasebook",
    "make_simulator",
    "mentionable",
    "phrasing_for_user",
]
