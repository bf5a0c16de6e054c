"""Alternatives for missing cart lines, read from the catalog and stock on both databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event

from aimall_cart.auth import Principal
from aimall_cart.catalog import service as catalog
from aimall_cart.catalog.schemas import ProductIn
from aimall_cart.db import Database
from aimall_cart.inventory import service as inventory
from aimall_cart.recovery.alternatives import TextIndex
from aimall_cart.recovery.suggest import MissingLine, alternatives_for
from tests.builders import ADMIN_SUB, make_product, make_variant

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
ADMIN = Principal(user_id=ADMIN_SUB, role="admin")
RED = MissingLine("trail-red", "trail-red-v", 10_000)


async def _put(
    database: Database,
    product_id: str,
    name: str,
    *,
    stock: int = 5,
    price: int = 10_000,
    category: str = "shoes",
    now: datetime = NOW,
    **product: Any,
) -> None:
    variant = make_variant(f"{product_id}-v", price=price, stock=stock)
    body = make_product(variant, name=name, category=category, **product)
    async with database.write_session() as session:
        await catalog.upsert_product(
            session,
            principal=ADMIN,
            product_id=product_id,
            data=ProductIn.model_validate(body),
            now=now,
        )
        await session.commit()


async def _hold(database: Database, variant_id: str, units: int, *, expires_at: datetime) -> None:
    async with database.write_session() as session:
        shortages = await inventory.reserve(
            session,
            holder_id=uuid.uuid4(),
            quantities={variant_id: units},
            now=NOW - timedelta(hours=1),
            expires_at=expires_at,
        )
        assert shortages == []
        await session.commit()


async def _suggest(
    database: Database, missing: list[MissingLine], index: TextIndex, **options: Any
) -> dict[str, list[str]]:
    async with database.read_session() as session:
        found = await alternatives_for(session, missing, now=NOW, index=index, **options)
    return {variant_id: [a.product_id for a in offers] for variant_id, offers in found.items()}


@contextmanager
def _selects(database: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", count)


async def test_an_out_of_stock_product_gets_only_sold_in_stock_peers_of_its_category(
    database: Database,
) -> None:
    await _put(database, "trail-red", "Trail running shoe, red", stock=0)
    await _put(database, "trail-blue", "Trail running shoe, blue")
    await _put(database, "office", "Leather office shoe")
    await _put(database, "trail-green", "Trail running shoe, green", stock=0)
    await _put(database, "trail-black", "Trail running shoe, black", status="inactive")
    await _put(database, "trail-grey", "Trail running shoe, grey", category="outdoor")
    await _put(database, "trail-white", "Trail running shoe, white", price=20_000)
    await _put(database, "trail-pink", "Trail running shoe, pink")
    await _hold(database, "trail-pink-v", 5, expires_at=NOW + timedelta(minutes=10))

    found = await _suggest(database, [RED], TextIndex())

    assert found == {"trail-red-v": ["trail-blue", "office"]}


async def test_units_held_by_a_lapsed_checkout_count_as_free(database: Database) -> None:
    await _put(database, "trail-red", "Trail running shoe, red", stock=0)
    await _put(database, "trail-pink", "Trail running shoe, pink", stock=2)
    await _hold(database, "trail-pink-v", 2, expires_at=NOW - timedelta(minutes=1))

    assert await _suggest(database, [RED], TextIndex()) == {"trail-red-v": ["trail-pink"]}


async def test_products_the_cart_already_holds_are_never_suggested(database: Database) -> None:
    await _put(database, "trail-red", "Trail running shoe, red", stock=0)
    await _put(database, "trail-blue", "Trail running shoe, blue")
    await _put(database, "office", "Leather office shoe")

    found = await _suggest(
        database, [RED], TextIndex(), exclude_product_ids=frozenset({"trail-blue"})
    )

    assert found == {"trail-red-v": ["office"]}


async def test_a_short_product_is_not_offered_for_itself(database: Database) -> None:
    await _put(database, "trail-red", "Trail running shoe, red", stock=1)

    assert await _suggest(database, [RED], TextIndex()) == {"trail-red-v": []}


async def test_a_product_gone_from_the_catalog_gets_no_alternatives(database: Database) -> None:
    await _put(database, "trail-blue", "Trail running shoe, blue")
    gone = MissingLine("gone", "gone-v", 10_000)

    assert await _suggest(database, [gone, RED], TextIndex()) == {"gone-v": [], "trail-red-v": []}


async def test_a_batch_of_lines_costs_as_many_queries_as_one_line(database: Database) -> None:
    categories = ("shoes", "socks", "hats")
    for category in categories:
        for n in range(3):
            await _put(database, f"{category}-{n}", f"Plain {category} {n}", category=category)
    batch = [
        MissingLine(f"{category}-{n}", f"{category}-{n}-v", 10_000)
        for category in categories
        for n in range(2)
    ]
    index = TextIndex()

    with _selects(database) as one:
        single = await _suggest(database, batch[:1], index)
    with _selects(database) as many:
        found = await _suggest(database, batch, index)

    assert single == {"shoes-0-v": ["shoes-1", "shoes-2"]}
    assert found["hats-1-v"] == ["hats-0", "hats-2"]
    assert len(many) == len(one) <= 4


async def test_a_shared_index_re_tokenises_only_products_changed_since_the_last_pass(
    database: Database,
) -> None:
    await _put(database, "trail-red", "Trail running shoe, red", stock=0)
    await _put(database, "trail-blue", "Trail running shoe, blue")
    await _put(database, "office", "Leather office shoe")
    index = TextIndex()

    assert await _suggest(database, [RED], index) == {"trail-red-v": ["trail-blue", "office"]}
    assert index.tokenised == 3
    await _suggest(database, [RED], index)
    assert index.tokenised == 3

    later = NOW + timedelta(hours=1)
    await _put(database, "office", "Trail running shoe, red, for the office", now=later)
    assert await _suggest(database, [RED], index) == {"trail-red-v": ["office", "trail-blue"]}
    assert index.tokenised == 4
