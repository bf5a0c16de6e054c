"""Rate limits hold across two server processes that share their counters through Redis."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
import redis

from tests.databases import IN_CI
from tests.integration.test_two_servers import start_servers

REDIS_URL = os.environ.get("AIMALL_CART_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PER_MINUTE = 6


@pytest.fixture
def shared_counters() -> Iterator[str]:
    """A Redis database of the tests' own, emptied so that no earlier run's counts remain."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    except redis.ConnectionError as exc:
        if IN_CI:
            pytest.fail(f"CI requires Redis at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} is not reachable: {exc}")
    yield REDIS_URL
    client.flushdb()
    client.close()


def test_two_servers_sharing_redis_enforce_one_limit(
    database_url: str, shared_counters: str
) -> None:
    limits = {
        "AIMALL_CART_REDIS_URL": shared_counters,
        "AIMALL_CART_RATE_LIMIT_ENABLED": "true",
        "AIMALL_CART_RATE_LIMIT_ANONYMOUS_PER_MINUTE": str(PER_MINUTE),
    }
    with start_servers(database_url, 2, limits) as urls:
        answers = [
            httpx.get(f"{urls[n % 2]}/v1/catalog/products", timeout=30)
            for n in range(PER_MINUTE + 4)
        ]
    codes = [answer.status_code for answer in answers]
    assert codes == [200] * PER_MINUTE + [429] * 4, codes
    refused = answers[-1]
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_each_server_counts_alone_without_redis(database_url: str) -> None:
    limits = {
        "AIMALL_CART_RATE_LIMIT_ENABLED": "true",
        "AIMALL_CART_RATE_LIMIT_ANONYMOUS_PER_MINUTE": str(PER_MINUTE),
    }
    with start_servers(database_url, 2, limits) as urls:
        codes = [
            httpx.get(f"{urls[n % 2]}/v1/catalog/products", timeout=30).status_code
            for n in range(PER_MINUTE + 4)
        ]
    assert codes == [200] * (PER_MINUTE + 4), codes
