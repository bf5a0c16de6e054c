"""The pure cart rules: line identity, variant choice, limits, live flags and totals."""

from __future__ import annotations

import pytest

from aimall_cart.carts.rules import (
    FLAG_ORDER,
    InsufficientStock,
    InvalidOptions,
    Line,
    Offer,
    QuantityOutOfRange,
    Totals,
    VariantChoice,
    check_quantity,
    check_stock,
    choose_variant,
    flag_message,
    line_flags,
    line_key,
    totals,
)
from aimall_cart.errors import Conflict, Invalid


def make_offer(
    *,
    active: bool = True,
    unit_price: int = 1999,
    discount: int = 200,
    available: int = 10,
    min_quantity: int = 1,
    max_quantity: int = 10,
) -> Offer:
    return Offer(
        active=active,
        unit_price=unit_price,
        discount=discount,
        available=available,
        min_quantity=min_quantity,
        max_quantity=max_quantity,
    )


def make_line(*, quantity: int = 2, unit_price: int = 1999, discount: int = 200) -> Line:
    return Line(quantity=quantity, unit_price=unit_price, discount=discount)


def variant(variant_id: str, *, active: bool = True, **options: str) -> VariantChoice:
    return VariantChoice(variant_id=variant_id, options=options, active=active)


SHIRT = [
    variant("p-1-red-m", color="red", size="M"),
    variant("p-1-red-l", color="red", size="L"),
    variant("p-1-blue-m", color="blue", size="M"),
]


# line_key


def test_line_key_is_the_same_for_the_same_product_variant_and_options() -> None:
    assert line_key("p-1", "p-1-red-m", {"color": "red", "size": "M"}) == line_key(
        "p-1", "p-1-red-m", {"color": "red", "size": "M"}
    )


def test_line_key_ignores_option_order() -> None:
    assert line_key("p-1", "v-1", {"color": "red", "size": "M", "gift": "yes"}) == line_key(
        "p-1", "v-1", {"gift": "yes", "size": "M", "color": "red"}
    )


@pytest.mark.parametrize(
    ("other_product", "other_variant", "other_options"),
    [
        pytest.param("p-2", "v-1", {"color": "red"}, id="product"),
        pytest.param("p-1", "v-2", {"color": "red"}, id="variant"),
        pytest.param("p-1", "v-1", {"color": "blue"}, id="option value"),
        pytest.param("p-1", "v-1", {"colour": "red"}, id="option name"),
        pytest.param("p-1", "v-1", {"color": "red", "gift": "yes"}, id="extra option"),
        pytest.param("p-1", "v-1", {}, id="no options"),
        pytest.param("p-1", "v-1", {"color": "Red"}, id="option value case"),
    ],
)
def test_line_key_differs_when_product_variant_or_options_differ(
    other_product: str, other_variant: str, other_options: dict[str, str]
) -> None:
    assert line_key("p-1", "v-1", {"color": "red"}) != line_key(
        other_product, other_variant, other_options
    )


def test_line_key_does_not_confuse_ids_that_concatenate_alike() -> None:
    assert line_key("p-1", "v-1", {}) != line_key("p-1v", "-1", {})
    assert line_key("p", "v", {"a": "bc"}) != line_key("p", "v", {"ab": "c"})


def test_line_key_is_a_sha256_hex_digest() -> None:
    key = line_key("p-1", "v-1", {"color": "rouge", "taille": "é"})
    assert len(key) == 64
    assert set(key) <= set("0123456789abcdef")


# choose_variant


def test_choose_variant_by_id() -> None:
    assert choose_variant(SHIRT, variant_id="p-1-red-l", options=None) is SHIRT[1]


def test_choose_variant_by_id_with_agreeing_options() -> None:
    chosen = choose_variant(SHIRT, variant_id="p-1-blue-m", options={"size": "M", "color": "blue"})
    assert chosen is SHIRT[2]


def test_choose_variant_by_id_with_empty_options_is_the_id() -> None:
    assert choose_variant(SHIRT, variant_id="p-1-red-m", options={}) is SHIRT[0]


def test_choose_variant_by_id_with_disagreeing_options_is_invalid_options() -> None:
    with pytest.raises(InvalidOptions) as raised:
        choose_variant(SHIRT, variant_id="p-1-red-m", options={"color": "blue"})
    assert raised.value.code == "invalid_options"
    assert raised.value.context["variant_id"] == "p-1-red-m"


def test_choose_variant_by_id_with_an_option_the_variant_lacks_is_invalid_options() -> None:
    with pytest.raises(InvalidOptions):
        choose_variant(SHIRT, variant_id="p-1-red-m", options={"color": "red", "gift": "yes"})


def test_choose_variant_by_unknown_id_is_invalid_options() -> None:
    with pytest.raises(InvalidOptions) as raised:
        choose_variant(SHIRT, variant_id="p-2-red-m", options=None)
    assert raised.value.context["variant_id"] == "p-2-red-m"


def test_choose_variant_by_options_matching_exactly_one_variant() -> None:
    chosen = choose_variant(SHIRT, variant_id=None, options={"color": "blue", "size": "M"})
    assert chosen is SHIRT[2]


def test_choose_variant_by_partial_options_that_match_one_variant() -> None:
    assert choose_variant(SHIRT, variant_id=None, options={"size": "L"}) is SHIRT[1]
    assert choose_variant(SHIRT, variant_id=None, options={"color": "blue"}) is SHIRT[2]


def test_choose_variant_by_ambiguous_options_is_invalid_options() -> None:
    with pytest.raises(InvalidOptions) as raised:
        choose_variant(SHIRT, variant_id=None, options={"color": "red"})
    assert raised.value.context["choices"] == [
        {"color": "red", "size": "M"},
        {"color": "red", "size": "L"},
        {"color": "blue", "size": "M"},
    ]


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"color": "green"}, id="unknown value"),
        pytest.param({"material": "cotton"}, id="unknown name"),
        pytest.param({"color": "blue", "size": "L"}, id="no such combination"),
    ],
)
def test_choose_variant_by_unknown_options_is_invalid_options(options: dict[str, str]) -> None:
    with pytest.raises(InvalidOptions):
        choose_variant(SHIRT, variant_id=None, options=options)


def test_choose_variant_with_neither_id_nor_options_on_many_variants_is_invalid_options() -> None:
    with pytest.raises(InvalidOptions):
        choose_variant(SHIRT, variant_id=None, options=None)


def test_choose_variant_with_neither_id_nor_options_picks_the_only_variant() -> None:
    only = [variant("p-9-default")]
    assert choose_variant(only, variant_id=None, options=None) is only[0]
    assert choose_variant(only, variant_id=None, options={}) is only[0]


def test_choose_variant_resolves_an_ambiguous_match_to_the_one_active_variant() -> None:
    variants = [
        variant("p-1-red-m", active=False, color="red", size="M"),
        variant("p-1-red-l", color="red", size="L"),
        variant("p-1-blue-m", color="blue", size="M"),
    ]
    assert choose_variant(variants, variant_id=None, options={"color": "red"}) is variants[1]


def test_choose_variant_stays_ambiguous_when_several_matches_are_active() -> None:
    variants = [
        variant("p-1-red-s", active=False, color="red", size="S"),
        variant("p-1-red-m", color="red", size="M"),
        variant("p-1-red-l", color="red", size="L"),
    ]
    with pytest.raises(InvalidOptions) as raised:
        choose_variant(variants, variant_id=None, options={"color": "red"})
    assert raised.value.context["choices"] == [
        {"color": "red", "size": "M"},
        {"color": "red", "size": "L"},
    ]


def test_choose_variant_stays_ambiguous_when_no_match_is_active() -> None:
    variants = [
        variant("p-1-red-m", active=False, color="red", size="M"),
        variant("p-1-red-l", active=False, color="red", size="L"),
    ]
    with pytest.raises(InvalidOptions):
        choose_variant(variants, variant_id=None, options={"color": "red"})


def test_invalid_options_is_an_invalid_request() -> None:
    assert issubclass(InvalidOptions, Invalid)


# check_quantity


@pytest.mark.parametrize("quantity", [1, 5, 10])
def test_check_quantity_accepts_the_bounds_and_between(quantity: int) -> None:
    check_quantity(quantity, min_quantity=1, max_quantity=10)


@pytest.mark.parametrize("quantity", [0, 1, 11, -1])
def test_check_quantity_rejects_outside_the_bounds_naming_both(quantity: int) -> None:
    with pytest.raises(QuantityOutOfRange) as raised:
        check_quantity(quantity, min_quantity=2, max_quantity=10)
    error = raised.value
    assert error.code == "quantity_out_of_range"
    assert isinstance(error, Invalid)
    assert error.context["min_quantity"] == 2
    assert error.context["max_quantity"] == 10
    assert error.context["quantity"] == quantity
    assert error.detail == "Quantity must be between 2 and 10"


def test_check_quantity_with_equal_bounds_accepts_only_that_quantity() -> None:
    check_quantity(3, min_quantity=3, max_quantity=3)
    with pytest.raises(QuantityOutOfRange):
        check_quantity(4, min_quantity=3, max_quantity=3)


# check_stock


@pytest.mark.parametrize("quantity", [0, 1, 5])
def test_check_stock_accepts_up_to_the_available_quantity(quantity: int) -> None:
    check_stock(quantity, available=5)


def test_check_stock_rejects_more_than_available_with_the_available_quantity() -> None:
    with pytest.raises(InsufficientStock) as raised:
        check_stock(6, available=5)
    error = raised.value
    assert error.code == "insufficient_stock"
    assert isinstance(error, Conflict)
    assert error.context == {"available_quantity": 5}
    assert error.detail == "Only 5 left"


def test_check_stock_says_out_of_stock_when_nothing_is_left() -> None:
    with pytest.raises(InsufficientStock) as raised:
        check_stock(1, available=0)
    assert raised.value.detail == "Out of stock"
    assert raised.value.context == {"available_quantity": 0}


# line_flags


def test_line_flags_are_empty_for_a_healthy_line() -> None:
    assert line_flags(make_line(), make_offer()) == []


def test_line_flags_unavailable_when_the_variant_is_gone() -> None:
    assert line_flags(make_line(), None) == ["unavailable"]


def test_line_flags_unavailable_when_the_offer_is_inactive() -> None:
    assert line_flags(make_line(), make_offer(active=False)) == ["unavailable"]


def test_line_flags_unavailable_hides_every_other_flag() -> None:
    offer = make_offer(
        active=False, unit_price=5000, discount=0, available=0, min_quantity=5, max_quantity=6
    )
    assert line_flags(make_line(quantity=2), offer) == ["unavailable"]


def test_line_flags_out_of_stock_when_nothing_is_available() -> None:
    assert line_flags(make_line(quantity=2), make_offer(available=0)) == ["out_of_stock"]


def test_line_flags_out_of_stock_is_not_also_insufficient_stock() -> None:
    flags = line_flags(make_line(quantity=1), make_offer(available=0))
    assert "insufficient_stock" not in flags


def test_line_flags_insufficient_stock_when_less_is_available_than_the_quantity() -> None:
    assert line_flags(make_line(quantity=3), make_offer(available=2)) == ["insufficient_stock"]


def test_line_flags_no_stock_flag_when_exactly_the_quantity_is_available() -> None:
    assert line_flags(make_line(quantity=3), make_offer(available=3)) == []


@pytest.mark.parametrize(
    ("quantity", "min_quantity", "max_quantity"),
    [
        pytest.param(2, 3, 10, id="below min"),
        pytest.param(11, 1, 10, id="above max"),
    ],
)
def test_line_flags_quantity_out_of_range_when_the_policy_changed(
    quantity: int, min_quantity: int, max_quantity: int
) -> None:
    offer = make_offer(available=100, min_quantity=min_quantity, max_quantity=max_quantity)
    assert line_flags(make_line(quantity=quantity), offer) == ["quantity_out_of_range"]


@pytest.mark.parametrize("quantity", [3, 7])
def test_line_flags_no_range_flag_at_the_bounds(quantity: int) -> None:
    offer = make_offer(min_quantity=3, max_quantity=7)
    assert line_flags(make_line(quantity=quantity), offer) == []


def test_line_flags_price_changed_when_the_list_price_moves() -> None:
    offer = make_offer(unit_price=2199, discount=200)
    assert line_flags(make_line(unit_price=1999, discount=200), offer) == ["price_changed"]


def test_line_flags_price_changed_when_the_discount_moves() -> None:
    offer = make_offer(unit_price=1999, discount=0)
    assert line_flags(make_line(unit_price=1999, discount=200), offer) == ["price_changed"]


def test_line_flags_price_changed_when_the_price_drops() -> None:
    offer = make_offer(unit_price=1499, discount=200)
    assert line_flags(make_line(unit_price=1999, discount=200), offer) == ["price_changed"]


def test_line_flags_no_price_change_when_the_net_price_is_the_same() -> None:
    # List price 2199 less 400 is the 1799 the shopper was quoted (1999 less 200).
    offer = make_offer(unit_price=2199, discount=400)
    assert line_flags(make_line(unit_price=1999, discount=200), offer) == []


def test_line_flags_every_live_flag_at_once_in_flag_order() -> None:
    offer = make_offer(unit_price=2199, discount=0, available=0, min_quantity=5, max_quantity=10)
    assert line_flags(make_line(quantity=2), offer) == [
        "out_of_stock",
        "quantity_out_of_range",
        "price_changed",
    ]


def test_line_flags_insufficient_stock_range_and_price_in_flag_order() -> None:
    offer = make_offer(unit_price=2199, discount=200, available=1, min_quantity=1, max_quantity=1)
    assert line_flags(make_line(quantity=2), offer) == [
        "insufficient_stock",
        "quantity_out_of_range",
        "price_changed",
    ]


def test_line_flags_stock_and_price_as_in_the_api_example() -> None:
    # API.md: quantity 2, snapshot 1999 less 200, live 2199, one left.
    offer = make_offer(unit_price=2199, discount=200, available=1)
    flags = line_flags(make_line(quantity=2, unit_price=1999, discount=200), offer)
    assert sorted(flags) == ["insufficient_stock", "price_changed"]
    assert flags == ["insufficient_stock", "price_changed"]


def test_flag_order_names_every_flag_once() -> None:
    assert len(set(FLAG_ORDER)) == len(FLAG_ORDER) == 5
    assert FLAG_ORDER[0] == "unavailable"


# flag_message


def test_flag_message_insufficient_stock_says_how_many_are_left() -> None:
    assert flag_message("insufficient_stock", make_offer(available=1)) == "Only 1 left"


def test_flag_message_quantity_out_of_range_names_both_bounds() -> None:
    offer = make_offer(min_quantity=2, max_quantity=8)
    assert flag_message("quantity_out_of_range", offer) == "Quantity must be between 2 and 8"


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("unavailable", "This item is no longer available"),
        ("out_of_stock", "Out of stock"),
        ("insufficient_stock", "Not enough stock"),
        ("quantity_out_of_range", "Quantity is outside the allowed range"),
        ("price_changed", "The price has changed since this item was added"),
    ],
)
def test_flag_message_without_an_offer_is_generic(flag: str, message: str) -> None:
    assert flag_message(flag, None) == message  # type: ignore[arg-type]


@pytest.mark.parametrize("flag", ["unavailable", "out_of_stock", "price_changed"])
def test_flag_message_ignores_the_offer_for_flags_without_figures(flag: str) -> None:
    assert flag_message(flag, make_offer()) == flag_message(flag, None)  # type: ignore[arg-type]


def test_every_flag_has_a_non_empty_message() -> None:
    for flag in FLAG_ORDER:
        assert flag_message(flag, None)
        assert flag_message(flag, make_offer())


# totals


def test_line_total_is_the_net_price_times_quantity() -> None:
    assert make_line(quantity=2, unit_price=1999, discount=200).total == 3598


def test_totals_match_the_api_example() -> None:
    line = make_line(quantity=2, unit_price=1999, discount=200)
    assert line.total == 3598
    assert totals([line]) == Totals(subtotal=3998, discount=400, total=3598, item_count=2)


def test_totals_add_up_several_lines() -> None:
    lines = [
        make_line(quantity=2, unit_price=1999, discount=200),
        make_line(quantity=1, unit_price=500, discount=0),
        make_line(quantity=3, unit_price=1000, discount=100),
    ]
    assert totals(lines) == Totals(
        subtotal=3998 + 500 + 3000,
        discount=400 + 0 + 300,
        total=3598 + 500 + 2700,
        item_count=6,
    )


def test_totals_of_an_empty_cart_are_zero() -> None:
    assert totals([]) == Totals(subtotal=0, discount=0, total=0, item_count=0)


def test_totals_accept_any_iterable_of_lines() -> None:
    lines = (make_line(quantity=q) for q in (1, 2))
    assert totals(lines).item_count == 3
