"""The command line of ``benchmarks/cart_load.py``, checked and frozen into ``Options``."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cartload import stack

SCENARIOS = ("view", "add", "mix")
REPO = Path(__file__).resolve().parent.parent.parent


@dataclass(frozen=True)
class Options:
    database: Literal["postgresql", "sqlite"]
    carts: int
    pool: int
    concurrency: int
    scenarios: tuple[str, ...]
    connections: tuple[int, ...]
    full_grid: bool
    duration: float
    warmup: float
    runs: int
    threads: int
    timeout: float
    workers: int | None
    server_command: str | None
    project_dir: Path
    target: str | None
    database_url: str | None
    pgbench: bool
    pgbench_max_clients: int
    statuses: bool
    seed: int
    json_out: Path | None


def _numbers(text: str) -> tuple[int, ...]:
    numbers = tuple(int(part) for part in text.split(",") if part.strip())
    if not numbers or min(numbers) < 1:
        raise argparse.ArgumentTypeError("positive whole numbers, comma-separated: 64,256,1000")
    return numbers


def _scenarios(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names or not set(names) <= set(SCENARIOS):
        raise argparse.ArgumentTypeError(f"some of {', '.join(SCENARIOS)}, comma-separated")
    return names


def _server_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("database and server")
    group.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    group.add_argument(
        "--workers", type=int, help="passed to serve --workers (default: not passed, serve decides)"
    )
    group.add_argument(
        "--server-command",
        help='serve with this instead, {port} filled in, e.g. "granian --interface asgi '
        '--factory aimall_cart.cli:server_app --host 127.0.0.1 --port {port}"',
    )
    group.add_argument(
        "--project-dir",
        type=Path,
        default=REPO,
        help="checkout whose .venv/bin/aimall-cart runs (default: this one)",
    )
    group.add_argument("--target", help="an already running server (loopback); nothing started")
    group.add_argument("--database-url", help="with --target: its database, for pgbench")


def _load_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("load")
    group.add_argument("--carts", type=int, default=10_000, help="live guest carts (%(default)s)")
    group.add_argument(
        "--pool", type=int, default=10, help="variants the carts are filled from (%(default)s)"
    )
    group.add_argument(
        "--concurrency", type=int, default=32, help="requests in flight at setup (%(default)s)"
    )
    group.add_argument("--scenarios", type=_scenarios, default="view,add,mix", help="%(default)s")
    group.add_argument(
        "--connections",
        type=_numbers,
        default="64,256,1000",
        help="mix at each; view and add at the first (%(default)s)",
    )
    group.add_argument(
        "--full-grid", action="store_true", help="view and add at every count too, not the first"
    )
    group.add_argument(
        "--duration", type=float, default=20, help="seconds per measurement (%(default)s)"
    )
    group.add_argument(
        "--warmup", type=float, default=3, help="seconds before each measurement (%(default)s)"
    )
    group.add_argument(
        "--runs", type=int, default=3, help="measurements of each; medians shown (%(default)s)"
    )
    group.add_argument(
        "--threads", type=int, default=2, help="wrk and pgbench threads (%(default)s)"
    )
    group.add_argument(
        "--timeout", type=float, default=5, help="wrk request timeout, seconds (%(default)s)"
    )
    group.add_argument("--seed", type=int, default=1, help="for the carts' contents (%(default)s)")


def _output_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("pgbench and output")
    group.add_argument(
        "--no-pgbench", dest="pgbench", action="store_false", help="skip the ceiling"
    )
    group.add_argument(
        "--pgbench-max-clients",
        type=int,
        default=256,
        help="cap on pgbench's clients (%(default)s)",
    )
    group.add_argument("--statuses", action="store_true", help="count every status (costs wrk CPU)")
    group.add_argument("--json", dest="json_out", type=Path, help="write everything here")


def parse(argv: list[str] | None = None, *, description: str = "") -> Options:
    """``description`` is the entry point's: the help opens with what the script says it does."""
    parser = argparse.ArgumentParser(description=description)
    _server_arguments(parser)
    _load_arguments(parser)
    _output_arguments(parser)
    args = parser.parse_args(argv)
    if args.server_command and args.workers is not None:
        parser.error("with --server-command, say the worker count in the command")
    if min(args.carts, args.pool, args.concurrency, args.runs, args.threads) < 1:
        parser.error("--carts, --pool, --concurrency, --runs and --threads must be at least 1")
    for url in filter(None, (args.target, args.database_url)):
        try:
            stack.require_loopback(url)
        except ValueError as error:
            parser.error(str(error))
    args.project_dir = args.project_dir.resolve()
    return Options(**vars(args))
