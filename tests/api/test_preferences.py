"""Contact preferences and consent: defaults, saving, sealing at rest, unsubscribe links."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text

from aimall_cart.config import Settings
from aimall_cart.crypto import Unreadable, key_id_of, key_ring
from aimall_cart.db import Database
from aimall_cart.privacy import service as privacy
from tests.answers import advance, problem_of
from tests.builders import bearer

PREFERENCES = "/v1/me/preferences"
DEFAULTS = {
    "marketing_consent": False,
    "email": None,
    "name": None,
    "channels": ["in_app", "email"],
    "timezone": None,
    "consent_updated_at": None,
    "updated_at": None,
}
EMAIL = "ann.lee+shop@mail.example.com"
ANN = {
    "marketing_consent": True,
    "email": EMAIL,
    "name": "Ann Lee",
    "channels": ["email", "webhook"],
    "timezone": "Europe/Paris",
}


@pytest.fixture
def settings(database_url: str) -> Settings:
    """With the test clock, so the tests can tell one save's time from the next."""
    return Settings(database_url=database_url, env="test", test_clock=True, _env_file=None)  # type: ignore[call-arg]


async def save(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.put(PREFERENCES, json=body, headers=headers)
    assert response.status_code == 200, response.text
    saved: dict[str, Any] = response.json()
    return saved


async def read(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(PREFERENCES, headers=headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def without_times(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("consent_updated_at", "updated_at")}


async def test_preferences_default_to_no_consent(
    client: httpx.AsyncClient, member: dict[str, str]
) -> None:
    assert await read(client, member) == DEFAULTS


@pytest.mark.parametrize("role", ["customer", "seller", "admin"])
async def test_saved_preferences_read_back_for_every_role(
    client: httpx.AsyncClient, settings: Settings, role: Any
) -> None:
    headers = bearer(settings, f"{role}-7", role, seller_id="s-1" if role == "seller" else None)
    saved = await save(client, headers, ANN)
    assert without_times(saved) == ANN
    assert saved["consent_updated_at"] == saved["updated_at"] != None  # noqa: E711
    assert await read(client, headers) == saved
    assert await read(client, bearer(settings, "someone-else")) == DEFAULTS


async def test_put_replaces_the_whole_document(
    client: httpx.AsyncClient, member: dict[str, str]
) -> None:
    await save(client, member, ANN)
    saved = await save(client, member, {"marketing_consent": True})
    assert without_times(saved) == without_times(DEFAULTS) | {"marketing_consent": True}
    assert without_times(await read(client, member)) == without_times(saved)


async def test_consent_time_moves_only_when_consent_changes(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    refused = await save(client, member, {"marketing_consent": False, "name": "Ann"})
    assert refused["consent_updated_at"] is None
    await advance(client, settings, 60)
    given = await save(client, member, {**ANN})
    assert given["consent_updated_at"] == given["updated_at"] > refused["updated_at"]
    await advance(client, settings, 60)
    renamed = await save(client, member, {**ANN, "name": "Ann Lee-Smith"})
    assert renamed["consent_updated_at"] == given["consent_updated_at"]
    assert renamed["updated_at"] > given["updated_at"]
    await advance(client, settings, 60)
    withdrawn = await save(client, member, {**ANN, "marketing_consent": False})
    assert withdrawn["consent_updated_at"] == withdrawn["updated_at"] > renamed["updated_at"]


async def test_saving_the_same_document_again_changes_nothing(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    first = await save(client, member, ANN)
    await advance(client, settings, 60)
    assert await save(client, member, ANN) == first


async def test_email_and_name_are_sealed_at_rest_and_bound_to_their_member(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, member: dict[str, str]
) -> None:
    await save(client, member, ANN)
    database: Database = app.state.database
    async with database.engine.connect() as connection:
        row = (await connection.execute(text("SELECT * FROM customer_preferences"))).one()
    stored = repr(tuple(row)).encode() + b"".join(v for v in row if isinstance(v, bytes))
    for secret in ("ann.lee", "mail.example", "Ann Lee", "Ann"):
        assert secret.encode() not in stored
    keys = settings.keys
    assert key_id_of(row.email_sealed) == keys.primary
    assert keys.open(row.email_sealed.decode(), purpose="preferences", context="u-1") == EMAIL
    with pytest.raises(Unreadable):
        keys.open(row.email_sealed.decode(), purpose="preferences", context="u-2")


@pytest.mark.parametrize("method", ["GET", "PUT"])
async def test_preferences_need_a_signed_in_member(client: httpx.AsyncClient, method: str) -> None:
    guest = await client.post("/v1/cart")
    assert guest.status_code == 201, guest.text
    for headers in ({}, {"X-Cart-Token": guest.headers["X-Cart-Token"]}):
        response = await client.request(method, PREFERENCES, json=ANN, headers=headers)
        problem_of(response, 401, "unauthenticated")


@pytest.mark.parametrize(
    "change",
    [
        {"email": "no-at-sign.example.com"},
        {"email": "ann@localhost"},
        {"email": "ann lee@mail.example.com"},
        {"email": "ann@mail..example.com"},
        {"email": ".ann@mail.example.com"},
        {"email": "ann@mail.example.com\n"},
        {"email": "a" * 65 + "@mail.example.com"},
        {"email": "ann@" + ("d" * 63 + ".") * 4 + "com"},
        {"name": "Ann\x00Lee"},
        {"name": "Ann\nLee"},
        {"name": "Ann\u202eLee"},
        {"name": "A" * 101},
        {"name": "   "},
        {"channels": ["sms"]},
        {"channels": ["email", "email"]},
        {"channels": None},
        {"timezone": "Mars/Olympus_Mons"},
        {"timezone": "../../etc/passwd"},
        {"timezone": "Europe/Paris\x00"},
        {"marketing_consent": "true"},
        {"marketing_consent": 1},
        {"phone": "+33 1 23 45 67 89"},
    ],
)
async def test_invalid_preferences_are_refused(
    client: httpx.AsyncClient, member: dict[str, str], change: dict[str, Any]
) -> None:
    response = await client.put(PREFERENCES, json=ANN | change, headers=member)
    problem_of(response, 422, "validation_error")
    assert await read(client, member) == DEFAULTS


async def test_concurrent_first_saves_all_succeed(
    client: httpx.AsyncClient, member: dict[str, str]
) -> None:
    bodies = [{**ANN, "name": f"Ann {n}"} for n in range(8)]
    answers = await asyncio.gather(
        *(client.put(PREFERENCES, json=body, headers=member) for body in bodies)
    )
    assert [answer.status_code for answer in answers] == [200] * len(bodies)
    assert without_times(await read(client, member)) in bodies


async def test_posting_to_the_unsubscribe_link_withdraws_consent(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    method = "POST"
    given = await save(client, member, ANN)
    await advance(client, settings, 60)
    url = privacy.unsubscribe_url("http://cart.test", settings.keys, "u-1")
    response = await client.request(method, url, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200, response.text
    assert response.json() == {"unsubscribed": True}
    after = await read(client, member)
    assert without_times(after) == ANN | {"marketing_consent": False}
    assert after["consent_updated_at"] > given["consent_updated_at"]
    again = await client.request(method, url)
    assert again.status_code == 200, again.text
    assert await read(client, member) == after


async def test_unsubscribe_without_preferences_stores_the_refusal(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str]
) -> None:
    token = privacy.unsubscribe_token(settings.keys, "u-1")
    response = await client.post("/v1/unsubscribe", params={"token": token})
    assert response.status_code == 200, response.text
    stored = await read(client, member)
    assert without_times(stored) == without_times(DEFAULTS)
    assert stored["updated_at"] is not None


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_tampered_unsubscribe_token_is_refused(
    client: httpx.AsyncClient, settings: Settings, member: dict[str, str], method: str
) -> None:
    await save(client, member, ANN)
    token = privacy.unsubscribe_token(settings.keys, "u-1")
    flipped = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    for bad in (
        flipped,
        token[:-2],
        privacy.unsubscribe_token(key_ring("other:another-key"), "u-1"),
        "",
        "%%",
    ):
        response = await client.request(method, "/v1/unsubscribe", params={"token": bad})
        problem_of(response, 404, "invalid_unsubscribe_token")
    assert (await read(client, member))["marketing_consent"] is True


async def test_contacts_opens_many_members_in_one_query(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    members = [f"m-{n}" for n in range(5)]
    for n, user_id in enumerate(members):
        body = {**ANN, "email": f"m{n}@mail.example.com", "marketing_consent": n % 2 == 0}
        await save(client, bearer(settings, user_id), body)
    database: Database = app.state.database
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        async with database.read_session() as session:
            found = await privacy.contacts(
                session, keys=settings.keys, user_ids=[*members, "stranger"]
            )
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)
    assert len([s for s in statements if "customer_preferences" in s]) == 1
    assert found["m-3"] == privacy.Contact(
        "m-3", False, "m3@mail.example.com", "Ann Lee", ("email", "webhook"), "Europe/Paris"
    )
    assert [found[m].marketing_consent for m in members] == [True, False, True, False, True]
    assert found["stranger"] == privacy.Contact(
        "stranger", False, None, None, ("in_app", "email"), None
    )
