"""GET /v1/admin/health: who may read it, and that every figure is measured, not assumed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from aimall_cart import health
from aimall_cart.app import create_app
from aimall_cart.config import Settings
from aimall_cart.db import Database
from tests.builders import admin, bearer, outbox_event, shirt
from tests.ports import free_port


async def _beat(app: FastAPI, *, age: timedelta, jobs: dict[str, datetime] | None = None) -> str:
    worker_id = f"test-worker-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    database: Database = app.state.database
    async with database.write_session() as session:
        await health.beat(
            session, worker_id=worker_id, started_at=now - age, now=now - age, jobs=jobs
        )
        await session.commit()
    return worker_id


async def test_health_needs_an_admin(client: httpx.AsyncClient, settings: Settings) -> None:
    anonymous = await client.get("/v1/admin/health")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "unauthenticated"
    for role, seller_id in (("customer", None), ("seller", "seller-1")):
        refused = await client.get(
            "/v1/admin/health", headers=bearer(settings, "u-9", role, seller_id)
        )
        assert refused.status_code == 403, role
        assert refused.json()["code"] == "forbidden"


async def test_without_a_live_worker_the_service_is_degraded(
    client: httpx.AsyncClient, settings: Settings, app: FastAPI
) -> None:
    await _beat(app, age=timedelta(minutes=5))  # long silent
    answer = await client.get("/v1/admin/health", headers=admin(settings))
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "degraded"
    assert body["database"]["ok"] is True
    assert body["database"]["schema_current"] is True
    assert body["database"]["latency_ms"] > 0
    assert len(body["workers"]) == 1
    assert body["workers"][0]["age_seconds"] == pytest.approx(300, abs=30)


async def test_a_fresh_heartbeat_and_a_clean_outbox_are_ok(
    client: httpx.AsyncClient, settings: Settings, app: FastAPI
) -> None:
    last_pass = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    worker_id = await _beat(app, age=timedelta(seconds=2), jobs={"recover-carts": last_pass})
    body = (await client.get("/v1/admin/health", headers=admin(settings))).json()
    assert body["status"] == "ok"
    [worker] = body["workers"]
    assert worker["id"] == worker_id
    assert worker["age_seconds"] == pytest.approx(2, abs=5)
    assert datetime.fromisoformat(worker["jobs"]["recover-carts"]) == last_pass
    assert body["recovery"] == {"enabled": True, "last_pass_at": "2026-11-29T12:00:00Z"}
    assert body["outbox"] == {"pending": 0, "dead": 0, "oldest_pending_age_seconds": None}
    assert body["reservations"] == {"open": 0, "units": 0}


async def test_outbox_counts_and_the_oldest_pending_age_come_from_the_table(
    client: httpx.AsyncClient, settings: Settings, app: FastAPI
) -> None:
    await _beat(app, age=timedelta(seconds=1))
    await outbox_event(app, status="pending", age=timedelta(minutes=2))
    await outbox_event(app, status="pending", age=timedelta(seconds=5))
    await outbox_event(app, status="dead", age=timedelta(hours=1))
    await outbox_event(app, status="delivered", age=timedelta(hours=2))
    body = (await client.get("/v1/admin/health", headers=admin(settings))).json()
    assert body["outbox"]["pending"] == 2
    assert body["outbox"]["dead"] == 1
    assert body["outbox"]["oldest_pending_age_seconds"] == pytest.approx(120, abs=15)
    assert body["status"] == "degraded"  # a dead event needs someone to look


async def test_open_reservations_count_held_units_of_checkouts_in_progress(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    for variant_id, quantity in (("shirt-red-m", 2), ("shirt-blue-l", 3)):
        added = await client.post(
            "/v1/cart/items",
            json={"product_id": "shirt", "variant_id": variant_id, "quantity": quantity},
            headers=member,
        )
        assert added.status_code == 201, added.text
    assert (await client.post("/v1/cart/checkout", headers=member)).status_code == 201
    body = (await client.get("/v1/admin/health", headers=admin(settings))).json()
    assert body["reservations"] == {"open": 2, "units": 5}
    assert (await client.delete("/v1/cart/checkout", headers=member)).status_code == 200
    body = (await client.get("/v1/admin/health", headers=admin(settings))).json()
    assert body["reservations"] == {"open": 0, "units": 0}


_RED_M = {"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 1}


async def test_conflicts_answered_lately_are_counted_by_code(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    await shirt(client, settings)
    before = (await client.get("/v1/admin/health", headers=admin(settings))).json()
    cart = (await client.post("/v1/cart/items", json=_RED_M, headers=member)).json()
    stale = {**member, "If-Match": f'"{cart["version"] - 1}"'}
    for _ in range(2):
        refused = await client.patch(
            f"/v1/cart/items/{cart['items'][0]['id']}", json={"quantity": 2}, headers=stale
        )
        assert refused.status_code == 412
    assert (await client.post("/v1/cart/checkout", headers=member)).status_code == 201
    locked = await client.post("/v1/cart/items", json=_RED_M, headers=member)
    assert locked.json()["code"] == "cart_locked"
    after = (await client.get("/v1/admin/health", headers=admin(settings))).json()
    counted = {
        code: after["conflicts_last_5_min"][code] - before["conflicts_last_5_min"][code]
        for code in before["conflicts_last_5_min"]
    }
    assert counted == {"version_mismatch": 2, "idempotency_in_progress": 0, "cart_locked": 1}


def _unreachable(database_url: str, folder: str) -> str:
    if database_url.startswith("sqlite"):
        return f"sqlite+aiosqlite:///{folder}/no/such/folder/cart.db"
    return f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere"


async def test_a_database_that_does_not_answer_makes_health_failing(
    settings: Settings, tmp_path: object
) -> None:
    broken = settings.model_copy(
        update={"database_url": _unreachable(settings.database_url, str(tmp_path))}
    )
    app = create_app(broken)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://cart.test") as client:
            answer = await client.get("/v1/admin/health", headers=admin(settings))
    finally:
        await app.state.database.dispose()
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "failing"
    assert body["database"] == {
        "ok": False,
        "latency_ms": None,
        "revision": None,
        "schema_current": False,
    }
    assert body["outbox"] is None
