"""Plain builders for test data and credentials."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from aimall_cart.auth import Role, issue_token
from aimall_cart.config import Settings
from aimall_cart.db import Database
from aimall_cart.events import OutboxEvent

ADMIN_SUB = "admin-1"


def token(
    settings: Settings, sub: str, role: Role = "customer", seller_id: str | None = None
) -> str:
    return issue_token(
        settings,
        sub=sub,
        role=role,
        now=datetime.now(UTC),
        ttl=timedelta(hours=1),
        seller_id=seller_id,
    )


def bearer(
    settings: Settings, sub: str, role: Role = "customer", seller_id: str | None = None
) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(settings, sub, role, seller_id)}"}


def admin(settings: Settings) -> dict[str, str]:
    return bearer(settings, ADMIN_SUB, "admin")


def make_variant(
    variant_id: str,
    *,
    price: int = 1999,
    discount: int = 0,
    stock: int = 10,
    status: str = "active",
    **options: str,
) -> dict[str, Any]:
    return {
        "variant_id": variant_id,
        "options": options,
        "price": price,
        "discount": discount,
        "stock": stock,
        "status": status,
    }


def make_product(
    *variants: dict[str, Any],
    seller_id: str | None = "seller-1",
    name: str = "Linen Shirt",
    category: str = "apparel",
    min_quantity: int = 1,
    max_quantity: int = 10,
    currency: str = "USD",
    status: str = "active",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "description": f"A {name.lower()}",
        "category": category,
        "thumbnail_url": "https://img.example/p.jpg",
        "status": status,
        "currency": currency,
        "min_quantity": min_quantity,
        "max_quantity": max_quantity,
        "variants": list(variants) or [make_variant("v-default")],
    }
    if seller_id is not None:
        body["seller_id"] = seller_id
    return body


async def put_product(
    client: httpx.AsyncClient, settings: Settings, product_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.put(
        f"/v1/catalog/products/{product_id}", json=body, headers=admin(settings)
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


async def shirt(
    client: httpx.AsyncClient,
    settings: Settings,
    *,
    stock: int = 10,
    price: int = 1999,
    discount: int = 0,
    product_id: str = "shirt",
    **product: Any,
) -> dict[str, Any]:
    """A product with four variants: shirt-red-m, shirt-red-l, shirt-blue-m, shirt-blue-l."""
    variants = [
        make_variant(
            f"{product_id}-{color}-{size.lower()}",
            price=price,
            discount=discount,
            stock=stock,
            color=color,
            size=size,
        )
        for color in ("red", "blue")
        for size in ("M", "L")
    ]
    return await put_product(client, settings, product_id, make_product(*variants, **product))


async def outbox_event(app: FastAPI, *, status: str, age: timedelta) -> None:
    """An outbox event of ``status`` created ``age`` ago, straight into the database."""
    created = datetime.now(UTC) - age
    database: Database = app.state.database
    async with database.write_session() as session:
        session.add(
            OutboxEvent(
                id=uuid.uuid4(),
                type="test.event",
                payload={},
                status=status,
                attempts=0,
                created_at=created,
                next_attempt_at=created,
            )
        )
        await session.commit()
