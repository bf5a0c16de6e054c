"""The recovery policy over HTTP: versioned, validated, for admins, and a GET can be sent back."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from aimall_cart.config import Settings
from tests.answers import problem_of
from tests.builders import admin, bearer
from tests.recovery_steps import set_policy

POLICY = "/v1/admin/recovery/policy"


@pytest.fixture
def app(clocked_app: FastAPI) -> FastAPI:
    return clocked_app


async def _read(client: httpx.AsyncClient, settings: Settings) -> dict[str, Any]:
    response = await client.get(POLICY, headers=admin(settings))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_policy_is_versioned_validated_and_for_admins(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    first = await _read(client, settings)
    assert (first["version"], first["enabled"], first["updated_at"]) == (0, True, None)
    saved = await set_policy(client, settings, max_discount_percent=10)
    assert (saved["version"], saved["max_discount_percent"]) == (1, 10)
    reread = await _read(client, settings)
    assert reread == saved

    for bad in (
        {"holdout_percent": 60, "baseline_percent": 50},
        {"channels": ["sms"]},
        {"inactivity_minutes": 0},
        {"quiet_hours": {"start_hour": 24, "end_hour": 3}},
        {"surprise": True},
    ):
        response = await client.put("/v1/admin/recovery/policy", json=bad, headers=admin(settings))
        problem_of(response, 422, "validation_error")
    problem_of(
        await client.put("/v1/admin/recovery/policy", json={}, headers=bearer(settings, "u-1")),
        403,
        "forbidden",
    )
    problem_of(await client.post("/v1/admin/recovery/run"), 401, "unauthenticated")


async def test_a_policy_read_can_be_sent_back_with_one_field_changed(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    for expected in (1, 2):  # from the defaults, then from a saved policy
        read = await _read(client, settings)
        response = await client.put(
            POLICY, json={**read, "max_discount_percent": 20 + expected}, headers=admin(settings)
        )
        assert response.status_code == 200, response.text
        saved = response.json()
        assert saved["version"] == expected
        assert saved["max_discount_percent"] == 20 + expected
        assert saved["updated_at"] is not None
        unchanged = {k: v for k, v in read.items() if k not in ("version", "updated_at")}
        assert {**unchanged, "max_discount_percent": 20 + expected} == {
            k: v for k, v in saved.items() if k not in ("version", "updated_at")
        }
    assert await _read(client, settings) == saved


async def test_a_stale_policy_version_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    stale = await _read(client, settings)
    await set_policy(client, settings, max_discount_percent=5)
    current = await _read(client, settings)

    response = await client.put(
        POLICY, json={**stale, "max_discount_percent": 30}, headers=admin(settings)
    )

    problem = problem_of(response, 412, "version_mismatch")
    assert problem["current_version"] == current["version"] == 1
    assert await _read(client, settings) == current
    for bad in ({"version": -1}, {"version": "1"}, {"updated_at": "yesterday"}):
        problem_of(
            await client.put(POLICY, json=bad, headers=admin(settings)), 422, "validation_error"
        )


async def test_updated_at_is_ignored_and_version_is_optional(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.put(
        POLICY,
        json={"updated_at": "2001-01-01T00:00:00Z", "inactivity_minutes": 30},
        headers=admin(settings),
    )

    assert response.status_code == 200, response.text
    saved = response.json()
    assert saved["version"] == 1
    assert not saved["updated_at"].startswith("2001")
