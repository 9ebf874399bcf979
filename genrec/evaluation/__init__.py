"""Evaluation: metrics, simulated users, the conversational protocol and harness, run folders and reports."""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Public names load on first use, so `import genrec.evaluation.metrics` stays light.
_EXPORTS = {
    "ChatEvalConfig": "harness", "ChatEvalResult": "harness", "LeakageError": "harness",
    "RunMismatchError": "run_folder", "run_chat_eval": "harness", "arun_chat_eval": "harness",
    "RunFolder": "run_folder", "read_transcripts": "run_folder", "ChatProtocol": "chat_protocol",
    "build_components": "wiring", "EvalComponents": "wiring",
    "Persona": "persona", "build_persona": "persona",
    "TemplateSimulator": "simulator", "LLMSimulator": "simulator", "make_simulator": "simulator",
    "Stated": "simulated_user", "Utterance": "simulated_user", "UserSimulator": "simulated_user",
    "TitleMatcher": "leakage", "Baselines": "baselines", "score_records": "scoring",
    "write_report": "report", "format_summary": "report",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'genrec.evaluation' has no attribute {name!r}")
    return getattr(import_module(f"genrec.evaluation.{mod}"), name)
