"""GET /metrics: Prometheus text by route template, and figures read from the database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from aimall_cart import health
from aimall_cart.config import Settings
from aimall_cart.db import Database
from tests.builders import outbox_event, shirt

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    answer = await client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_requests_are_counted_by_route_template_with_a_latency_histogram(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    before = await scrape(client)
    cart = (
        await client.post(
            "/v1/cart/items",
            json={"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 1},
            headers=member,
        )
    ).json()
    for quantity in (2, 3, 4):
        changed = await client.patch(
            f"/v1/cart/items/{cart['items'][0]['id']}", json={"quantity": quantity}, headers=member
        )
        assert changed.status_code == 200
    assert (await client.get(f"/v1/cart/items/{uuid.uuid4()}/nowhere")).status_code == 404
    after = await scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    patch = {"method": "PATCH", "route": "/v1/cart/items/{item_id}", "status": "200"}
    assert grew("aimall_cart_http_requests_total", **patch) == 3
    assert grew("aimall_cart_http_request_duration_seconds_count", **patch) == 3
    assert grew("aimall_cart_http_request_duration_seconds_bucket", **patch, le="+Inf") == 3
    assert grew("aimall_cart_http_request_duration_seconds_sum", **patch) > 0
    routes = {dict(labels).get("route", "") for _, labels in after}
    assert not any(cart["items"][0]["id"] in route for route in routes)
    unmatched = {"method": "GET", "route": "<unmatched>", "status": "404"}
    assert grew("aimall_cart_http_requests_total", **unmatched) == 1
    assert grew("aimall_cart_cart_operations_total", operation="update_item", outcome="ok") == 3
    assert grew("aimall_cart_cart_operations_total", operation="add_item", outcome="ok") == 1


async def test_checkouts_and_problems_are_counted_by_outcome_and_code(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    before = await scrape(client)
    line = {"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 1}
    await client.post("/v1/cart/items", json=line, headers=member)
    assert (await client.post("/v1/cart/checkout", headers=member)).status_code == 201
    assert (await client.post("/v1/cart/items", json=line, headers=member)).status_code == 409
    assert (await client.post("/v1/cart/checkout/complete", headers=member)).status_code == 201
    after = await scrape(client)
    for outcome in ("started", "completed"):
        grown = value(after, "aimall_cart_checkouts_total", outcome=outcome) - value(
            before, "aimall_cart_checkouts_total", outcome=outcome
        )
        assert grown == 1, outcome
    locked = value(after, "aimall_cart_problems_total", code="cart_locked") - value(
        before, "aimall_cart_problems_total", code="cart_locked"
    )
    assert locked == 1


async def test_outbox_and_worker_figures_are_read_from_the_database(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    now = datetime.now(UTC)
    database: Database = app.state.database
    for status, age in (("pending", 90), ("pending", 10), ("dead", 600), ("delivered", 5)):
        await outbox_event(app, status=status, age=timedelta(seconds=age))
    async with database.write_session() as session:
        await health.beat(session, worker_id="w-1", started_at=now, now=now - timedelta(seconds=4))
        await session.commit()
    samples = await scrape(client)
    assert value(samples, "aimall_cart_outbox_events", status="pending") == 2
    assert value(samples, "aimall_cart_outbox_events", status="dead") == 1
    assert 85 <= value(samples, "aimall_cart_outbox_oldest_pending_age_seconds") <= 120
    assert 3 <= value(samples, "aimall_cart_worker_heartbeat_age_seconds") <= 30


async def test_metrics_need_no_credentials_and_name_every_family(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/metrics")
    assert answer.status_code == 200
    types = {family.name: family.type for family in text_string_to_metric_families(answer.text)}
    assert types["aimall_cart_http_requests"] == "counter"
    assert types["aimall_cart_http_request_duration_seconds"] == "histogram"
    assert types["aimall_cart_recovery_messages"] == "counter"
    assert types["aimall_cart_outbox_events"] == "gauge"
    assert all(name.startswith("aimall_cart_") for name in types if name.startswith("aimall"))


async def test_an_idempotent_replay_is_counted_under_its_route_template(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    line = {"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 1}
    keyed = {**member, "Idempotency-Key": f"add-{uuid.uuid4()}"}
    before = await scrape(client)
    first = await client.post("/v1/cart/items", json=line, headers=keyed)
    replay = await client.post("/v1/cart/items", json=line, headers=keyed)
    assert replay.status_code == first.status_code == 201
    assert replay.json() == first.json()
    after = await scrape(client)
    added = {"method": "POST", "route": "/v1/cart/items", "status": "201"}
    grown = value(after, "aimall_cart_http_requests_total", **added) - value(
        before, "aimall_cart_http_requests_total", **added
    )
    assert grown == 2
