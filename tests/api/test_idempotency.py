"""``Idempotency-Key`` on every POST: one effect, the first response replayed, per caller."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from aimall_cart import idempotency, rotation
from aimall_cart.carts.models import Cart
from aimall_cart.config import Settings
from aimall_cart.crypto import Unreadable, key_id_of, key_ring, keyed_hash
from aimall_cart.db import Database
from aimall_cart.idempotency import IdempotencyRecord
from tests.answers import cart_of, problem_of, quantities_of
from tests.builders import admin, bearer, shirt

ITEMS = "/v1/cart/items"
RED_M = {"product_id": "shirt", "variant_id": "shirt-red-m", "quantity": 2}
REPLAYED = "Idempotent-Replayed"


def keyed(key: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    return {**(headers or {}), "Idempotency-Key": key}


def body_of(item: dict[str, Any]) -> bytes:
    return json.dumps(item).encode()


async def post(
    client: httpx.AsyncClient,
    path: str,
    headers: dict[str, str],
    body: bytes = b"",
) -> httpx.Response:
    """A POST of exactly these body bytes, so a test can fingerprint what was sent."""
    if body:
        headers = {**headers, "Content-Type": "application/json"}
    return await client.post(path, content=body, headers=headers)


def assert_replay_of(replay: httpx.Response, original: httpx.Response) -> None:
    assert REPLAYED not in original.headers
    assert replay.headers.get(REPLAYED) == "true", replay.text
    assert replay.status_code == original.status_code
    assert replay.content == original.content
    for header in ("ETag", "X-Cart-Token", "Content-Type"):
        assert replay.headers.get(header) == original.headers.get(header), header


async def quantities(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, int]:
    response = await client.get("/v1/cart", headers=headers)
    if response.status_code == 404:
        return {}
    return quantities_of(cart_of(response, 200))


async def cart_count(app: FastAPI) -> int:
    database: Database = app.state.database
    async with database.read_session() as session:
        return int(await session.scalar(select(func.count()).select_from(Cart)) or 0)


async def stored_keys(app: FastAPI) -> list[IdempotencyRecord]:
    database: Database = app.state.database
    async with database.read_session() as session:
        return list((await session.scalars(select(IdempotencyRecord))).all())


async def insert_claim(
    app: FastAPI,
    *,
    caller: str,
    key: str,
    path: str,
    body: bytes,
    now: datetime,
) -> None:
    """Claim a key as the middleware would for this request, as if it were still running."""
    settings: Settings = app.state.settings
    database: Database = app.state.database
    async with database.write_session() as session:
        outcome = await idempotency.claim(
            session,
            caller=caller,
            key=key,
            fingerprint=idempotency.fingerprint("POST", path, b"", body),
            now=now,
            ttl=timedelta(hours=settings.idempotency_ttl_hours),
            lock=timedelta(seconds=settings.idempotency_lock_seconds),
        )
        await session.commit()
    assert outcome == "started"


async def expire(app: FastAPI, key: str) -> None:
    database: Database = app.state.database
    async with database.write_session() as session:
        past = datetime.now(UTC) - timedelta(seconds=1)
        await session.execute(
            update(IdempotencyRecord).where(IdempotencyRecord.key == key).values(expires_at=past)
        )
        await session.commit()


# --- the key itself -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("", id="empty"),
        pytest.param("k" * 256, id="256-chars"),
        pytest.param("tab\tinside", id="control-char"),
        pytest.param("del\x7finside", id="delete-char"),
    ],
)
async def test_a_key_that_is_not_1_to_255_printable_chars_is_invalid_idempotency_key(
    client: httpx.AsyncClient, settings: Settings, app: FastAPI, key: str
) -> None:
    await shirt(client, settings)
    member = bearer(settings, "u-1")
    response = await post(client, ITEMS, keyed(key, member), body_of(RED_M))
    problem_of(response, 422, "invalid_idempotency_key")
    assert await quantities(client, member) == {}
    assert await stored_keys(app) == []


@pytest.mark.parametrize("key", ["k", "k" * 255, "order 42/add:shirt~!"])
async def test_a_key_of_1_to_255_printable_chars_is_accepted_and_replayed(
    client: httpx.AsyncClient, settings: Settings, key: str
) -> None:
    await shirt(client, settings)
    member = bearer(settings, "u-1")
    first = await post(client, ITEMS, keyed(key, member), body_of(RED_M))
    cart_of(first, 201)
    again = await post(client, ITEMS, keyed(key, member), body_of(RED_M))
    assert_replay_of(again, first)
    assert await quantities(client, member) == {"shirt-red-m": 2}


# --- replay: same key, caller and body ------------------------------------------------------


async def test_adding_an_item_twice_with_one_key_adds_the_quantity_once(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    member = bearer(settings, "u-1")
    first = await post(client, ITEMS, keyed("add-1", member), body_of(RED_M))
    created = cart_of(first, 201)
    assert created["items"][0]["quantity"] == 2
    again = await post(client, ITEMS, keyed("add-1", member), body_of(RED_M))
    assert_replay_of(again, first)
    assert await quantities(client, member) == {"shirt-red-m": 2}
    other_key = await post(client, ITEMS, keyed("add-2", member), body_of(RED_M))
    assert cart_of(other_key, 200)["items"][0]["quantity"] == 4
    assert REPLAYED not in other_key.headers


async def test_a_repeat_with_the_json_respaced_and_reordered_is_the_same_request(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    member = bearer(settings, "u-1")
    compact = b'{"product_id":"shirt","variant_id":"shirt-red-m","quantity":2}'
    spaced = b'{\n  "quantity" : 2,\n  "variant_id": "shirt-red-m",\t"product_id": "shirt"\n}\n'
    first = await post(client, ITEMS, keyed("k-1", member), compact)
    cart_of(first, 201)
    again = await post(client, ITEMS, keyed("k-1", member), spaced)
    assert_replay_of(again, first)
    assert await quantities(client, member) == {"shirt-red-m": 2}


async def test_anonymous_creations_with_one_key_are_never_replayed_and_share_no_token(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    first = await post(client, "/v1/cart", keyed("new-cart"))
    again = await post(client, "/v1/cart", keyed("new-cart"))
    created, other = cart_of(first, 201), cart_of(again, 201)
    assert REPLAYED not in again.headers
    assert first.headers["X-Cart-Token"] != again.headers["X-Cart-Token"]
    assert created["id"] != other["id"]
    assert await cart_count(app) == 2
    assert await stored_keys(app) == []


async def test_member_cart_creation_is_replayed_as_201_not_answered_200(
    client: httpx.AsyncClient, settings: Settings, app: FastAPI
) -> None:
    member = bearer(settings, "u-1")
    first = await post(client, "/v1/cart", keyed("open", member))
    created = cart_of(first, 201)
    again = await post(client, "/v1/cart", keyed("open", member))
    assert_replay_of(again, first)
    assert again.status_code == 201
    unkeyed = await post(client, "/v1/cart", member)
    assert cart_of(unkeyed, 200)["id"] == created["id"]
    assert await cart_count(app) == 1


async def test_a_guest_repeat_with_one_key_adds_once_to_the_guest_cart(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    guest = {"X-Cart-Token": (await post(client, "/v1/cart", {})).headers["X-Cart-Token"]}
    first = await post(client, ITEMS, keyed("g-add", guest), body_of(RED_M))
    cart_of(first, 201)
    again = await post(client, ITEMS, keyed("g-add", guest), body_of(RED_M))
    assert_replay_of(again, first)
    assert await quantities(client, guest) == {"shirt-red-m": 2}


async def test_a_replay_answers_the_first_etag_and_body_even_after_the_cart_moved_on(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    member = bearer(settings, "u-1")
    first = await post(client, ITEMS, keyed("add-1", member), body_of(RED_M))
    version = cart_of(first, 201)["version"]
    moved = await post(client, ITEMS, member, body_of({**RED_M, "quantity": 1}))
    assert cart_of(moved, 200)["version"] > version
    again = await post(client, ITEMS, keyed("add-1", member), body_of(RED_M))
    assert_replay_of(again, first)
    assert again.headers["ETag"] == f'"{version}"'
    assert await quantities(client, member) == {"shirt-red-m": 3}


async def test_a_refused_first_request_is_replayed_even_once_it_would_succeed(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings, stock=3)
    member = bearer(settings, "u-1")
    big = body_of({**RED_M, "quantity": 4})
    first = await post(client, ITEMS, keyed("too-many", member), big)
    assert problem_of(first, 409, "insufficient_stock")["available_quantity"] == 3
    restock = await client.patch(
        "/v1/catalog/variants/shirt-red-m", json={"stock": 10}, headers=admin(settings)
    )
    assert restock.status_code == 200, restock.text
    again = await post(client, ITEMS, keyed("too-many", member), big)
    assert_replay_of(again, first)
    problem_of(again, 409, "insufficient_stock")
    assert await quantities(client, member) == {}
    fresh = await post(client, ITEMS, keyed("too-many-2", member), big)
    assert cart_of(fresh, 201)["items"][0]["quantity"] == 4


# --- reuse with another request ------------------------------------------------------------


async def test_the_same_key_with_another_body_is_idempotency_key_reused_and_changes_nothing(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    member = bearer(settings, "u-1")
    cart_of(await post(client, ITEMS, keyed("k-1", member), body_of(RED_M)), 201)
    other = body_of({**RED_M, "quantity": 3})
    response = await post(client, ITEMS, keyed("k-1", member), other)
    problem_of(response, 422, "idempotency_key_reused")
    assert REPLAYED not in response.headers
    assert await quantities(client, member) == {"shirt-red-m": 2}
    replay = await post(client, ITEMS, keyed("k-1", member), body_of(RED_M))
    assert replay.headers.get(REPLAYED) == "true"


async def test_the_same_key_on_another_path_is_idempotency_key_reused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    member = bearer(settings, "u-1")
    cart_of(await post(client, "/v1/cart", keyed("k-1", member)), 201)
    await shirt(client, settings)
    response = await post(client, ITEMS, keyed("k-1", member), body_of(RED_M))
    problem_of(response, 422, "idempotency_key_reused")
    assert await quantities(client, member) == {}


# --- keys belong to their caller ------------------------------------------------------------


async def test_two_members_using_one_key_each_get_their_own_effect(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    alice, bob = bearer(settings, "u-alice"), bearer(settings, "u-bob")
    for member in (alice, bob):
        response = await post(client, ITEMS, keyed("shared", member), body_of(RED_M))
        assert REPLAYED not in response.headers
        assert cart_of(response, 201)["owner"]["type"] == "member"
    assert await quantities(client, alice) == {"shirt-red-m": 2}
    assert await quantities(client, bob) == {"shirt-red-m": 2}


async def test_two_guests_using_one_key_each_get_their_own_effect(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    guests = []
    for _ in range(2):
        token = (await post(client, "/v1/cart", {})).headers["X-Cart-Token"]
        guests.append({"X-Cart-Token": token})
    first = await post(client, ITEMS, keyed("shared", guests[0]), body_of(RED_M))
    second = await post(client, ITEMS, keyed("shared", guests[1]), body_of(RED_M))
    assert REPLAYED not in second.headers
    assert cart_of(second, 201)["id"] != cart_of(first, 201)["id"]
    for guest in guests:
        assert await quantities(client, guest) == {"shirt-red-m": 2}


async def test_anonymous_guest_and_member_callers_do_not_share_a_key(
    client: httpx.AsyncClient, settings: Settings, app: FastAPI
) -> None:
    anonymous = await post(client, "/v1/cart", keyed("shared"))
    guest = {"X-Cart-Token": anonymous.headers["X-Cart-Token"]}
    assert await stored_keys(app) == []
    member = bearer(settings, "u-1")
    as_guest = await post(client, "/v1/cart", keyed("shared", guest))
    as_member = await post(client, "/v1/cart", keyed("shared", member))
    for response in (anonymous, as_guest, as_member):
        assert REPLAYED not in response.headers
    assert cart_of(as_guest, 200)["id"] == cart_of(anonymous, 201)["id"]
    assert "X-Cart-Token" not in as_guest.headers
    assert cart_of(as_member, 201)["owner"] == {"type": "member", "user_id": "u-1"}
    assert await cart_count(app) == 2


# --- a repeat while the first still runs -----------------------------------------------------


def caller_of(settings: Settings, kind: str) -> tuple[str, dict[str, str]]:
    """The caller string the middleware derives, and the headers that make that caller."""
    if kind == "member":
        return "member:u-1", bearer(settings, "u-1")
    token = "guest-token-" + "x" * 32
    return "guest:" + keyed_hash(token, key=settings.token_hash_key), {"X-Cart-Token": token}


@pytest.mark.parametrize("kind", ["member", "guest"])
async def test_a_repeat_while_the_first_is_running_is_idempotency_in_progress(
    client: httpx.AsyncClient, settings: Settings, app: FastAPI, kind: str
) -> None:
    await shirt(client, settings)
    caller, headers = caller_of(settings, kind)
    body = body_of(RED_M)
    now = datetime.now(UTC)
    await insert_claim(app, caller=caller, key="busy", path=ITEMS, body=body, now=now)
    response = await post(client, ITEMS, keyed("busy", headers), body)
    problem_of(response, 409, "idempotency_in_progress")
    assert REPLAYED not in response.headers
    assert await cart_count(app) == 0
    [record] = await stored_keys(app)
    assert (record.status, record.response) == ("in_progress", None)


async def test_a_running_claim_does_not_block_another_callers_same_key(
    client: httpx.AsyncClient, settings: Settings, app: FastAPI
) -> None:
    await shirt(client, settings)
    body = body_of(RED_M)
    now = datetime.now(UTC)
    await insert_claim(app, caller="member:u-1", key="busy", path=ITEMS, body=body, now=now)
    other = bearer(settings, "u-2")
    response = await post(client, ITEMS, keyed("busy", other), body)
    cart_of(response, 201)
    assert await quantities(client, other) == {"shirt-red-m": 2}


async def test_a_running_claim_with_another_body_is_idempotency_key_reused(
    client: httpx.AsyncClient, settings: Settings, app: FastAPI
) -> None:
    await shirt(client, settings)
    now = datetime.now(UTC)
    await insert_claim(
        app, caller="member:u-1", key="busy", path=ITEMS, body=body_of(RED_M), now=now
    )
    member = bearer(settings, "u-1")
    response = await post(client, ITEMS, keyed("busy", member), body_of({**RED_M, "quantity": 1}))
    problem_of(response, 422, "idempotency_key_reused")


async def test_a_claim_whose_lock_has_passed_may_run_again(
    client: httpx.AsyncClient, settings: Settings, app: FastAPI
) -> None:
    await shirt(client, settings)
    body = body_of(RED_M)
    lock = timedelta(seconds=settings.idempotency_lock_seconds)
    started = datetime.now(UTC) - lock - timedelta(seconds=5)
    await insert_claim(app, caller="member:u-1", key="stale", path=ITEMS, body=body, now=started)
    [record] = await stored_keys(app)
    assert record.locked_until < datetime.now(UTC) < record.expires_at
    member = bearer(settings, "u-1")
    first = await post(client, ITEMS, keyed("stale", member), body)
    cart_of(first, 201)
    assert REPLAYED not in first.headers
    again = await post(client, ITEMS, keyed("stale", member), body)
    assert_replay_of(again, first)
    assert await quantities(client, member) == {"shirt-red-m": 2}


# --- expiry ---------------------------------------------------------------------------------


async def test_a_key_whose_record_expired_runs_afresh(
    client: httpx.AsyncClient, settings: Settings, app: FastAPI
) -> None:
    await shirt(client, settings)
    member = bearer(settings, "u-1")
    cart_of(await post(client, ITEMS, keyed("old", member), body_of(RED_M)), 201)
    await expire(app, "old")
    again = await post(client, ITEMS, keyed("old", member), body_of(RED_M))
    assert REPLAYED not in again.headers
    assert cart_of(again, 200)["items"][0]["quantity"] == 4
    replay = await post(client, ITEMS, keyed("old", member), body_of(RED_M))
    assert_replay_of(replay, again)


async def test_an_expired_key_may_be_used_with_another_body(
    client: httpx.AsyncClient, settings: Settings, app: FastAPI
) -> None:
    await shirt(client, settings)
    member = bearer(settings, "u-1")
    cart_of(await post(client, ITEMS, keyed("old", member), body_of(RED_M)), 201)
    await expire(app, "old")
    other = body_of({**RED_M, "variant_id": "shirt-blue-l", "quantity": 1})
    response = await post(client, ITEMS, keyed("old", member), other)
    assert cart_of(response, 201)["totals"]["item_count"] == 3
    assert await quantities(client, member) == {"shirt-red-m": 2, "shirt-blue-l": 1}


async def test_purge_expired_removes_only_expired_records_and_the_key_then_runs_afresh(
    client: httpx.AsyncClient, settings: Settings, app: FastAPI
) -> None:
    await shirt(client, settings)
    member = bearer(settings, "u-1")
    cart_of(await post(client, ITEMS, keyed("old", member), body_of(RED_M)), 201)
    cart_of(await post(client, ITEMS, keyed("new", member), body_of(RED_M)), 200)
    await expire(app, "old")
    database: Database = app.state.database
    async with database.write_session() as session:
        removed = await idempotency.purge_expired(session, now=datetime.now(UTC))
        await session.commit()
    assert removed == 1
    assert [r.key for r in await stored_keys(app)] == ["new"]
    replay = await post(client, ITEMS, keyed("new", member), body_of(RED_M))
    assert replay.headers.get(REPLAYED) == "true"
    afresh = await post(client, ITEMS, keyed("old", member), body_of(RED_M))
    assert REPLAYED not in afresh.headers
    assert cart_of(afresh, 200)["items"][0]["quantity"] == 6
    ttl = timedelta(hours=settings.idempotency_ttl_hours)
    async with database.write_session() as session:
        later = datetime.now(UTC) + ttl + timedelta(minutes=1)
        assert await idempotency.purge_expired(session, now=later) == 2
        await session.commit()
    assert await stored_keys(app) == []


async def test_a_record_is_kept_for_the_configured_ttl(
    client: httpx.AsyncClient, settings: Settings, app: FastAPI
) -> None:
    before = datetime.now(UTC)
    cart_of(await post(client, "/v1/cart", keyed("k-1", bearer(settings, "u-1"))), 201)
    after = datetime.now(UTC)
    [record] = await stored_keys(app)
    ttl = timedelta(hours=settings.idempotency_ttl_hours)
    assert before + ttl <= record.expires_at <= after + ttl
    assert record.status == "completed"


# --- storage --------------------------------------------------------------------------------


async def test_a_stored_response_is_sealed(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    await shirt(client, settings)
    guest = {"X-Cart-Token": (await post(client, "/v1/cart", {})).headers["X-Cart-Token"]}
    first = await post(client, ITEMS, keyed("add", guest), body_of(RED_M))
    added = cart_of(first, 201)
    [record] = await stored_keys(app)
    assert record.response is not None
    stored = bytes(record.response)
    assert added["id"].encode() not in stored
    assert b"shirt-red-m" not in stored
    assert_replay_of(await post(client, ITEMS, keyed("add", guest), body_of(RED_M)), first)


async def test_a_stored_response_names_the_primary_key_and_rotation_reseals_it(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    await shirt(client, settings)
    guest = {"X-Cart-Token": (await post(client, "/v1/cart", {})).headers["X-Cart-Token"]}
    first = await post(client, ITEMS, keyed("add", guest), body_of(RED_M))
    cart_of(first, 201)
    [record] = await stored_keys(app)
    assert record.response is not None
    old_ring = settings.keys
    assert key_id_of(bytes(record.response)) == old_ring.primary
    rotated = key_ring(f"k-new:{'n' * 40},{settings.data_keys}")
    tally = await rotation.rotate(
        app.state.database, rotated, [idempotency.RESEALER], batch_size=10
    )
    assert tally.resealed == {"idempotency_keys": 1}
    [record] = await stored_keys(app)
    assert record.response is not None
    assert key_id_of(bytes(record.response)) == "k-new"
    opened = idempotency.open_response(rotated, record.caller, record.key, record.response)
    assert opened["body"].encode("latin-1") == first.content
    with pytest.raises(Unreadable):
        idempotency.open_response(old_ring, record.caller, record.key, record.response)


async def test_a_replay_sealed_under_a_key_no_longer_in_the_ring_is_a_409_not_a_rerun(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    await shirt(client, settings)
    guest = {"X-Cart-Token": (await post(client, "/v1/cart", {})).headers["X-Cart-Token"]}
    cart_of(await post(client, ITEMS, keyed("add", guest), body_of(RED_M)), 201)
    [record] = await stored_keys(app)
    assert record.response is not None
    foreign = key_ring(f"gone:{'g' * 40}")
    opened = idempotency.open_response(settings.keys, record.caller, record.key, record.response)
    stored = idempotency.Stored(opened["status"], [], opened["body"].encode("latin-1"))
    database: Database = app.state.database
    async with database.write_session() as session:
        await session.execute(
            update(IdempotencyRecord).values(
                response=idempotency.seal_response(foreign, record.caller, record.key, stored)
            )
        )
        await session.commit()
    replay = await post(client, ITEMS, keyed("add", guest), body_of(RED_M))
    problem_of(replay, 409, "idempotency_replay_unreadable")
    assert await quantities(client, guest) == {"shirt-red-m": 2}


# --- GET ignores the header ----------------------------------------------------------------


@pytest.mark.parametrize("key", ["read-1", "", "k" * 300])
async def test_get_ignores_the_idempotency_key(
    client: httpx.AsyncClient, settings: Settings, app: FastAPI, key: str
) -> None:
    await shirt(client, settings)
    member = bearer(settings, "u-1")
    cart_of(await post(client, ITEMS, member, body_of(RED_M)), 201)
    first = await client.get("/v1/cart", headers=keyed(key, member))
    assert cart_of(first, 200)["items"][0]["quantity"] == 2
    cart_of(await post(client, ITEMS, member, body_of(RED_M)), 200)
    second = await client.get("/v1/cart", headers=keyed(key, member))
    assert REPLAYED not in second.headers
    assert cart_of(second, 200)["items"][0]["quantity"] == 4
    assert await stored_keys(app) == []


# --- races ----------------------------------------------------------------------------------


async def test_twenty_parallel_adds_with_one_key_have_exactly_one_effect(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings, stock=50)
    member = bearer(settings, "u-1")
    cart_of(await post(client, ITEMS, member, body_of({**RED_M, "quantity": 1})), 201)
    body = body_of(RED_M)
    answers = await asyncio.gather(
        *(post(client, ITEMS, keyed("race", member), body) for _ in range(20))
    )
    originals = [a for a in answers if a.status_code == 200 and REPLAYED not in a.headers]
    assert len(originals) == 1, [(a.status_code, a.text) for a in answers]
    [original] = originals
    assert cart_of(original, 200)["items"][0]["quantity"] == 3
    for answer in answers:
        if answer is original:
            continue
        if answer.status_code == 409:
            problem_of(answer, 409, "idempotency_in_progress")
        else:
            assert_replay_of(answer, original)
    assert await quantities(client, member) == {"shirt-red-m": 3}
    assert_replay_of(await post(client, ITEMS, keyed("race", member), body), original)


async def test_twenty_parallel_anonymous_creations_with_one_key_each_get_their_own_cart(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    answers = await asyncio.gather(*(post(client, "/v1/cart", keyed("race")) for _ in range(20)))
    assert all(a.status_code == 201 and REPLAYED not in a.headers for a in answers)
    assert len({a.headers["X-Cart-Token"] for a in answers}) == 20
    assert await cart_count(app) == 20


async def test_a_merge_key_reused_for_another_guest_cart_is_idempotency_key_reused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    member = bearer(settings, "u-merge-key")
    tokens = []
    for _ in range(2):
        answer = await client.post(ITEMS, json=RED_M)
        tokens.append(answer.headers["X-Cart-Token"])
    first = await client.post(
        "/v1/cart/merge", headers=keyed("m", {**member, "X-Cart-Token": tokens[0]})
    )
    assert first.status_code == 200, first.text
    second = await client.post(
        "/v1/cart/merge", headers=keyed("m", {**member, "X-Cart-Token": tokens[1]})
    )
    problem_of(second, 422, "idempotency_key_reused")
    assert (await client.get("/v1/cart", headers={"X-Cart-Token": tokens[1]})).status_code == 200
