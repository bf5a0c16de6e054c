"""Promotion codes as pure rules: the amount and its rounding, when an applied code stops
counting, how a typed code is read, and how a code problem blocks checkout."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from aimall_cart.carts.promotions import CODE_ALPHABET, new_code, normalise
from aimall_cart.carts.rules import Line, Promotion, promotion_amount, promotion_problem, totals
from aimall_cart.checkout.rules import LineCheck, problems

MAX_NET = 10**12
NOW = datetime(2025, 1, 1, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)

bounded = settings(max_examples=100, deadline=None)
nets = st.integers(min_value=0, max_value=MAX_NET)
percents = st.integers(min_value=1, max_value=100)


def test_the_amount_rounds_down_to_the_minor_unit() -> None:
    assert promotion_amount(5397, 15) == 809  # 809.55
    assert promotion_amount(99, 1) == 0  # 0.99
    assert promotion_amount(1999, 100) == 1999
    assert promotion_amount(0, 50) == 0


@bounded
@given(net=nets, percent=percents)
def test_the_amount_is_never_negative_nor_above_the_net_subtotal(net: int, percent: int) -> None:
    assert 0 <= promotion_amount(net, percent) <= net


@bounded
@given(net=nets, percent=percents)
def test_the_amount_misses_the_exact_percentage_by_less_than_one_minor_unit(
    net: int, percent: int
) -> None:
    exact_hundredths = net * percent
    assert 0 <= exact_hundredths - 100 * promotion_amount(net, percent) < 100


@bounded
@given(net=nets, low=percents, high=percents)
def test_the_amount_grows_with_the_percent(net: int, low: int, high: int) -> None:
    low, high = sorted((low, high))
    assert promotion_amount(net, low) <= promotion_amount(net, high)


def test_totals_take_the_promotion_off_the_net_of_the_line_discounts() -> None:
    lines = [Line(quantity=3, unit_price=1999, discount=200)]

    priced = totals(lines, Promotion("SAVE-X", 15, LATER))

    assert (priced.subtotal, priced.discount, priced.total, priced.promotion) == (
        5997,
        600 + 809,
        5997 - 600 - 809,
        809,
    )
    assert totals(lines) == totals(lines, None)
    assert totals(lines).promotion == 0


def test_a_code_with_a_problem_takes_nothing_off() -> None:
    lines = [Line(quantity=1, unit_price=1000, discount=0)]
    for problem in ("discount_code_expired", "discount_code_used"):
        priced = totals(lines, Promotion("SAVE-X", 50, NOW, problem))
        assert (priced.discount, priced.total, priced.promotion) == (0, 1000, 0)


def test_a_code_expires_at_its_expiry_unless_a_checkout_froze_the_price() -> None:
    def judged(expires_at: datetime, *, redeemed: bool = False, frozen: bool = False) -> str | None:
        return promotion_problem(
            expires_at=expires_at, redeemed=redeemed, now=NOW, price_frozen=frozen
        )

    assert judged(LATER) is None
    assert judged(NOW) == "discount_code_expired"
    assert judged(NOW, frozen=True) is None
    assert judged(LATER, redeemed=True) == "discount_code_used"
    assert judged(NOW, redeemed=True, frozen=True) == "discount_code_used"


def test_new_codes_are_prefixed_crockford_base32_without_ambiguous_letters() -> None:
    codes = {new_code() for _ in range(200)}

    assert len(codes) == 200
    assert all(re.fullmatch(r"SAVE-[0-9A-HJKMNP-TV-Z]{12}", code) for code in codes)
    assert not set(CODE_ALPHABET) & set("ILOU")


def test_a_typed_code_is_read_in_any_case_with_look_alike_letters_as_digits() -> None:
    assert normalise("  save-ab1o0l9xyz ") == "SAVE-AB10019XYZ"
    assert normalise("SAVE-ABCDEFGHJKMN") == "SAVE-ABCDEFGHJKMN"
    assert normalise("welcome10") == "WELCOME10"


def test_a_code_problem_blocks_checkout_beside_the_line_problems() -> None:
    line = LineCheck("item-1", "v-1", 1, (("out_of_stock", "Out of stock"),), 0)
    used = Promotion("SAVE-X", 10, LATER, "discount_code_used")

    found = problems([line], accept_price_changes=False, promotion=used)

    assert [(p["item_id"], p["code"]) for p in found] == [
        ("item-1", "out_of_stock"),
        (None, "discount_code_used"),
    ]
    assert found[1]["discount_code"] == "SAVE-X"
    assert problems([], accept_price_changes=False, promotion=used)[0]["code"] == "cart_empty"
    clean = LineCheck("item-1", "v-1", 1, (), 5)
    valid = Promotion("SAVE-X", 10, LATER)
    assert problems([clean], accept_price_changes=False, promotion=valid) == []
