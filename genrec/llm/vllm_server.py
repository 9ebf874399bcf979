"""Start, watch and stop a vLLM OpenAI-compatible server (`vllm serve`) for genrec's openai backend.

Picks `--enable-auto-tool-choice --tool-call-parser` for the model family, waits for GET /health.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from genrec.config import Settings
from genrec.llm.base import LLMBackend
from genrec.llm.errors import LLMResponseError, LLMUnavailableError

INSTALL_HINT = "pip install 'genrec[vllm]'"


class VLLMError(LLMUnavailableError):
    """vLLM could not be started or did not become ready."""


class VLLMNotInstalledError(VLLMError):
    """There is no `vllm` executable."""


class VLLMStartError(VLLMError):
    """`vllm serve` exited early or did not answer /health in time; the message has its log tail."""


@dataclass(frozen=True)
class ToolParserRule:
    """Model ids matching `pattern` (case-insensitive regex) use vLLM's tool-call `parser`."""

    pattern: str
    parser: str
    family: str


# First match wins, so specific names come before the families they contain
# (Hermes-3-Llama-3.1 is Hermes; Llama-xLAM is xLAM; Qwen3-Coder is not plain Qwen3).
TOOL_CALL_PARSERS: tuple[ToolParserRule, ...] = (
    ToolParserRule(r"hermes", "hermes", "NousResearch Hermes 2 Pro / 3"),
    ToolParserRule(r"xlam", "xlam", "Salesforce xLAM"),
    ToolParserRule(r"qwen3-?coder", "qwen3_coder", "Qwen3-Coder"),
    ToolParserRule(r"qwen2\.5|qwen3|qwq|qwen2-", "hermes", "Qwen2.5 / Qwen3 / QwQ"),
    ToolParserRule(r"llama-?4", "llama4_pythonic", "Llama 4"),
    ToolParserRule(r"llama-?3\.[123]|llama-?3-|meta-llama-3", "llama3_json", "Llama 3.x"),
    ToolParserRule(r"mistral|mixtral|ministral|devstral|codestral", "mistral", "Mistral"),
    ToolParserRule(r"granite-?3", "granite", "IBM Granite 3.x"),
    ToolParserRule(r"internlm", "internlm", "InternLM 2.5"),
    ToolParserRule(r"jamba", "jamba", "AI21 Jamba"),
    ToolParserRule(r"deepseek-v3\.1", "deepseek_v31", "DeepSeek-V3.1"),
    ToolParserRule(r"deepseek-(v3|r1)", "deepseek_v3", "DeepSeek-V3 / R1"),
    ToolParserRule(r"kimi-k2", "kimi_k2", "Kimi K2"),
    ToolParserRule(r"glm-?4\.[56]", "glm45", "GLM-4.5 / 4.6"),
    ToolParserRule(r"phi-4-mini", "phi4_mini_json", "Phi-4-mini"),
    ToolParserRule(r"gpt-oss", "openai", "gpt-oss"),
)


def tool_call_parser_for(model: str) -> str | None:
    """vLLM's `--tool-call-parser` for a model id, or None when the family is not in the table."""
    low = model.lower()
    for rule in TOOL_CALL_PARSERS:
        if re.search(rule.pattern, low):
            return rule.parser
    return None


def find_vllm() -> str:
    """Path of the `vllm` executable; VLLMNotInstalledError with the install hint otherwise."""
    exe = shutil.which("vllm")
    if exe is None:
        raise VLLMNotInstalledError(
            f"vLLM is not installed (no `vllm` on PATH): {INSTALL_HINT} (needs an NVIDIA GPU); "
            "or point GENREC_LLM_BASE_URL at a running OpenAI-compatible server"
        )
    return exe


def build_vllm_command(
    model: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    tensor_parallel_size: int = 1,
    tool_call_parser: str | None = "auto",
    api_key: str | None = None,
    extra_args: Sequence[str] = (),
    executable: str | None = None,
) -> list[str]:
    """The `vllm serve` command line.

    Args:
        tool_call_parser: "auto" picks from TOOL_CALL_PARSERS (no tool flags when the family is
            unknown); a parser name forces it; None or "none" turns tool calling off.
        api_key: passed as --api-key unless empty or "EMPTY".
        extra_args: appended verbatim (e.g. ["--max-model-len", "8192"]).
        executable: the vllm executable (default: found on PATH).
    """
    exe = executable or find_vllm()
    cmd = [exe, "serve", model, "--host", host, "--port", str(port)]
    cmd += ["--tensor-parallel-size", str(tensor_parallel_size)]
    parser = tool_call_parser
    if parser == "auto":
        parser = tool_call_parser_for(model)
    if parser and parser != "none":
        cmd += ["--enable-auto-tool-choice", "--tool-call-parser", parser]
    if api_key and api_key != "EMPTY":
        cmd += ["--api-key", api_key]
    cmd += list(extra_args)
    return cmd


def _port_in_use(host: str, port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def _client_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def wait_for_health(
    root_url: str,
    *,
    timeout: float,
    process: subprocess.Popen | None = None,
    progress: Callable[[float], None] | None = None,
    interval: float = 0.5,
    log_path: Path | None = None,
    progress_every: float = 5.0,
) -> float:
    """Poll GET {root_url}/health until it answers 200; return the seconds it took.

    The pause between polls grows with the time waited (a tenth of it, at least 0.05 s and at
    most `interval`), so a server that is up within a second is seen at once. Calls
    `progress(elapsed)` about every `progress_every` seconds. Raises VLLMStartError when
    `process` exits first or `timeout` passes (with the tail of `log_path`).
    """
    import httpx

    started = time.monotonic()
    last_report = started
    url = root_url.rstrip("/") + "/health"
    # one client for every poll (a new one loads the CA bundle again, ~25 ms of CPU)
    with httpx.Client(timeout=min(5.0, max(interval, 1.0))) as client:
        while True:
            elapsed = time.monotonic() - started
            if process is not None and process.poll() is not None:
                raise VLLMStartError(
                    f"vllm exited with code {process.returncode} before it was ready"
                    + _log_tail(log_path)
                )
            try:
                if client.get(url).status_code == 200:
                    return elapsed
            except httpx.HTTPError:
                pass
            if elapsed >= timeout:
                raise VLLMStartError(
                    f"vLLM did not answer {url} within {timeout:g} s" + _log_tail(log_path)
                )
            if progress is not None and time.monotonic() - last_report >= progress_every:
                last_report = time.monotonic()
                progress(elapsed)
            time.sleep(min(interval, max(0.05, elapsed / 10)))


def _log_tail(log_path: Path | None, lines: int = 15) -> str:
    if log_path is None or not log_path.is_file():
        return ""
    tail = log_path.read_text(errors="replace").splitlines()[-lines:]
    return f"; log {log_path}:\n" + "\n".join("  " + line for line in tail) if tail else ""


class VLLMServer:
    """`vllm serve MODEL` as a child process, ready when `start()` returns; stopped on exit.

    >>> with VLLMServer("Qwen/Qwen2.5-7B-Instruct", port=8000) as srv:  # doctest: +SKIP
    ...     backend = get_llm("openai", settings.model_copy(update={"llm_base_url": srv.base_url}))

    Args:
        model: Hugging Face id or path vLLM should serve.
        host / port: where it listens (the client uses 127.0.0.1 for 0.0.0.0).
        tensor_parallel_size: GPUs to shard the model over.
        tool_call_parser: "auto" (from the model family), a parser name, or None.
        api_key: required bearer token (optional).
        extra_args: more `vllm serve` arguments.
        startup_timeout: seconds to wait for /health (downloads and compilation take minutes).
        log_path: where vLLM's output goes (default: a temp file, named in errors).
        progress: called with the seconds waited, every `progress_every` s, while starting.
    """

    def __init__(
        self,
        model: str,
        *,
        host: str = "127.0.0.1",
        port: int = 8000,
        tensor_parallel_size: int = 1,
        tool_call_parser: str | None = "auto",
        api_key: str | None = None,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 1800.0,
        log_path: Path | None = None,
        env: dict[str, str] | None = None,
        progress: Callable[[float], None] | None = None,
        progress_every: float = 5.0,
    ) -> None:
        self.model = model
        self.progress_every = progress_every
        self.host = host
        self.port = port
        self.startup_timeout = startup_timeout
        self.env = env
        self.progress = progress
        self.command = build_vllm_command(
            model,
            host=host,
            port=port,
            tensor_parallel_size=tensor_parallel_size,
            tool_call_parser=tool_call_parser,
            api_key=api_key,
            extra_args=extra_args,
        )
        self.log_path = log_path or Path(tempfile.gettempdir()) / f"genrec-vllm-{port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def root_url(self) -> str:
        return f"http://{_client_host(self.host)}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL to give the openai backend (…/v1)."""
        return self.root_url + "/v1"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> str:
        """Launch vLLM and wait until /health answers; returns base_url."""
        if self.running:
            return self.base_url
        if _port_in_use(_client_host(self.host), self.port):
            raise VLLMStartError(
                f"port {self.port} is already in use; if a vLLM server runs there, use it "
                f"(GENREC_LLM_BASE_URL={self.base_url}), else pick another --port"
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        try:
            self.process = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(self.env or {})},
                start_new_session=True,  # its own process group: stop() reaches vLLM's workers
            )
        except OSError as exc:
            raise VLLMStartError(f"could not run {self.command[0]}: {exc}") from None
        finally:
            log.close()
        atexit.register(self.stop)
        try:
            wait_for_health(
                self.root_url,
                timeout=self.startup_timeout,
                process=self.process,
                progress=self.progress,
                log_path=self.log_path,
                progress_every=self.progress_every,
            )
        except BaseException:
            self.stop()
            raise
        return self.base_url

    def stop(self, timeout: float = 30.0) -> None:
        """Stop vLLM (SIGTERM to its process group, SIGKILL after `timeout`); safe to repeat."""
        proc, self.process = self.process, None
        if proc is None:
            return
        atexit.unregister(self.stop)
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=10)

    def wait(self) -> int:
        """Block until vLLM exits; its exit code."""
        if self.process is None:
            return 0
        return self.process.wait()

    def __enter__(self) -> VLLMServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def connect_or_start_vllm(
    model: str,
    settings: Settings,
    *,
    start: bool = True,
    progress: Callable[[float], None] | None = None,
    extra_args: Sequence[str] = (),
) -> LLMBackend:
    """The `vllm:MODEL` backend: an openai backend on the vLLM at settings.llm_base_url.

    When nothing answers there and the URL is on this machine, `vllm serve MODEL [extra_args]` is
    started on its port as a child process that `backend.close()` (or interpreter exit) stops.
    """
    from genrec.llm.openai_backend import list_models, make_openai_backend

    base_url = settings.llm_base_url.rstrip("/")
    try:
        served = list_models(base_url, api_key=settings.llm_api_key, timeout=3.0)
    except LLMUnavailableError:
        served = None
    if served is not None:
        if model not in served:
            raise LLMResponseError(
                f"{base_url} serves {', '.join(served) or 'no model'}, not {model}; stop that "
                "server or set GENREC_LLM_BASE_URL to a free port"
            )
        return make_openai_backend(settings, model=model, base_url=base_url)
    parsed = urlparse(base_url)
    host = parsed.hostname or "127.0.0.1"
    if not start or host not in ("127.0.0.1", "localhost", "0.0.0.0", "::1"):
        raise LLMUnavailableError(
            f"no vLLM server at {base_url}; start one there with `genrec llm serve --model {model}`"
        )
    log_path = settings.home / "logs" / f"vllm-{parsed.port or 8000}.log"
    if progress is None:

        def progress(elapsed: float) -> None:
            print(f"waiting for vLLM to load {model} ... {elapsed:.0f} s", file=sys.stderr)

    server = VLLMServer(
        model,
        host=host,
        port=parsed.port or 8000,
        api_key=settings.llm_api_key,
        extra_args=extra_args,
        progress=progress,
        progress_every=15.0,
        log_path=log_path,
    )
    print(f"starting vLLM for {model} on port {server.port} (log: {log_path})", file=sys.stderr)
    server.start()
    try:
        backend = make_openai_backend(settings, model=model, base_url=server.base_url)
    except BaseException:
        server.stop()
        raise
    backend.on_close(server.stop)
    backend.vllm_server = server  # type: ignore[attr-defined]
    return backend
