"""What a load run stands on: a throwaway database, the service's own commands run from a chosen
checkout, and a server process on loopback that is always stopped again."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shlex
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import asyncpg
import httpx

ADMIN_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
CATALOG_SQL = Path(__file__).resolve().parent.parent / "bench_catalog.sql"
DatabaseKind = Literal["postgresql", "sqlite"]


def require_loopback(url: str) -> None:
    """Load is only ever aimed at this machine: a mistyped address must not hit someone else."""
    host = urlsplit(url).hostname
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"{url}: only loopback addresses (127.0.0.1, ::1, localhost) are allowed")


def asyncpg_dsn(database_url: str) -> str:
    """The plain PostgreSQL DSN of a SQLAlchemy ``postgresql+asyncpg://`` URL."""
    scheme, rest = database_url.split("://", 1)
    return f"{scheme.split('+', 1)[0]}://{rest}"


@dataclass(frozen=True)
class Project:
    """A checkout of the service with its own ``.venv``: the one being measured."""

    root: Path

    @property
    def bin(self) -> Path:
        return self.root / ".venv" / "bin"

    def check(self) -> None:
        if not (self.bin / "aimall-cart").exists():
            raise FileNotFoundError(
                f"{self.bin / 'aimall-cart'} is missing: run `make .venv/.synced` in {self.root}"
            )

    def env(self, database_url: str) -> dict[str, str]:
        """The caller's environment (so pool sizes and the like can be tuned from outside), with
        the project's venv first on PATH and the settings every benchmark needs."""
        env = dict(os.environ)
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.root / ".venv")
        env.update(
            AIMALL_CART_DATABASE_URL=database_url,
            AIMALL_CART_RATE_LIMIT_ENABLED="false",
            AIMALL_CART_LOG_LEVEL="warning",
        )
        return env

    def run(self, *args: str, database_url: str) -> None:
        """``aimall-cart ARGS`` from this checkout; its output is shown only when it fails."""
        done = subprocess.run(
            [str(self.bin / "aimall-cart"), *args],
            cwd=self.root,
            env=self.env(database_url),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"aimall-cart {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


@dataclass(frozen=True)
class Database:
    kind: DatabaseKind
    url: str  # as the service takes it (SQLAlchemy)

    @property
    def dsn(self) -> str:
        return asyncpg_dsn(self.url)


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextlib.contextmanager
def throwaway_database(kind: DatabaseKind, folder: Path) -> Iterator[Database]:
    """A new empty database, dropped afterwards whatever happened (Ctrl+C included)."""
    if kind == "sqlite":
        yield Database("sqlite", f"sqlite+aiosqlite:///{folder / 'bench.db'}")
        return
    require_loopback(ADMIN_DSN)
    name = f"aimall_bench_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        yield Database("postgresql", f"{base}/{name}")
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _execute_postgres(dsn: str, sql: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def apply_catalog_sql(database: Database) -> None:
    """Stock and line caps that no run can exhaust (see bench_catalog.sql)."""
    sql = CATALOG_SQL.read_text()
    if database.kind == "postgresql":
        asyncio.run(_execute_postgres(database.dsn, sql))
        return
    path = database.url.split(":///", 1)[1]
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.executescript(sql)
        connection.commit()


_LINES_PER_CART = (
    "SELECT coalesce(avg(lines), 0) FROM"
    " (SELECT count(*) AS lines FROM cart_items GROUP BY cart_id) AS per_cart"
)


async def _fetch_value(dsn: str, sql: str) -> Any:
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetchval(sql)
    finally:
        await connection.close()


def lines_per_cart(database: Database) -> float:
    """How full the carts are: adds grow them (up to --pool lines), so a faster server ends with
    fuller carts, and its later reads are of bigger carts than a slower server's."""
    if database.kind == "postgresql":
        return float(asyncio.run(_fetch_value(database.dsn, _LINES_PER_CART)))
    path = database.url.split(":///", 1)[1]
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return float(connection.execute(_LINES_PER_CART).fetchone()[0])


def prepare(project: Project, database: Database) -> None:
    """Schema, the 240-product demo catalog, and room in it for any length of run."""
    project.run("migrate", database_url=database.url)
    project.run("seed", "--demo", database_url=database.url)
    apply_catalog_sql(database)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_argv(project: Project, port: int, workers: int | None, command: str | None) -> list[str]:
    if command is not None:
        # A stand-in server (say granian) says where to listen with {port}.
        return shlex.split(command.format(port=port))
    argv = [str(project.bin / "aimall-cart"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers is not None:
        argv += ["--workers", str(workers)]
    return argv


def wait_ready(url: str, process: subprocess.Popen[bytes] | None, *, seconds: float = 90) -> None:
    """Until ``/readyz`` answers 200; a server that exits first is a failure at once."""
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url, timeout=2, trust_env=False) as client:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode} before ready")
            with contextlib.suppress(httpx.TransportError):
                if client.get("/readyz").status_code == 200:
                    return
            time.sleep(0.25)
    raise TimeoutError(f"{url}/readyz did not answer 200 within {seconds:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's own process group (it and any worker processes it forked), then
    SIGKILL to whatever of that group is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


@contextlib.contextmanager
def running_server(
    project: Project,
    database: Database,
    *,
    workers: int | None,
    command: str | None,
    log: Path,
) -> Iterator[str]:
    """A server on a free loopback port until the block ends; its output goes to ``log``."""
    port = free_port()
    with log.open("wb") as sink:
        process = subprocess.Popen(
            server_argv(project, port, workers, command),
            cwd=project.root,
            env=project.env(database.url),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: stopped as a whole, spared our Ctrl+C
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, process)
        yield url
    finally:
        stop(process)
