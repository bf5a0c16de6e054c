"""Fixtures shared by the API tests."""

from __future__ import annotations

import pytest

from aimall_cart.config import Settings
from tests.builders import bearer


@pytest.fixture
def member(settings: Settings) -> dict[str, str]:
    return bearer(settings, "u-1")
