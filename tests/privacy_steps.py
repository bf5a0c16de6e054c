"""A full flow that leaves personal data in every table that can hold it, and a dump of the
database to search for it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
from sqlalchemy import inspect, text

from aimall_cart.config import Settings
from aimall_cart.db import Database
from tests.answers import add_item
from tests.builders import bearer, shirt
from tests.recovery_steps import HOUR, advance, run_pass, sent_to, set_policy

EMAIL = "annika.zyx@privacy-mail.example"
NAME = "Annika Zyxwort"
PAYMENT = "pay-ref-7f3a9c1e"
GUEST_PAYMENT = "pay-guest-91c2b4d8"
MEMBER = "member-priv-1"


@dataclass
class Flow:
    member: dict[str, str]
    guest: dict[str, str]
    guest_token: str
    order_id: str
    guest_order_id: str

    @property
    def order_id_uuid(self) -> uuid.UUID:
        return uuid.UUID(self.order_id)


async def checkout(client: httpx.AsyncClient, headers: dict[str, str], reference: str) -> str:
    started = await client.post("/v1/cart/checkout", headers=headers)
    assert started.status_code == 201, started.text
    placed = await client.post(
        "/v1/cart/checkout/complete", json={"payment_reference": reference}, headers=headers
    )
    assert placed.status_code == 201, placed.text
    order_id: str = placed.json()["id"]
    return order_id


async def consent(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    body = {
        "marketing_consent": True,
        "email": EMAIL,
        "name": NAME,
        "channels": ["in_app", "email", "webhook"],
    }
    response = await client.put("/v1/me/preferences", json=body, headers=headers)
    assert response.status_code == 200, response.text


async def full_flow(client: httpx.AsyncClient, settings: Settings) -> Flow:
    """Preferences with email and name, a recovery message on every channel, a member's order
    and a guest's, and an open cart for each (the test clock must be on)."""
    await shirt(client, settings, stock=100)
    await set_policy(client, settings, channels=["in_app", "email", "webhook"])
    member = bearer(settings, MEMBER)
    await consent(client, member)
    await add_item(client, member, "shirt-red-m", 2)
    await advance(client, settings, 2 * HOUR)
    await run_pass(client, settings)
    assert {n["channel"] for n in await sent_to(client, settings, user_id=MEMBER)} == {
        "in_app",
        "email",
        "webhook",
    }
    assert NAME in (await sent_to(client, settings, user_id=MEMBER))[0]["body"]
    order_id = await checkout(client, member, PAYMENT)
    again = await client.post(
        "/v1/cart/items",
        json={"product_id": "shirt", "variant_id": "shirt-blue-l", "quantity": 1},
        headers={**member, "Idempotency-Key": "add-blue-once"},
    )
    assert again.status_code in (200, 201), again.text
    created = await client.post("/v1/cart")
    assert created.status_code == 201, created.text
    guest_token = created.headers["X-Cart-Token"]
    guest = {"X-Cart-Token": guest_token}
    await add_item(client, guest, "shirt-red-l")
    guest_order_id = await checkout(client, guest, GUEST_PAYMENT)
    return Flow(member, guest, guest_token, order_id, guest_order_id)


async def dump(database: Database) -> str:
    """Every text, JSON and bytes value of every table, as one text to search."""
    parts: list[str] = []
    async with database.engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        for table in tables:
            rows = (await connection.execute(text(f'SELECT * FROM "{table}"'))).all()  # noqa: S608
            for row in rows:
                for value in row:
                    if isinstance(value, bytes | bytearray | memoryview):
                        parts.append(bytes(value).decode("latin-1"))
                    elif value is not None:
                        parts.append(str(value))
    return "\n".join(parts)
