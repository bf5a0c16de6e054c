"""Why a cart was abandoned: a distribution over reasons, inferred from what is known at decision
time, with the evidence in words a person can check. Pure: plain values in, plain values out.

The model is log-linear: every reason starts from a base log-score (the prior), each piece of
evidence that is present adds a fixed, documented weight to one or more reasons, and a softmax turns
the scores into probabilities. Weights only ever add, so every reason keeps a probability above zero
and a stronger signal can only raise the reasons it points to.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

REASONS = ("price", "availability", "hesitation", "distraction", "not_interested")

# Prior log-scores, about 41% distraction, 20% price, 18% not_interested, 15% hesitation and 6%
# availability: most carts are simply left behind, few are blocked by stock.
BASE_LOG_SCORE: dict[str, float] = {
    "price": 0.0,
    "availability": -1.2,
    "hesitation": -0.3,
    "distraction": 0.7,
    "not_interested": -0.1,
}

# Any rise at all is a plain reason to wait or shop around ...
PRICE_RISE_WEIGHT = 1.6
# ... and a larger one more so: added per 10% of the cart's value the rise amounts to ...
PRICE_RISE_WEIGHT_PER_TENTH = 0.8
# ... up to this share, beyond which the shopper's reaction no longer grows.
PRICE_RISE_CAP_FRACTION = 0.5
# A line that cannot be bought at all blocks the checkout outright.
UNAVAILABLE_WEIGHT = 3.5
# A line that can be bought only in part blocks the order as the shopper meant it.
SHORT_WEIGHT = 2.5
# Each refused code shows a shopper looking for a better price; three say all that can be said.
REFUSED_CODE_WEIGHT = 0.9
REFUSED_CODES_CAP = 3
# A cart this many times the customer's typical order is a bigger decision than usual ...
LARGE_CART_RATIO = 2.0
# ... which makes people pause ...
LARGE_CART_HESITATION_WEIGHT = 1.0
# ... and look harder at the total.
LARGE_CART_PRICE_WEIGHT = 0.5
# A first order from a shop carries more doubt (trust, returns, delivery) than a repeat one.
FIRST_PURCHASE_WEIGHT = 0.8
# Each past order makes "forgot to finish" the likelier story; five say all that can be said.
PAST_ORDER_WEIGHT = 0.25
PAST_ORDERS_CAP = 5
# A customer who came back after a reminder before tends to be one who simply got interrupted.
PAST_RECOVERY_WEIGHT = 1.0
# Each earlier cart that was reminded and never came back points to lost interest; three suffice.
PAST_IGNORED_WEIGHT = 1.0
PAST_IGNORED_CAP = 3
# Carts left this long are rarely finished: the need has passed or was met elsewhere ...
LONG_IDLE_MINUTES = 3 * 24 * 60
LONG_IDLE_WEIGHT = 1.0
# ... while carts left only a few hours look like an interrupted session.
SHORT_IDLE_MINUTES = 6 * 60
SHORT_IDLE_WEIGHT = 0.6
# Each message for this very cart that went unanswered is mild evidence against interest (mild:
# it may simply not have been read yet).
UNANSWERED_MESSAGE_WEIGHT = 0.4


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


# One piece of evidence: the sentence shown to people, and the weight it adds per reason.
_Finding = tuple[str, dict[str, float]]


def infer(signals: CartSignals) -> ReasonEstimate:
    scores = dict(BASE_LOG_SCORE)
    evidence: list[str] = []
    for finder in _FINDERS:
        for sentence, weights in finder(signals):
            evidence.append(sentence)
            for reason, weight in weights.items():
                scores[reason] += weight
    return ReasonEstimate(probabilities=_softmax(scores), evidence=evidence)


def _softmax(scores: dict[str, float]) -> dict[str, float]:
    top = max(scores.values())  # subtracted so that exp() cannot overflow
    exps = {reason: math.exp(scores[reason] - top) for reason in REASONS}
    total = sum(exps.values())
    return {reason: exps[reason] / total for reason in REASONS}


def _price(signals: CartSignals) -> Iterator[_Finding]:
    if signals.price_rise > 0:
        lines = _count(signals.lines_price_up, "line")
        if signals.cart_value > 0:
            fraction = signals.price_rise / signals.cart_value
            sentence = f"prices rose by {_percent(fraction)} on {lines} since they were added"
        else:
            fraction = PRICE_RISE_CAP_FRACTION
            sentence = f"prices rose on {lines} since they were added"
        tenths = 10 * min(fraction, PRICE_RISE_CAP_FRACTION)
        yield sentence, {"price": PRICE_RISE_WEIGHT + PRICE_RISE_WEIGHT_PER_TENTH * tenths}
    if signals.discount_attempts > 0:
        codes = _count(signals.discount_attempts, "discount code")
        refused = "that was refused" if signals.discount_attempts == 1 else "that were refused"
        weight = REFUSED_CODE_WEIGHT * min(signals.discount_attempts, REFUSED_CODES_CAP)
        yield f"tried {codes} {refused}", {"price": weight}


def _availability(signals: CartSignals) -> Iterator[_Finding]:
    if signals.lines_unavailable > 0:
        verb = "is" if signals.lines_unavailable == 1 else "are"
        sentence = f"{_count(signals.lines_unavailable, 'line')} {verb} out of stock or gone"
        yield sentence, {"availability": UNAVAILABLE_WEIGHT}
    if signals.lines_short > 0:
        has = (
            "has less stock than its" if signals.lines_short == 1 else "have less stock than their"
        )
        sentence = f"{_count(signals.lines_short, 'line')} {has} quantity"
        yield sentence, {"availability": SHORT_WEIGHT}


def _history(signals: CartSignals) -> Iterator[_Finding]:
    typical = signals.typical_order_value
    if typical and signals.cart_value >= LARGE_CART_RATIO * typical:
        ratio = signals.cart_value / typical
        weights = {"hesitation": LARGE_CART_HESITATION_WEIGHT, "price": LARGE_CART_PRICE_WEIGHT}
        yield f"cart is {ratio:.1f}x the customer's typical order", weights
    if signals.past_orders == 0:
        yield "first purchase: no past orders", {"hesitation": FIRST_PURCHASE_WEIGHT}
    else:
        weight = PAST_ORDER_WEIGHT * min(signals.past_orders, PAST_ORDERS_CAP)
        yield _count(signals.past_orders, "past order"), {"distraction": weight}
    if signals.past_recoveries > 0:
        carts = _count(signals.past_recoveries, "cart")
        yield f"came back after earlier reminders on {carts}", {"distraction": PAST_RECOVERY_WEIGHT}
    if signals.past_ignored > 0:
        carts = _count(signals.past_ignored, "cart")
        weight = PAST_IGNORED_WEIGHT * min(signals.past_ignored, PAST_IGNORED_CAP)
        yield f"ignored earlier reminders on {carts}", {"not_interested": weight}


def _idleness(signals: CartSignals) -> Iterator[_Finding]:
    idle = f"idle for {_duration(signals.idle_minutes)}"
    if signals.idle_minutes >= LONG_IDLE_MINUTES:
        yield idle, {"not_interested": LONG_IDLE_WEIGHT}
    elif signals.idle_minutes <= SHORT_IDLE_MINUTES:
        yield idle, {"distraction": SHORT_IDLE_WEIGHT}
    if signals.stage > 0:
        messages = _count(signals.stage, "message")
        verb = "was" if signals.stage == 1 else "were"
        sentence = f"{messages} for this cart {verb} already left unanswered"
        yield sentence, {"not_interested": UNANSWERED_MESSAGE_WEIGHT * signals.stage}


_FINDERS: tuple[Callable[[CartSignals], Iterator[_Finding]], ...] = (
    _price,
    _availability,
    _history,
    _idleness,
)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _percent(fraction: float) -> str:
    return "under 1%" if fraction < 0.01 else f"{round(100 * fraction)}%"


def _duration(minutes: float) -> str:
    if minutes >= 2 * 24 * 60:
        return _count(int(minutes // (24 * 60)), "day")
    if minutes >= 120:
        return _count(int(minutes // 60), "hour")
    return _count(int(minutes), "minute")
