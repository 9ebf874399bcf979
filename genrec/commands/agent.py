"""`genrec chat` and `genrec llm serve`: talk to the agent; start a vLLM server."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import typer

from genrec.commands._common import (
    console,
    echo_json,
    error,
    serving_settings,
    settings_from,
    user_errors,
)
from genrec.commands.prepare import SPLIT_HELP

if TYPE_CHECKING:
    from genrec.agent import Recommender

llm_app = typer.Typer(no_args_is_help=True)


@llm_app.command("serve")
def llm_serve(
    model: str = typer.Option(..., "--model", "-m", help="Hugging Face id or path vLLM serves."),
    port: int = typer.Option(8000, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 for all)."),
    tensor_parallel_size: int = typer.Option(
        1, "--tensor-parallel-size", "-tp", help="GPUs to shard over."
    ),
    tool_call_parser: str = typer.Option(
        "auto", help="vLLM tool-call parser: auto (from the model family), a name, or none."
    ),
    extra: list[str] = typer.Option(
        [],
        "--extra",
        help="More `vllm serve` arguments, e.g. --extra '--max-model-len 8192' (repeatable).",
    ),
    timeout: float = typer.Option(1800.0, help="Seconds to wait for /health."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the vllm command and exit."),
) -> None:
    """Serve MODEL with vLLM's OpenAI-compatible server, tool calling on; Ctrl-C stops it.

    Picks --enable-auto-tool-choice --tool-call-parser for the model family (hermes for
    Qwen2.5/Qwen3/Hermes, llama3_json for Llama 3.x, llama4_pythonic for Llama 4, mistral for
    Mistral; `genrec llm parsers` lists them), waits for /health and prints the base URL.
    """
    import shlex
    import signal
    import sys

    from genrec.llm.vllm_server import VLLMError, VLLMServer, build_vllm_command

    s = settings_from()
    extra_args = [a for chunk in extra for a in shlex.split(chunk)]
    parser = None if tool_call_parser == "none" else tool_call_parser
    with user_errors(VLLMError):
        if dry_run:
            cmd = build_vllm_command(
                model, host=host, port=port, tensor_parallel_size=tensor_parallel_size,
                tool_call_parser=parser, api_key=s.llm_api_key, extra_args=extra_args,
                executable="vllm",
            )
            typer.echo(shlex.join(cmd))
            return

        def report(elapsed: float) -> None:
            console.print(f"waiting for vLLM to load {model} ... {elapsed:.0f} s")

        server = VLLMServer(
            model, host=host, port=port, tensor_parallel_size=tensor_parallel_size,
            tool_call_parser=parser, api_key=s.llm_api_key, extra_args=extra_args,
            startup_timeout=timeout, log_path=s.home / "logs" / f"vllm-{port}.log", progress=report,
        )
        console.print(f"starting: {shlex.join(server.command)}")
        console.print(f"vLLM log: {server.log_path}")

        def on_term(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, on_term)
        try:
            base_url = server.start()
            typer.echo(f"vLLM is serving {model} at {base_url}")
            typer.echo(
                f"use it: GENREC_LLM=openai GENREC_LLM_BASE_URL={base_url} GENREC_LLM_MODEL={model}"
            )
            sys.stdout.flush()
            code = server.wait()
            error(f"vLLM exited with code {code}; see {server.log_path}")
            raise typer.Exit(1)
        except KeyboardInterrupt:
            console.print("stopping vLLM ...")
        finally:
            server.stop()
            signal.signal(signal.SIGTERM, previous)


@llm_app.command("parsers")
def llm_parsers() -> None:
    """The model families `genrec llm serve` knows and the vLLM tool-call parser each gets."""
    from genrec.llm.vllm_server import TOOL_CALL_PARSERS

    for rule in TOOL_CALL_PARSERS:
        typer.echo(f"{rule.family:<32} {rule.parser:<16} /{rule.pattern}/")


@llm_app.command("check")
def llm_check(
    llm: str = typer.Option(
        None, "--llm", help="Backend: auto, openai, vllm:MODEL, local, none, fake."
    ),
    model: str = typer.Option(None, "--model", help="Model id or path (GENREC_LLM_MODEL)."),
    prompt: str = typer.Option(
        "Recommend one classic science-fiction film in one sentence.", help="Prompt."
    ),
    max_tokens: int = typer.Option(32, help="Most tokens to write."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Load a backend, ask it one question, print the answer, tokens and tokens/s."""
    import time

    from genrec.llm import LLMError, get_llm

    s = settings_from(llm=llm, llm_model=model)
    with user_errors(LLMError):
        t0 = time.perf_counter()
        backend = get_llm(s.llm, s)
        load_s = time.perf_counter() - t0
        try:
            if backend.chat_model is None:
                why = f" ({backend.choice.reason})" if backend.choice is not None else ""
                typer.echo(f"{backend.name}: no language model (templated text only){why}")
                return
            res = backend.invoke([{"role": "user", "content": prompt}], max_tokens=max_tokens)
        finally:
            backend.close()
    tps = res.usage.completion_tokens / res.usage.seconds if res.usage.seconds else 0.0
    choice = backend.choice
    facts = {
        "backend": backend.name, "load_seconds": round(load_s, 2), "text": res.text,
        "choice": {"kind": choice.kind, "model": choice.model, "reason": choice.reason,
                   "notice": choice.notice} if choice is not None else None,
        "prompt_tokens": res.usage.prompt_tokens, "completion_tokens": res.usage.completion_tokens,
        "seconds": round(res.usage.seconds, 3), "tokens_per_second": round(tps, 2),
    }
    if as_json:
        echo_json(facts)
    else:
        for k, v in facts.items():
            typer.echo(f"{k:>18}: {v}")


def chat(
    session: str = typer.Option(
        "cli", "--session", "-s", help="Session id; its state is kept between calls."
    ),
    message: str | None = typer.Option(
        None, "--message", "-m", help="Send one message and exit (one-shot)."
    ),
    llm: str | None = typer.Option(
        None, help="LLM backend: auto (default), openai, vllm:MODEL, local, none, fake."
    ),
    policy: str | None = typer.Option(None, help="auto, tool-calling or guided."),
    dataset: str | None = typer.Option(None, help="Dataset (default: settings.dataset)."),
    split: str | None = typer.Option(None, help=SPLIT_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the whole Reply as JSON (one-shot)."),
    new: bool = typer.Option(False, "--new", help="Forget the session's state first."),
) -> None:
    """Chat with the recommender in the terminal, or send one message with --message.

    The first run builds whatever is missing (dataset, ranker, Chroma index), one named step a
    line on stderr (the same steps as `genrec prepare`).
    In the interactive chat: /like ID, /dislike ID, /state, /reset, /quit.
    """
    from genrec.commands.prepare import prepare_recommender
    from genrec.data import FetchError, UnknownDatasetError
    from genrec.llm import LLMError

    if policy is not None and policy not in ("auto", "tool-calling", "guided"):
        error(f"--policy {policy!r}: choose auto, tool-calling or guided")
        raise typer.Exit(2)
    s = serving_settings(split, llm=llm, policy=policy, dataset=dataset)
    with user_errors(LLMError, UnknownDatasetError, FetchError, ValueError, OSError):
        prepared = prepare_recommender(s, llm=llm, policy=policy)
    rec = prepared.recommender
    with prepared:
        try:
            rec.check_session_id(session)  # the one rule of every front door
        except ValueError as exc:
            error(exc)
            raise typer.Exit(2) from None
        if new:
            rec.delete_session(session)
        if message is not None:
            _one_shot(rec, session, message, as_json=as_json)
        else:
            _interactive(rec, session)


def _print_warnings(warnings: Iterable[str]) -> None:
    for w in warnings:
        console.print(f"[yellow]warning:[/yellow] {w}", markup=True, highlight=False)


def _one_shot(rec: Recommender, session: str, message: str, *, as_json: bool) -> None:
    """`genrec chat --message`: one turn, its text (and warnings) or its whole Reply as JSON."""
    answer = rec.chat(session, message)
    if as_json:
        echo_json(answer.model_dump(mode="json"))
    else:
        typer.echo(answer.text)
        _print_warnings(answer.warnings)


def _interactive(rec: Recommender, session: str) -> None:
    """The terminal chat: each line a streamed turn, or a slash command, until /quit or EOF."""
    import sys

    console.print(f"genrec chat - backend {rec.backend_name}, policy {rec.policy_name}, "
                  f"session {session!r}. /quit to leave.", highlight=False)
    while True:
        try:
            line = input("you> ")
        except (EOFError, KeyboardInterrupt):
            typer.echo("")
            return
        cmd = line.strip()
        if cmd in ("/quit", "/exit", "/q"):
            return
        if _slash_command(rec, session, cmd):
            continue
        sys.stdout.write("genrec> ")
        reply = None
        for part in rec.stream(session, line):
            if isinstance(part, str):
                sys.stdout.write(part)
                sys.stdout.flush()
            else:
                reply = part
        sys.stdout.write("\n")
        if reply is not None:
            _print_warnings(reply.warnings)


def _slash_command(rec: Recommender, session: str, cmd: str) -> bool:
    """Run /reset, /state, /like ID or /dislike ID; False when `cmd` is none of them."""
    from genrec.data import UnknownItemError

    if cmd == "/reset":
        rec.delete_session(session)
        typer.echo("(session cleared)")
        return True
    if cmd == "/state":
        echo_json(rec.state(session).model_dump(mode="json"))
        return True
    if cmd.startswith(("/like ", "/dislike ")):
        verb, _, arg = cmd.partition(" ")
        try:
            rec.feedback(session, int(arg), liked=verb == "/like")
            typer.echo(f"(noted: {verb[1:]} {rec.catalog[int(arg)].label})")
        except (ValueError, UnknownItemError) as exc:
            error(exc)
        return True
    return False
