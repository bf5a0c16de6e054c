"""The reason model: which evidence points where, in words, and the shape of the distribution."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aimall_cart.recovery.reasons import REASONS, CartSignals, ReasonEstimate, infer

bounded = settings(max_examples=50, deadline=None)

# A repeat customer's ordinary cart, idle a day: nothing in it points anywhere in particular.
ORDINARY = CartSignals(
    cart_value=10_000,
    line_count=2,
    price_rise=0,
    lines_price_up=0,
    lines_unavailable=0,
    lines_short=0,
    typical_order_value=8_000,
    past_orders=2,
    past_recoveries=0,
    past_ignored=0,
    discount_attempts=0,
    idle_minutes=24 * 60,
    stage=0,
)


def ordinary(**changes: Any) -> CartSignals:
    return dataclasses.replace(ORDINARY, **changes)


def test_an_ordinary_cart_is_most_likely_a_distraction() -> None:
    estimate = infer(ORDINARY)

    assert estimate.primary == "distraction"
    assert estimate.evidence == ["2 past orders"]


def test_a_price_rise_makes_price_the_primary_reason_and_names_the_rise() -> None:
    estimate = infer(ordinary(price_rise=1_200, lines_price_up=2))

    assert estimate.primary == "price"
    assert "prices rose by 12% on 2 lines since they were added" in estimate.evidence
    assert estimate.probabilities["price"] > 0.5


def test_refused_discount_codes_raise_price() -> None:
    estimate = infer(ordinary(discount_attempts=2))

    assert "tried 2 discount codes that were refused" in estimate.evidence
    assert estimate.probabilities["price"] > infer(ORDINARY).probabilities["price"]


def test_out_of_stock_lines_point_to_availability() -> None:
    estimate = infer(ordinary(lines_unavailable=2))

    assert estimate.primary == "availability"
    assert "2 lines are out of stock or gone" in estimate.evidence


def test_a_line_short_of_stock_points_to_availability() -> None:
    estimate = infer(ordinary(lines_short=1))

    assert estimate.primary == "availability"
    assert "1 line has less stock than its quantity" in estimate.evidence


def test_ignored_past_reminders_point_to_not_interested() -> None:
    estimate = infer(ordinary(past_ignored=2))

    assert estimate.primary == "not_interested"
    assert "ignored earlier reminders on 2 carts" in estimate.evidence


def test_a_loyal_customer_idle_a_short_time_is_distracted() -> None:
    estimate = infer(ordinary(past_orders=4, past_recoveries=1, idle_minutes=90))

    assert estimate.primary == "distraction"
    assert estimate.probabilities["distraction"] > infer(ORDINARY).probabilities["distraction"]
    assert estimate.evidence == [
        "4 past orders",
        "came back after earlier reminders on 1 cart",
        "idle for 90 minutes",
    ]


def test_a_first_purchase_raises_hesitation() -> None:
    estimate = infer(ordinary(past_orders=0, typical_order_value=None))

    assert "first purchase: no past orders" in estimate.evidence
    assert estimate.probabilities["hesitation"] > infer(ORDINARY).probabilities["hesitation"]


def test_a_cart_far_above_the_typical_order_raises_hesitation_and_price() -> None:
    before = infer(ordinary(typical_order_value=3_000, cart_value=5_000))
    after = infer(ordinary(typical_order_value=3_000, cart_value=9_300))

    assert "cart is 3.1x the customer's typical order" in after.evidence
    assert not any("typical order" in sentence for sentence in before.evidence)
    assert after.probabilities["hesitation"] > before.probabilities["hesitation"]
    assert after.probabilities["price"] > before.probabilities["price"]


def test_a_long_idle_cart_leans_to_not_interested() -> None:
    estimate = infer(ordinary(idle_minutes=3 * 24 * 60 + 30))

    assert "idle for 3 days" in estimate.evidence
    assert (
        estimate.probabilities["not_interested"] > infer(ORDINARY).probabilities["not_interested"]
    )


def test_an_unanswered_message_for_this_cart_raises_not_interested_mildly() -> None:
    estimate = infer(ordinary(stage=1))

    assert "1 message for this cart was already left unanswered" in estimate.evidence
    assert (
        estimate.probabilities["not_interested"] > infer(ORDINARY).probabilities["not_interested"]
    )
    assert estimate.primary == "distraction"


signals = st.builds(
    CartSignals,
    cart_value=st.integers(0, 10**9),
    line_count=st.integers(0, 200),
    price_rise=st.integers(0, 10**9),
    lines_price_up=st.integers(0, 200),
    lines_unavailable=st.integers(0, 200),
    lines_short=st.integers(0, 200),
    typical_order_value=st.none() | st.integers(0, 10**9),
    past_orders=st.integers(0, 10_000),
    past_recoveries=st.integers(0, 1_000),
    past_ignored=st.integers(0, 1_000),
    discount_attempts=st.integers(0, 1_000),
    idle_minutes=st.floats(0, 10**7),
    stage=st.integers(0, 10),
)


def assert_distribution(estimate: ReasonEstimate) -> None:
    assert set(estimate.probabilities) == set(REASONS)
    assert math.isclose(sum(estimate.probabilities.values()), 1.0)
    assert all(p > 0 for p in estimate.probabilities.values())


@bounded
@given(signals)
def test_probabilities_are_a_distribution_over_every_reason(cart: CartSignals) -> None:
    estimate = infer(cart)

    assert_distribution(estimate)
    assert estimate == infer(cart)


@bounded
@given(signals, st.integers(0, 10**9), st.integers(0, 10**9))
def test_a_larger_price_rise_never_lowers_the_probability_of_price(
    cart: CartSignals, rise: int, more: int
) -> None:
    smaller = infer(dataclasses.replace(cart, price_rise=rise))
    larger = infer(dataclasses.replace(cart, price_rise=rise + more))

    assert larger.probabilities["price"] >= smaller.probabilities["price"]
