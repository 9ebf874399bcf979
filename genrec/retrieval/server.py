"""Chroma server mode: start `chroma run` on a data directory and wait until it answers.

Used by `genrec index serve`, the server-mode tests and the benchmark.
"""

from __future__ import annotations

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
    return [sys.executable, "-c", _CHROMA_MAIN, "run", "--path", str(path), "--host", host, "--port", str(port)]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_ready(host: str, port: int, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    """Poll the heartbeat endpoint until the server answers (or raise TimeoutError)."""
    url = f"http://{host}:{port}/api/v2/heartbeat"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"chroma server exited with code {proc.returncode} before it was ready")
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
