"""Showing a simulation: a PNG of each group's recovery rate and net margin per cart over the
waves, and a Rich table of the final report.

matplotlib is an optional extra (``pip install 'aimall-cart[sim]'``), imported inside
``save_png`` with the Agg backend (files only, no display), so the CLI never pays for it unless a
chart is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich import box
from rich.console import Group
from rich.table import Table

from aimall_cart.recovery.report import GroupReport, Lift
from aimall_cart.simulation.simulator import SimulationResult

GROUP_ORDER = ("ai", "baseline", "holdout")
MISSING_MATPLOTLIB = (
    "charts need matplotlib, which is not installed: pip install 'aimall-cart[sim]'"
)
_STYLE = {"ai": ("tab:blue", "-"), "baseline": ("tab:orange", "-"), "holdout": ("tab:gray", "-")}
_BLANKET_STYLE = ("tab:red", "--")


class ChartUnavailable(RuntimeError):
    """matplotlib, the optional ``sim`` extra, is not installed."""


def require_matplotlib() -> None:
    """Raises ChartUnavailable, saying how to install it, when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as error:
        raise ChartUnavailable(MISSING_MATPLOTLIB) from error


def _series(result: SimulationResult, group: str) -> tuple[list[int], list[float], list[float]]:
    """Wave numbers, recovery rates (percent) and net margins per cart (currency units)."""
    rows = [
        (w.number, w.groups[group])
        for w in result.waves
        if w.groups[group].recovery_rate is not None
    ]
    return (
        [number for number, _ in rows],
        [100 * (figures.recovery_rate or 0.0) for _, figures in rows],
        [(figures.net_margin_per_cart or 0.0) / 100 for _, figures in rows],
    )


def save_png(path: Path, results: Sequence[SimulationResult]) -> None:
    """Two panels over the waves: recovery rate, and net margin per cart, per group of the
    first run; a blanket-discount run among ``results`` adds its ai line, dashed."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.ticker import MaxNLocator

    main = results[0]
    lines = [(f"{group}", main, group, _STYLE[group]) for group in GROUP_ORDER]
    lines += [
        ("ai (blanket discount)", other, "ai", _BLANKET_STYLE)
        for other in results[1:]
        if other.strategy == "blanket_discount"
    ]
    figure, (rates, margins) = pyplot.subplots(1, 2, figsize=(12, 4.5), constrained_layout=True)
    for label, result, group, (colour, dash) in lines:
        waves, rate, margin = _series(result, group)
        style = {"color": colour, "linestyle": dash, "marker": "o", "label": label}
        rates.plot(waves, rate, **style)
        margins.plot(waves, margin, **style)
    rates.set(title="Recovery rate", xlabel="wave", ylabel="recovered carts (%)")
    margins.set(
        title="Net margin per cart", xlabel="wave", ylabel=f"{main.report.currency} per cart"
    )
    for axes in (rates, margins):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        axes.legend()
    strategies = " vs ".join(result.strategy for result in results)
    figure.suptitle(f"World {main.world.name!r}, seed {main.seed}: {strategies}")
    figure.savefig(path, format="png", dpi=110)
    pyplot.close(figure)


def _money(minor: float, *, cents: bool = True) -> str:
    return f"{minor / 100:,.2f}" if cents else f"{minor / 100:,.0f}"


def _interval(figures: GroupReport) -> str:
    if figures.recovery_rate_interval is None:
        return "-"
    low, high = figures.recovery_rate_interval
    return f"{low:.1%} to {high:.1%}"


def _lift(lift: Lift) -> str:
    if lift.value is None or lift.interval is None:
        return "undefined (a group recovered nothing)"
    low, high = lift.interval
    return f"{lift.value:+.1%} (95% interval {low:+.1%} to {high:+.1%})"


def report(results: Sequence[SimulationResult]) -> Group:
    """The final report of each run side by side: a row per strategy and group, then the lift
    of ai over baseline and the simulator's own count of what customers did."""
    first = results[0]
    table = Table(
        title=f"Recovery in the {first.world.name!r} world, seed {first.seed} "
        f"(money in {first.report.currency})",
        box=box.SIMPLE_HEAD,
    )
    for heading in ("strategy", "group"):
        table.add_column(heading, no_wrap=True)
    for heading in ("carts", "messaged", "recovered", "rate", "95% interval", "revenue"):
        table.add_column(heading, justify="right", no_wrap=True)
    for heading in ("discounts", "net margin per cart"):
        table.add_column(heading, justify="right", no_wrap=True)
    for result in results:
        for group in GROUP_ORDER:
            figures = result.report.groups[group]
            rate, per_cart = figures.recovery_rate, figures.net_margin_per_cart
            table.add_row(
                result.strategy if group == GROUP_ORDER[0] else "",
                group,
                str(figures.carts),
                str(figures.messaged),
                str(figures.recovered),
                "-" if rate is None else f"{rate:.1%}",
                _interval(figures),
                _money(figures.recovered_revenue, cents=False),
                _money(figures.discount_cost, cents=False),
                "-" if per_cart is None else _money(per_cart),
                end_section=group == GROUP_ORDER[-1],
            )
    lines = [f"{r.strategy}: lift of ai over baseline {_lift(r.report.lift)}" for r in results]
    ledgers = [_ledger_line(result) for result in results]
    return Group(table, *lines, *ledgers, _policy_line(first))


def _policy_line(result: SimulationResult) -> str:
    policy, quiet = result.policy, result.policy.quiet_hours
    hush = "no quiet hours" if quiet is None else f"quiet {quiet.start_hour}h-{quiet.end_hour}h"
    return (
        f"policy: holdout {policy.holdout_percent}%, baseline {policy.baseline_percent}%, "
        f"ai the rest; discounts up to {policy.max_discount_percent}%; "
        f"{policy.max_messages_per_cart} messages {policy.min_minutes_between_messages} min apart "
        f"after {policy.inactivity_minutes} min idle; {policy.attribution_window_hours} h "
        f"attribution; {hush}; {len(result.waves)} waves"
    )


def _ledger_line(result: SimulationResult) -> str:
    ledger = result.ledger
    return (
        f"{result.strategy}: {ledger.customers} customers, {ledger.messages_read} messages read, "
        f"{sum(ledger.returns.values())} came back, {ledger.orders} orders, "
        f"{ledger.returns['nothing_to_buy']} with nothing left to buy, "
        f"{ledger.returns['blocked']} refused at checkout"
    )
