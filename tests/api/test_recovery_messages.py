"""What recovery messages carry through the API: alternatives for every cart with a line that
cannot be bought, whatever offer the policy chose, and price changes shown as was and now."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from aimall_cart.config import Settings
from aimall_cart.recovery.engine import Engine
from tests.answers import patch_variant
from tests.builders import make_product, make_variant, put_product, shirt
from tests.recovery_steps import HOUR, advance, run_pass, sent_to, set_policy, shopper

SHOPPERS_PER_KIND = 8


@pytest.fixture
def app(clocked_app: FastAPI) -> FastAPI:
    return clocked_app


async def _shoes(client: httpx.AsyncClient, settings: Settings) -> None:
    """Three shoes that will fail their carts in each way, and two that stay in stock."""
    for product_id, name, price in (
        ("trail-red", "Trail running shoe red", 8000),
        ("trail-grey", "Trail running shoe grey", 8100),
        ("trail-black", "Trail running shoe black", 7900),
        ("trail-blue", "Trail running shoe blue", 8400),
        ("office", "Leather office shoe", 7900),
    ):
        variant = make_variant(f"{product_id}-42", price=price, stock=50, size="42")
        body = make_product(variant, name=name, category="shoes")
        await put_product(client, settings, product_id, body)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_every_ai_message_about_a_missing_line_carries_alternatives_whatever_the_offer(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, seed: int
) -> None:
    app.state.recovery_engine = Engine.create(seed=seed)
    await _shoes(client, settings)
    # Every arm is tried at random, so discounts and plain reminders are chosen as well.
    await set_policy(client, settings, max_discount_percent=20, exploration_percent=100)
    flagged = {"trail-red": "out_of_stock", "trail-grey": "insufficient_stock"}
    flagged["trail-black"] = "unavailable"
    for product_id in flagged:
        for n in range(SHOPPERS_PER_KIND):
            user = f"u-{product_id}-{n}"
            await shopper(client, settings, user, product_id=product_id,
                          variant_id=f"{product_id}-42", quantity=2)  # fmt: skip
    await patch_variant(client, settings, "trail-red-42", stock=0)
    await patch_variant(client, settings, "trail-grey-42", stock=1)
    await patch_variant(client, settings, "trail-black-42", status="inactive")
    await advance(client, settings, 2 * HOUR)

    await run_pass(client, settings)

    notes = await sent_to(client, settings)
    assert len(notes) == len(flagged) * SHOPPERS_PER_KIND
    assert {n["group"] for n in notes} == {"ai"}
    actions = {n["action"] for n in notes}
    assert actions - {"alternatives"}, "the policy only ever chose the alternatives framing"
    for note in notes:
        cart_product = note["user_id"].split("-", 1)[1].rsplit("-", 1)[0]
        ids = {a["product_id"] for a in note["alternatives"]}
        assert ids, f"{note['action']} for a {flagged[cart_product]} line came without any"
        assert cart_product not in ids
        assert ids <= {"trail-red", "trail-grey", "trail-blue", "office"} - {cart_product}
        assert "trail-red" not in ids  # out of stock, so never a stand-in
        for alternative in note["alternatives"]:
            assert alternative["name"] in note["body"]
        if note["action"].startswith("discount_"):
            assert note["discount_code"]


async def _note(client: httpx.AsyncClient, settings: Settings, channel: str) -> dict[str, Any]:
    [note] = [n for n in await sent_to(client, settings) if n["channel"] == channel]
    return note


async def test_a_price_rise_message_shows_the_old_and_the_new_price(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings, stock=50)
    await set_policy(client, settings, channels=["in_app", "email"], max_discount_percent=0)
    await shopper(client, settings, "u-1", quantity=2)
    await patch_variant(client, settings, "shirt-red-m", price=2799)
    await advance(client, settings, 2 * HOUR)

    await run_pass(client, settings)

    email = await _note(client, settings, "email")
    assert email["reason"] == "price"
    assert "each change is shown below" in email["body"]
    assert "- 2 x Linen Shirt: USD 55.98 (USD 27.99 each), was USD 19.99 each" in email["body"]
    assert "Total: USD 55.98" in email["body"]
