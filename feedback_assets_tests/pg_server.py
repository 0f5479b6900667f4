"""A throwaway PostgreSQL server from the image's binaries (initdb/pg_ctl), as the postgres user.

The server refuses to run as root, so the data dir is created under /tmp owned by postgres.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


@dataclass
class PostgresServer:
    port: int
    data_dir: Path
    user: str = "feedback"
    password: str = "feedback"

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{db}"

    def create_database(self, name: str) -> str:
        self._psql(f'CREATE DATABASE "{name}" OWNER {self.user}')
        return self.url(name)

    def clone_database(self, source: str, name: str) -> str:
        """A copy of `source` (no one may be connected to it meanwhile)."""
        self._psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{source}' AND pid <> pg_backend_pid()"
        )
        self._psql(f'CREATE DATABASE "{name}" TEMPLATE "{source}" OWNER {self.user}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _psql(self, sql: str) -> None:
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "PGPASSWORD": self.password},
        )

    def stop(self) -> None:
        subprocess.run(
            _as_postgres(["pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop"]),
            capture_output=True,
        )

    def start(self) -> None:
        log = self.data_dir.parent / "server.log"
        proc = subprocess.run(
            _as_postgres(
                [
                    "pg_ctl",
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(log),
                    "-w",
                    "-t",
                    "30",
                    "-o",
                    f"-p {self.port} -k {self.data_dir.parent} -c listen_addresses=127.0.0.1",
                    "start",
                ]
            ),
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise PostgresUnavailable(
                f"pg_ctl start failed: {proc.stderr}\n{log.read_text() if log.exists() else ''}"
            )

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def start_postgres(durable: bool = False) -> PostgresServer:
    """A throwaway server. Tests skip every fsync; `durable` keeps them (the benchmarks), with
    commits acknowledged before their WAL flush, as SQLite's WAL mode with synchronous=NORMAL."""
    for tool in ("initdb", "pg_ctl", "psql"):
        if shutil.which(tool) is None:
            raise PostgresUnavailable(f"{tool} not on PATH (install Debian's postgresql-15)")
    root = Path(tempfile.mkdtemp(prefix="feedback-pg-", dir="/tmp"))
    data = root / "data"
    pwfile = root / "pw"
    pwfile.write_text("feedback\n")
    if os.geteuid() == 0:
        pg = pwd.getpwnam("postgres")
        os.chown(root, pg.pw_uid, pg.pw_gid)
        os.chown(pwfile, pg.pw_uid, pg.pw_gid)
    root.chmod(0o700)
    proc = subprocess.run(
        _as_postgres(
            [
                "initdb",
                "-D",
                str(data),
                "-U",
                "feedback",
                "--pwfile",
                str(pwfile),
                "-A",
                "scram-sha-256",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        ),
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise PostgresUnavailable(f"initdb failed: {proc.stderr}")
    with open(data / "postgresql.conf", "a") as fh:
        if not durable:
            fh.write("fsync = off\nfull_page_writes = off\n")
        fh.write("synchronous_commit = off\nmax_connections = 200\n")
    server = PostgresServer(port=_free_port(), data_dir=data)
    server.start()
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            server._psql("SELECT 1")
            return server
        except subprocess.CalledProcessError:
            time.sleep(0.2)
    raise PostgresUnavailable("PostgreSQL did not accept connections within 15 s")
