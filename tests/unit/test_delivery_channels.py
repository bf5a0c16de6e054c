"""The outbox's channels: features register them by event type, the kernel names none."""

from __future__ import annotations

import httpx

from aimall_cart import delivery, worker
from aimall_cart.checkout import handoff
from aimall_cart.config import Settings
from aimall_cart.recovery import channels


async def _first(settings: Settings, http: httpx.AsyncClient, event: delivery.Claimed) -> None:
    return None


async def _second(settings: Settings, http: httpx.AsyncClient, event: delivery.Claimed) -> str:
    return "second"


def test_an_exact_type_wins_over_a_prefix_and_a_longer_prefix_over_a_shorter() -> None:
    delivery.register("test-channels.", _first)
    delivery.register("test-channels.deep.", _second)
    delivery.register("test-channels.deep.exact", _first)

    assert delivery.channel_for("test-channels.anything") is _first
    assert delivery.channel_for("test-channels.deep.other") is _second
    assert delivery.channel_for("test-channels.deep.exact") is _first
    assert delivery.channel_for("test-channels") is None  # a prefix covers only what follows it
    assert delivery.channel_for("test-channelsX.deep") is None


def test_the_worker_delivers_orders_and_recovery_messages_through_their_features() -> None:
    assert worker.JOBS  # the worker's import is what registers the features' channels
    assert delivery.channel_for("order.placed") is handoff.to_order_module
    assert delivery.channel_for(channels.EMAIL_EVENT) is channels.by_email
    assert delivery.channel_for(channels.WEBHOOK_EVENT) is channels.to_webhook
    assert delivery.channel_for("recovery.unknown") is None
