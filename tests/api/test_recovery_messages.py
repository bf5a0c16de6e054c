"""What recovery messages carry through the API: price changes shown as was and now."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from aimall_cart.config import Settings
from tests.answers import patch_variant
from tests.builders import shirt
from tests.recovery_steps import HOUR, advance, run_pass, sent_to, set_policy, shopper


@pytest.fixture
def app(clocked_app: FastAPI) -> FastAPI:
    return clocked_app


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
