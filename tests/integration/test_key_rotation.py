"""The data key ring: values sealed under an old key stay readable while it is in the ring,
``aimall-cart keys rotate`` re-seals them all under the primary while a server keeps answering,
and a key that left the ring never turns a request into a 500."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from aimall_cart import crypto, keys_cli, rotation
from aimall_cart.app import create_app
from aimall_cart.config import Settings
from aimall_cart.db import Database
from aimall_cart.privacy import service as privacy
from tests.builders import admin, bearer
from tests.ports import free_port
from tests.privacy_steps import EMAIL, MEMBER, NAME, PAYMENT, Flow, consent, dump, full_flow

OLD = "old:old-data-key-for-rotation-tests-0123456789abcdef"
NEW = "new:new-data-key-for-rotation-tests-0123456789abcdef"
MEMBERS = 40  # enough rows that a rotation two rows at a time overlaps the requests


@pytest.fixture
def old_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"data_keys": OLD, "test_clock": True})


@pytest.fixture
async def sealed_under_old(old_settings: Settings) -> AsyncIterator[Flow]:
    app = create_app(old_settings)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://cart.test") as client:
            flow = await full_flow(client, old_settings)
            for n in range(MEMBERS):
                await consent(client, bearer(old_settings, f"crowd-{n}"))
        yield flow
    finally:
        await app.state.database.dispose()


async def _sealed_key_ids(database_url: str) -> set[str]:
    """The key id of every sealed value in the database."""
    database = Database(database_url)
    try:
        everything = await dump(database)
    finally:
        await database.dispose()
    return set(re.findall(r"ak1\.([A-Za-z0-9_-]+)\.", everything))


def _with_ring(settings: Settings, ring: str) -> FastAPI:
    return create_app(settings.model_copy(update={"data_keys": ring}))


async def _get(app: FastAPI, path: str, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cart.test") as client:
        return await client.get(path, headers=headers)


async def test_a_key_that_left_the_ring_never_answers_500(
    old_settings: Settings, sealed_under_old: Flow
) -> None:
    app = _with_ring(old_settings, NEW)
    try:
        preferences = await _get(app, "/v1/me/preferences", sealed_under_old.member)
        assert preferences.status_code == 200, preferences.text
        assert (preferences.json()["email"], preferences.json()["name"]) == (None, None)
        assert preferences.json()["marketing_consent"] is True
        order = await _get(app, f"/v1/orders/{sealed_under_old.order_id}", sealed_under_old.member)
        assert order.status_code == 200, order.text
        assert order.json()["payment_reference"] is None
        notes = await _get(app, "/v1/admin/notifications", admin(old_settings))
        assert notes.status_code == 200, notes.text
        assert {n["body"] for n in notes.json()["items"]} == {""}
        old_link = privacy.unsubscribe_token(crypto.key_ring(OLD), MEMBER)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cart.test") as client:
            refused = await client.post("/v1/unsubscribe", params={"token": old_link})
        assert refused.status_code == 404
        assert refused.json()["code"] == "invalid_unsubscribe_token"
    finally:
        await app.state.database.dispose()


async def test_an_old_key_in_the_ring_still_opens_and_still_verifies_links(
    old_settings: Settings, sealed_under_old: Flow
) -> None:
    app = _with_ring(old_settings, f"{NEW},{OLD}")
    try:
        preferences = await _get(app, "/v1/me/preferences", sealed_under_old.member)
        assert (preferences.json()["email"], preferences.json()["name"]) == (EMAIL, NAME)
        order = await _get(app, f"/v1/orders/{sealed_under_old.order_id}", sealed_under_old.member)
        assert order.json()["payment_reference"] == PAYMENT
        old_link = privacy.unsubscribe_token(crypto.key_ring(OLD), MEMBER)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cart.test") as client:
            answered = await client.post("/v1/unsubscribe", params={"token": old_link})
        assert answered.status_code == 200, answered.text
    finally:
        await app.state.database.dispose()


SERVER_START_SECONDS = 120  # the machine may be busy with other test runs


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited: {process.stderr.read() if process.stderr else ''!r}"
            )
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not come up")


@pytest.fixture
def server(database_url: str, sealed_under_old: Flow) -> Iterator[str]:
    env = {
        **os.environ,
        "AIMALL_CART_DATABASE_URL": database_url,
        "AIMALL_CART_ENV": "test",
        "AIMALL_CART_DATA_KEYS": f"{NEW},{OLD}",
        # The recovery pass loads its model libraries on the server's loop when it first runs;
        # the requests here are about the rotation, not about that pause.
        "AIMALL_CART_EMBEDDED_WORKER": "false",
        # One client asks as fast as it can for the whole rotation; the limits have tests of
        # their own.
        "AIMALL_CART_RATE_LIMIT_ENABLED": "false",
    }
    port = free_port()
    command = [sys.executable, "-m", "aimall_cart", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--workers", "1", "--no-migrate"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


async def _keep_asking(url: str, flow: Flow, settings: Settings, done: asyncio.Event) -> int:
    """Reads of every sealed kind, over and over until ``done``; each must answer in clear."""
    answered = 0
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        while not done.is_set():
            preferences, order, notes = await asyncio.gather(
                client.get("/v1/me/preferences", headers=flow.member),
                client.get(f"/v1/orders/{flow.order_id}", headers=flow.member),
                client.get("/v1/me/notifications", headers=flow.member),
            )
            assert preferences.status_code == 200, preferences.text
            assert preferences.json()["email"] == EMAIL
            assert order.json()["payment_reference"] == PAYMENT
            assert NAME in notes.json()["items"][0]["body"]
            answered += 3
    return answered


async def test_rotation_reseals_everything_under_the_primary_while_the_server_answers(
    database_url: str, server: str, sealed_under_old: Flow, old_settings: Settings
) -> None:
    assert "old" in await _sealed_key_ids(database_url)
    env = {
        **os.environ,
        "AIMALL_CART_DATABASE_URL": database_url,
        "AIMALL_CART_DATA_KEYS": f"{NEW},{OLD}",
    }
    done = asyncio.Event()
    asking = asyncio.create_task(_keep_asking(server, sealed_under_old, old_settings, done))
    rotation = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "aimall_cart", "keys", "rotate", "--batch-size", "2"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, report = await rotation.communicate()
    done.set()
    answered = await asking

    assert rotation.returncode == 0, report.decode()
    assert "customer_preferences" in report.decode()
    assert answered >= 30, "the server was not asked while the rotation ran"
    assert await _sealed_key_ids(database_url) == {"new"}
    app = _with_ring(old_settings, NEW)
    try:
        preferences = await _get(app, "/v1/me/preferences", sealed_under_old.member)
        assert (preferences.json()["email"], preferences.json()["name"]) == (EMAIL, NAME)
    finally:
        await app.state.database.dispose()


async def test_values_from_before_key_ids_are_read_and_then_resealed(
    settings: Settings, database_url: str
) -> None:
    """A preference sealed with the single key of old (no key id) reads through the ring that
    names that key, and rotation seals it again under the primary, with its key id."""
    secret = OLD.partition(":")[2]
    legacy = crypto.seal(
        EMAIL.encode(), key=crypto.derive_key(secret, purpose="preferences"), context=b"u-legacy"
    )
    ring = f"{NEW},{OLD}"
    app = _with_ring(settings, ring)
    database: Database = app.state.database
    try:
        headers = bearer(settings, "u-legacy")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cart.test") as client:
            await consent(client, headers)
        async with database.write_session() as session:
            await session.execute(
                text("UPDATE customer_preferences SET email_sealed = :legacy"), {"legacy": legacy}
            )
            await session.commit()
        assert (await _get(app, "/v1/me/preferences", headers)).json()["email"] == EMAIL

        tally = await rotation.rotate(
            database, crypto.key_ring(ring), keys_cli.RESEALERS, batch_size=10
        )

        assert tally.resealed["customer_preferences"] == 1
        assert await _sealed_key_ids(database_url) == {"new"}
        assert (await _get(app, "/v1/me/preferences", headers)).json()["email"] == EMAIL
    finally:
        await database.dispose()


async def test_text_stored_in_clear_before_sealing_is_read_and_then_sealed(
    old_settings: Settings, database_url: str
) -> None:
    """Message text and payment references written before they were sealed read as they are, and
    rotation seals them."""
    app = _with_ring(old_settings, NEW)
    database: Database = app.state.database
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cart.test") as client:
            flow = await full_flow(client, old_settings)
        async with database.write_session() as session:
            await session.execute(text("UPDATE orders SET payment_reference = 'pay-in-clear'"))
            await session.execute(text("UPDATE recovery_notifications SET body = 'Hi Clearname'"))
            await session.commit()
        order = await _get(app, f"/v1/orders/{flow.order_id}", flow.member)
        assert order.json()["payment_reference"] == "pay-in-clear"

        await rotation.rotate(database, crypto.key_ring(NEW), keys_cli.RESEALERS, batch_size=3)

        everything = await dump(database)
        assert "pay-in-clear" not in everything
        assert "Clearname" not in everything
        order = await _get(app, f"/v1/orders/{flow.order_id}", flow.member)
        assert order.json()["payment_reference"] == "pay-in-clear"
        notes = await _get(app, "/v1/me/notifications", flow.member)
        assert [n["body"] for n in notes.json()["items"]] == ["Hi Clearname"]
    finally:
        await database.dispose()
