"""``aimall-cart keys``: the data key ring's maintenance, run beside a live service."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from aimall_cart import events, idempotency, rotation
from aimall_cart.checkout import orders
from aimall_cart.config import Settings, get_settings
from aimall_cart.db import Database
from aimall_cart.privacy import service as privacy
from aimall_cart.recovery import inbox

app = typer.Typer(help="The data key ring (AIMALL_CART_DATA_KEYS).", no_args_is_help=True)
console = Console(stderr=True)

# Every column that holds sealed values, and how each is sealed again.
RESEALERS = (
    privacy.RESEALER,
    inbox.RESEALER,
    orders.RESEALER,
    events.RESEALER,
    idempotency.RESEALER,
)


@app.command()
def rotate(
    batch_size: Annotated[
        int | None,
        typer.Option(min=1, max=10_000, help="Rows per transaction (default from settings)"),
    ] = None,
) -> None:
    """Re-seal every sealed value under the primary key (the first of AIMALL_CART_DATA_KEYS), a
    batch per short transaction, while the service keeps running. Run it again after an
    interruption; once it leaves nothing under an older key, that key may leave the ring."""
    settings = get_settings()
    tally = asyncio.run(run(settings, batch_size or settings.key_rotation_batch_size))
    table = Table("table", "examined", "re-sealed", "unreadable", title="keys rotate")
    for name, examined in tally.examined.items():
        table.add_row(name, str(examined), str(tally.resealed[name]), str(tally.unreadable[name]))
    console.print(table)
    if any(tally.unreadable.values()):
        console.print("[yellow]values that open under no key of the ring were left as they are")
        raise typer.Exit(1)


async def run(settings: Settings, batch_size: int) -> rotation.Tally:
    """The rotation with a Rich progress bar per table, on stderr."""
    database = Database(settings.database_url)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console) as progress:
            tasks = {
                resealer.name: progress.add_task(
                    resealer.name, total=await rotation.rows_to_examine(database, resealer)
                )
                for resealer in RESEALERS
            }
            return await rotation.rotate(
                database,
                settings.keys,
                RESEALERS,
                batch_size=batch_size,
                on_batch=lambda resealer, rows: progress.advance(tasks[resealer.name], rows),
            )
    finally:
        await database.dispose()
