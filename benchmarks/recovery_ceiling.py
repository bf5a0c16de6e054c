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
- the same two (margin-maximising, and the largest lift at baseline's margin) for an oracle that
  knows only what the engine sees (whether a carted price rose, whether an item is out of stock,
  how many lines the cart has): it knows each such group's average answer to every pair of
  messages exactly, as a policy with endless data would, but cannot tell apart the customers
  inside a group;
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
) -> tuple[Floats, Floats, npt.NDArray[np.int64], float, float]:
    """Per customer and ai message: the chance of an order in one stage, and of coming back at
    all; per customer, what the engine can see (a price rise, a stock-out, the number of lines);
    the baseline's rate over two stages, and the holdout's."""
    rng = np.random.default_rng(seed)
    buys = np.zeros((customers, len(messages)))
    returns = np.zeros_like(buys)
    evidence = np.zeros(customers, dtype=np.int64)
    baseline = holdout = 0.0
    for i in range(customers):
        customer = draw_customer(world, f"c{i}", rng)
        evidence[i] = 100 * (customer.price_rise > 0) + 10 * customer.stockout + customer.line_count
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
    return buys, returns, evidence, baseline / customers, holdout / customers


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


def _by_evidence(
    rates: Floats, margins: Floats, evidence: npt.NDArray[np.int64]
) -> tuple[Floats, Floats, Floats]:
    """The same, averaged over customers who look alike to the engine: per group of equal
    evidence, its mean recovery and margin per pair, and its share of customers."""
    keys, group = np.unique(evidence, return_inverse=True)
    sizes = np.bincount(group, minlength=len(keys)).astype(np.float64)
    mean_rate = np.zeros((len(keys), rates.shape[1]))
    mean_margin = np.zeros_like(mean_rate)
    np.add.at(mean_rate, group, rates)
    np.add.at(mean_margin, group, margins)
    return mean_rate / sizes[:, None], mean_margin / sizes[:, None], sizes / sizes.sum()


def _frontier(
    rates: Floats, margins: Floats, weights: Floats, base_margin: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """(rate, margin) of the choice per unit (customer or group) that maximises margin, and of
    the largest rate with margin at least the baseline's."""

    def totals(picked: npt.NDArray[np.intp]) -> tuple[float, float]:
        rows = np.arange(len(picked))
        return float(weights @ rates[rows, picked]), float(weights @ margins[rows, picked])

    by_margin = totals(np.argmax(margins, axis=1))
    sweep = (totals(np.argmax(rates + lam * margins, axis=1)) for lam in LAMBDAS)
    return by_margin, max(found for found in sweep if found[1] >= base_margin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    policy = simulation_policy(args.seed)
    margin = Settings().recovery_gross_margin_percent / 100
    messages = _messages(policy.max_discount_percent)
    shares = np.array([margin - m.discount_percent / 100 for m in messages])
    blanket = len(messages) ** 2 - 1  # pair indices: first * count + second
    print(f"{args.customers:,} customers per world; gross margin {margin:.0%}; two stages")
    print(
        "world            holdout  baseline | oracle on margin: rate   lift  margin | "
        "on the evidence: lift margin | largest lift at margin >= baseline: oracle, on the "
        "evidence | blanket 20%: rate   lift  margin"
    )
    for name, world in PRESETS.items():
        buys, returns, evidence, base_rate, holdout = _per_message(
            world, args.customers, args.seed, messages
        )
        rates, margins = _pairs(buys, returns, shares)
        base_margin = base_rate * margin
        everyone = np.full(args.customers, 1 / args.customers)
        (rate, gain), best = _frontier(rates, margins, everyone, base_margin)
        seen_by_margin, seen = _frontier(*_by_evidence(rates, margins, evidence), base_margin)
        blanket_rate, blanket_margin = rates[:, blanket].mean(), margins[:, blanket].mean()
        print(
            f"{name:16s} {holdout:7.1%}  {base_rate:8.1%} | "
            f"{rate:22.1%} {rate / base_rate - 1:+6.0%} {gain / base_margin:6.2f}x | "
            f"{seen_by_margin[0] / base_rate - 1:+21.0%} {seen_by_margin[1] / base_margin:6.2f}x | "
            f"{best[0] / base_rate - 1:+13.0%} ({best[1] / base_margin:.2f}x), "
            f"{seen[0] / base_rate - 1:+.0%} ({seen[1] / base_margin:.2f}x) | "
            f"{blanket_rate:17.1%} {blanket_rate / base_rate - 1:+6.0%}"
            f" {blanket_margin / base_margin:6.2f}x"
        )


if __name__ == "__main__":
    main()
