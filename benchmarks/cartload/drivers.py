"""The load generators: wrk for HTTP (with benchmarks/wrk/cart.lua) and pgbench for the
database's own ceiling (with benchmarks/pgbench_add.sql)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import asyncpg
import httpx

BENCHMARKS = Path(__file__).resolve().parent.parent
WRK_SCRIPT = BENCHMARKS / "wrk" / "cart.lua"
PGBENCH_SCRIPT = BENCHMARKS / "pgbench_add.sql"
RESULT_PREFIX = "CART_LOAD_RESULT "
# Connections pgbench leaves free under max_connections, for whoever else needs one meanwhile.
PGBENCH_HEADROOM = 5


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(f"{name} is not on PATH")
    return path


@dataclass(frozen=True)
class WrkRun:
    url: str
    data: Path
    threads: int
    timeout_seconds: float
    statuses: bool = False


def _run(
    argv: list[str],
    seconds: float,
    tick: Callable[[float], None],
    env: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    """Run a load generator, reporting elapsed seconds; one that overruns is killed. Output goes
    to files, not pipes, so a chatty failure cannot fill a pipe and stall it."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(argv, stdout=out, stderr=err, text=True, env=env)
        started = time.monotonic()
        try:
            while process.poll() is None:
                elapsed = time.monotonic() - started
                tick(elapsed)
                if elapsed > seconds:
                    raise TimeoutError(f"{argv[0]} ran past {seconds:.0f} s")
                time.sleep(0.25)
        except BaseException:
            # Overrun, Ctrl+C or SIGTERM: the load stops with us, not at the end of its run.
            process.kill()
            process.wait(timeout=10)
            raise
        out.seek(0)
        err.seek(0)
        return process.returncode, out.read(), err.read()


def wrk(
    run: WrkRun,
    scenario: str,
    connections: int,
    seconds: float,
    tick: Callable[[float], None] = lambda _: None,
) -> dict[str, Any]:
    """One wrk run; answers the figures the Lua script's done() printed."""
    threads = min(run.threads, connections)
    argv = [tool("wrk"), f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s"]
    argv += ["--timeout", f"{run.timeout_seconds:g}s", "-s", str(WRK_SCRIPT), run.url]
    argv += ["--", str(run.data), scenario, *(["statuses"] if run.statuses else [])]
    code, out, err = _run(argv, seconds + 60, tick)
    for line in out.splitlines():
        if line.startswith(RESULT_PREFIX):
            figures: dict[str, Any] = json.loads(line.removeprefix(RESULT_PREFIX))
            return figures
    raise RuntimeError(f"wrk printed no result (exit {code}):\n{out}{err}")


def drain(url: str, seconds: float = 120) -> float:
    """Wait until the server has worked off what the last wrk run left in flight (its requests
    stay queued after wrk hangs up), so it does not count against the next measurement: one
    ``/healthz`` queues behind them. Answers how long that took."""
    started = time.monotonic()
    with contextlib.suppress(httpx.HTTPError):
        httpx.get(f"{url}/healthz", timeout=seconds, trust_env=False)
    return time.monotonic() - started


async def _fetch(dsn: str, sql: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(dsn)
    try:
        return list(await connection.fetch(sql))
    finally:
        await connection.close()


async def _execute(dsn: str, sql: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


_HELPER_TABLES = """
DROP TABLE IF EXISTS bench_carts, bench_pairs;
CREATE TABLE bench_carts AS
    SELECT (row_number() OVER (ORDER BY id))::int AS n, id AS cart_id
      FROM carts WHERE status = 'active';
ALTER TABLE bench_carts ADD PRIMARY KEY (n);
CREATE TABLE bench_pairs AS
    SELECT (row_number() OVER (ORDER BY product_id, variant_id))::int AS n,
           product_id, variant_id, line_key
      FROM (SELECT DISTINCT product_id, variant_id, line_key FROM cart_items) AS lines;
ALTER TABLE bench_pairs ADD PRIMARY KEY (n);
ANALYZE bench_carts, bench_pairs;
"""


def make_helper_tables(dsn: str) -> tuple[int, int]:
    """bench_carts and bench_pairs, numbered so pgbench can pick a random cart and variant."""
    asyncio.run(_execute(dsn, _HELPER_TABLES))
    rows = asyncio.run(
        _fetch(dsn, "SELECT (SELECT count(*) FROM bench_carts), (SELECT count(*) FROM bench_pairs)")
    )
    return int(rows[0][0]), int(rows[0][1])


def drop_helper_tables(dsn: str) -> None:
    asyncio.run(_execute(dsn, "DROP TABLE IF EXISTS bench_carts, bench_pairs"))


def pgbench_client_cap(dsn: str, most: int) -> int:
    """As many clients as asked, at most ``most``, and never more than PostgreSQL has free."""
    rows = asyncio.run(
        _fetch(
            dsn,
            "SELECT current_setting('max_connections')::int"
            " - current_setting('superuser_reserved_connections')::int"
            " - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')",
        )
    )
    return max(1, min(most, int(rows[0][0]) - PGBENCH_HEADROOM))


def _pgbench_figures(out: str) -> dict[str, Any]:
    def number(pattern: str) -> float | None:
        found = re.search(pattern, out)
        return float(found.group(1)) if found else None

    return {
        "tps": number(r"tps = ([\d.]+)"),
        "latency_avg_ms": number(r"latency average = ([\d.]+) ms"),
        "transactions": number(r"number of transactions actually processed: (\d+)"),
        "failed": number(r"number of failed transactions: (\d+)") or 0,
    }


def pgbench(
    dsn: str,
    clients: int,
    seconds: float,
    *,
    carts: int,
    pairs: int,
    threads: int,
    script: Path,
    tick: Callable[[float], None] = lambda _: None,
) -> dict[str, Any]:
    """One pgbench run of ``script`` (pgbench_add.sql); prepared statements, as the service's
    driver uses."""
    url = urlsplit(dsn)
    argv = [tool("pgbench"), "-n", "-M", "prepared", "-c", str(clients)]
    argv += ["-j", str(min(threads, clients)), "-T", str(round(seconds))]
    argv += ["-D", f"carts={carts}", "-D", f"pairs={pairs}", "-f", str(script)]
    argv += ["-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432)]
    argv += ["-U", unquote(url.username or "postgres"), url.path.lstrip("/")]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = unquote(url.password)
    code, out, err = _run(argv, seconds + 120, tick, env)
    figures = _pgbench_figures(out)
    if code != 0 or figures["tps"] is None:
        raise RuntimeError(f"pgbench failed (exit {code}):\n{out}{err[-2000:]}")
    return figures
