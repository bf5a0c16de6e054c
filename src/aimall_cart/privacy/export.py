"""Everything the cart system holds about a subject, as one document (``GET /v1/me/data``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from aimall_cart.carts.models import Cart, CartEvent, DiscountCode
from aimall_cart.checkout import orders
from aimall_cart.checkout.models import CartArchive, Order
from aimall_cart.crypto import KeyRing
from aimall_cart.events import OutboxEvent
from aimall_cart.idempotency import IdempotencyRecord
from aimall_cart.privacy import personal
from aimall_cart.privacy import service as preferences
from aimall_cart.privacy.models import Preferences


def _cart(cart: Cart) -> dict[str, Any]:
    return {
        "id": str(cart.id),
        "status": cart.status,
        "currency": cart.currency,
        "created_at": cart.created_at,
        "updated_at": cart.updated_at,
        "last_activity_at": cart.last_activity_at,
        "items": [
            {
                "product_id": item.product_id,
                "variant_id": item.variant_id,
                "name": item.name,
                "options": item.options,
                "quantity": item.quantity,
                "unit_price": item.unit_price,
                "discount": item.discount,
                "added_at": item.created_at,
            }
            for item in cart.items
        ],
    }


def owned_by(subject: personal.Subject) -> Any:
    """The subject's carts: a member's own and the guest carts merged into them; a guest's by
    token."""
    if subject.user_id is None:
        return Cart.guest_token_hash == subject.token_hash
    own = select(Cart.id).where(Cart.user_id == subject.user_id)
    return or_(Cart.user_id == subject.user_id, Cart.merged_into_id.in_(own))


async def subject_carts(session: AsyncSession, subject: personal.Subject) -> list[Cart]:
    query = select(Cart).options(selectinload(Cart.items)).where(owned_by(subject))
    return list(await session.scalars(query.order_by(Cart.created_at)))


def subject_orders(subject: personal.Subject) -> Any:
    if subject.user_id is None:
        return Order.guest_token_hash == subject.token_hash
    return Order.user_id == subject.user_id


async def _preferences(
    session: AsyncSession, subject: personal.Subject, keys: KeyRing
) -> dict[str, Any]:
    if subject.user_id is None:
        return {"preferences": None, "consent_history": []}
    row = await session.get(Preferences, subject.user_id)
    if row is None:
        return {"preferences": None, "consent_history": []}
    view = await preferences.read(session, keys=keys, user_id=subject.user_id)
    contact = view.contact
    return {
        "preferences": {
            "marketing_consent": contact.marketing_consent,
            "email": contact.email,
            "name": contact.name,
            "channels": list(contact.channels),
            "timezone": contact.timezone,
            "updated_at": view.updated_at,
        },
        # The consent record kept: the current choice and when it was last changed.
        "consent_history": [
            {"marketing_consent": contact.marketing_consent, "at": view.consent_updated_at}
        ]
        if view.consent_updated_at is not None
        else [],
    }


async def _orders_and_archives(
    session: AsyncSession, subject: personal.Subject, keys: KeyRing
) -> dict[str, Any]:
    placed = list(
        await session.scalars(
            select(Order)
            .options(selectinload(Order.lines))
            .where(subject_orders(subject))
            .order_by(Order.created_at)
        )
    )
    archives = await session.scalars(
        select(CartArchive)
        .where(CartArchive.order_id.in_([order.id for order in placed]))
        .order_by(CartArchive.archived_at)
    )
    return {
        "orders": [orders.document(order, keys) for order in placed],
        "archived_carts": [
            {
                "cart_id": str(archive.cart_id),
                "order_id": str(archive.order_id),
                "archived_at": archive.archived_at,
                "snapshot": archive.snapshot,
            }
            for archive in archives
        ],
    }


async def _cart_events(session: AsyncSession, carts: list[Cart]) -> list[dict[str, Any]]:
    """The raw events of the subject's carts, which name a cart only by its pseudonym."""
    keys = [cart.analytics_key for cart in carts]
    found = await session.scalars(
        select(CartEvent).where(CartEvent.cart_key.in_(keys)).order_by(CartEvent.id)
    )
    return [
        {
            "kind": event.kind,
            "occurred_at": event.occurred_at,
            "product_id": event.product_id,
            "variant_id": event.variant_id,
            "quantity_delta": event.quantity_delta,
            "value": event.value,
            "currency": event.currency,
            "reason": event.reason,
        }
        for event in found
    ]


async def _codes(session: AsyncSession, subject: personal.Subject) -> list[dict[str, Any]]:
    if subject.user_id is None:
        return []
    codes = await session.scalars(
        select(DiscountCode)
        .where(DiscountCode.user_id == subject.user_id)
        .order_by(DiscountCode.created_at)
    )
    return [
        {
            "code": code.code,
            "percent": code.percent,
            "issued_for_cart_id": str(code.issued_for_cart_id) if code.issued_for_cart_id else None,
            "created_at": code.created_at,
            "expires_at": code.expires_at,
            "redeemed_at": code.redeemed_at,
        }
        for code in codes
    ]


async def _records(session: AsyncSession, subject: personal.Subject) -> dict[str, Any]:
    keys_used = await session.scalars(
        select(IdempotencyRecord).where(IdempotencyRecord.caller == subject.caller)
    )
    events = await session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.person == subject.person)
        .order_by(OutboxEvent.created_at)
    )
    return {
        "idempotency_keys": [
            {"key": record.key, "status": record.status, "expires_at": record.expires_at}
            for record in keys_used
        ],
        "outbox_events": [
            {
                "id": str(event.id),
                "type": event.type,
                "status": event.status,
                "created_at": event.created_at,
            }
            for event in events
        ],
    }


async def export(
    session: AsyncSession, *, subject: personal.Subject, keys: KeyRing
) -> dict[str, Any]:
    """One document of everything held about the subject; each registered feature adds its
    own keys."""
    carts = await subject_carts(session, subject)
    document: dict[str, Any] = {
        "subject": {"type": "member", "user_id": subject.user_id}
        if subject.user_id is not None
        else {"type": "guest"},
        **await _preferences(session, subject, keys),
        "carts": [_cart(cart) for cart in carts],
        "cart_events": await _cart_events(session, carts),
        **await _orders_and_archives(session, subject, keys),
        "discount_codes": await _codes(session, subject),
        **await _records(session, subject),
    }
    for holder in personal.holders():
        document |= await holder.export(session, subject, keys)
    return document
