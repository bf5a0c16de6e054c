"""Single-use promotion codes: issued to one member, applied to their cart, honoured at checkout
and redeemed by one order."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update

from aimall_cart.carts import promotions
from aimall_cart.carts.models import Cart, DiscountCode
from aimall_cart.checkout.models import Order
from aimall_cart.config import Settings
from aimall_cart.events import OutboxEvent, open_payload
from tests.answers import add_item, advance, cart_of, problem_of, read_cart, stock_of
from tests.builders import bearer, shirt

# Three shirts at 19.99 less 2.00 each: 59.97 before, 53.97 after the lines' own discounts.
SUBTOTAL, LINE_DISCOUNT, NET = 5997, 600, 5397
FIFTEEN_PERCENT = 809  # 15% of 53.97 is 8.0955, rounded down


async def issue(
    app: FastAPI,
    user_id: str = "u-1",
    *,
    percent: int = 15,
    lifetime: timedelta = timedelta(hours=1),
) -> DiscountCode:
    """A code issued the way recovery issues one, committed as a set-up step."""
    now = await app.state.clock.now()
    async with app.state.database.write_session() as session:
        [issued] = await promotions.issue_many(
            session,
            [promotions.Grant(user_id, None, percent)],
            expires_at=now + lifetime,
            now=now,
        )
        code = await session.scalar(select(DiscountCode).where(DiscountCode.code == issued))
        await session.commit()
    assert code is not None
    return code


async def three_shirts(
    client: httpx.AsyncClient, settings: Settings, headers: dict[str, str]
) -> dict[str, Any]:
    await shirt(client, settings, stock=10, price=1999, discount=200)
    return await add_item(client, headers, "shirt-red-m", 3)


async def apply(
    client: httpx.AsyncClient, headers: dict[str, str], code: str, **extra: str
) -> httpx.Response:
    return await client.post("/v1/cart/discount", json={"code": code}, headers={**headers, **extra})


async def checkout_with_a_code(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> tuple[dict[str, Any], DiscountCode]:
    """Three shirts in the member's cart, a fresh code applied, and checkout begun."""
    cart = await three_shirts(client, settings, member)
    code = await issue(app)
    cart_of(await apply(client, member, code.code))
    assert (await client.post("/v1/cart/checkout", headers=member)).status_code == 201
    return cart, code


async def cart_row(app: FastAPI, cart_id: str) -> Cart:
    async with app.state.database.read_session() as session:
        return await session.get_one(Cart, uuid.UUID(cart_id))


async def attempts(app: FastAPI, cart_id: str) -> int:
    return (await cart_row(app, cart_id)).discount_attempts


async def stored_code(app: FastAPI, code: str) -> DiscountCode:
    async with app.state.database.read_session() as session:
        return (await session.scalars(select(DiscountCode).where(DiscountCode.code == code))).one()


def priced(promotion: int) -> dict[str, int]:
    """The three shirts' totals with ``promotion`` off."""
    return {
        "subtotal": SUBTOTAL,
        "discount": LINE_DISCOUNT + promotion,
        "total": NET - promotion,
        "item_count": 3,
    }


async def test_issued_codes_are_readable_unguessable_and_bound_to_their_customer(
    app: FastAPI,
) -> None:
    codes = [await issue(app, percent=10) for _ in range(20)]

    assert len({c.code for c in codes}) == 20
    assert all(re.fullmatch(r"SAVE-[0-9A-HJKMNP-TV-Z]{12}", c.code) for c in codes)
    stored = await stored_code(app, codes[0].code)
    assert (stored.user_id, stored.percent, stored.redeemed_at, stored.order_id) == (
        "u-1",
        10,
        None,
        None,
    )
    assert stored.expires_at - stored.created_at == timedelta(hours=1)


async def test_the_owner_applies_a_code_and_the_cart_takes_it_off_the_total(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    before = await three_shirts(client, settings, member)
    code = await issue(app)

    cart = cart_of(await apply(client, member, f"  {code.code.lower()} "))

    assert cart["discount_code"] == code.code
    assert cart["promotion"] == {
        "code": code.code,
        "percent": 15,
        "amount": FIFTEEN_PERCENT,
        "expires_at": cart["promotion"]["expires_at"],
    }
    assert datetime.fromisoformat(cart["promotion"]["expires_at"]) == code.expires_at
    assert cart["totals"] == priced(FIFTEEN_PERCENT)
    assert (cart["version"], cart["issues"], cart["checkout_blocked"]) == (
        before["version"] + 1,
        [],
        False,
    )
    assert await read_cart(client, member) == cart
    checkout = (await client.post("/v1/cart/checkout", headers=member)).json()
    assert checkout["totals"] == priced(FIFTEEN_PERCENT)
    assert checkout["promotion"] == cart["promotion"]


async def test_only_the_owner_may_apply_a_code_and_nobody_learns_that_it_exists(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    mine = await three_shirts(client, settings, member)
    code = await issue(app)
    other = bearer(settings, "u-2")
    theirs = await add_item(client, other, "shirt-red-m")
    guest_cart = cart_of(
        await client.post(
            "/v1/cart/items", json={"product_id": "shirt", "variant_id": "shirt-red-l"}
        ),
        201,
    )
    guest = {"X-Cart-Token": guest_cart["guest_token"]}

    by_other = problem_of(await apply(client, other, code.code), 422, "invalid_discount_code")
    by_guest = problem_of(await apply(client, guest, code.code), 422, "invalid_discount_code")
    unknown = problem_of(
        await apply(client, member, "SAVE-0000000000"), 422, "invalid_discount_code"
    )

    assert by_other["detail"] == by_guest["detail"] == unknown["detail"]
    assert by_other.keys() == unknown.keys()
    assert (await read_cart(client, other))["promotion"] is None
    assert (await read_cart(client, guest))["promotion"] is None
    assert await attempts(app, theirs["id"]) == 1
    assert await attempts(app, guest_cart["id"]) == 1
    assert (await read_cart(client, member))["version"] == mine["version"]
    no_cart = bearer(settings, "u-3")
    problem_of(await apply(client, no_cart, code.code), 404, "cart_not_found")
    assert (await stored_code(app, code.code)).redeemed_at is None


async def test_an_unknown_code_is_refused_and_each_refusal_is_counted(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    before = await three_shirts(client, settings, member)
    active_before = (await cart_row(app, before["id"])).last_activity_at

    for typed in ("SAVE-NOPE", "half-price"):
        problem_of(await apply(client, member, typed), 422, "invalid_discount_code")

    row = await cart_row(app, before["id"])
    assert (row.discount_attempts, row.last_activity_at > active_before) == (2, True)
    after = await read_cart(client, member)
    assert (after["version"], after["discount_code"], after["promotion"]) == (
        before["version"],
        None,
        None,
    )
    assert after["totals"] == priced(0)


async def test_an_expired_code_cannot_be_applied(
    clocked_app: FastAPI, clocked: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    cart = await three_shirts(clocked, settings, member)
    code = await issue(clocked_app)
    await advance(clocked, settings, 3600)

    problem_of(await apply(clocked, member, code.code), 422, "invalid_discount_code")

    assert await attempts(clocked_app, cart["id"]) == 1
    assert (await read_cart(clocked, member))["promotion"] is None


async def test_an_applied_code_that_expires_shows_why_and_blocks_checkout_until_removed(
    clocked_app: FastAPI, clocked: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await three_shirts(clocked, settings, member)
    code = await issue(clocked_app)
    cart_of(await apply(clocked, member, code.code))
    await advance(clocked, settings, 3600)

    cart = await read_cart(clocked, member)
    assert cart["discount_code"] == code.code
    assert (cart["promotion"]["code"], cart["promotion"]["amount"]) == (code.code, 0)
    assert [(i["item_id"], i["code"]) for i in cart["issues"]] == [(None, "discount_code_expired")]
    assert cart["checkout_blocked"] is True
    assert cart["totals"] == priced(0)
    blocked = problem_of(
        await clocked.post("/v1/cart/checkout", headers=member), 409, "checkout_blocked"
    )
    assert [(e["item_id"], e["code"], e["discount_code"]) for e in blocked["errors"]] == [
        (None, "discount_code_expired", code.code)
    ]
    assert await stock_of(clocked, "shirt-red-m") == (10, 10)

    removed = cart_of(await clocked.delete("/v1/cart/discount", headers=member))

    assert (removed["discount_code"], removed["promotion"], removed["issues"]) == (None, None, [])
    assert removed["version"] == cart["version"] + 1
    started = await clocked.post("/v1/cart/checkout", headers=member)
    assert started.status_code == 201, started.text


async def test_a_checkout_started_before_the_code_expired_is_honoured_at_complete(
    clocked_app: FastAPI, clocked: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await three_shirts(clocked, settings, member)
    lifetime = timedelta(seconds=settings.reservation_ttl_seconds // 2)
    code = await issue(clocked_app, lifetime=lifetime)
    cart_of(await apply(clocked, member, code.code))
    started = await clocked.post("/v1/cart/checkout", headers=member)
    assert started.status_code == 201, started.text
    await advance(clocked, settings, settings.reservation_ttl_seconds * 3 // 4)

    held = await read_cart(clocked, member)
    assert (held["promotion"]["amount"], held["issues"]) == (FIFTEEN_PERCENT, [])
    placed = await clocked.post("/v1/cart/checkout/complete", headers=member)

    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["promotion"] == {"code": code.code, "amount": FIFTEEN_PERCENT}
    assert order["totals"]["total"] == NET - FIFTEEN_PERCENT


async def test_the_order_charges_the_promotion_and_the_code_pays_for_one_order_only(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    cart, code = await checkout_with_a_code(app, client, settings, member)

    placed = await client.post("/v1/cart/checkout/complete", headers=member)

    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["totals"] == priced(FIFTEEN_PERCENT)
    assert order["promotion"] == {"code": code.code, "amount": FIFTEEN_PERCENT}
    assert (await client.get(f"/v1/orders/{order['id']}", headers=member)).json() == order
    redeemed = await stored_code(app, code.code)
    assert (str(redeemed.order_id), redeemed.redeemed_at is not None) == (order["id"], True)
    async with app.state.database.read_session() as session:
        row = await session.get_one(Order, redeemed.order_id)
        assert (row.promotion_code, row.promotion_discount) == (code.code, FIFTEEN_PERCENT)
        assert (row.discount, row.total) == (LINE_DISCOUNT + FIFTEEN_PERCENT, NET - FIFTEEN_PERCENT)
        assert (
            await session.scalar(
                select(Cart.discount_code_id).where(Cart.id == uuid.UUID(cart["id"]))
            )
            is None
        )
        event = (await session.scalars(select(OutboxEvent))).one()
        payload = open_payload(settings.keys, event.id, event.payload)
        assert payload["promotion"] == order["promotion"]

    await add_item(client, member, "shirt-red-m")
    problem_of(await apply(client, member, code.code), 422, "invalid_discount_code")


async def test_concurrent_completes_redeem_the_code_once(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    _, code = await checkout_with_a_code(app, client, settings, member)

    answers = await asyncio.gather(
        *(client.post("/v1/cart/checkout/complete", headers=member) for _ in range(5))
    )

    statuses = [a.status_code for a in answers]
    assert statuses.count(201) == 1, statuses
    assert set(statuses) <= {201, 409, 503}
    placed = next(a.json() for a in answers if a.status_code == 201)
    async with app.state.database.read_session() as session:
        orders = (await session.scalars(select(Order.id))).all()
    assert [str(o) for o in orders] == [placed["id"]]
    assert str((await stored_code(app, code.code)).order_id) == placed["id"]


async def test_a_code_redeemed_elsewhere_after_checkout_began_stops_the_order_and_nothing_else(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    _, code = await checkout_with_a_code(app, client, settings, member)
    async with app.state.database.write_session() as session:
        await session.execute(
            update(DiscountCode)
            .where(DiscountCode.id == code.id)
            .values(redeemed_at=await app.state.clock.now())
        )
        await session.commit()

    lost = await client.post("/v1/cart/checkout/complete", headers=member)

    problem_of(lost, 409, "discount_code_used")
    async with app.state.database.read_session() as session:
        assert (await session.scalars(select(Order))).all() == []
    assert (await stored_code(app, code.code)).order_id is None
    assert await stock_of(client, "shirt-red-m") == (10, 7)
    cart = await read_cart(client, member)
    assert (cart["status"], cart["promotion"]["amount"]) == ("locked", 0)
    assert [i["code"] for i in cart["issues"]] == ["discount_code_used"]
    assert (await client.get("/v1/cart/checkout", headers=member)).status_code == 200


async def test_if_match_and_the_checkout_lock_are_honoured(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    cart = await three_shirts(client, settings, member)
    code = await issue(app)
    stale = {"If-Match": f'"{cart["version"] - 1}"'}

    problem_of(await apply(client, member, code.code, **stale), 412, "version_mismatch")
    problem_of(
        await client.delete("/v1/cart/discount", headers={**member, **stale}),
        412,
        "version_mismatch",
    )
    assert (await read_cart(client, member))["promotion"] is None
    assert await attempts(app, cart["id"]) == 0
    applied = cart_of(
        await apply(client, member, code.code, **{"If-Match": f'"{cart["version"]}"'})
    )
    assert applied["version"] == cart["version"] + 1

    assert (await client.post("/v1/cart/checkout", headers=member)).status_code == 201
    problem_of(await apply(client, member, code.code), 409, "cart_locked")
    problem_of(await client.delete("/v1/cart/discount", headers=member), 409, "cart_locked")
    assert (await client.delete("/v1/cart/checkout", headers=member)).status_code == 200
    removed = cart_of(await client.delete("/v1/cart/discount", headers=member))
    assert removed["promotion"] is None


async def test_another_code_replaces_the_first_and_removing_leaves_both_usable(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await three_shirts(client, settings, member)
    first, second = await issue(app, percent=10), await issue(app, percent=20)
    cart_of(await apply(client, member, first.code))

    replaced = cart_of(await apply(client, member, second.code))

    assert (replaced["discount_code"], replaced["promotion"]["percent"]) == (second.code, 20)
    assert replaced["totals"] == priced(NET * 20 // 100)
    removed = cart_of(await client.delete("/v1/cart/discount", headers=member))
    assert (removed["discount_code"], removed["promotion"]) == (None, None)
    assert removed["totals"] == priced(0)
    assert removed["version"] == replaced["version"] + 1
    again = cart_of(await client.delete("/v1/cart/discount", headers=member))
    assert again["version"] == removed["version"]
    back = cart_of(await apply(client, member, first.code))
    assert back["promotion"]["amount"] == NET * 10 // 100
