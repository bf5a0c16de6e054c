"""Fixtures shared by the API tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from aimall_cart.app import create_app
from aimall_cart.config import Settings
from tests.builders import bearer


@pytest.fixture
def member(settings: Settings) -> dict[str, str]:
    return bearer(settings, "u-1")


@pytest.fixture
async def clocked_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The application with the admin test clock on."""
    app = create_app(settings.model_copy(update={"test_clock": True}))
    yield app
    await app.state.database.dispose()


@pytest.fixture
async def clocked(clocked_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=clocked_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cart.test") as client:
        yield client
