"""The ``aimall-cart`` command: serve, worker, migrate, seed, token, dev-cert, and the
simulate and keys sub-apps."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from fastapi import FastAPI
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from aimall_cart import keys_cli, logs
from aimall_cart import migrate as migrations
from aimall_cart.auth import Principal, Role, issue_token
from aimall_cart.clock import Clock
from aimall_cart.config import Settings, get_settings
from aimall_cart.simulation import cli as simulation_cli

app = typer.Typer(
    help="AIMall Cart: the cart service of the AIMall online mall.",
    no_args_is_help=True,
    # A traceback's locals would print the settings, secrets and all.
    pretty_exceptions_show_locals=False,
)
console = Console(stderr=True)


def _settings() -> Settings:
    """The settings, or a refusal that names what is wrong and never the values (secrets)."""
    try:
        return get_settings()
    except ValidationError as refused:
        for error in refused.errors(include_input=False, include_url=False):
            reason = error["msg"].removeprefix("Value error, ")
            console.print(f"[red]refusing to start:[/red] {escape(reason)}", soft_wrap=True)
        raise typer.Exit(code=2) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default from settings)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings)")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1, help="Server processes (default: one per core on PostgreSQL, 1 on SQLite)"
        ),
    ] = None,
    migrate: Annotated[
        bool | None,
        typer.Option(help="Apply migrations first (default: yes on SQLite, no on PostgreSQL)"),
    ] = None,
    worker: Annotated[
        bool | None,
        typer.Option(help="Run the background worker beside the server (default from settings)"),
    ] = None,
    ssl_certfile: Annotated[
        Path | None, typer.Option(help="TLS certificate (PEM); with --ssl-keyfile serves HTTPS")
    ] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(help="TLS private key (PEM)")] = None,
) -> None:
    """Serve the HTTP API.

    The server is uvicorn (with uvloop and httptools): measured against granian on the cart
    benchmark, it served a fifth more requests per second. With several server processes the
    background worker runs once, in a process of its own, not once in each server process.
    """
    settings = _settings()
    certfile, keyfile = _tls_files(settings, ssl_certfile, ssl_keyfile)
    processes = _server_processes(workers, is_sqlite=settings.is_sqlite)
    run_worker_too = settings.embedded_worker if worker is None else worker
    # The server processes build their settings from the environment.
    os.environ["AIMALL_CART_EMBEDDED_WORKER"] = str(run_worker_too and processes == 1).lower()
    metrics_dir = _shared_metrics_dir(settings.metrics_dir)
    if migrate if migrate is not None else settings.is_sqlite:
        migrations.upgrade(settings.database_url)
    background = None
    if run_worker_too and processes > 1:
        background = subprocess.Popen([sys.executable, "-m", "aimall_cart", "worker"])
    try:
        _run_servers(settings, host, port, processes=processes, tls=(certfile, keyfile))
    finally:
        if background is not None:
            background.terminate()
            background.wait(timeout=30)
        if settings.metrics_dir is None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _run_servers(
    settings: Settings,
    host: str | None,
    port: int | None,
    *,
    processes: int,
    tls: tuple[str | None, str | None],
) -> None:
    import uvicorn

    from aimall_cart import serving
    from aimall_cart.http_protocol import HttpProtocol

    certfile, keyfile = tls
    config = uvicorn.Config(
        "aimall_cart.cli:server_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level,
        loop="uvloop",
        http=HttpProtocol,
        proxy_headers=False,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
    )
    serving.run(config, processes=processes)


def _shared_metrics_dir(configured: Path | None) -> Path:
    """The folder where this serve's processes (servers and worker) count their metrics, so any
    of them can answer /metrics with the totals of all: the configured one, emptied of an earlier
    run's counts, or a new temporary one. Set before prometheus-client is imported anywhere."""
    if configured is None:
        folder = Path(tempfile.mkdtemp(prefix="aimall-cart-metrics-"))
    else:
        folder = configured
        folder.mkdir(parents=True, exist_ok=True)
        for stale in (*folder.glob("*.db"), *folder.glob("conflicts-*.json")):
            stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    get_settings.cache_clear()  # this process's server reads the folder from its settings
    return folder


def _tls_files(
    settings: Settings, certfile: Path | None, keyfile: Path | None
) -> tuple[str | None, str | None]:
    """The certificate and key to serve HTTPS with (options first, then settings); both or
    neither."""
    cert = str(certfile) if certfile else settings.tls_cert_file
    key = str(keyfile) if keyfile else settings.tls_key_file
    if (cert is None) != (key is None):
        raise typer.BadParameter("TLS needs both a certificate and its key")
    return cert, key


def _server_processes(requested: int | None, *, is_sqlite: bool) -> int:
    """One process per core on PostgreSQL. SQLite has one writer at a time and its file lock
    does not queue fairly across processes, so it stays in one."""
    if is_sqlite:
        if requested not in (None, 1):
            console.print("[yellow]SQLite serves from one process; --workers ignored[/yellow]")
        return 1
    return requested or os.cpu_count() or 1


def server_app() -> FastAPI:
    """The application as ``serve`` runs it: with structured logs on stderr, in a process tuned
    to serve for long."""
    from aimall_cart import serving
    from aimall_cart.app import create_app

    app = create_app(configure_logging=True)
    serving.tune_garbage_collector()
    return app


@app.command(name="worker")
def run_worker() -> None:
    """Run the background jobs until interrupted (when servers run with --no-worker)."""
    settings = _settings()
    logs.configure(settings.log_level)
    if settings.metrics_dir is not None:  # count into the folder the servers expose
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(settings.metrics_dir)
    from aimall_cart import worker  # after the folder is set: it loads prometheus-client
    from aimall_cart.db import Database

    async def main() -> None:
        database = Database(settings.database_url)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        console.print("[green]worker running[/green]; Ctrl+C stops it")
        try:
            clock = Clock(database if settings.test_clock else None)
            await worker.run_forever(database, settings, clock, stop=stop)
        finally:
            await database.dispose()

    asyncio.run(main())


@app.command()
def migrate(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply the database migrations."""
    settings = _settings()
    migrations.upgrade(settings.database_url, revision)
    console.print(f"[green]migrated[/green] to {revision}")


@app.command()
def seed(
    demo: Annotated[bool, typer.Option("--demo", help="Load the demo catalog")] = False,
    count: Annotated[int, typer.Option(min=1, max=5000, help="How many demo products")] = 240,
    reset: Annotated[bool, typer.Option(help="Overwrite demo products that already exist")] = False,
) -> None:
    """Load data into the catalog."""
    if not demo:
        raise typer.BadParameter("say what to seed: --demo")
    created, kept = asyncio.run(_seed_demo(count=count, reset=reset))
    console.print(f"[green]demo catalog:[/green] {created} products written, {kept} already there")


async def _seed_demo(*, count: int, reset: bool) -> tuple[int, int]:
    from aimall_cart.catalog import service as catalog
    from aimall_cart.catalog.demo import demo_products
    from aimall_cart.catalog.models import Product
    from aimall_cart.db import Database

    settings = _settings()
    database = Database(settings.database_url)
    admin = Principal(user_id="seed", role="admin")
    now = await Clock().now()
    written = kept = 0
    try:
        async with database.write_session() as session:
            for product_id, data in demo_products(count):
                if not reset and await session.get(Product, product_id) is not None:
                    kept += 1
                    continue
                await catalog.upsert_product(
                    session, principal=admin, product_id=product_id, data=data, now=now
                )
                written += 1
            await session.commit()
    finally:
        await database.dispose()
    return written, kept


@app.command()
def token(
    sub: Annotated[str, typer.Option(help="User id")],
    role: Annotated[str, typer.Option(help="customer, seller or admin")] = "customer",
    seller_id: Annotated[str | None, typer.Option(help="Seller id, for sellers")] = None,
    ttl_minutes: Annotated[int, typer.Option(min=1)] = 24 * 60,
) -> None:
    """Print a development JWT signed with AIMALL_CART_JWT_SECRET."""
    if role not in ("customer", "seller", "admin"):
        raise typer.BadParameter("role must be customer, seller or admin")
    if role == "seller" and not seller_id:
        raise typer.BadParameter("a seller token needs --seller-id")
    settings = _settings()
    checked_role: Role = role  # type: ignore[assignment]
    typer.echo(
        issue_token(
            settings,
            sub=sub,
            role=checked_role,
            now=datetime.now(UTC),  # JWT expiry is checked against real time, never the test clock
            ttl=timedelta(minutes=ttl_minutes),
            seller_id=seller_id,
        )
    )


@app.command(name="dev-cert")
def dev_cert(
    out_dir: Annotated[Path, typer.Option(help="Folder for cert.pem and key.pem")] = Path("certs"),
    host: Annotated[
        list[str] | None, typer.Option(help="Host name or IP address (repeatable)")
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=825)] = 30,
) -> None:
    """Make a self-signed certificate for trying HTTPS locally: never for production."""
    from aimall_cart.devcert import write_self_signed

    hosts = host or ["localhost", "127.0.0.1", "::1"]
    cert_path, key_path = write_self_signed(out_dir, hosts, now=datetime.now(UTC), days=days)
    console.print(f"wrote {cert_path} and {key_path} (for {', '.join(hosts)}, {days} days)")
    console.print(
        f"serve with: aimall-cart serve --ssl-certfile {cert_path} --ssl-keyfile {key_path}"
    )


app.add_typer(simulation_cli.app, name="simulate")
app.add_typer(keys_cli.app, name="keys")
