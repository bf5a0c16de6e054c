"""Add-to-cart latency under concurrent clients, against a real server process.

Makes a throwaway PostgreSQL (or SQLite) database, serves it with ``aimall-cart serve``, gives each
client its own member cart, and times ``POST /v1/cart/items`` from every client at once. Prints
the median, p95 and p99 latency and the throughput. Loopback only; bounded in requests.

    .venv/bin/python benchmarks/add_to_cart.py --clients 64 --requests 40
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

from aimall_cart import migrate
from aimall_cart.auth import issue_token
from aimall_cart.config import Settings

ADMIN_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
PRODUCTS = 50


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _headers(settings: Settings, sub: str, role: str = "customer") -> dict[str, str]:
    token = issue_token(
        settings,
        sub=sub,
        role=role,
        now=datetime.now(UTC),
        ttl=timedelta(hours=2),  # type: ignore[arg-type]
    )
    return {"Authorization": f"Bearer {token}"}


async def _seed(client: httpx.AsyncClient, settings: Settings) -> None:
    admin = _headers(settings, "bench-admin", "admin")
    for n in range(PRODUCTS):
        body = {
            "seller_id": "bench-seller",
            "name": f"Bench product {n}",
            "currency": "USD",
            "max_quantity": 10_000,
            "variants": [{"variant_id": f"b-{n}", "price": 1000 + n, "stock": 1_000_000}],
        }
        answer = await client.put(f"/v1/catalog/products/b{n}", json=body, headers=admin)
        answer.raise_for_status()


async def _client(
    client: httpx.AsyncClient, headers: dict[str, str], requests: int, rng: random.Random
) -> list[float]:
    timings = []
    for _ in range(requests):
        body = {"product_id": f"b{rng.randrange(PRODUCTS)}", "quantity": 1}
        started = time.perf_counter()
        answer = await client.post("/v1/cart/items", json=body, headers=headers)
        timings.append(time.perf_counter() - started)
        if answer.status_code not in (200, 201):
            raise RuntimeError(f"{answer.status_code}: {answer.text}")
    return timings


async def _measure(url: str, settings: Settings, clients: int, requests: int) -> list[float]:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        await _seed(client, settings)
        members = [_headers(settings, f"bench-{n}") for n in range(clients)]
        for headers in members:  # warm up: every member has a cart and a connection
            (await client.post("/v1/cart", headers=headers)).raise_for_status()
        rng = random.Random(1)
        results = await asyncio.gather(
            *(_client(client, h, requests, random.Random(rng.random())) for h in members)
        )
    return [t for timings in results for t in timings]


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process and its children so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _serve(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AIMALL_CART_DATABASE_URL": url,
        "AIMALL_CART_LOG_LEVEL": "warning",
        "AIMALL_CART_RATE_LIMIT_ENABLED": "false",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aimall_cart",
            "serve",
            "--port",
            str(port),
            "--no-migrate",
            "--workers",
            str(workers),
        ],
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.terminate()
    raise TimeoutError("the server did not come up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=40, help="per client")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    args = parser.parse_args()

    name = f"aimall_cart_bench_{uuid.uuid4().hex[:8]}"
    folder = tempfile.mkdtemp()
    if args.database == "postgresql":
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        base = ADMIN_DSN.rpartition("/")[0].replace("postgresql://", "postgresql+asyncpg://")
        url = f"{base}/{name}"
    else:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
    try:
        migrate.upgrade(url)
        port = _free_port()
        server = _serve(url, port, args.workers)
        try:
            settings = Settings(_env_file=None)  # type: ignore[call-arg]
            timings = asyncio.run(
                _measure(f"http://127.0.0.1:{port}", settings, args.clients, args.requests)
            )
            server_cpu = _cpu_seconds(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=10)
    finally:
        if args.database == "postgresql":
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    timings.sort()
    total = sum(timings) / args.clients

    def pct(p: float) -> float:
        return timings[min(len(timings) - 1, int(p * len(timings)))] * 1000

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"database: {args.database}, server processes: {args.workers}")
    print(f"clients: {args.clients}")
    print(f"requests: {len(timings)}")
    median = statistics.median(timings) * 1000
    print(f"p50 {median:.1f} ms  p95 {pct(0.95):.1f} ms  p99 {pct(0.99):.1f} ms")
    print(f"throughput ~{len(timings) / total:.0f} requests/s")
    per_request = server_cpu * 1000 / len(timings)
    print(f"server CPU (whole run, seeding included): {per_request:.1f} ms per request")


if __name__ == "__main__":
    main()
