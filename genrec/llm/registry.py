"""The backend registry: `get_llm("auto" | "openai" | "local" | "none" | "fake" | "vllm:MODEL")`.

Third parties can add a backend with `register_llm(name, factory)`.
"""

from __future__ import annotations

from collections.abc import Callable

from genrec.config import Settings
from genrec.llm.base import LLMBackend
from genrec.llm.errors import UnknownLLMError

Factory = Callable[[str, Settings], LLMBackend]  # (argument after "name:", settings)

_FACTORIES: dict[str, Factory] = {}


def register_llm(name: str, factory: Factory) -> None:
    """Make `get_llm(name)` / `get_llm("name:ARG")` call `factory(ARG, settings)`."""
    _FACTORIES[name] = factory


def known_llms() -> list[str]:
    """Names `get_llm` accepts (vllm takes a model: vllm:MODEL)."""
    return sorted(_FACTORIES)


def get_llm(spec: str, settings: Settings | None = None) -> LLMBackend:
    """The LLM backend named by `spec`.

    Args:
        spec: "auto" (the default: an OpenAI-compatible server at settings.llm_base_url that
            answers a probe within settings.llm_probe_timeout; else vLLM started on a CUDA GPU
            with a model sized to it; else "none"; decided once per process, see
            `genrec.llm.choice`), "openai" (settings.llm_base_url / llm_model), "local"
            (in-process transformers, settings.llm_model or SmolLM2-135M-Instruct), "none" (no
            model), "fake" (scripted,
            for tests), or "vllm:MODEL" (an OpenAI backend on a vLLM server serving MODEL at
            settings.llm_base_url, started as a child process when none runs there; stopped by
            `backend.close()` or at exit). "openai:MODEL" and "local:MODEL" override llm_model.
        settings: effective settings (default: read from the environment).

    The backend's `choice` (an LLMChoice) says what was chosen and why, with a notice for the UI.

    Raises:
        UnknownLLMError: `spec` names no backend; the message lists the known ones.
        LLMUnavailableError / LLMResponseError: an openai server cannot be asked for its model.
    """
    if settings is None:
        from genrec.config import get_settings

        settings = get_settings()
    spec = (spec or "").strip()
    name, _, arg = spec.partition(":")
    factory = _FACTORIES.get(name.lower())
    if factory is None:
        raise UnknownLLMError(
            f"unknown LLM backend {spec!r}; known: {', '.join(known_llms())} "
            "(vllm needs a model: vllm:Qwen/Qwen2.5-7B-Instruct)"
        )
    backend = factory(arg, settings)
    if backend.choice is None:  # named explicitly: the choice is the user's
        from genrec.llm.results import LLMChoice

        kind = (
            name.lower()
            if name.lower() in ("openai", "vllm", "local", "none", "fake")
            else "openai"
        )
        model = backend.name.partition(":")[2] or arg
        backend.choice = LLMChoice(kind, model, reason=f"chosen by the setting llm={spec!r}",  # type: ignore[arg-type]
                                   base_url=str(getattr(backend, "base_url", "")))
    return backend


def _auto(arg: str, settings: Settings) -> LLMBackend:
    from genrec.llm.choice import auto_backend

    return auto_backend(settings)


def _openai(arg: str, settings: Settings) -> LLMBackend:
    from genrec.llm.openai_backend import make_openai_backend

    return make_openai_backend(settings, model=arg or None)


def _local(arg: str, settings: Settings) -> LLMBackend:
    from genrec.llm.local import make_local_backend

    return make_local_backend(settings, model=arg or None)


def _none(arg: str, settings: Settings) -> LLMBackend:
    from genrec.llm.choice import none_backend

    return none_backend()


def _fake(arg: str, settings: Settings) -> LLMBackend:
    from genrec.llm.fake import fake_backend

    return fake_backend()


def _vllm(arg: str, settings: Settings) -> LLMBackend:
    if not arg:
        raise UnknownLLMError(
            "the vllm backend needs a model: vllm:MODEL (e.g. vllm:Qwen/Qwen2.5-7B-Instruct)"
        )
    from genrec.llm.vllm_server import connect_or_start_vllm

    return connect_or_start_vllm(arg, settings)


register_llm("auto", _auto)
register_llm("openai", _openai)
register_llm("local", _local)
register_llm("none", _none)
register_llm("fake", _fake)
register_llm("vllm", _vllm)
