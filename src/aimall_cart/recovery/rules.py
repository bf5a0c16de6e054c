"""Pure rules of recovery: experiment assignment and the statistics of the report."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

Z_95 = 1.959963984540054


def assign_group(user_id: str, *, salt: str, holdout_percent: int, baseline_percent: int) -> str:
    """A customer's group from a salted hash of their id: stable across processes and restarts,
    uniform over 10,000 buckets, and independent of anything the customer does."""
    digest = hashlib.sha256(f"{salt}:{user_id}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % 10_000
    if bucket < holdout_percent * 100:
        return "holdout"
    if bucket < (holdout_percent + baseline_percent) * 100:
        return "baseline"
    return "ai"


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float


def wilson(successes: int, trials: int) -> Interval | None:
    """95% Wilson score interval for a proportion: sound at small counts and near 0 or 1."""
    if trials == 0:
        return None
    p = successes / trials
    denominator = 1 + Z_95**2 / trials
    centre = (p + Z_95**2 / (2 * trials)) / denominator
    half = Z_95 * math.sqrt(p * (1 - p) / trials + Z_95**2 / (4 * trials**2)) / denominator
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def relative_lift(
    successes: int, trials: int, base_successes: int, base_trials: int
) -> tuple[float, Interval] | None:
    """Lift of one rate over another (ratio minus one) with a 95% interval from the log of the
    risk ratio (Katz). Undefined while either side has no successes."""
    if min(successes, trials, base_successes, base_trials) == 0:
        return None
    ratio = (successes / trials) / (base_successes / base_trials)
    spread = Z_95 * math.sqrt(1 / successes - 1 / trials + 1 / base_successes - 1 / base_trials)
    return ratio - 1, Interval(ratio * math.exp(-spread) - 1, ratio * math.exp(spread) - 1)


def gross_margin(order_total: int, promotion_discount: int, *, margin_percent: int) -> int:
    """The margin an order earned before its promotion: the one place recovery turns an order
    into margin (rounded down, minor units). Net margin is this less the promotion's cost."""
    return (order_total + promotion_discount) * margin_percent // 100
