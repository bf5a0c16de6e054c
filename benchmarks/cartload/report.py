"""Machine facts, medians over runs, the table, and the JSON record of a run."""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import subprocess
import sys
from collections import defaultdict
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from rich.console import Console
from rich.table import Table

from cartload.options import Options
from cartload.runs import Measured
from cartload.stack import Project

HTTP_FIGURES = ("rps", "p50_ms", "p99_ms", "max_ms", "socket_errors", "non_2xx")


def _first_line(argv: list[str], *, any_exit: bool = False) -> str | None:
    """The first line a command prints; ``any_exit`` for tools such as ``wrk -v`` that print
    their version and then exit 1."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text and (done.returncode == 0 or any_exit) else None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _memory_gib() -> float | None:
    try:
        total_kib = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return round(total_kib / 2**20, 1)


async def _postgres_version(dsn: str) -> str:
    connection = await asyncpg.connect(dsn)
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


def _commit(root: Path) -> str | None:
    """The measured checkout's commit, marked when tracked files differ from it."""
    head = _first_line(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
    if head is None:
        return None
    changed = _first_line(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"])
    return f"{head}+changes" if changed else head


def machine_facts(project: Project | None, dsn: str | None) -> dict[str, Any]:
    server_python = project.bin / "python" if project else None
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "server_python": _first_line([str(server_python), "-V"]) if server_python else None,
        "postgresql": asyncio.run(_postgres_version(dsn)) if dsn else None,
        "wrk": (_first_line(["wrk", "-v"], any_exit=True) or "").split(" Copyright")[0] or None,
        "load_average_start": os.getloadavg(),
        "project": str(project.root) if project else None,
        "commit": _commit(project.root) if project else None,
    }


def _median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def http_summary(runs: list[dict[str, Any]], ceiling: float | None) -> list[dict[str, Any]]:
    """Per scenario and connection count: the median of every figure, and the runs."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        figures = dict(run["figures"])
        figures["socket_errors"] = sum(figures["errors"].values())
        groups[(run["scenario"], run["connections"])].append(figures)
    rows = []
    for (scenario, connections), measured in groups.items():
        median = {name: _median([f[name] for f in measured]) for name in HTTP_FIGURES}
        rows.append(
            {
                "scenario": scenario,
                "connections": connections,
                "median": median,
                "of_pgbench_ceiling": median["rps"] / ceiling if ceiling else None,
                "runs_rps": [f["rps"] for f in measured],
            }
        )
    return rows


def pgbench_summary(runs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], float | None]:
    """Per client count: median txn/s; the ceiling is the best of those medians."""
    groups: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        groups[(run["asked"], run["clients"])].append(run["figures"])
    rows = [
        {
            "asked": asked,
            "clients": clients,
            "median_tps": _median([f["tps"] for f in figures]),
            "median_latency_ms": _median([f["latency_avg_ms"] for f in figures]),
            "failed": sum(f["failed"] for f in figures),
            "runs_tps": [f["tps"] for f in figures],
        }
        for (asked, clients), figures in groups.items()
    ]
    ceiling = max((row["median_tps"] for row in rows), default=None)
    return rows, ceiling


def facts_text(facts: dict[str, Any]) -> str:
    load = ", ".join(f"{value:.2f}" for value in facts["load_average_start"])
    database = f"PostgreSQL {facts['postgresql']}" if facts["postgresql"] else facts["database"]
    return (
        f"machine: {facts['machine']}, {facts['nproc']} cores ({facts['cpu_model']}), "
        f"{facts['memory_gib']} GiB; Python {facts['python']} (server: {facts['server_python']}); "
        f"{database}; {facts['wrk']}; load average at start {load}\n"
        f"served by: {facts['served_by']}; project {facts['project']} at {facts['commit']}"
    )


def http_table(rows: list[dict[str, Any]], ceiling: float | None, runs: int) -> Table:
    table = Table(title=f"HTTP through wrk: median of {runs} run(s)")
    for heading in ("scenario", "conns", "req/s", "p50 ms", "p99 ms", "max ms"):
        table.add_column(heading, justify="left" if heading == "scenario" else "right")
    for heading in ("socket err", "non-2xx", "of pgbench", "runs (req/s)"):
        table.add_column(heading, justify="right")
    for row in rows:
        m = row["median"]
        share = row["of_pgbench_ceiling"]
        # No request finished within the run: wrk's latencies are zeros, not measurements.
        done = m["rps"] > 0
        table.add_row(
            row["scenario"],
            str(row["connections"]),
            f"{m['rps']:,.0f}",
            f"{m['p50_ms']:,.1f}" if done else "-",
            f"{m['p99_ms']:,.1f}" if done else "-",
            f"{m['max_ms']:,.0f}" if done else "-",
            f"{m['socket_errors']:,.0f}",
            f"{m['non_2xx']:,.0f}",
            f"{share:.1%}" if share is not None else "-",
            ", ".join(f"{rps:,.0f}" for rps in row["runs_rps"]),
        )
    if ceiling:
        table.caption = f"of pgbench: median req/s over the pgbench ceiling of {ceiling:,.0f} txn/s"
    return table


def pgbench_table(rows: list[dict[str, Any]], runs: int) -> Table:
    table = Table(title=f"pgbench add-to-cart transaction (the ceiling): median of {runs} run(s)")
    for heading in ("clients", "txn/s", "latency avg ms", "failed", "runs (txn/s)"):
        table.add_column(heading, justify="right")
    for row in rows:
        capped = f" (asked {row['asked']})" if row["clients"] != row["asked"] else ""
        table.add_row(
            f"{row['clients']}{capped}",
            f"{row['median_tps']:,.0f}",
            f"{row['median_latency_ms']:,.2f}",
            f"{row['failed']:,.0f}",
            ", ".join(f"{tps:,.0f}" for tps in row["runs_tps"]),
        )
    return table


def setup_facts(options: Options) -> dict[str, str]:
    """Where the load went and what kind of database served it, for the report's header."""
    if options.target:
        served_by = f"{options.target} (started elsewhere)"
    elif options.server_command:
        served_by = options.server_command
    else:
        served_by = "aimall-cart serve" + (
            f" --workers {options.workers}" if options.workers else ""
        )
    database: str = options.database
    if options.target:
        database = "postgresql" if options.database_url else "not given"
    return {"served_by": served_by, "database": database}


def assemble(options: Options, facts: dict[str, Any], measured: Measured) -> dict[str, Any]:
    pgbench_rows, best = pgbench_summary(measured.pgbench_runs)
    return {
        "benchmark": "benchmarks/cart_load.py",
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()},
        "machine": facts | {"load_average_end": os.getloadavg()},
        "lines_per_cart_at_end": measured.lines_per_cart,
        "http_runs": measured.http_runs,
        "http_summary": http_summary(measured.http_runs, best),
        "pgbench_runs": measured.pgbench_runs,
        "pgbench_summary": pgbench_rows,
        "pgbench_ceiling_tps": best,
    }


def show(record: dict[str, Any]) -> None:
    # Into a file or a pipe the tables keep their width rather than Rich's 80 columns.
    out = Console(width=None if sys.stdout.isatty() else 160)
    out.print(facts_text(record["machine"]))
    if record["lines_per_cart_at_end"] is not None:
        out.print(f"lines per cart at the end: {record['lines_per_cart_at_end']:.1f}")
    runs = record["options"]["runs"]
    if record["http_summary"]:
        out.print(http_table(record["http_summary"], record["pgbench_ceiling_tps"], runs))
    if record["pgbench_summary"]:
        out.print(pgbench_table(record["pgbench_summary"], runs))
