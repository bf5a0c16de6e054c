"""Cart traffic at 10,000 live guest carts: wrk against a real server, pgbench as the ceiling.

Makes a throwaway database (PostgreSQL, or SQLite with ``--database sqlite``), migrates and seeds
it with the service's own commands, serves it with ``aimall-cart serve``, makes ``--carts`` guest
carts through the API, and drives them with wrk in three scenarios (``view``, ``add``, ``mix``);
then runs the same add-to-cart transaction straight against PostgreSQL with pgbench, the most the
database could give, and prints every HTTP figure also as a share of that. Loopback only; every
step is bounded in time or count; the database and the server go away at the end, Ctrl+C included.

    .venv/bin/python benchmarks/cart_load.py                       # PostgreSQL, everything
    .venv/bin/python benchmarks/cart_load.py --carts 500 --duration 5 --runs 1 --connections 64
    .venv/bin/python benchmarks/cart_load.py --project-dir ../before   # another checkout's code
    .venv/bin/python benchmarks/cart_load.py --target http://127.0.0.1:8100 --scenarios mix

The parts live in ``cartload/``: ``options`` (the command line), ``runs`` (the measurements),
``stack``, ``carts``, ``drivers`` and ``report``.
"""

from __future__ import annotations

import json
import resource
import signal
import tempfile
from pathlib import Path

from cartload import drivers, report, runs, stack
from cartload.options import Options, parse
from cartload.runs import console


def _raise_file_limit(connections: int) -> None:
    """Room for every socket wrk, the server and HAProxy open; children inherit the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max(4096, 4 * connections + 1024)
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _interrupted(signum: int, frame: object) -> None:
    # SIGTERM unwinds like Ctrl+C, so the server is stopped and the database dropped.
    raise KeyboardInterrupt


def _check_tools(options: Options) -> None:
    drivers.tool("wrk")
    own_postgres = options.target is None and options.database == "postgresql"
    if options.pgbench and (own_postgres or options.database_url):
        drivers.tool("pgbench")
    if options.target is None:
        stack.Project(options.project_dir).check()


def main(argv: list[str] | None = None) -> None:
    options = parse(argv, description=(__doc__ or "").split("\n\n")[0])
    _check_tools(options)
    _raise_file_limit(max(options.connections))
    signal.signal(signal.SIGTERM, _interrupted)
    plan = runs.build_plan(options)
    postgres = options.database == "postgresql" and options.target is None
    dsn = stack.ADMIN_DSN if postgres else options.database_url
    facts = report.machine_facts(
        stack.Project(options.project_dir), stack.asyncpg_dsn(dsn) if dsn else None
    )
    with tempfile.TemporaryDirectory(prefix="cart_load_") as folder:
        run = runs.run_target if options.target else runs.run_local
        measured = run(options, plan, Path(folder))
    facts |= report.setup_facts(options)
    record = report.assemble(options, facts, measured)
    report.show(record)
    if options.json_out is not None:
        options.json_out.write_text(json.dumps(record, indent=2) + "\n")
        console.log(f"everything written to {options.json_out}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]: what it had started is stopped and removed")
        raise SystemExit(130) from None
