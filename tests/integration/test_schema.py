"""The migrations and the models describe the same schema, and the database enforces it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, insert, select, text
from sqlalchemy.exc import IntegrityError

from aimall_cart import migrate
from aimall_cart.carts.models import Cart
from aimall_cart.db import Database
from aimall_cart.models import metadata
from aimall_cart.recovery.models import Decision, RecoveryCase, Tally


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_migrations_match_the_models(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
            revision = await connection.run_sync(migrate.current_revision)
        assert revision == migrate.head_revision()
    finally:
        await database.dispose()


def _cart(user_id: str, status: str = "active") -> Cart:
    now = datetime.now(UTC)
    return Cart(
        id=uuid.uuid4(),
        user_id=user_id,
        status=status,
        currency="USD",
        version=1,
        created_at=now,
        updated_at=now,
        last_activity_at=now,
        activity_mark=now,
    )


async def test_database_refuses_a_second_open_cart_for_a_member(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with database.write_session() as session:
            session.add_all([_cart("u-1"), _cart("u-1", status="checked_out")])
            await session.commit()
        async with database.write_session() as session:
            session.add(_cart("u-1", status="locked"))
            with pytest.raises(IntegrityError):
                await session.commit()
    finally:
        await database.dispose()


async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout_and_immediate_writes(
    tmp_path: Any,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/wal.db"
    database = Database(url, sqlite_busy_timeout_ms=1234)
    try:
        async with database.read_session() as session:
            assert (await session.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await session.execute(text("PRAGMA busy_timeout"))).scalar() == 1234
            assert (await session.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        # A write session holds the write lock from its first statement, so a second writer
        # waits for it (and here, with no timeout, gives up) instead of interleaving.
        impatient = Database(url, sqlite_busy_timeout_ms=0)
        async with database.write_session() as writer, impatient.write_session() as other:
            await writer.execute(text("SELECT 1"))
            with pytest.raises(Exception, match="locked"):
                await other.execute(text("SELECT 1"))
        await impatient.dispose()
    finally:
        await database.dispose()


async def test_readyz_names_the_current_schema_revision(client: Any) -> None:
    answer = await client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ready", "revision": migrate.head_revision()}


async def test_decisions_logged_before_0005_take_their_cases_primary_reason(
    database_url: str,
) -> None:
    await asyncio.to_thread(command.downgrade, migrate.alembic_config(database_url), "0004")
    now = datetime.now(UTC)
    case_id, decision_id = uuid.uuid4(), uuid.uuid4()
    database = Database(database_url)
    try:
        async with database.write_session() as session:
            session.add(
                RecoveryCase(
                    id=case_id,
                    cart_id=uuid.uuid4(),
                    user_id="u-1",
                    group="ai",
                    currency="USD",
                    abandoned_at=now,
                    detected_at=now,
                    window_starts_at=now,
                    primary_reason="price",
                )
            )
            await session.flush()
            # Only the columns named are written: the table has no primary_reason before 0005.
            await session.execute(
                insert(Decision.__table__).values(
                    id=decision_id,
                    case_id=case_id,
                    stage=0,
                    group="ai",
                    policy_version=1,
                    action="discount_10",
                    probability=0.5,
                    reasons={"price": 1.0},
                    evidence=[],
                    decided_at=now,
                )
            )
            await session.commit()
        await database.dispose()
        await asyncio.to_thread(migrate.upgrade, database_url)
        async with database.read_session() as session:
            primary = await session.scalar(
                select(Decision.primary_reason).where(Decision.id == decision_id)
            )
        assert primary == "price"
    finally:
        await database.dispose()


async def test_decisions_logged_before_0009_are_settled_and_tallied(database_url: str) -> None:
    await asyncio.to_thread(command.downgrade, migrate.alembic_config(database_url), "0005")
    now = datetime.now(UTC).replace(microsecond=0)
    later = now + timedelta(days=2)
    settled_case, open_case, holdout_case = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    database = Database(database_url)
    try:
        async with database.write_session() as session:
            for case_id, group, status in (
                (settled_case, "ai", "lost"),
                (open_case, "ai", "open"),
                (holdout_case, "holdout", "lost"),
            ):
                session.add(
                    RecoveryCase(
                        id=case_id,
                        cart_id=uuid.uuid4(),
                        user_id=f"u-{case_id}",
                        group=group,
                        currency="USD",
                        abandoned_at=now,
                        detected_at=now,
                        window_starts_at=now,
                        status=status,
                        settled_at=later if status != "open" else None,
                    )
                )
            await session.flush()
            # Only the columns named are written: the table has no outcome before 0009.
            await session.execute(
                insert(Decision.__table__),
                [
                    _old_decision(settled_case, 0, "ai", "discount_10", now),
                    _old_decision(settled_case, 1, "ai", "reminder", now + timedelta(days=1)),
                    _old_decision(open_case, 0, "ai", "reminder", now),
                    _old_decision(open_case, 1, "ai", "reminder", now + timedelta(days=1)),
                    _old_decision(holdout_case, 0, "holdout", "none", now),
                ],
            )
            await session.commit()
        await database.dispose()
        await asyncio.to_thread(migrate.upgrade, database_url)
        async with database.read_session() as session:
            found = await session.execute(
                select(Decision.case_id, Decision.stage, Decision.outcome)
            )
            tallies = await session.execute(
                select(Tally.day, Tally.action, Tally.recovered, Tally.lost)
            )
            assert {(case, stage): outcome for case, stage, outcome in found} == {
                (settled_case, 0): "lost",
                (settled_case, 1): "lost",
                (open_case, 0): "lost",
                (open_case, 1): None,
                (holdout_case, 0): None,
            }
            assert sorted(tallies) == [
                ((now + timedelta(days=1)).date(), "discount_10", 0, 1),
                ((now + timedelta(days=1)).date(), "reminder", 0, 1),
                (later.date(), "reminder", 0, 1),
            ]
    finally:
        await database.dispose()


def _old_decision(
    case_id: uuid.UUID, stage: int, group: str, action: str, decided_at: datetime
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "case_id": case_id,
        "stage": stage,
        "group": group,
        "policy_version": 1,
        "action": action,
        "probability": 0.5,
        "primary_reason": "price",
        "reasons": {"price": 1.0},
        "evidence": [],
        "decided_at": decided_at,
    }
