"""An OpenAI-compatible HTTP test server that answers the way vLLM's `vllm serve` does.

Real HTTP on 127.0.0.1 (stdlib only): /health, /v1/models, /v1/chat/completions (plain and SSE
streaming with vLLM-style tool-call deltas), /v1/embeddings, and vLLM's JSON error bodies.
Replies are scripted per request; every request is recorded.

    from openai_test_server import OpenAITestServer, Reply  # tests/ is on sys.path under pytest

    with OpenAITestServer(model="Qwen/Qwen2.5-7B-Instruct") as srv:
        srv.enqueue("Hello!", Reply.tool_call("search_items", {"query": "space"}))
        client = OpenAI(base_url=srv.base_url, api_key="EMPTY")
        ...
        assert srv.chat_requests[0]["messages"][-1]["content"] == "hi"

Run standalone (the fake `vllm` executable in the tests does this):
    python tests/openai_test_server.py --port 8123 --model some/model
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

DEFAULT_TEXT = "test server: no scripted reply"


@dataclass
class Reply:
    """One scripted answer to a chat completion request.

    text: assistant content (None with tool calls, like vLLM's hermes parser).
    tool_calls: [(name, arguments)], arguments a dict (sent as JSON) or a str sent verbatim
        (so malformed JSON can be sent).
    status / error / error_type: an error answer in vLLM's JSON error shape.
    raw_body: bytes sent verbatim with status 200 (a garbage answer).
    delay: seconds to wait before answering (timeout tests).
    finish_reason: overrides "stop" / "tool_calls".
    chunk_chars: size of the text pieces in a streamed answer.
    drop: close the connection without an answer (or mid-stream, after the first chunk).
    stream_error: streamed answers only: after the text, an SSE `data: {"error": {...}}` event
        (what vLLM sends when the engine fails mid-answer), code `stream_error_code`.
    """

    text: str | None = None
    tool_calls: list[tuple[str, dict[str, Any] | str]] = field(default_factory=list)
    status: int = 200
    error: str | None = None
    error_type: str | None = None
    raw_body: bytes | None = None
    delay: float = 0.0
    finish_reason: str | None = None
    chunk_chars: int = 4
    drop: bool = False
    stream_error: str | None = None
    stream_error_code: int = 500

    @classmethod
    def say(cls, text: str, **kw: Any) -> Reply:
        return cls(text=text, **kw)

    @classmethod
    def tool_call(cls, name: str, arguments: dict[str, Any] | str, **kw: Any) -> Reply:
        return cls(tool_calls=[(name, arguments)], **kw)

    @classmethod
    def tools(
        cls, *calls: tuple[str, dict[str, Any] | str], text: str | None = None, **kw: Any
    ) -> Reply:
        return cls(text=text, tool_calls=list(calls), **kw)

    @classmethod
    def json(cls, obj: Any, **kw: Any) -> Reply:
        return cls(text=json.dumps(obj), **kw)

    @classmethod
    def fail(cls, status: int, message: str, error_type: str | None = None, **kw: Any) -> Reply:
        return cls(status=status, error=message, error_type=error_type, **kw)

    @classmethod
    def garbage(cls, body: bytes = b"<html>502 Bad Gateway</html>", **kw: Any) -> Reply:
        return cls(raw_body=body, **kw)

    @classmethod
    def slow(cls, seconds: float, text: str = "late answer", **kw: Any) -> Reply:
        return cls(text=text, delay=seconds, **kw)


_ERROR_TYPES = {
    400: "BadRequestError",
    401: "Unauthorized",
    404: "NotFoundError",
    422: "UnprocessableEntityError",
    500: "InternalServerError",
    501: "NotImplementedError",
    503: "ServiceUnavailableError",
}


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


def _words(text: Any) -> int:
    if isinstance(text, str):
        return len(text.split())
    if isinstance(text, list):  # content parts
        return sum(_words(p.get("text", "")) for p in text if isinstance(p, dict))
    return 0


def embed_text(text: str, dim: int) -> list[float]:
    """The test server's deterministic embedding of `text` (unit length)."""
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
    vec = np.random.default_rng(seed).standard_normal(dim)
    return (vec / np.linalg.norm(vec)).astype(np.float32).tolist()


class OpenAITestServer:
    """A vLLM-like OpenAI-compatible server in a background thread (see the module docstring).

    Args:
        model: the served model id (requests for another model get vLLM's 404).
        auto_tool_choice: False answers tool requests the way vLLM does without
            --enable-auto-tool-choice (400).
        error_shape: "vllm" ({"error": {message, type, param, code}}, current vLLM) or "legacy"
            ({"object": "error", "message", "type", "param", "code"}, vLLM before 0.10).
        embedding_dim: size of /v1/embeddings vectors.
        api_key: when set, requests without "Authorization: Bearer <api_key>" get 401.
        delay: seconds added before every chat answer (on top of a reply's own delay).
    """

    def __init__(
        self,
        model: str = "test-model",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        auto_tool_choice: bool = True,
        error_shape: str = "vllm",
        embedding_dim: int = 32,
        api_key: str | None = None,
        delay: float = 0.0,
    ) -> None:
        self.model = model
        self.host = host
        self.port = port
        self.auto_tool_choice = auto_tool_choice
        self.error_shape = error_shape
        self.embedding_dim = embedding_dim
        self.api_key = api_key
        self.delay = delay
        self.default_text = DEFAULT_TEXT
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control ------------------------------------------------------------------------------

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL (…/v1)."""
        return self.root_url + "/v1"

    def enqueue(self, *replies: Reply | str | dict) -> None:
        """Script the next chat answers: Reply objects, str (text) or dict (JSON text)."""
        with self._lock:
            for r in replies:
                if isinstance(r, str):
                    r = Reply(text=r)
                elif isinstance(r, dict):
                    r = Reply.json(r)
                self._queue.append(r)

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """Bodies of the chat completion requests, oldest first."""
        return [r.body for r in self.requests if r.path.endswith("/chat/completions")]

    def start(self) -> OpenAITestServer:
        server = self

        class Handler(_Handler):
            srv = server

        self._httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        # a short poll so that stop() returns at once (serve_forever's default is 0.5 s)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.02})
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> OpenAITestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Run in the foreground (standalone use) until interrupted."""
        self.start()
        try:
            while not self._stopping.wait(0.5):
                pass
        finally:
            self.stop()

    # -- internals ----------------------------------------------------------------------------

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._queue.popleft() if self._queue else Reply(text=self.default_text)

    def error_body(
        self, status: int, message: str, error_type: str | None = None, param: str | None = None
    ) -> dict:
        etype = error_type or _ERROR_TYPES.get(status, "BadRequestError")
        if self.error_shape == "legacy":
            return {
                "object": "error",
                "message": message,
                "type": etype,
                "param": param,
                "code": status,
            }
        return {"error": {"message": message, "type": etype, "param": param, "code": status}}


class _Handler(BaseHTTPRequestHandler):
    srv: OpenAITestServer
    protocol_version = "HTTP/1.1"
    server_version = "uvicorn"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        return

    # -- plumbing -----------------------------------------------------------------------------

    def _send_json(self, status: int, obj: Any) -> None:
        body = json.dumps(obj).encode("utf-8")
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_error(
        self, status: int, message: str, error_type: str | None = None, param: str | None = None
    ) -> None:
        self._send_json(status, self.srv.error_body(status, message, error_type, param))

    def _read_body(self) -> tuple[bytes, Any]:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return raw, json.loads(raw) if raw else None
        except ValueError:
            return raw, _INVALID

    def _record(self, body: Any) -> None:
        with self.srv._lock:
            self.srv.requests.append(
                RecordedRequest(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
            )

    def _authorized(self) -> bool:
        if not self.srv.api_key:
            return True
        if self.headers.get("authorization") == f"Bearer {self.srv.api_key}":
            return True
        self._send_json(401, {"error": "Unauthorized"})
        return False

    # -- routes -------------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?")[0]
        self._record(None)
        if path == "/health":
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()
        elif path == "/v1/models":
            if not self._authorized():
                return
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": [
                        {
                            "id": self.srv.model,
                            "object": "model",
                            "created": int(time.time()),
                            "owned_by": "vllm",
                            "root": self.srv.model,
                            "parent": None,
                            "max_model_len": 32768,
                            "permission": [],
                        }
                    ],
                },
            )
        else:
            self._send_json(404, {"detail": "Not Found"})

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?")[0]
        raw, body = self._read_body()
        self._record(body if body is not _INVALID else raw)
        if path not in ("/v1/chat/completions", "/v1/embeddings"):
            self._send_json(404, {"detail": "Not Found"})
            return
        if not self._authorized():
            return
        if body is _INVALID or not isinstance(body, dict):
            self._send_error(400, "Expecting value: the request body is not valid JSON")
            return
        model = body.get("model")
        if model != self.srv.model:
            self._send_error(404, f"The model `{model}` does not exist.", "NotFoundError", "model")
            return
        if path == "/v1/embeddings":
            self._embeddings(body)
        else:
            self._chat(body)

    def _embeddings(self, body: dict) -> None:
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not all(isinstance(t, str) for t in inputs):
            self._send_error(400, "input must be a string or a list of strings")
            return
        b64 = body.get("encoding_format") == "base64"
        data = []
        for i, text in enumerate(inputs):
            vec = embed_text(text, self.srv.embedding_dim)
            emb: Any = (
                base64.b64encode(np.asarray(vec, dtype="<f4").tobytes()).decode() if b64 else vec
            )
            data.append({"index": i, "object": "embedding", "embedding": emb})
        tokens = sum(_words(t) for t in inputs)
        self._send_json(
            200,
            {
                "id": f"embd-{uuid.uuid4().hex}",
                "object": "list",
                "created": int(time.time()),
                "model": self.srv.model,
                "data": data,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0},
            },
        )

    def _chat(self, body: dict) -> None:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            self._send_error(400, "messages: Field required (a non-empty list)", param="messages")
            return
        tools = body.get("tools") or []
        tool_choice = body.get("tool_choice", "auto" if tools else "none")
        if tools and tool_choice == "auto" and not self.srv.auto_tool_choice:
            self._send_error(
                400,
                '"auto" tool choice requires --enable-auto-tool-choice and '
                "--tool-call-parser to be set",
            )
            return
        reply = self.srv._next_reply()
        wait = self.srv.delay + reply.delay
        if wait and self.srv._stopping.wait(wait):
            return
        if reply.drop and not body.get("stream"):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if reply.error is not None or reply.status >= 400:
            self._send_error(
                reply.status if reply.status >= 400 else 500,
                reply.error or "error",
                reply.error_type,
            )
            return
        if reply.raw_body is not None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(reply.raw_body)))
            self.end_headers()
            self.wfile.write(reply.raw_body)
            return
        prompt_tokens = sum(_words(m.get("content")) for m in messages if isinstance(m, dict))
        calls = [
            (
                f"chatcmpl-tool-{uuid.uuid4().hex[:16]}",
                name,
                args if isinstance(args, str) else json.dumps(args),
            )
            for name, args in reply.tool_calls
        ]
        completion_tokens = _words(reply.text or "") + sum(_words(a) for _, _, a in calls)
        finish = reply.finish_reason or ("tool_calls" if calls else "stop")
        usage = {
            "prompt_tokens": prompt_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "completion_tokens": completion_tokens,
            "prompt_tokens_details": None,
        }
        cid = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._stream(cid, created, reply, calls, finish, usage if include_usage else None)
            return
        text = reply.text
        if text is None and not calls:
            text = ""
        message: dict[str, Any] = {
            "role": "assistant",
            "reasoning_content": None,
            "content": text,
            "tool_calls": [
                {"id": tid, "type": "function", "function": {"name": name, "arguments": args}}
                for tid, name, args in calls
            ],
        }
        self._send_json(
            200,
            {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": self.srv.model,
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "logprobs": None,
                        "finish_reason": finish,
                        "stop_reason": None,
                    }
                ],
                "usage": usage,
                "prompt_logprobs": None,
            },
        )

    def _stream(
        self,
        cid: str,
        created: int,
        reply: Reply,
        calls: list[tuple[str, str, str]],
        finish: str,
        usage: dict | None,
    ) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

        def chunk(delta: dict, finish_reason: str | None = None) -> dict:
            return {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": self.srv.model,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
                    | ({"stop_reason": None} if finish_reason else {})
                ],
            }

        def send(data: str) -> None:
            payload = f"data: {data}\n\n".encode()
            self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
            self.wfile.flush()

        send(json.dumps(chunk({"role": "assistant", "content": ""})))
        if reply.drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        text = reply.text or ""
        step = max(1, reply.chunk_chars)
        for i in range(0, len(text), step):
            send(json.dumps(chunk({"content": text[i : i + step]})))
        if reply.stream_error is not None:
            status = reply.stream_error_code
            err = {
                "message": reply.stream_error,
                "type": _ERROR_TYPES.get(status, "BadRequestError"),
                "param": None,
                "code": status,
            }
            send(json.dumps({"error": err}))
            send("[DONE]")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return
        for index, (tid, name, args) in enumerate(calls):
            send(
                json.dumps(
                    chunk(
                        {
                            "tool_calls": [
                                {
                                    "id": tid,
                                    "type": "function",
                                    "index": index,
                                    "function": {"name": name, "arguments": ""},
                                }
                            ]
                        }
                    )
                )
            )
            for i in range(0, len(args), 7):  # argument fragments, as the parser streams them
                send(
                    json.dumps(
                        chunk(
                            {
                                "tool_calls": [
                                    {"index": index, "function": {"arguments": args[i : i + 7]}}
                                ]
                            }
                        )
                    )
                )
        send(json.dumps(chunk({"content": ""}, finish)))
        if usage is not None:
            send(
                json.dumps(
                    {
                        "id": cid,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": self.srv.model,
                        "choices": [],
                        "usage": usage,
                    }
                )
            )
        send("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


_INVALID = object()


def main() -> None:
    parser = argparse.ArgumentParser(description="vLLM-like OpenAI-compatible test server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", default="test-model")
    parser.add_argument("--no-auto-tool-choice", action="store_true")
    args = parser.parse_args()
    srv = OpenAITestServer(
        args.model, host=args.host, port=args.port, auto_tool_choice=not args.no_auto_tool_choice
    )
    print(f"test server for {args.model} on http://{args.host}:{args.port}/v1", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
