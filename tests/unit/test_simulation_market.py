"""The synthetic market: customers answer what a message really offers, for their hidden reason."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from aimall_cart.recovery.reasons import REASONS
from aimall_cart.simulation.market import (
    CartLine,
    Customer,
    Message,
    World,
    blend_mix,
    draw_customer,
    parse_mix,
    plan_return,
    respond,
    return_probability,
)
from aimall_cart.simulation.shoppers import Shelf, deal
from aimall_cart.simulation.worlds import PRESETS, preset

WORLD = PRESETS["balanced"]


def _customers(world: World, reason: str, count: int = 400, seed: int = 7) -> list[Customer]:
    """Customers who all left for one reason, in an otherwise unchanged world."""
    only = replace(world, reason_mix={r: float(r == reason) for r in REASONS})
    rng = np.random.default_rng(seed)
    return [draw_customer(only, f"u-{i}", rng) for i in range(count)]


def _returns(customers: list[Customer], message: Message | None, seed: int = 11) -> int:
    rng = np.random.default_rng(seed)
    return sum(respond(customer, message, rng) for customer in customers)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_are_probability_distributions_over_every_reason(name: str) -> None:
    world = PRESETS[name]
    assert world.name == name
    assert set(world.reason_mix) == set(REASONS) == set(world.responses)
    assert sum(world.reason_mix.values()) == pytest.approx(1)
    assert all(share > 0 for share in world.reason_mix.values())
    assert sum(world.cart_lines) == pytest.approx(1)
    assert all(0 < r.unprompted < 1 for r in world.responses.values())


def test_presets_include_the_named_worlds() -> None:
    assert {"balanced", "price_sensitive", "stock_churn", "skeptical", "mixed_middle"} <= (
        PRESETS.keys()
    )
    assert PRESETS["skeptical"].noise > PRESETS["mixed_middle"].noise > WORLD.noise


def test_a_mix_that_is_not_a_distribution_is_refused() -> None:
    with pytest.raises(ValueError, match="distribution"):
        replace(WORLD, reason_mix={**WORLD.reason_mix, "price": 0.9})


def test_the_same_seed_draws_the_same_customers() -> None:
    first = [draw_customer(WORLD, f"u-{i}", np.random.default_rng([3, i])) for i in range(50)]
    again = [draw_customer(WORLD, f"u-{i}", np.random.default_rng([3, i])) for i in range(50)]
    other = [draw_customer(WORLD, f"u-{i}", np.random.default_rng([4, i])) for i in range(50)]
    assert first == again
    assert first != other


def test_customers_follow_the_reason_mix() -> None:
    rng = np.random.default_rng(5)
    reasons = [draw_customer(WORLD, "u", rng).reason for _ in range(5000)]
    for reason in REASONS:
        assert reasons.count(reason) / len(reasons) == pytest.approx(
            WORLD.reason_mix[reason], abs=0.025
        )


def test_churn_mostly_hits_the_customers_of_its_reason() -> None:
    price = _customers(WORLD, "price")
    distracted = _customers(WORLD, "distraction")
    out_of_stock = _customers(WORLD, "availability")
    assert sum(c.price_rise > 0 for c in price) / len(price) > 0.75
    assert 0 < sum(c.price_rise > 0 for c in distracted) / len(distracted) < 0.15
    assert sum(c.stockout for c in out_of_stock) / len(out_of_stock) > 0.75
    assert all(0.05 <= c.price_rise <= 0.25 for c in price if c.price_rise)


@pytest.mark.parametrize("seed", range(5))
def test_a_larger_discount_never_loses_a_price_customer_who_would_return(seed: int) -> None:
    customers = _customers(WORLD, "price", count=200, seed=seed)
    previous = [False] * len(customers)
    for percent in (0, 5, 10, 15, 20):
        message = Message(discount_percent=percent)
        came = [
            respond(c, message, np.random.default_rng([seed, i])) for i, c in enumerate(customers)
        ]
        assert all(now or not before for before, now in zip(previous, came, strict=True))
        previous = came
    low = _returns(customers, Message(discount_percent=5))
    high = _returns(customers, Message(discount_percent=20))
    assert high > low * 1.5


def test_not_interested_customers_barely_respond_to_anything() -> None:
    customers = _customers(WORLD, "not_interested", count=600)
    best = Message(discount_percent=50, alternatives_offered=3, alternatives_in_stock=3)
    assert _returns(customers, best) / len(customers) < 0.03
    assert _returns(_customers(WORLD, "distraction", count=600), Message()) > 10 * _returns(
        customers, best
    )


def test_alternatives_matter_only_when_they_are_in_stock() -> None:
    customer = _customers(WORLD, "availability", count=1)[0]
    reminder = return_probability(customer, Message())
    sold_out = return_probability(customer, Message(alternatives_offered=3))
    in_stock = return_probability(
        customer, Message(alternatives_offered=3, alternatives_in_stock=1)
    )
    assert sold_out == reminder
    assert in_stock > 2 * reminder


def test_a_discount_hardly_moves_a_distracted_customer() -> None:
    customer = replace(_customers(WORLD, "distraction", count=1)[0], affinity=0.0)
    reminder = return_probability(customer, Message())
    assert return_probability(customer, Message(discount_percent=20)) - reminder < 0.02
    assert reminder > 2 * return_probability(customer, None)


@pytest.mark.parametrize("affinity", [-1000.0, 1000.0])
def test_extreme_customers_still_have_a_probability(affinity: float) -> None:
    customer = replace(_customers(WORLD, "price", count=1)[0], affinity=affinity)
    assert return_probability(customer, Message(discount_percent=20)) == float(affinity > 0)


def test_blend_mix_keeps_the_preset_proportions_of_the_unnamed_reasons() -> None:
    mix = blend_mix(WORLD.reason_mix, {"price": 0.6})
    assert mix["price"] == 0.6
    assert sum(mix.values()) == pytest.approx(1)
    assert mix["distraction"] / mix["hesitation"] == pytest.approx(0.25 / 0.20)
    with pytest.raises(ValueError, match="unknown reasons"):
        blend_mix(WORLD.reason_mix, {"boredom": 0.1})
    with pytest.raises(ValueError, match="at most 1"):
        blend_mix(WORLD.reason_mix, {"price": 0.7, "hesitation": 0.5})


def test_adjusted_scales_every_lift_and_replaces_noise_and_sensitivity() -> None:
    world = WORLD.adjusted(response_strength=0.5, discount_sensitivity=4, noise=2.0)
    price, before = world.responses["price"], WORLD.responses["price"]
    assert price.discount_strength == before.discount_strength / 2
    assert price.reminder_lift == before.reminder_lift / 2
    assert price.unprompted == before.unprompted
    assert {r.discount_sensitivity for r in world.responses.values()} == {4}
    assert world.noise == 2.0
    assert world.reason_mix == WORLD.reason_mix


def test_adjusted_without_overrides_is_the_same_world() -> None:
    assert WORLD.adjusted() is WORLD


def test_reason_shares_are_read_from_the_command_line_form() -> None:
    assert parse_mix(" price=0.4, availability=.2 ,") == {"price": 0.4, "availability": 0.2}
    with pytest.raises(ValueError, match="reason=share"):
        parse_mix("price:0.4")
    with pytest.raises(ValueError, match="reason=share"):
        parse_mix("price=lots")


def test_an_unknown_preset_is_refused_with_the_choices() -> None:
    assert preset("skeptical") is PRESETS["skeptical"]
    with pytest.raises(ValueError, match="balanced"):
        preset("utopia")


def test_a_missing_item_is_replaced_by_an_alternative_or_dropped() -> None:
    lines = [CartLine("a", "v-a", buyable=False), CartLine("b", "v-b", buyable=True)]
    replaced = plan_return(lines, [("p-x", "v-x")])
    assert (replaced.remove, replaced.add, replaced.buys) == (("a",), (("p-x", "v-x"),), True)
    dropped = plan_return(lines, [])
    assert (dropped.remove, dropped.add, dropped.buys) == (("a",), (), True)


def test_a_cart_of_only_missing_items_buys_nothing_without_alternatives() -> None:
    lines = [CartLine("a", "v-a", buyable=False)]
    assert not plan_return(lines, []).buys
    assert not plan_return(lines, [("p-a", "v-a")]).buys  # the missing item itself is no substitute
    assert plan_return(lines, [("p-y", "v-y"), ("p-z", "v-z")]).add == (("p-y", "v-y"),)


def test_a_cart_with_every_line_buyable_is_left_alone() -> None:
    plan = plan_return([CartLine("a", "v-a", buyable=True)], [("p-x", "v-x")])
    assert (plan.remove, plan.add, plan.buys) == ((), (), True)


def test_carts_of_a_wave_never_share_a_variant_while_the_catalog_lasts() -> None:
    shelves = [Shelf(f"p-{i}", f"v-{i}", 1000, 0) for i in range(40)]
    hands = deal(shelves, [4, 3, 1, 2, 4, 4], np.random.default_rng(1))
    assert [len(hand) for hand in hands] == [4, 3, 1, 2, 4, 4]
    carted = [shelf.variant_id for hand in hands for shelf in hand]
    assert len(set(carted)) == len(carted)
    crowded = deal(shelves[:5], [4, 4, 4], np.random.default_rng(1))
    assert all(len({shelf.variant_id for shelf in hand}) == 4 for hand in crowded)
