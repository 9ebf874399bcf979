"""A throwaway PostgreSQL cluster for tests and benchmarks: initdb in a temp dir, 127.0.0.1 only.

    from pg_cluster import TemporaryPostgres    # tests/ is on sys.path under pytest
    with TemporaryPostgres() as pg:
        url = pg.url                             # postgresql://genrec@127.0.0.1:PORT/genrec

Uses Debian's server binaries (/usr/lib/postgresql/*/bin; `apt-get install postgresql`); as root
the cluster runs as the `postgres` user. $GENREC_TEST_POSTGRES_URL names an existing server instead.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def server_bin() -> Path | None:
    """The folder holding initdb and postgres, or None when PostgreSQL is not installed."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                  key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(dirs[-1]).parent if dirs else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TemporaryPostgres:
    """A PostgreSQL server of its own on 127.0.0.1:<free port>, database and trust user `genrec`."""

    def __init__(self, max_connections: int = 300) -> None:
        self.max_connections = max_connections
        self.external = os.environ.get("GENREC_TEST_POSTGRES_URL", "")
        self.port = 0
        self.root: Path | None = None

    @property
    def url(self) -> str:
        return self.external or f"postgresql://genrec@127.0.0.1:{self.port}/genrec"

    def _run(self, *cmd: str) -> subprocess.CompletedProcess:
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            cmd = ("runuser", "-u", "postgres", "--", *cmd)
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")
        return done

    def start(self) -> TemporaryPostgres:
        if self.external:
            return self
        bindir = server_bin()
        if bindir is None:
            raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql "
                               "(or set GENREC_TEST_POSTGRES_URL to a server)")
        self.root = Path(tempfile.mkdtemp(prefix="genrec-pg-"))
        data = self.root / "data"
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "genrec",
                  "--no-sync", "-E", "UTF8")
        self.port = _free_port()
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
                f"-c max_connections={self.max_connections} -c fsync=off")
        try:
            self._run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(self.root / "log"),
                      "-o", opts, "-w", "start")
            self._run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                      "-U", "genrec", "genrec")
        except BaseException:
            self.stop()  # never leave a half-started server behind
            raise
        return self

    def stop(self) -> None:
        if self.root is None:
            return
        bindir = server_bin()
        try:
            self._run(str(bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate",
                      "-w", "stop")
        except (RuntimeError, subprocess.SubprocessError, TypeError):
            pass
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def __enter__(self) -> TemporaryPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_ready(url: str, seconds: float = 30) -> None:
    """Wait until `url` accepts connections."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    deadline = time.monotonic() + seconds
    try:
        while True:
            try:
                with engine.connect():
                    return
            except sqlalchemy.exc.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        engine.dispose()
