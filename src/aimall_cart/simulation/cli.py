"""``aimall-cart simulate``: its own Typer sub-app, mounted on the ``aimall-cart`` command.

Nothing heavy is imported until a run starts, so ``aimall-cart --help`` stays quick.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console

if TYPE_CHECKING:
    from aimall_cart.simulation.market import World
    from aimall_cart.simulation.simulator import SimulationResult

app = typer.Typer(
    invoke_without_command=True, subcommand_metavar="", pretty_exceptions_show_locals=False
)
console = Console(stderr=True)

StrategyChoice = Literal["bandit", "blanket_discount", "both"]
WorldOption = Annotated[
    str,
    typer.Option(help="Market: balanced, price_sensitive, stock_churn, skeptical or mixed_middle"),
]
SeedOption = Annotated[int, typer.Option(help="Seed of the market and of the engine")]
WavesOption = Annotated[int, typer.Option(min=1, max=1000)]
CartsOption = Annotated[int, typer.Option(min=1, max=100_000)]
StrategyOption = Annotated[
    StrategyChoice,
    typer.Option(help="both: the same market twice, once per strategy, side by side"),
]
ChartOption = Annotated[
    Path | None,
    typer.Option(
        dir_okay=False, help="Write a PNG of the waves here (needs the sim extra: matplotlib)"
    ),
]
JsonOption = Annotated[
    Path | None,
    typer.Option(
        "--json",
        dir_okay=False,
        help="Write every arm's world, policy, waves, report and tallies here as JSON",
    ),
]
DatabaseOption = Annotated[
    str | None,
    typer.Option(
        help="Run in this database (it must hold no carts) and keep it; "
        "default: a temporary SQLite file, removed afterwards"
    ),
]
MixOption = Annotated[
    str | None,
    typer.Option(
        help="Reason shares such as price=0.4,availability=0.2 (reasons: price, availability, "
        "hesitation, distraction, not_interested); the rest keep their preset proportions"
    ),
]
StrengthOption = Annotated[
    float | None, typer.Option(min=0, help="Scale every lift a message gives")
]
SensitivityOption = Annotated[
    float | None,
    typer.Option(min=0.1, help="Percent at which a discount gives 63% of its effect"),
]
NoiseOption = Annotated[
    float | None, typer.Option(min=0, help="Spread of customers' own leaning (logits)")
]


@app.callback()
def simulate(
    world: WorldOption = "balanced",
    seed: SeedOption = 1,
    waves: WavesOption = 10,
    carts_per_wave: CartsOption = 650,
    strategy: StrategyOption = "bandit",
    chart: ChartOption = None,
    json_out: JsonOption = None,
    database_url: DatabaseOption = None,
    reason_mix: MixOption = None,
    response_strength: StrengthOption = None,
    discount_sensitivity: SensitivityOption = None,
    noise: NoiseOption = None,
) -> None:
    """Measure abandoned-cart recovery in a synthetic market, through the real recovery engine,
    cart and checkout services, database and test clock."""
    from aimall_cart.simulation import chart as charts
    from aimall_cart.simulation import simulator

    chosen = _world(world, reason_mix, response_strength, discount_sensitivity, noise)
    if strategy == "both" and database_url is not None:
        raise typer.BadParameter("both strategies need a database each: leave out --database-url")
    if chart is not None:
        try:
            charts.require_matplotlib()
        except charts.ChartUnavailable as error:
            raise typer.BadParameter(str(error), param_hint="--chart") from error
    started = time.perf_counter()  # only to report how long the run took
    results = _run(chosen, strategy, seed, waves, carts_per_wave, database_url)
    # Piped into a file the report keeps its width rather than Rich's 80 columns.
    Console(width=None if sys.stdout.isatty() else 132).print(charts.report(results))
    console.print(f"run time: {time.perf_counter() - started:.0f} s")
    if chart is not None:
        charts.save_png(chart, results)
        console.print(f"chart written to {chart}")
    if json_out is not None:
        json_out.write_bytes(simulator.as_json(results))
        console.print(f"runs written to {json_out}")


def _world(
    name: str,
    reason_mix: str | None,
    response_strength: float | None,
    discount_sensitivity: float | None,
    noise: float | None,
) -> World:
    """The preset named, adjusted by the options given; a bad option is the user's to fix."""
    from aimall_cart.simulation import market, worlds

    try:
        return worlds.preset(name).adjusted(
            reason_mix=market.parse_mix(reason_mix) if reason_mix else None,
            response_strength=response_strength,
            discount_sensitivity=discount_sensitivity,
            noise=noise,
        )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error


def _run(
    world: World,
    strategy: StrategyChoice,
    seed: int,
    waves: int,
    carts_per_wave: int,
    database_url: str | None,
) -> list[SimulationResult]:
    """Each arm in turn on the same market, with a progress bar per arm."""
    from rich.progress import Progress, TaskID

    from aimall_cart.recovery.engine import Strategy
    from aimall_cart.simulation import simulator

    arms: list[Strategy] = ["bandit", "blanket_discount"] if strategy == "both" else [strategy]
    results = []
    with Progress(console=console) as bar:
        for arm in arms:
            task = bar.add_task(arm)

            def tick(done: int, total: int, what: str, task: TaskID = task, arm: str = arm) -> None:
                bar.update(task, completed=done, total=total, description=f"{arm}: {what}")

            run = simulator.simulate(
                world,
                seed=seed,
                waves=waves,
                carts_per_wave=carts_per_wave,
                strategy=arm,
                database_url=database_url,
                progress=tick,
            )
            try:
                results.append(asyncio.run(run))
            except simulator.UnsuitableDatabase as error:
                raise typer.BadParameter(str(error)) from error
    return results
