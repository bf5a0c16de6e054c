"""Throwaway databases for tests: a migrated template per backend, copied for every test."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import asyncpg

from aimall_cart import migrate

POSTGRES_URL = os.environ.get(
    "AIMALL_CART_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


T = TypeVar("T")


def _outside_loop(work: Callable[[], T]) -> T:
    """Run blocking set-up that starts its own event loop, even when called from inside one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()


def _admin_dsn() -> str:
    return POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://", 1)


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(_admin_dsn(), timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def postgres_available() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        _outside_loop(lambda: asyncio.run(_admin("SELECT 1")))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"PostgreSQL at {POSTGRES_URL} is not reachable: {exc}"
    return None


class SqliteTemplate:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.template = folder / "template.db"
        _outside_loop(lambda: migrate.upgrade(f"sqlite+aiosqlite:///{self.template}"))

    def new(self) -> str:
        path = self.folder / f"{uuid.uuid4().hex}.db"
        shutil.copyfile(self.template, path)
        return f"sqlite+aiosqlite:///{path}"

    def drop(self, url: str) -> None:
        path = Path(url.removeprefix("sqlite+aiosqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


class PostgresTemplate:
    def __init__(self) -> None:
        self.name = f"aimall_cart_tmpl_{uuid.uuid4().hex[:12]}"
        _outside_loop(lambda: asyncio.run(_admin(f'CREATE DATABASE "{self.name}"')))
        _outside_loop(lambda: migrate.upgrade(_with_database(POSTGRES_URL, self.name)))

    async def new(self) -> str:
        name = f"aimall_cart_t_{uuid.uuid4().hex[:16]}"
        await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.name}"')
        return _with_database(POSTGRES_URL, name)

    async def drop(self, url: str) -> None:
        name = url.rpartition("/")[2]
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        _outside_loop(
            lambda: asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        )
