"""Properties of the pure cart rules, checked with Hypothesis on bounded examples."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aimall_cart.carts.rules import (
    FLAG_ORDER,
    Line,
    Offer,
    QuantityOutOfRange,
    check_quantity,
    line_flags,
    line_key,
    totals,
)

MAX_MONEY = 1_000_000_000
MAX_QUANTITY = 1_000_000

# Few, well-aimed examples keep the whole unit layer near a second; no deadline under load.
bounded = settings(max_examples=50, deadline=None)

quantities = st.integers(min_value=1, max_value=MAX_QUANTITY)
texts = st.text(max_size=8)


@st.composite
def lines(draw: st.DrawFn) -> Line:
    unit_price = draw(st.integers(min_value=0, max_value=MAX_MONEY))
    discount = draw(st.integers(min_value=0, max_value=unit_price))
    return Line(quantity=draw(quantities), unit_price=unit_price, discount=discount)


@st.composite
def offers_for(draw: st.DrawFn, line: Line) -> Offer:
    """A live offer for ``line``, often close to it so that each flag both fires and does not."""
    unit_price = draw(
        st.one_of(
            st.just(line.unit_price),
            st.integers(min_value=0, max_value=MAX_MONEY),
        )
    )
    discount = draw(
        st.one_of(
            st.just(line.discount),
            # The same net price as the snapshot, when the list price allows it.
            st.just(max(0, unit_price - (line.unit_price - line.discount))),
            st.integers(min_value=0, max_value=unit_price),
        )
    )
    near = st.integers(min_value=max(0, line.quantity - 2), max_value=line.quantity + 2)
    available = draw(st.one_of(st.just(0), near, st.integers(0, MAX_QUANTITY)))
    low = st.integers(min_value=1, max_value=min(line.quantity + 2, MAX_QUANTITY))
    min_quantity = draw(st.one_of(low, st.integers(1, MAX_QUANTITY)))
    max_quantity = draw(
        st.one_of(
            st.integers(min_quantity, min_quantity + 3),
            st.integers(min_quantity, MAX_QUANTITY),
        )
    )
    return Offer(
        active=draw(st.booleans()),
        unit_price=unit_price,
        discount=discount,
        available=available,
        min_quantity=min_quantity,
        max_quantity=max_quantity,
    )


@st.composite
def lines_with_offers(draw: st.DrawFn) -> tuple[Line, Offer | None]:
    line = draw(lines())
    offer = draw(st.one_of(st.none(), offers_for(line)))
    return line, offer


def is_subsequence(items: list[str], of: tuple[str, ...]) -> bool:
    remaining = iter(of)
    return all(item in remaining for item in items)


# totals


@bounded
@given(st.lists(lines(), max_size=10))
def test_totals_total_is_the_sum_of_line_totals(cart: list[Line]) -> None:
    assert totals(cart).total == sum(line.total for line in cart)


@bounded
@given(st.lists(lines(), max_size=10))
def test_totals_subtotal_less_discount_is_total(cart: list[Line]) -> None:
    result = totals(cart)
    assert result.subtotal - result.discount == result.total
    assert result.subtotal == sum(line.unit_price * line.quantity for line in cart)
    assert result.discount == sum(line.discount * line.quantity for line in cart)


@bounded
@given(st.lists(lines(), max_size=10))
def test_totals_item_count_is_the_sum_of_quantities(cart: list[Line]) -> None:
    assert totals(cart).item_count == sum(line.quantity for line in cart)


@bounded
@given(st.lists(lines(), max_size=10))
def test_totals_never_go_negative_when_discounts_stay_within_price(cart: list[Line]) -> None:
    result = totals(cart)
    assert 0 <= result.total <= result.subtotal
    assert result.discount >= 0


# check_quantity


@bounded
@given(
    quantity=st.integers(min_value=-10, max_value=MAX_QUANTITY + 10),
    bounds=st.tuples(st.integers(1, MAX_QUANTITY), st.integers(1, MAX_QUANTITY)).map(sorted),
)
def test_check_quantity_accepts_exactly_the_quantities_within_bounds(
    quantity: int, bounds: list[int]
) -> None:
    min_quantity, max_quantity = bounds
    if min_quantity <= quantity <= max_quantity:
        check_quantity(quantity, min_quantity=min_quantity, max_quantity=max_quantity)
    else:
        with pytest.raises(QuantityOutOfRange) as raised:
            check_quantity(quantity, min_quantity=min_quantity, max_quantity=max_quantity)
        assert raised.value.context["min_quantity"] == min_quantity
        assert raised.value.context["max_quantity"] == max_quantity


@bounded
@given(bounds=st.tuples(st.integers(1, MAX_QUANTITY), st.integers(1, MAX_QUANTITY)).map(sorted))
def test_check_quantity_accepts_both_bounds_and_rejects_just_outside(bounds: list[int]) -> None:
    min_quantity, max_quantity = bounds
    check_quantity(min_quantity, min_quantity=min_quantity, max_quantity=max_quantity)
    check_quantity(max_quantity, min_quantity=min_quantity, max_quantity=max_quantity)
    for outside in (min_quantity - 1, max_quantity + 1):
        with pytest.raises(QuantityOutOfRange):
            check_quantity(outside, min_quantity=min_quantity, max_quantity=max_quantity)


# line_flags


@bounded
@given(lines_with_offers())
def test_line_flags_never_repeat_a_flag(case: tuple[Line, Offer | None]) -> None:
    flags = line_flags(*case)
    assert len(flags) == len(set(flags))


@bounded
@given(lines_with_offers())
def test_line_flags_are_a_subsequence_of_flag_order(case: tuple[Line, Offer | None]) -> None:
    flags = line_flags(*case)
    assert set(flags) <= set(FLAG_ORDER)
    assert is_subsequence(flags, FLAG_ORDER)


@bounded
@given(lines_with_offers())
def test_line_flags_unavailable_excludes_every_other_flag(case: tuple[Line, Offer | None]) -> None:
    line, offer = case
    flags = line_flags(line, offer)
    if offer is None or not offer.active:
        assert flags == ["unavailable"]
    else:
        assert "unavailable" not in flags


@bounded
@given(lines_with_offers())
def test_line_flags_out_of_stock_and_insufficient_stock_never_come_together(
    case: tuple[Line, Offer | None],
) -> None:
    flags = line_flags(*case)
    assert not {"out_of_stock", "insufficient_stock"} <= set(flags)


@bounded
@given(lines_with_offers())
def test_line_flags_agree_with_a_plain_model(case: tuple[Line, Offer | None]) -> None:
    line, offer = case
    if offer is None or not offer.active:
        expected = {"unavailable"}
    else:
        expected = set()
        if offer.available == 0:
            expected.add("out_of_stock")
        elif offer.available < line.quantity:
            expected.add("insufficient_stock")
        if line.quantity < offer.min_quantity or line.quantity > offer.max_quantity:
            expected.add("quantity_out_of_range")
        if offer.unit_price - offer.discount != line.unit_price - line.discount:
            expected.add("price_changed")
    assert set(line_flags(line, offer)) == expected


@bounded
@given(line=lines(), raise_by=st.integers(min_value=0, max_value=MAX_MONEY))
def test_line_flags_no_price_change_when_list_price_and_discount_move_together(
    line: Line, raise_by: int
) -> None:
    offer = Offer(
        active=True,
        unit_price=line.unit_price + raise_by,
        discount=line.discount + raise_by,
        available=line.quantity,
        min_quantity=1,
        max_quantity=line.quantity,
    )
    assert line_flags(line, offer) == []


# line_key

option_maps = st.dictionaries(texts, texts, max_size=6)


@bounded
@given(product_id=texts, variant_id=texts, options=option_maps, data=st.data())
def test_line_key_is_invariant_under_option_order(
    product_id: str, variant_id: str, options: dict[str, str], data: st.DataObject
) -> None:
    shuffled = dict(data.draw(st.permutations(list(options.items()))))
    assert line_key(product_id, variant_id, options) == line_key(product_id, variant_id, shuffled)


@bounded
@given(product_id=texts, variant_id=texts, options=option_maps, other=option_maps)
def test_line_key_differs_when_options_differ(
    product_id: str, variant_id: str, options: dict[str, str], other: dict[str, str]
) -> None:
    same_key = line_key(product_id, variant_id, options) == line_key(product_id, variant_id, other)
    assert same_key == (options == other)


@bounded
@given(first=st.tuples(texts, texts, option_maps), second=st.tuples(texts, texts, option_maps))
def test_line_key_is_equal_exactly_when_the_line_identity_is_equal(
    first: tuple[str, str, dict[str, str]], second: tuple[str, str, dict[str, str]]
) -> None:
    assert (line_key(*first) == line_key(*second)) == (first == second)
