"""Evaluation: metrics, simulated users, the conversational protocols and harness, run folders
and reports; the public names below load on first use."""

from __future__ import annotations

from importlib import import_module

# Public names load on first use, so `import genrec.evaluation.metrics` stays light.
_EXPORTS = {
    "ChatEvalConfig": "harness", "ChatEvalResult": "harness", "LeakageError": "harness",
    "RunMismatchError": "run_folder", "run_chat_eval": "harness", "arun_chat_eval": "harness",
    "RunFolder": "run_folder", "read_transcripts": "run_folder",
    "ChatProtocol": "protocols.replay", "build_components": "wiring", "EvalComponents": "wiring",
    "Persona": "simulation.persona", "build_persona": "simulation.persona",
    "TemplateSimulator": "simulation.template_user", "LLMSimulator": "simulation.llm_user",
    "make_simulator": "simulation.factory", "Stated": "simulation.user",
    "Utterance": "simulation.user", "UserSimulator": "simulation.user",
    "TitleMatcher": "leakage", "Baselines": "baselines", "score_records": "protocols.taste",
    "write_report": "report", "format_summary": "report",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'genrec.evaluation' has no attribute {name!r}")
    return getattr(import_module(f"genrec.evaluation.{mod}"), name)
