"""Chroma server mode: start `chroma run` on a data directory and wait until it answers.

Used by `genrec index serve`, the server-mode tests and the benchmark.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

# chromadb 1.x ships its server in the Rust bindings behind the `chroma` console script
# (chromadb.cli.cli:app -> chromadb_rust_bindings.cli); running it through this interpreter
# avoids depending on PATH.
_CHROMA_MAIN = "import sys; from chromadb.cli.cli import app; sys.argv[0] = 'chroma'; app()"


def chroma_command(path: Path, host: str = "127.0.0.1", port: int = 8001) -> list[str]:
    """The argv that runs `chroma run --path PATH --host HOST --port PORT`."""
    return [
        sys.executable,
        "-c",
        _CHROMA_MAIN,
        "run",
        "--path",
        str(path),
        "--host",
        host,
        "--port",
        str(port),
    ]


def run_passing_signals(argv: list[str], grace: float = 10.0) -> int:
    """Run `argv` as a child until it exits; SIGINT, SIGTERM and SIGHUP sent to this process are
    passed to the child (killed when still alive `grace` s later). Returns 0 after a stop asked by
    a signal, else the child's exit status: a plain `kill` of `genrec index serve` leaves no
    orphaned `chroma run`."""
    asked: list[float] = []
    children: list[subprocess.Popen] = []

    def pass_on(signum: int, frame: object) -> None:
        asked.append(time.monotonic())
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, pass_on) for sig in stops}  # before the child starts
    try:
        proc = subprocess.Popen(argv)
        children.append(proc)
        if asked:  # a stop that came while it started
            proc.terminate()
        while True:
            try:
                rc = proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if asked and time.monotonic() - asked[0] > grace:
                    proc.kill()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if asked else rc


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_ready(
    host: str, port: int, timeout: float = 30.0, proc: subprocess.Popen | None = None
) -> None:
    """Poll the heartbeat endpoint until the server answers (or raise TimeoutError)."""
    url = f"http://{host}:{port}/api/v2/heartbeat"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"chroma server exited with code {proc.returncode} before it was ready"
            )
        try:
            with urllib.request.urlopen(url, timeout=1.0) as resp:  # noqa: S310 - local URL
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"chroma server at {host}:{port} did not answer within {timeout:.0f}s")


@dataclass
class ChromaServer:
    """A `chroma run` subprocess; a context manager that stops it on exit.

    >>> with ChromaServer(Path("/tmp/chroma-doc"), port=free_port()) as srv:   # doctest: +SKIP
    ...     client = chromadb.HttpClient(host=srv.host, port=srv.port)
    """

    path: Path
    host: str = "127.0.0.1"
    port: int = 8001
    log_path: Path | None = None
    proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> ChromaServer:
        Path(self.path).mkdir(parents=True, exist_ok=True)
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(chroma_command(self.path, self.host, self.port), stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_ready(self.host, self.port, timeout, self.proc)
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def __enter__(self) -> ChromaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
