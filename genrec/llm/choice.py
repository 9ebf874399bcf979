"""The `auto` LLM: which backend this machine can use, decided once per process, and why.

An OpenAI-compatible endpoint that answers a quick probe; else vLLM on a CUDA GPU with an instruct
model sized to its memory; else `none`, with one calm notice for the UI (`LLMChoice.notice`).
"""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass, replace
from typing import Literal

from genrec.config import Settings
from genrec.llm.base import LLMBackend
from genrec.llm.errors import LLMError, LLMUnavailableError
from genrec.llm.results import LLMChoice

#: The one line the UI shows when answers are rule-based because no LLM was found.
NONE_NOTICE = ("Answers are rule-based: no language model is set up. To add one, see "
               "\"Language model\" in the README.")

#: (least GPU memory in GiB, model) for the vLLM `auto` starts, largest first: bf16 weights plus
#: room for the KV cache at --max-model-len 8192. All use vLLM's hermes tool-call parser.
VLLM_MODELS_BY_MEMORY: tuple[tuple[float, str], ...] = (
    (100.0, "Qwen/Qwen2.5-32B-Instruct"),
    (40.0, "Qwen/Qwen2.5-14B-Instruct"),
    (20.0, "Qwen/Qwen2.5-7B-Instruct"),
    (10.0, "Qwen/Qwen2.5-3B-Instruct"),
    (6.0, "Qwen/Qwen2.5-1.5B-Instruct"),
)
#: The one model a genrec server's own /v1/models lists (genrec.ui): never taken for an LLM.
GENREC_MODEL_ID = "genrec"
#: Extra `vllm serve` arguments for the model `auto` starts (a prompt here stays under 8k tokens).
VLLM_AUTO_ARGS = ("--max-model-len", "8192")


@dataclass(frozen=True)
class GPUInfo:
    """The first CUDA device: its name and total memory."""

    name: str
    memory_gib: float


Gpu = GPUInfo | None | Literal["detect"]  # "detect": ask torch

def model_for_gpu(memory_gib: float) -> str | None:
    """The instruct model `auto` serves with vLLM on a GPU of `memory_gib`, or None (too small).

    >>> model_for_gpu(80), model_for_gpu(24), model_for_gpu(4)
    ('Qwen/Qwen2.5-14B-Instruct', 'Qwen/Qwen2.5-7B-Instruct', None)
    """
    return next((model for least, model in VLLM_MODELS_BY_MEMORY if memory_gib >= least), None)


def detect_gpu() -> GPUInfo | None:
    """The first CUDA GPU torch sees, or None (no CUDA build, no device, or no torch)."""
    try:
        import torch

        if not torch.cuda.is_available():
            return None
        props = torch.cuda.get_device_properties(0)
        return GPUInfo(str(props.name), props.total_memory / 2**30)
    except Exception:  # noqa: BLE001 - any failure means: no usable GPU
        return None


def vllm_installed() -> bool:
    """Whether the `genrec[vllm]` extra is here: the `vllm` executable on PATH or the package."""
    import importlib.util

    return shutil.which("vllm") is not None or importlib.util.find_spec("vllm") is not None


def probe_endpoint(base_url: str, *, api_key: str, timeout: float) -> tuple[list[str] | None, str]:
    """(models served, "") when GET {base_url}/models answers within `timeout`, else (None, why)."""
    from genrec.llm.openai_backend import list_models

    try:
        return list_models(base_url, api_key=api_key, timeout=timeout), ""
    except LLMUnavailableError as exc:
        if exc.timed_out:
            return None, f"{base_url} did not answer within {timeout:g} s"
        return None, f"nothing answers at {base_url}"
    except LLMError as exc:
        if getattr(exc, "status", None) in (401, 403):
            return None, f"{base_url} refused the key (set GENREC_LLM_API_KEY)"
        return None, f"{base_url} is not a usable OpenAI-compatible server ({str(exc)[:120]})"


def _decide(settings: Settings, gpu: Gpu, vllm: bool | None) -> LLMChoice:
    base_url = settings.llm_base_url.rstrip("/")
    served, why_not = probe_endpoint(base_url, api_key=settings.llm_api_key,
                                     timeout=settings.llm_probe_timeout)
    wanted = settings.llm_model
    if served == [GENREC_MODEL_ID]:
        served, why_not = None, f"{base_url} is another genrec server, not a language model"
    if served and (not wanted or wanted in served):
        model = wanted or served[0]
        return LLMChoice("openai", model, f"the OpenAI-compatible server at {base_url} answered",
                         base_url=base_url)
    if served is not None:
        why_not = (f"{base_url} serves {', '.join(served)}, not {wanted}" if served
                   else f"{base_url} lists no model")
    found = detect_gpu() if gpu == "detect" else gpu
    if found is None:
        return LLMChoice("none", reason=f"{why_not}, and there is no CUDA GPU here",
                         notice=NONE_NOTICE)
    has_vllm = vllm_installed() if vllm is None else vllm
    if not has_vllm:
        return LLMChoice(
            "none",
            reason=f"{why_not}; a {found.name} GPU is here but vLLM is not "
            "installed (pip install 'genrec[vllm]')",
            notice=NONE_NOTICE,
        )
    sized_model = wanted or model_for_gpu(found.memory_gib)
    if sized_model is None:
        return LLMChoice(
            "none",
            reason=f"{why_not}; the {found.name} has {found.memory_gib:.0f} GiB, "
            "too little for an instruct model",
            notice=NONE_NOTICE,
        )
    sized = (
        "set by GENREC_LLM_MODEL"
        if wanted
        else f"the largest default that fits {found.memory_gib:.0f} GiB"
    )
    return LLMChoice("vllm", sized_model, f"{why_not}; starting vLLM on the {found.name} ({sized})",
                     base_url=base_url)


_LOCK = threading.Lock()
_DECIDED: dict[tuple[object, ...], LLMChoice] = {}


def _key(settings: Settings, gpu: Gpu, vllm: bool | None) -> tuple[object, ...]:
    return (settings.llm_base_url.rstrip("/"), settings.llm_api_key, settings.llm_model,
            settings.llm_probe_timeout, gpu, vllm)


def resolve_auto(settings: Settings, *, gpu: Gpu = "detect", vllm: bool | None = None) -> LLMChoice:
    """What `auto` means here, decided once per process for the same endpoint and model.

    Args:
        settings: llm_base_url, llm_api_key, llm_model, llm_probe_timeout are read.
        gpu: the GPU to assume ("detect": ask torch; None: no GPU).
        vllm: whether vLLM is installed (None: look for the `vllm` executable).
    """
    key = _key(settings, gpu, vllm)
    with _LOCK:
        if key not in _DECIDED:
            started = time.perf_counter()
            choice = _decide(settings, gpu, vllm)
            _DECIDED[key] = replace(choice, probe_seconds=round(time.perf_counter() - started, 3))
        return _DECIDED[key]


def none_backend() -> LLMBackend:
    """The `none` backend: no model; the agent writes templated text."""
    return LLMBackend("none", None, supports_tools=False, supports_structured=False)


def auto_backend(
    settings: Settings, *, gpu: Gpu = "detect", vllm: bool | None = None
) -> LLMBackend:
    """The backend `auto` resolves to, with its `choice`; vLLM that fails to start means `none`."""
    choice = resolve_auto(settings, gpu=gpu, vllm=vllm)
    backend: LLMBackend | None = None
    if choice.kind == "openai":
        from genrec.llm.openai_backend import make_openai_backend

        backend = make_openai_backend(settings, model=choice.model, base_url=choice.base_url)
    elif choice.kind == "vllm":
        from genrec.llm.vllm_server import connect_or_start_vllm

        try:
            backend = connect_or_start_vllm(choice.model, settings, extra_args=VLLM_AUTO_ARGS)
        except LLMError as exc:
            failed = str(exc).splitlines()[0][:200]
            choice = LLMChoice("none", reason=f"vLLM did not start ({failed})", notice=NONE_NOTICE,
                               probe_seconds=choice.probe_seconds)
            with _LOCK:
                _DECIDED[_key(settings, gpu, vllm)] = choice  # once per process: no second try
    if backend is None:
        backend = none_backend()
    backend.choice = choice
    return backend


def forget_decisions() -> None:
    """Forget every `auto` decision of this process (tests; after starting a server)."""
    with _LOCK:
        _DECIDED.clear()
