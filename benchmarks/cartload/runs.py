"""The measurements of a run: which scenarios at which connection counts, the guest carts they
work on, wrk's runs against the server and pgbench's against the database, with progress bars."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cartload import carts, drivers, stack
from cartload.options import Options

# Standard error, so that standard output carries only the report and can be redirected.
console = Console(stderr=True)


@dataclass(frozen=True)
class Measured:
    http_runs: list[dict[str, Any]]
    pgbench_runs: list[dict[str, Any]]
    lines_per_cart: float | None  # at the end; None when the database is not ours to read


@dataclass(frozen=True)
class Plan:
    http: tuple[tuple[str, int], ...]  # (scenario, connections), in the order they run
    pgbench_clients: tuple[int, ...]


def build_plan(options: Options) -> Plan:
    """The mix at every connection count; view and add at the first only, unless --full-grid.
    pgbench at the add's counts (or the first count when add is not run)."""
    first = options.connections[:1]
    http = []
    for scenario in options.scenarios:
        counts = options.connections if scenario == "mix" or options.full_grid else first
        http += [(scenario, connections) for connections in counts]
    add_counts = [c for scenario, c in http if scenario == "add"]
    return Plan(tuple(http), tuple(add_counts) or first)


class Steps:
    """Two bars: the measurements done so far, and the seconds of the current one."""

    def __init__(self, progress: Progress, total: int) -> None:
        self.progress = progress
        self.overall = progress.add_task("measurements", total=total)
        self.current = progress.add_task("", total=1)

    def start(self, label: str, seconds: float) -> None:
        self.progress.reset(self.current, total=seconds, description=label)

    def tick(self, elapsed: float) -> None:
        self.progress.update(self.current, completed=elapsed)

    def finish(self) -> None:
        self.progress.advance(self.overall)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def make_cart_data(url: str, options: Options, folder: Path) -> Path:
    """Guest carts through the API, written where the wrk script reads them."""
    rng = random.Random(options.seed)
    pairs = asyncio.run(carts.addable_pairs(url, pool=options.pool, rng=rng))
    with _progress() as progress:
        task = progress.add_task("making guest carts", total=options.carts)
        made = asyncio.run(
            carts.make_carts(
                url,
                pairs,
                count=options.carts,
                concurrency=options.concurrency,
                rng=rng,
                advance=lambda: progress.advance(task),
            )
        )
    data = folder / "carts.txt"
    carts.write_data(data, made, pairs)
    console.log(f"{len(made):,} guest carts over {len(pairs)} variants -> {data.name}")
    return data


def drive_http(url: str, data: Path, options: Options, plan: Plan) -> list[dict[str, Any]]:
    """Every scenario of the plan, run after run (so drift in a shared machine spreads over all
    of them), each after a short warm-up at the same connection count."""
    run = drivers.WrkRun(url, data, options.threads, options.timeout, options.statuses)
    results = []
    with _progress() as progress:
        steps = Steps(progress, options.runs * len(plan.http))
        for number in range(1, options.runs + 1):
            for scenario, connections in plan.http:
                label = f"{scenario} @{connections} run {number}/{options.runs}"
                if options.warmup > 0:
                    drivers.drain(url)
                    steps.start(f"{label} (warm-up)", options.warmup)
                    drivers.wrk(run, scenario, connections, options.warmup, steps.tick)
                waited = drivers.drain(url)
                if waited > 1:
                    console.log(f"waited {waited:.1f} s for the server to finish earlier requests")
                steps.start(label, options.duration)
                figures = drivers.wrk(run, scenario, connections, options.duration, steps.tick)
                steps.finish()
                console.log(
                    f"{label}: {figures['rps']:,.0f} req/s, p99 {figures['p99_ms']:,.0f} ms, "
                    f"non-2xx {figures['non_2xx']}, socket errors {sum(figures['errors'].values())}"
                )
                results.append(
                    {"scenario": scenario, "connections": connections, "run": number}
                    | {"figures": figures}
                )
    return results


def drive_pgbench(dsn: str, options: Options, plan: Plan) -> list[dict[str, Any]]:
    """The add-to-cart transaction straight against PostgreSQL, at the add's client counts
    (capped by --pgbench-max-clients and by the connections PostgreSQL has free)."""
    cart_count, pair_count = drivers.make_helper_tables(dsn)
    most = options.pgbench_max_clients
    caps = {n: drivers.pgbench_client_cap(dsn, min(n, most)) for n in plan.pgbench_clients}
    # The measured checkout's own transaction: it follows that code's schema.
    script = drivers.PGBENCH_SCRIPT
    if options.target is None:
        script = options.project_dir / "benchmarks" / script.name
    results = []
    try:
        with _progress() as progress:
            steps = Steps(progress, options.runs * len(caps))
            for number in range(1, options.runs + 1):
                for asked, clients in caps.items():
                    label = f"pgbench -c {clients} run {number}/{options.runs}"
                    steps.start(label, options.duration)
                    figures = drivers.pgbench(
                        dsn,
                        clients,
                        options.duration,
                        carts=cart_count,
                        pairs=pair_count,
                        threads=options.threads,
                        script=script,
                        tick=steps.tick,
                    )
                    steps.finish()
                    console.log(f"{label}: {figures['tps']:,.0f} txn/s")
                    results.append(
                        {"asked": asked, "clients": clients, "run": number, "figures": figures}
                    )
    finally:
        drivers.drop_helper_tables(dsn)
    return results


def ceiling(dsn: str, options: Options, plan: Plan) -> list[dict[str, Any]]:
    """pgbench's runs; a failure there is shown but keeps the HTTP figures already measured."""
    try:
        return drive_pgbench(dsn, options, plan)
    except (RuntimeError, TimeoutError, OSError) as error:
        console.print(f"[red]pgbench failed, so there is no ceiling:[/red] {error}")
        return []


def _log_tail(log: Path, lines: int = 40) -> None:
    if log.exists():
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        console.print("[yellow]server output, last lines:[/yellow]\n" + "\n".join(tail))


def run_local(options: Options, plan: Plan, folder: Path) -> Measured:
    """A throwaway database and a server of our own, measured and then both gone."""
    project = stack.Project(options.project_dir)
    with stack.throwaway_database(options.database, folder) as database:
        with console.status("migrating and seeding the throwaway database"):
            stack.prepare(project, database)
        log = folder / "server.log"
        serving = stack.running_server(
            project, database, workers=options.workers, command=options.server_command, log=log
        )
        try:
            with serving as url:
                console.log(f"serving {database.kind} at {url}")
                data = make_cart_data(url, options, folder)
                http_runs = drive_http(url, data, options, plan)
        except Exception:
            _log_tail(log)
            raise
        lines = stack.lines_per_cart(database)
        # The server is stopped by now: pgbench has the database and the cores to itself.
        pgbench_runs = []
        if database.kind == "postgresql" and options.pgbench:
            pgbench_runs = ceiling(database.dsn, options, plan)
    return Measured(http_runs, pgbench_runs, lines)


def run_target(options: Options, plan: Plan, folder: Path) -> Measured:
    """A server someone else started (HAProxy in front of several, say). Its catalog is left as
    it is; pgbench runs only when --database-url says which database it serves."""
    target = str(options.target)
    stack.wait_ready(target, None)
    http_runs = drive_http(target, make_cart_data(target, options, folder), options, plan)
    pgbench_runs = []
    if options.database_url and options.pgbench:
        pgbench_runs = ceiling(stack.asyncpg_dsn(options.database_url), options, plan)
    return Measured(http_runs, pgbench_runs, None)
