"""LLM backends: a registry (`get_llm`) of auto / openai / local / none / fake / vllm:MODEL.

Each backend is an `LLMBackend`: a LangChain chat model plus usage accounting and uniform errors.
Modules: errors, usage, results, parsing, answers, base, registry, choice (what `auto` picks and
why), fake, openai_backend, local (+ local_weights) and vllm_server (the launcher). Nothing here
imports the agent.
"""

from genrec.llm.base import LLMBackend
from genrec.llm.choice import NONE_NOTICE, GPUInfo, resolve_auto
from genrec.llm.errors import (
    LLMCapabilityError,
    LLMError,
    LLMResponseError,
    LLMUnavailableError,
    UnknownLLMError,
)
from genrec.llm.fake import DEFAULT_REPLY, FakeLLM, FakeRequest, fake_backend
from genrec.llm.parsing import (
    JsonFieldStream,
    MessagesInput,
    ResponseFormat,
    extract_json,
    openai_response_format,
    to_messages,
)
from genrec.llm.registry import get_llm, known_llms, register_llm
from genrec.llm.results import LLMChoice, LLMResult, LLMStream, ToolCall
from genrec.llm.usage import LLMUsage, meter

__all__ = [
    "DEFAULT_REPLY",
    "FakeLLM",
    "FakeRequest",
    "GPUInfo",
    "JsonFieldStream",
    "LLMBackend",
    "LLMChoice",
    "LLMCapabilityError",
    "LLMError",
    "LLMResponseError",
    "LLMResult",
    "LLMStream",
    "LLMUnavailableError",
    "LLMUsage",
    "MessagesInput",
    "NONE_NOTICE",
    "ResponseFormat",
    "ToolCall",
    "UnknownLLMError",
    "extract_json",
    "fake_backend",
    "get_llm",
    "known_llms",
    "meter",
    "openai_response_format",
    "register_llm",
    "resolve_auto",
    "to_messages",
]

_LAZY = {  # heavy modules (openai, transformers) only when asked for
    "OpenAIBackend": "openai_backend",
    "list_models": "openai_backend",
    "make_openai_backend": "openai_backend",
    "LocalChatModel": "local",
    "LocalModelError": "local",
    "make_local_backend": "local",
    "resolve_local_model": "local",
    "fetch_pinned_gguf": "local",
    "DEFAULT_LOCAL_MODEL": "local",
    "SMOLLM2_WHEEL": "local",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'genrec.llm' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"genrec.llm.{module}"), name)
