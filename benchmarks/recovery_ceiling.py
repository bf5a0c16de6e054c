"""The best any recovery policy could do in each simulator world, to read the measured lift against.

An oracle that knows every customer's hidden reason and response curve (which the engine never
sees) picks one action per customer for both message stages, under the simulation's policy (two
stages, discounts in steps of 5% up to 20%) and the default gross margin. It answers, per world:

- the baseline's expected recovery rate (the plain reminder twice), and the holdout's;
- the oracle that maximises net margin: its recovery rate, lift over baseline, and net margin
  against baseline's;
- the largest lift any policy could reach while keeping net margin per cart at least baseline's
  (a Lagrangian sweep over rate + lambda * margin);
- the blanket 20% discount, for comparison.

Expected values from the market's own response model (``market.return_probability``), over many
drawn customers; no database.

    .venv/bin/python benchmarks/recovery_ceiling.py --customers 40000
"""

from __future__ import annotations

import argparse

import numpy as np
import numpy.typing as npt

from aimall_cart.config import Settings
from aimall_cart.recovery.bandit import DISCOUNT_STEP_PERCENT
from aimall_cart.recovery.market import Customer, Message, World, draw_customer, return_probability
from aimall_cart.recovery.simulator import simulation_policy
from aimall_cart.recovery.worlds import PRESETS

Floats = npt.NDArray[np.float64]
ALTERNATIVE = Message(alternatives_offered=1, alternatives_in_stock=1)
UNAVAILABLE = -1.0  # below any recovery or margin, so never the best choice
LAMBDAS = np.concatenate([np.linspace(0.0, 3.0, 121), [5.0, 10.0, 100.0, 1e6]])


def _recovery(customer: Customer, message: Message | None, stages: int) -> float:
    """The chance of an order over every stage. A one-line cart whose only item went out of
    stock has nothing to buy unless an alternative in stock was offered."""
    blocked = customer.stockout and customer.line_count == 1
    if blocked and (message is None or not message.alternatives_in_stock):
        return 0.0
    return float(1.0 - (1.0 - return_probability(customer, message)) ** stages)


def _options(
    world: World, customers: int, seed: int, margin: float, top: int, stages: int
) -> tuple[Floats, Floats, float]:
    """Per customer and action (reminder, alternatives, discounts): recovery and net margin per
    unit of cart value, UNAVAILABLE where the action cannot be offered; and the holdout's rate."""
    rng = np.random.default_rng(seed)
    discounts = list(range(DISCOUNT_STEP_PERCENT, top + 1, DISCOUNT_STEP_PERCENT))
    rates = np.full((customers, 2 + len(discounts)), UNAVAILABLE)
    margins = np.full_like(rates, UNAVAILABLE)
    holdout = 0.0
    for i in range(customers):
        customer = draw_customer(world, f"c{i}", rng)
        holdout += _recovery(customer, None, stages)
        for column, message in enumerate([Message()] + [ALTERNATIVE] * customer.stockout):
            rates[i, column] = _recovery(customer, message, stages)
            margins[i, column] = rates[i, column] * margin
        for column, percent in enumerate(discounts, start=2):
            rates[i, column] = _recovery(customer, Message(discount_percent=percent), stages)
            margins[i, column] = rates[i, column] * (margin - percent / 100)
    return rates, margins, holdout / customers


def _chosen(values: Floats, picked: npt.NDArray[np.intp]) -> float:
    return float(np.take_along_axis(values, picked[:, None], axis=1).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    policy = simulation_policy(args.seed)
    margin = Settings().recovery_gross_margin_percent / 100
    top, stages = policy.max_discount_percent, policy.max_messages_per_cart
    print(f"{args.customers:,} customers per world; gross margin {margin:.0%}; {stages} stages")
    print(
        "world            holdout  baseline | oracle on margin: rate   lift  margin | "
        "largest lift at margin >= baseline | blanket 20%: rate   lift  margin"
    )
    for name, world in PRESETS.items():
        rates, margins, holdout = _options(world, args.customers, args.seed, margin, top, stages)
        base_rate, base_margin = rates[:, 0].mean(), margins[:, 0].mean()
        by_margin = np.argmax(margins, axis=1)
        best = max(
            (_chosen(rates, picked), _chosen(margins, picked))
            for picked in (np.argmax(rates + lam * margins, axis=1) for lam in LAMBDAS)
            if _chosen(margins, picked) >= base_margin
        )
        blanket = np.full(args.customers, rates.shape[1] - 1)
        print(
            f"{name:16s} {holdout:7.1%}  {base_rate:8.1%} | "
            f"{_chosen(rates, by_margin):22.1%} {_chosen(rates, by_margin) / base_rate - 1:+6.0%}"
            f" {_chosen(margins, by_margin) / base_margin:6.2f}x | "
            f"{best[0] / base_rate - 1:+25.0%} (margin {best[1] / base_margin:.2f}x) | "
            f"{_chosen(rates, blanket):17.1%} {_chosen(rates, blanket) / base_rate - 1:+6.0%}"
            f" {_chosen(margins, blanket) / base_margin:6.2f}x"
        )


if __name__ == "__main__":
    main()
