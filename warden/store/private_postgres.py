"""A throw-away PostgreSQL cluster on a free port of 127.0.0.1, for tests and benchmarks that must
stop and restart the database under a running server (the machine's shared server cannot be
restarted without disturbing everything else using it).

    with PrivatePostgres(tmp_path) as pg:
        url = pg.url                # postgresql+psycopg://postgres@127.0.0.1:<port>/postgres
        pg.restart(down_s=2.0)      # fast shutdown (every connection dropped), 2 s down, start

Needs the server binaries (Debian: postgresql, in /usr/lib/postgresql/<major>/bin). PostgreSQL
refuses to run as root, so under root the cluster is owned by and runs as the `postgres` user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType


class PostgresBinariesMissing(RuntimeError):
    """initdb/pg_ctl are not installed on this machine."""


def postgres_bin_dir() -> Path:
    for candidate in (shutil.which("pg_ctl"), *sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[::-1]):
        if candidate and Path(candidate).with_name("initdb").exists():
            return Path(candidate).parent
    raise PostgresBinariesMissing("PostgreSQL server binaries (initdb, pg_ctl) not found")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivatePostgres:
    def __init__(self, directory: Path | None = None) -> None:
        self.bin = postgres_bin_dir()
        self._as_postgres = os.geteuid() == 0
        # Under root the caller's directory may be private to root (pytest's tmp_path is 0700):
        # the cluster gets its own directory the postgres user can reach, removed on exit.
        self._own_root = self._as_postgres or directory is None
        root = Path(tempfile.mkdtemp(prefix="warden-pg-")) if self._own_root else Path(str(directory))
        self.root = root
        self.directory = root / "pgdata"
        self.socket_dir = root / "pgsock"
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout_s: float = 60.0) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip() or done.stdout}")

    def init(self) -> None:
        self.directory.mkdir(parents=True)
        self.socket_dir.mkdir(parents=True)
        if self._as_postgres:
            user = pwd.getpwnam("postgres")
            for path in (self.root, self.directory, self.socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
        # No fsync: a test cluster trades durability across power loss for speed.
        self._run("initdb", "-D", str(self.directory), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.socket_dir} -c fsync=off "
            "-c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.directory),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "-l",
            str(self.directory / "server.log"),
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        # fast: every session is terminated at once, as when an operator restarts the service.
        self._run("pg_ctl", "-D", str(self.directory), "-m", mode, "-w", "stop")

    def restart(self, down_s: float = 2.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()

    def __enter__(self) -> PrivatePostgres:
        self.init()
        self.start()
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        with contextlib.suppress(RuntimeError):  # already down
            self.stop(mode="immediate")
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)
