"""/metrics under `serve --workers 2`: whichever server process answers, the totals are the same,
and they are the sum of what each process counted."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.databases import PostgresTemplate
from tests.ports import free_port

pytestmark = pytest.mark.postgres

REQUESTS = 60
BURST = 128
ROUTE = "/v1/catalog/products/{product_id}"


@pytest.fixture
async def postgres_url(postgres_template: PostgresTemplate) -> AsyncIterator[str]:
    """PostgreSQL only: on SQLite `serve` keeps to one process."""
    url = await postgres_template.new()
    yield url
    await postgres_template.drop(url)


@pytest.fixture
def two_processes(postgres_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    folder = tmp_path / "metrics"
    port = free_port()
    env = {
        **os.environ,
        "AIMALL_CART_DATABASE_URL": postgres_url,
        "AIMALL_CART_ENV": "test",
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
    }
    command = [sys.executable, "-m", "aimall_cart", "serve", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--workers", "2", "--no-migrate", "--no-worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_both(url, server, folder)
        yield url, folder
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_for_both(url: str, server: subprocess.Popen[bytes], folder: Path) -> None:
    """Up, with both server processes' counter files in the shared folder."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"serve exited: {server.stderr.read() if server.stderr else ''!r}")
        try:
            up = httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            up = False
        if up and len(list(folder.glob("counter_*.db"))) >= 2:
            return
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not come up with two processes")


def _route_count(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "aimall_cart_http_requests_total" and sample.labels["route"] == ROUTE
    )


def _counted_by_each_process(folder: Path, scratch: Path) -> list[float]:
    """What each process's own file holds, read alone."""
    counts = []
    for path in sorted(folder.glob("counter_*.db")):
        alone = scratch / path.stem
        alone.mkdir()
        shutil.copy(path, alone / path.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))  # type: ignore[no-untyped-call]
        counts.append(
            sum(
                sample.value
                for family in registry.collect()
                for sample in family.samples
                if sample.name == "aimall_cart_http_requests_total"
                and sample.labels["route"] == ROUTE
            )
        )
    return counts


async def _on_a_new_connection(url: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return await client.get(path)


async def test_every_process_answers_metrics_with_the_same_totals(
    two_processes: tuple[str, Path], tmp_path: Path
) -> None:
    url, folder = two_processes
    answers = await asyncio.gather(
        *(_on_a_new_connection(url, f"/v1/catalog/products/p-{n}") for n in range(REQUESTS))
    )
    assert {answer.status_code for answer in answers} == {404}
    scrapes = await asyncio.gather(*(_on_a_new_connection(url, "/metrics") for _ in range(12)))
    assert {_route_count(scrape.text) for scrape in scrapes} == {REQUESTS}
    per_process = _counted_by_each_process(folder, tmp_path)
    assert sum(per_process) == REQUESTS
    assert len([count for count in per_process if count > 0]) == 2, per_process


async def test_new_connections_are_spread_over_the_processes(
    two_processes: tuple[str, Path], tmp_path: Path
) -> None:
    """Each process listens on a socket of its own, so the kernel spreads a burst of connections
    over them by address, about evenly. Off one shared socket, whichever process woke first
    accepted most of the burst."""
    url, folder = two_processes
    answers = await asyncio.gather(
        *(_on_a_new_connection(url, f"/v1/catalog/products/p-{n}") for n in range(BURST))
    )
    assert {answer.status_code for answer in answers} == {404}
    per_process = _counted_by_each_process(folder, tmp_path)
    assert sum(per_process) == BURST
    assert min(per_process) >= BURST / 2 - 4 * (BURST / 4) ** 0.5, per_process  # 4 sd below even
