"""The default LLM `auto`: a server that answers, else vLLM on a GPU, else `none` (calm notice).

Real HTTP on 127.0.0.1 (the vLLM-like test server), a fake `vllm` executable that runs it, and a
socket that accepts and never answers. GPUs are stated (no GPU here); the test names say so.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai_test_server import OpenAITestServer, Reply
from test_llm_vllm import _free_port, _launches, _port_open, fake_vllm  # noqa: F401 - fixture
from typer.testing import CliRunner

from genrec.cli import app
from genrec.config import Settings, get_settings
from genrec.llm import NONE_NOTICE, GPUInfo, get_llm, resolve_auto
from genrec.llm.choice import auto_backend, forget_decisions, model_for_gpu

runner = CliRunner()


@pytest.fixture(autouse=True)
def _fresh_decisions() -> Iterator[None]:
    forget_decisions()
    yield
    forget_decisions()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung server, a black hole)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def _at(settings: Settings, url: str, **more: object) -> Settings:
    return settings.model_copy(update={"llm_base_url": url, **more})


def test_auto_is_the_default_setting(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GENREC_LLM", raising=False)
    assert get_settings(home=settings.home).llm == "auto"


def test_auto_picks_an_answering_vllm_like_server(settings: Settings) -> None:
    with OpenAITestServer("Qwen/Qwen2.5-7B-Instruct") as srv:
        backend = get_llm("auto", _at(settings, srv.base_url))
        srv.enqueue(Reply.say("Try Alien (1979)."))
        assert backend.invoke("something scary in space").text == "Try Alien (1979)."
    assert backend.name == "openai:Qwen/Qwen2.5-7B-Instruct" and backend.supports_tools
    assert backend.choice.kind == "openai" and backend.choice.notice is None
    assert backend.choice.base_url == srv.base_url and "answered" in backend.choice.reason


def test_llm_check_with_auto_answers_from_the_server(settings: Settings,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    with OpenAITestServer("Qwen/Qwen2.5-7B-Instruct") as srv:
        monkeypatch.setenv("GENREC_LLM_BASE_URL", srv.base_url)
        srv.enqueue(Reply.say("Blade Runner."))
        res = runner.invoke(app, ["llm", "check", "--llm", "auto", "--json"])
    assert res.exit_code == 0, res.output
    facts = json.loads(res.stdout)
    assert (
        facts["backend"] == "openai:Qwen/Qwen2.5-7B-Instruct" and facts["text"] == "Blade Runner."
    )
    assert facts["choice"]["kind"] == "openai"


def test_a_dead_url_means_none_within_the_probe_timeout(
    settings: Settings, silent_port: int
) -> None:
    s = _at(settings, f"http://127.0.0.1:{silent_port}/v1", llm_probe_timeout=0.5)
    t0 = time.perf_counter()
    backend = auto_backend(s, gpu=None)
    took = time.perf_counter() - t0
    assert took < 1.5, f"auto took {took:.2f} s on a silent server"
    assert backend.name == "none" and backend.chat_model is None
    assert backend.choice.kind == "none" and backend.choice.notice == NONE_NOTICE
    assert "did not answer within 0.5 s" in backend.choice.reason


def test_another_genrec_server_is_not_taken_for_an_llm(settings: Settings) -> None:
    with OpenAITestServer("genrec") as srv:  # what `genrec up`'s own /v1/models lists
        choice = resolve_auto(_at(settings, srv.base_url), gpu=None)
    assert choice.kind == "none" and "another genrec server" in choice.reason


def test_a_server_that_wants_a_key_says_which_setting(settings: Settings) -> None:
    with OpenAITestServer("Qwen/Qwen2.5-7B-Instruct", api_key="sk-right") as srv:
        refused = resolve_auto(_at(settings, srv.base_url, llm_api_key="sk-wrong"), gpu=None)
        taken = resolve_auto(_at(settings, srv.base_url, llm_api_key="sk-right"), gpu=None)
    assert refused.kind == "none" and "set GENREC_LLM_API_KEY" in refused.reason
    assert taken.kind == "openai"


def test_a_refused_port_means_none_at_once(settings: Settings) -> None:
    s = _at(settings, f"http://127.0.0.1:{_free_port()}/v1")
    t0 = time.perf_counter()
    choice = resolve_auto(s, gpu=None)
    assert time.perf_counter() - t0 < 0.5
    assert choice.kind == "none" and "nothing answers at" in choice.reason


def test_no_gpu_means_none_even_with_vllm_installed(settings: Settings) -> None:
    choice = resolve_auto(_at(settings, f"http://127.0.0.1:{_free_port()}/v1"), gpu=None, vllm=True)
    assert choice.kind == "none" and "no CUDA GPU" in choice.reason
    assert choice.notice is not None and "README" in choice.notice


def test_stated_gpu_without_vllm_says_how_to_install(settings: Settings) -> None:
    choice = resolve_auto(_at(settings, f"http://127.0.0.1:{_free_port()}/v1"),
                          gpu=GPUInfo("stated L4", 22.0), vllm=False)
    assert choice.kind == "none" and "pip install 'genrec[vllm]'" in choice.reason


@pytest.mark.parametrize(("gib", "model"), [(141.0, "Qwen/Qwen2.5-32B-Instruct"),
                                            (80.0, "Qwen/Qwen2.5-14B-Instruct"),
                                            (24.0, "Qwen/Qwen2.5-7B-Instruct"),
                                            (12.0, "Qwen/Qwen2.5-3B-Instruct"),
                                            (8.0, "Qwen/Qwen2.5-1.5B-Instruct"), (4.0, None)])
def test_default_model_is_sized_to_gpu_memory(gib: float, model: str | None) -> None:
    assert model_for_gpu(gib) == model


def test_stated_gpu_starts_vllm_with_the_sized_model(fake_vllm: Path, settings: Settings) -> None:  # noqa: F811
    port = _free_port()
    s = _at(settings, f"http://127.0.0.1:{port}/v1")
    backend = auto_backend(s, gpu=GPUInfo("stated H100", 80.0))
    try:
        (launch,) = _launches(fake_vllm)
        assert launch["argv"][:2] == ["serve", "Qwen/Qwen2.5-14B-Instruct"]
        assert "--max-model-len" in launch["argv"] and "hermes" in launch["argv"]
        assert backend.choice.kind == "vllm" and backend.choice.model == "Qwen/Qwen2.5-14B-Instruct"
        assert "80 GiB" in backend.choice.reason and backend.choice.notice is None
        assert backend.invoke("hi").text
    finally:
        backend.close()
    assert not _port_open(port)


def test_vllm_that_fails_to_start_means_none_once(fake_vllm: Path, settings: Settings,  # noqa: F811
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_VLLM_FAIL", "1")
    s = _at(settings, f"http://127.0.0.1:{_free_port()}/v1")
    backend = auto_backend(s, gpu=GPUInfo("stated A10", 24.0))
    assert backend.name == "none" and backend.choice.notice == NONE_NOTICE
    assert "vLLM did not start" in backend.choice.reason
    assert auto_backend(s, gpu=GPUInfo("stated A10", 24.0)).name == "none"
    assert len(_launches(fake_vllm)) == 1  # not tried again in this process


def test_auto_is_decided_once_per_process_not_per_call(settings: Settings) -> None:
    with OpenAITestServer("Qwen/Qwen2.5-7B-Instruct") as srv:
        s = _at(settings, srv.base_url)
        first, second = get_llm("auto", s), get_llm("auto", s)
        for _ in range(3):
            srv.enqueue(Reply.say("ok"))
            first.invoke("hi")
        probes = [r for r in srv.requests if r.path.startswith("/v1/models")]
    assert len(probes) == 1 and first.choice is second.choice


def test_named_backends_carry_their_choice_without_a_notice(settings: Settings) -> None:
    choice = get_llm("none", settings).choice
    assert (choice.kind, choice.notice) == ("none", None) and "llm='none'" in choice.reason
