"""How much an oracle could win in each simulator world, to read the measured lift against.

The oracle knows every customer's hidden reason and response curve, which the engine never sees,
and picks one pair of messages per customer (one for each of the simulation's two stages: a
reminder, or a discount in steps of 5% up to 20%), as the simulator's customers answer them: a
customer comes back at most once and uses only the code of the message just read. Like the
engine's ai group, every message to a customer with an item out of stock carries an in-stock
alternative, whatever its offer; the baseline's plain reminder never does, so a baseline customer
whose only carted item is gone has nothing to buy. It answers, per world:

- the baseline's expected recovery rate (the plain reminder twice), and the holdout's;
- the oracle that maximises net margin: its recovery rate, lift over baseline, and net margin
  against baseline's;
- the largest lift it finds with net margin at least baseline's (a Lagrangian sweep over
  rate + lambda * margin, exact to within about one customer's share);
- the blanket 20% discount (with the alternatives attached), for comparison.

Expected values from the market's own response model (``market.return_probability``), over many
drawn customers; no database. Margins are per unit of cart value, so "net margin against
baseline's" is a ratio; the simulator reports currency per cart.

    .venv/bin/python benchmarks/recovery_ceiling.py --customers 40000
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from aimall_cart.config import Settings
from aimall_cart.recovery.bandit import DISCOUNT_STEP_PERCENT
from aimall_cart.simulation.market import Message, World, draw_customer, return_probability
from aimall_cart.simulation.simulator import simulation_policy
from aimall_cart.simulation.worlds import PRESETS

Floats = npt.NDArray[np.float64]
REMINDER = Message()
LAMBDAS = np.concatenate([np.linspace(0.0, 3.0, 121), [5.0, 10.0, 100.0, 1e6]])


def _messages(top: int) -> list[Message]:
    discounts = range(DISCOUNT_STEP_PERCENT, top + 1, DISCOUNT_STEP_PERCENT)
    return [REMINDER] + [Message(discount_percent=p) for p in discounts]


def _per_message(
    world: World, customers: int, seed: int, messages: list[Message]
) -> tuple[Floats, Floats, float, float]:
    """Per customer and ai message: the chance of an order in one stage, and of coming back at
    all; the baseline's rate per unit of margin share over two stages, and the holdout's."""
    rng = np.random.default_rng(seed)
    buys = np.zeros((customers, len(messages)))
    returns = np.zeros_like(buys)
    baseline = holdout = 0.0
    for i in range(customers):
        customer = draw_customer(world, f"c{i}", rng)
        blocked = customer.stockout and customer.line_count == 1
        unprompted, plain = (
            return_probability(customer, None),
            return_probability(customer, REMINDER),
        )
        holdout += 0.0 if blocked else 1 - (1 - unprompted) ** 2
        baseline += 0.0 if blocked else 1 - (1 - plain) ** 2
        for j, message in enumerate(messages):
            if customer.stockout:  # alternatives ride on every ai message about a missing line
                message = replace(message, alternatives_offered=1, alternatives_in_stock=1)
            returns[i, j] = buys[i, j] = return_probability(customer, message)
    return buys, returns, baseline / customers, holdout / customers


def _pairs(buys: Floats, returns: Floats, shares: Floats) -> tuple[Floats, Floats]:
    """Recovery and net margin for every (first, second) pair of messages, flattened per
    customer."""
    # A customer who comes back at the first stage is gone either way, order or not.
    rate = buys[:, :, None] + (1 - returns[:, :, None]) * buys[:, None, :]
    margin = (
        buys[:, :, None] * shares[None, :, None]
        + (1 - returns[:, :, None]) * buys[:, None, :] * shares[None, None, :]
    )
    customers = buys.shape[0]
    return rate.reshape(customers, -1), margin.reshape(customers, -1)


def _chosen(values: Floats, picked: npt.NDArray[np.intp]) -> float:
    return float(np.take_along_axis(values, picked[:, None], axis=1).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    policy = simulation_policy(args.seed)
    margin = Settings().recovery_gross_margin_percent / 100
    messages = _messages(policy.max_discount_percent)
    shares = np.array([margin - m.discount_percent / 100 for m in messages])
    count = len(messages)
    blanket = (count - 1) * count + count - 1  # pair indices: first * count + second
    print(f"{args.customers:,} customers per world; gross margin {margin:.0%}; two stages")
    print(
        "world            holdout  baseline | oracle on margin: rate   lift  margin | "
        "largest lift at margin >= baseline | blanket 20%: rate   lift  margin"
    )
    for name, world in PRESETS.items():
        buys, returns, base_rate, holdout = _per_message(world, args.customers, args.seed, messages)
        rates, margins = _pairs(buys, returns, shares)
        base_margin = base_rate * margin
        by_margin = np.argmax(margins, axis=1)
        best = max(
            (_chosen(rates, picked), _chosen(margins, picked))
            for picked in (np.argmax(rates + lam * margins, axis=1) for lam in LAMBDAS)
            if _chosen(margins, picked) >= base_margin
        )
        discounted = np.full(args.customers, blanket)
        print(
            f"{name:16s} {holdout:7.1%}  {base_rate:8.1%} | "
            f"{_chosen(rates, by_margin):22.1%} {_chosen(rates, by_margin) / base_rate - 1:+6.0%}"
            f" {_chosen(margins, by_margin) / base_margin:6.2f}x | "
            f"{best[0] / base_rate - 1:+25.0%} (margin {best[1] / base_margin:.2f}x) | "
            f"{_chosen(rates, discounted):17.1%} {_chosen(rates, discounted) / base_rate - 1:+6.0%}"
            f" {_chosen(margins, discounted) / base_margin:6.2f}x"
        )


if __name__ == "__main__":
    main()
