"""Load test of the HTTP API: N concurrent chat sessions against a real `genrec up` server.

Runs on loopback only, bounded in requests and seconds. Prints a table, writes
benchmarks/results/api_load.json. Two LLM set-ups: `none` (no model: the agent's own cost) and
`fake` (an OpenAI-compatible stand-in with a fixed latency per call, through the real openai
backend, to see how waiting on an LLM overlaps between sessions).

    python benchmarks/api_load.py --llm none --sessions 1,10,50 --turns 3
    python benchmarks/api_load.py --llm fake --latency-ms 200 --sessions 1,10,50 --turns 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from _machine import machine  # noqa: E402 (benchmarks/ is on sys.path when run as a script)
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

ROOT = Path(__file__).resolve().parent
PROMPTS = [
    "I loved Toy Story, recommend animated movies",
    "something funny from the 90s please",
    "I liked Star Wars and Alien, any sci-fi I might like?",
    "a thriller, but no horror",
    "more like that please",
    "I don't like romance; what about a crime movie?",
]


# ---------------------------------------------------------------- fake OpenAI-compatible LLM


def fake_llm_app(latency_s: float) -> Any:
    """An OpenAI-compatible server answering every call after `latency_s` (JSON when asked)."""
    app = FastAPI()
    app.state.calls = 0

    def content_for(body: dict[str, Any]) -> str:
        fmt = body.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("schema") or {}
        if fmt:
            if "text" in (schema.get("properties") or {}):
                return json.dumps({"text": "Here are a few picks I think you will enjoy.",
                                   "rationales": []})
            return "{}"
        return "Here are a few picks I think you will enjoy."

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "fake-latency", "object": "model",
                                            "created": 0, "owned_by": "bench"}]}

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> Any:
        body = await request.json()
        app.state.calls += 1
        await asyncio.sleep(latency_s)
        text = content_for(body)
        base = {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "created": int(time.time()),
                "model": "fake-latency"}
        usage = {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
        if not body.get("stream"):
            return JSONResponse({**base, "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text},
                 "finish_reason": "stop"}]})

        async def chunks() -> Any:
            def chunk(delta: dict, finish: str | None = None, **extra: Any) -> str:
                return (
                    "data: "
                    + json.dumps(
                        {
                            **base,
                            "object": "chat.completion.chunk",
                            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                            **extra,
                        }
                    )
                    + "\n\n"
                )

            yield chunk({"role": "assistant", "content": ""})
            for word in text.split(" "):
                yield chunk({"content": word + " "})
            yield chunk({}, "stop", usage=usage)
            yield "data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    return app


# ---------------------------------------------------------------- server under test


def start_genrec(port: int, env: dict[str, str], timeout: float,
                 concurrent_turns: int | None = None) -> subprocess.Popen:
    """`genrec up` on 127.0.0.1:port as a child process; returns once /healthz answers."""
    extra = ["--concurrent-turns", str(concurrent_turns)] if concurrent_turns else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "genrec.cli", "up", "--host", "127.0.0.1", "--port", str(port),
         *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"genrec up exited with {proc.returncode}: {proc.stderr.read()[-2000:]}"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop(proc)
    raise RuntimeError(f"genrec up did not answer on port {port} within {timeout:.0f}s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- load generator


async def run_level(url: str, sessions: int, turns: int, max_seconds: float, stream: bool,
                    tag: str) -> dict[str, Any]:
    """`sessions` concurrent sessions, each sending `turns` messages in order (one at a time)."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.monotonic() + max_seconds
    limits = httpx.Limits(max_connections=sessions + 4, max_keepalive_connections=sessions + 4)

    async with httpx.AsyncClient(base_url=url, timeout=max_seconds, limits=limits) as client:

        async def session(i: int) -> None:
            sid = f"load-{tag}-{sessions}-{i}"
            for t in range(turns):
                if time.monotonic() > deadline:
                    errors["not sent (deadline)"] = errors.get("not sent (deadline)", 0) + 1
                    continue
                body = {"model": "genrec", "user": sid, "stream": stream,
                        "messages": [{"role": "user", "content": PROMPTS[(i + t) % len(PROMPTS)]}]}
                started = time.perf_counter()
                try:
                    if stream:
                        async with client.stream("POST", "/v1/chat/completions", json=body) as r:
                            ok = r.status_code == 200
                            last = ""
                            async for line in r.aiter_lines():
                                if line:
                                    last = line
                            ok = ok and last == "data: [DONE]"
                            status = str(r.status_code) if r.status_code != 200 else "bad stream"
                    else:
                        r = await client.post("/v1/chat/completions", json=body)
                        ok = r.status_code == 200 and bool(r.json()["choices"][0]["message"])
                        status = str(r.status_code)
                except httpx.HTTPError as exc:
                    ok, status = False, type(exc).__name__
                elapsed = time.perf_counter() - started
                if ok:
                    latencies.append(elapsed)
                else:
                    errors[status] = errors.get(status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(session(i) for i in range(sessions)))
        wall = time.perf_counter() - started

    ms = sorted(x * 1000 for x in latencies)

    def pct(p: float) -> float:
        return ms[min(len(ms) - 1, int(round(p / 100 * (len(ms) - 1))))] if ms else float("nan")

    return {
        "sessions": sessions,
        "requests": sessions * turns,
        "ok": len(ms),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "wall_s": round(wall, 3),
        "throughput_rps": round(len(ms) / wall, 2) if wall else 0.0,
        "p50_ms": round(pct(50), 1),
        "p95_ms": round(pct(95), 1),
        "max_ms": round(ms[-1], 1) if ms else float("nan"),
        "mean_ms": round(statistics.fmean(ms), 1) if ms else float("nan"),
    }




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llm", choices=["none", "fake"], default="none")
    ap.add_argument("--latency-ms", type=float, default=200.0, help="fake LLM: seconds per call")
    ap.add_argument("--sessions", default="1,10,50", help="concurrency levels, comma-separated")
    ap.add_argument("--turns", type=int, default=3, help="messages per session")
    ap.add_argument("--max-seconds", type=float, default=180.0, help="bound per level")
    ap.add_argument("--stream", action="store_true", help="use streaming completions")
    ap.add_argument("--concurrent-turns", type=int, default=None,
                    help="genrec up --concurrent-turns (default: the server's, 2 x cores)")
    ap.add_argument("--home", default=None, help="GENREC_HOME (default: the usual one)")
    ap.add_argument("--out", default=str(ROOT / "results" / "api_load.json"))
    args = ap.parse_args()
    levels = [int(x) for x in args.sessions.split(",") if x.strip()]

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "GENREC_API_KEY": ""}
    if args.home:
        env["GENREC_HOME"] = args.home
    fake = None
    if args.llm == "fake":
        from genrec.ui import BackgroundServer

        fake_app = fake_llm_app(args.latency_ms / 1000)
        fake = BackgroundServer(fake_app).start()
        env.update({"GENREC_LLM": "openai", "GENREC_LLM_BASE_URL": fake.url + "v1",
                    "GENREC_LLM_MODEL": "fake-latency", "GENREC_POLICY": "guided",
                    "GENREC_LLM_TIMEOUT": "30"})
    else:
        env.update({"GENREC_LLM": "none"})

    load_before = [round(x, 2) for x in os.getloadavg()]
    port = free_port()
    print(f"starting genrec up (llm={args.llm}) on 127.0.0.1:{port} ...", flush=True)
    proc = start_genrec(port, env, timeout=900, concurrent_turns=args.concurrent_turns)
    url = f"http://127.0.0.1:{port}"
    health = httpx.get(url + "/healthz").json()
    rows = []
    try:
        tag = uuid.uuid4().hex[:6]
        asyncio.run(run_level(url, 1, 1, 60, args.stream, tag + "w"))  # warm-up
        calls_before = fake_app.state.calls if fake else 0
        for n in levels:
            row = asyncio.run(run_level(url, n, args.turns, args.max_seconds, args.stream, tag))
            if fake:
                row["llm_calls"] = fake_app.state.calls - calls_before
                calls_before = fake_app.state.calls
            rows.append(row)
            print(f"  {n:>3} sessions: {row['ok']}/{row['requests']} ok, "
                  f"{row['throughput_rps']} req/s, p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms",
                  flush=True)
    finally:
        stop(proc)
        if fake:
            fake.stop()

    label = f"llm={args.llm}" + (f" ({args.latency_ms:.0f} ms/call)" if fake else "")
    label += f", concurrent turns {args.concurrent_turns or 'default (2 x cores)'}"
    print(f"\nAPI load, {label}, {args.turns} turns/session, "
          f"{'streaming' if args.stream else 'non-streaming'}, backend {health['backend']}")
    print(f"{'sessions':>8} {'requests':>8} {'ok':>5} {'errors':>6} {'req/s':>7} {'p50 ms':>8} "
          f"{'p95 ms':>8} {'max ms':>8}" + (f" {'LLM calls':>9}" if fake else ""))
    for r in rows:
        print(f"{r['sessions']:>8} {r['requests']:>8} {r['ok']:>5} {r['errors']:>6} "
              f"{r['throughput_rps']:>7} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['max_ms']:>8}"
              + (f" {r['llm_calls']:>9}" if fake else ""))

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    key = (f"{args.llm}" + (f"-{args.latency_ms:.0f}ms" if fake else "")
           + ("-stream" if args.stream else "")
           + (f"-turns{args.concurrent_turns}" if args.concurrent_turns else ""))
    results[key] = {
        "llm": args.llm, "latency_ms": args.latency_ms if fake else None, "stream": args.stream,
        "turns_per_session": args.turns, "server": "genrec up (uvicorn, 1 process)",
        "concurrent_turns": args.concurrent_turns or "default (2 x cores)",
        "load_avg_before": load_before,
        "backend": health["backend"], "dataset": health["dataset"], "levels": rows,
        "machine": machine(), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
