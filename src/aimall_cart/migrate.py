"""Applying and checking the Alembic migrations that ship with the service."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

_PACKAGE = Path(__file__).resolve().parent


def _alembic_ini() -> Path:
    for candidate in (_PACKAGE / "alembic.ini", _PACKAGE.parents[1] / "alembic.ini"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError("alembic.ini not found beside the package or the source tree")


def alembic_config(url: str) -> Config:
    config = Config(str(_alembic_ini()))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations; runs its own event loop, so call it outside one."""
    command.upgrade(alembic_config(url), revision)


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The newest migration shipped with this code (read from the scripts once)."""
    return ScriptDirectory.from_config(Config(str(_alembic_ini()))).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
