"""The `openai` backend: any OpenAI-compatible server (vLLM first; llama.cpp, SGLang, Ollama,
OpenAI).

ChatOpenAI with native tool calling and JSON-schema `response_format`; every client error becomes
LLMUnavailableError or LLMResponseError with a message that says what to do.
"""

from __future__ import annotations

import functools
import os
import ssl
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from genrec.config import Settings
from genrec.llm.base import LLMBackend
from genrec.llm.errors import LLMError, LLMResponseError, LLMUnavailableError
from genrec.llm.parsing import ResponseFormat, openai_response_format

_TRANSPORT_NAMES = {
    "TimeoutException",
    "TransportError",
    "NetworkError",
    "RemoteProtocolError",
    "ConnectError",
    "ReadError",
}


def _error_detail(body: object, fallback: str) -> str:
    """The message of an OpenAI ({"error": {...}}) or older vLLM ({"object": "error"}) body."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return fallback


@functools.cache
def _tls_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    import httpx

    return httpx.create_ssl_context()  # reads SSL_CERT_FILE / SSL_CERT_DIR, else certifi's


def tls_context() -> ssl.SSLContext:
    """httpx's default TLS context, built once a process (per SSL_CERT_FILE / SSL_CERT_DIR): each
    new client would load the CA bundle again, about 25 ms of CPU for every model-list probe."""
    return _tls_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


def list_models(base_url: str, *, api_key: str = "EMPTY", timeout: float = 10.0) -> list[str]:
    """Model ids served at an OpenAI-compatible `base_url` (GET {base_url}/models).

    Raises LLMUnavailableError when nothing answers, LLMResponseError for a bad answer.
    """
    import httpx

    url = base_url.rstrip("/") + "/models"
    try:
        resp = httpx.get(url, headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout,
                         verify=tls_context())
    except httpx.TimeoutException:
        raise LLMUnavailableError(f"{url} did not answer within {timeout:g} s",
                                  timed_out=True) from None
    except httpx.HTTPError as exc:
        raise LLMUnavailableError(
            f"no OpenAI-compatible server at {base_url} ({type(exc).__name__}: {exc}); start one "
            "with `genrec llm serve --model MODEL` or set GENREC_LLM_BASE_URL"
        ) from None
    if resp.status_code != 200:
        raise LLMResponseError(
            f"GET {url} answered {resp.status_code}: {resp.text[:200]}", status=resp.status_code
        )
    try:
        return [str(m["id"]) for m in resp.json()["data"]]
    except (ValueError, KeyError, TypeError):
        raise LLMResponseError(
            f"GET {url} did not return a model list: {resp.text[:200]!r}"
        ) from None


def map_openai_error(base_url: str, model: str) -> Callable[[BaseException], LLMError | None]:
    """Translate openai / httpx exceptions of calls to `base_url` into genrec's LLM errors."""

    def mapper(exc: BaseException) -> LLMError | None:
        import openai

        where = f"openai:{model} at {base_url}"
        names = {c.__name__ for c in type(exc).__mro__}
        if isinstance(exc, openai.APITimeoutError) or "TimeoutException" in names:
            return LLMUnavailableError(
                f"{where}: no answer before the timeout; "
                "raise GENREC_LLM_TIMEOUT or check the server",
                timed_out=True,
            )
        if isinstance(exc, openai.APIConnectionError) or names & _TRANSPORT_NAMES:
            return LLMUnavailableError(
                f"{where}: cannot reach the server ({exc}); is it running? "
                "(`genrec llm serve --model MODEL` starts vLLM)"
            )
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            detail = _error_detail(exc.body, exc.message)
            if status >= 500 or status == 429:
                return LLMUnavailableError(f"{where}: server error {status}: {detail}")
            hint = ""
            if "tool-call-parser" in detail or "auto-tool-choice" in detail:
                hint = (
                    " (start vLLM with --enable-auto-tool-choice --tool-call-parser ...; "
                    "`genrec llm serve` does that)"
                )
            elif status in (401, 403):
                hint = " (check GENREC_LLM_API_KEY)"
            elif status == 404:
                hint = " (check GENREC_LLM_MODEL against GET /v1/models)"
            return LLMResponseError(f"{where}: HTTP {status}: {detail}{hint}", status=status)
        if isinstance(exc, openai.APIError) and not isinstance(
            exc, openai.APIResponseValidationError
        ):  # an error event inside a streamed answer
            body = exc.body if isinstance(exc.body, dict) else {}
            detail = _error_detail({"error": body} if body else None, exc.message)
            code = body.get("code")
            if isinstance(code, int) and code >= 500:
                return LLMUnavailableError(f"{where}: the server failed mid-answer: {detail}")
            return LLMResponseError(f"{where}: error in the streamed answer: {detail}")
        if isinstance(exc, (openai.APIResponseValidationError, ValueError, KeyError, TypeError)):
            return LLMResponseError(
                f"{where}: the server's answer is not a valid chat completion: "
                f"{type(exc).__name__}: {str(exc)[:300]}"
            )
        return None

    return mapper


class OpenAIBackend(LLMBackend):
    """LLMBackend over ChatOpenAI: per-call timeout and max_tokens, `response_format` json_schema
    (falls back to instruction + JSON parsing when a server rejects response_format).

    Made while the server is down and no model is set, the model is empty and asked of
    GET /models before the first call that the circuit breaker lets through."""

    base_url: str
    model: str
    api_key: str = "EMPTY"

    def _before_call(self) -> None:
        if self.model:
            return
        try:
            served = list_models(self.base_url, api_key=self.api_key,
                                 timeout=min(self.timeout or 10.0, 5.0))
        except LLMUnavailableError as exc:
            self.breaker.failure(str(exc), expensive=exc.timed_out)
            raise
        if not served:
            raise LLMResponseError(f"{self.base_url}/models lists no model; set GENREC_LLM_MODEL")
        self.model = served[0]
        self.name = f"openai:{self.model}"
        self._map_error = map_openai_error(self.base_url, self.model)
        self.chat_model.model_name = self.model  # type: ignore[union-attr]

    takes_call_options = True

    def _structured_kwargs(self, response_format: ResponseFormat) -> dict[str, Any]:
        # extra_body keeps ChatOpenAI on the plain create() path (its parse() path adds checks
        # that reject many non-OpenAI servers' answers)
        return {"extra_body": {"response_format": openai_response_format(response_format)}}

    def _drop_structured(
        self, exc: LLMResponseError, response_format: ResponseFormat | None
    ) -> bool:
        """A 400 naming response_format / json_schema: this server does not do JSON-schema
        output, so ask by instruction from now on."""
        if not (response_format is not None and self.supports_structured and exc.status == 400):
            return False
        if "response_format" not in str(exc) and "json_schema" not in str(exc):
            return False
        self.supports_structured = False
        return True


def make_openai_backend(
    settings: Settings,
    *,
    model: str | None = None,
    base_url: str | None = None,
    max_retries: int = 0,
    temperature: float | None = None,
) -> OpenAIBackend:
    """The `openai` backend from settings (llm_base_url, llm_model, llm_api_key, llm_timeout,
    llm_max_tokens). An empty model means the first id of GET {base_url}/models; when the server
    does not answer, the backend is made anyway (so a server can start during an LLM outage)
    and asks again before its first call. No retries by default: a timeout is not paid twice."""
    from langchain_openai import ChatOpenAI

    base_url = (base_url or settings.llm_base_url).rstrip("/")
    model = model or settings.llm_model
    if not model:
        try:
            served = list_models(
                base_url, api_key=settings.llm_api_key, timeout=min(settings.llm_timeout, 5.0)
            )
        except LLMUnavailableError:
            served = None  # down now: resolved on the first call that gets through
        if served is not None and not served:
            raise LLMResponseError(f"{base_url}/models lists no model; set GENREC_LLM_MODEL")
        model = served[0] if served else ""
    chat = ChatOpenAI(
        model=model or "pending",
        base_url=base_url,
        api_key=SecretStr(settings.llm_api_key or "EMPTY"),
        timeout=settings.llm_timeout,
        max_retries=max_retries,
        max_completion_tokens=settings.llm_max_tokens,
        temperature=temperature,
        stream_usage=True,
    )
    backend = OpenAIBackend(
        f"openai:{model}" if model else "openai",
        chat,
        supports_tools=True,
        supports_structured=True,
        map_error=map_openai_error(base_url, model),
        timeout=settings.llm_timeout,
        max_tokens=settings.llm_max_tokens,
    )
    backend.base_url = base_url
    backend.model = model
    backend.api_key = settings.llm_api_key or "EMPTY"
    return backend
