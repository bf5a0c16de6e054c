"""Two real server processes on one database, under a concurrent add/update/remove load.

Every acknowledged change carries the cart version it produced. Replaying the acknowledged
changes in version order must give each acknowledged cart and the final one, with versions rising
by exactly one per acknowledgement: nothing lost, nothing applied twice, nothing applied unseen.
"""

from __future__ import annotations

import asyncio
import os
import random
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from aimall_cart.config import Settings
from tests.builders import admin, bearer, make_product, make_variant
from tests.ports import free_port

MEMBERS = 6
OPERATIONS = 360
CONCURRENCY = 24
PRODUCTS = ("nut", "washer", "gear")
REFUSALS = {404, 503}  # a line removed by a racing request; a busy database


@contextmanager
def start_servers(
    database_url: str,
    count: int,
    settings: Mapping[str, str] | None = None,
    *,
    options: Sequence[str] = (),
    verify: ssl.SSLContext | None = None,
) -> Iterator[list[str]]:
    """``count`` server processes on one database, with ``settings`` added to their environment
    and ``options`` to their command; their base URLs once each answers (HTTPS, checked with
    ``verify``, when that is given), and every one stopped on the way out."""
    env = {
        **os.environ,
        "AIMALL_CART_DATABASE_URL": database_url,
        "AIMALL_CART_ENV": "test",
        **(settings or {}),
    }
    ports = [free_port() for _ in range(count)]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aimall_cart",
                "serve",
                "--port",
                str(port),
                "--workers",
                "1",
                "--no-migrate",
                *options,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for port in ports
    ]
    scheme = "http" if verify is None else "https"
    urls = [f"{scheme}://127.0.0.1:{port}" for port in ports]
    try:
        for url, process in zip(urls, processes, strict=True):
            _wait_until_up(url, process, verify if verify is not None else True)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


@pytest.fixture
def servers(database_url: str) -> Iterator[list[str]]:
    with start_servers(database_url, 2) as urls:
        yield urls


def _wait_until_up(
    url: str, process: subprocess.Popen[bytes], verify: ssl.SSLContext | bool = True
) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited: {process.stderr.read() if process.stderr else ''!r}"
            )
        try:
            if httpx.get(f"{url}/healthz", timeout=1, verify=verify).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not come up")


@dataclass
class Ack:
    version: int
    op: str
    product: str
    quantity: int
    items: dict[str, int]


@dataclass
class Member:
    headers: dict[str, str]
    start_version: int = 0
    item_ids: dict[str, str] = field(default_factory=dict)
    acks: list[Ack] = field(default_factory=list)


def _items(cart: dict[str, Any]) -> dict[str, int]:
    return {item["product_id"]: item["quantity"] for item in cart["items"]}


async def _one_operation(client: httpx.AsyncClient, member: Member, rng: random.Random) -> None:
    product = rng.choice(PRODUCTS)
    item_id = member.item_ids.get(product)
    roll = rng.random()
    if roll < 0.6 or item_id is None:
        op, quantity = "add", 1
        answer = await client.post(
            "/v1/cart/items", json={"product_id": product, "quantity": 1}, headers=member.headers
        )
    elif roll < 0.8:
        op, quantity = "set", rng.randint(1, 5)
        answer = await client.patch(
            f"/v1/cart/items/{item_id}", json={"quantity": quantity}, headers=member.headers
        )
    else:
        op, quantity = "remove", 0
        answer = await client.delete(f"/v1/cart/items/{item_id}", headers=member.headers)
    if answer.status_code in REFUSALS:
        return
    assert answer.status_code in (200, 201), answer.text
    cart = answer.json()
    for item in cart["items"]:
        member.item_ids[item["product_id"]] = item["id"]
    member.acks.append(Ack(cart["version"], op, product, quantity, _items(cart)))


def _replay(member: Member, final: dict[str, Any]) -> None:
    model: dict[str, int] = {}
    versions = [ack.version for ack in sorted(member.acks, key=lambda a: a.version)]
    assert versions == list(range(member.start_version + 1, final["version"] + 1))
    for ack in sorted(member.acks, key=lambda a: a.version):
        if ack.op == "add":
            model[ack.product] = model.get(ack.product, 0) + 1
        elif ack.op == "set":
            model[ack.product] = ack.quantity
        else:
            model.pop(ack.product, None)
        assert ack.items == model, f"after version {ack.version}"
    assert _items(final) == model


async def test_two_servers_lose_no_acknowledged_change(
    servers: list[str], settings: Settings
) -> None:
    rng = random.Random(7)
    clients = [httpx.AsyncClient(base_url=url, timeout=60) for url in servers]
    try:
        for product in PRODUCTS:
            body = make_product(
                make_variant(f"{product}-1", stock=100_000), max_quantity=10_000, name=product
            )
            answer = await clients[0].put(
                f"/v1/catalog/products/{product}", json=body, headers=admin(settings)
            )
            assert answer.status_code == 201, answer.text
        members = [Member(bearer(settings, f"two-servers-{n}")) for n in range(MEMBERS)]
        for member in members:
            member.start_version = (
                await clients[1].post("/v1/cart", headers=member.headers)
            ).json()["version"]
        gate = asyncio.Semaphore(CONCURRENCY)

        async def run(index: int) -> None:
            async with gate:
                await _one_operation(clients[index % 2], members[index % MEMBERS], rng)

        await asyncio.gather(*(run(i) for i in range(OPERATIONS)))
        for member in members:
            final = (await clients[0].get("/v1/cart", headers=member.headers)).json()
            _replay(member, final)
        assert sum(len(m.acks) for m in members) >= OPERATIONS * 0.8
    finally:
        for client in clients:
            await client.aclose()
