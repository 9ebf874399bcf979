"""LLM backends for the agent: a registry (`get_llm`) of openai / local / none / fake / vllm:MODEL.

Each backend is an `LLMBackend`: a LangChain chat model plus usage accounting and uniform errors.
"""

from genrec.llm._base import (
    LLMBackend,
    LLMCapabilityError,
    LLMError,
    LLMResponseError,
    LLMResult,
    LLMUnavailableError,
    LLMUsage,
    ToolCall,
    UnknownLLMError,
    extract_json,
    meter,
    openai_response_format,
    to_messages,
)
from genrec.llm._fake import DEFAULT_REPLY, FakeLLM, FakeRequest, fake_backend
from genrec.llm._registry import get_llm, known_llms, register_llm

__all__ = [
    "DEFAULT_REPLY",
    "FakeLLM",
    "FakeRequest",
    "LLMBackend",
    "LLMCapabilityError",
    "LLMError",
    "LLMResponseError",
    "LLMResult",
    "LLMUnavailableError",
    "LLMUsage",
    "ToolCall",
    "UnknownLLMError",
    "extract_json",
    "fake_backend",
    "get_llm",
    "known_llms",
    "meter",
    "openai_response_format",
    "register_llm",
    "to_messages",
]


def __getattr__(name: str):  # heavy modules only when asked for
    if name in ("OpenAIBackend", "list_models", "make_openai_backend"):
        from genrec.llm import _openai

        return getattr(_openai, name)
    if name in (
        "LocalChatModel",
        "LocalModelError",
        "make_local_backend",
        "resolve_local_model",
        "fetch_pinned_gguf",
        "DEFAULT_LOCAL_MODEL",
        "SMOLLM2_WHEEL",
    ):
        from genrec.llm import _local

        return getattr(_local, name)
    raise AttributeError(f"module 'genrec.llm' has no attribute {name!r}")
