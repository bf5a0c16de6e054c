"""Why a cart was abandoned: a distribution over reasons, inferred from what is known at decision
time, with the evidence in words a person can check. Pure: plain values in, plain values out."""

from __future__ import annotations

from dataclasses import dataclass

REASONS = ("price", "availability", "hesitation", "distraction", "not_interested")


@dataclass(frozen=True, slots=True)
class CartSignals:
    """What the recovery pass knows about one idle cart. Money in minor units."""

    cart_value: int  # the cart's total at its snapshot prices
    line_count: int
    price_rise: int  # sum over lines of max(0, live net price - snapshot net price) * quantity
    lines_price_up: int  # lines whose live net price is above their snapshot
    lines_unavailable: int  # lines whose product or variant is gone, or with no stock at all
    lines_short: int  # lines with some stock, but less than their quantity
    typical_order_value: int | None  # median of the customer's past orders; None without any
    past_orders: int
    past_recoveries: int  # earlier abandoned carts of this customer that came back
    past_ignored: int  # earlier abandoned carts that were messaged and did not come back
    discount_attempts: int  # codes the shopper tried on this cart that were refused
    idle_minutes: float
    stage: int  # messages already sent for this cart (0 for the first decision)


@dataclass(frozen=True, slots=True)
class ReasonEstimate:
    probabilities: dict[str, float]  # over REASONS, summing to 1
    evidence: list[str]

    @property
    def primary(self) -> str:
        return max(REASONS, key=lambda reason: self.probabilities[reason])


def infer(signals: CartSignals) -> ReasonEstimate:
    raise NotImplementedError
