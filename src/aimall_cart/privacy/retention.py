"""Retention: guest carts and archived carts past their time go, a bounded batch at a time.

Each function takes one batch in the caller's transaction and answers how many went; the worker
commits each batch. A guest cart idle past ``guest_retention_days`` goes with its lines,
checkouts and held stock unless it became an order (an order keeps its cart); an archive goes
once older than ``archive_retention_days``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.carts import activity
from aimall_cart.carts.models import Cart
from aimall_cart.checkout.models import CartArchive, Order
from aimall_cart.privacy.erasure import delete_carts


async def purge_guest_carts(session: AsyncSession, *, idle_before: datetime, limit: int) -> int:
    """Idle guest carts, oldest first, locked and skipped when busy."""
    ids = list(
        await session.scalars(
            select(Cart.id)
            .where(
                Cart.user_id.is_(None),
                *activity.idle_before(idle_before),
                ~exists().where(Order.cart_id == Cart.id),
            )
            .order_by(Cart.activity_mark, Cart.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    return await delete_carts(session, ids)


async def purge_archives(session: AsyncSession, *, archived_before: datetime, limit: int) -> int:
    ids = list(
        await session.scalars(
            select(CartArchive.cart_id)
            .where(CartArchive.archived_at < archived_before)
            .order_by(CartArchive.archived_at)
            .limit(limit)
        )
    )
    if not ids:
        return 0
    await session.execute(delete(CartArchive).where(CartArchive.cart_id.in_(ids)))
    return len(ids)
