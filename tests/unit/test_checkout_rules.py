"""What stops a checkout, and what it reserves: pure rules, no database."""

from __future__ import annotations

from aimall_cart.checkout.rules import LineCheck, problems, quantities, shortage_problems


def _line(item: str, variant: str, quantity: int, *flags: str, available: int = 10) -> LineCheck:
    return LineCheck(item, variant, quantity, tuple((f, f"{f}!") for f in flags), available)


def test_an_empty_cart_is_blocked_as_cart_empty() -> None:
    assert problems([], accept_price_changes=False) == [
        {"item_id": None, "code": "cart_empty", "message": "The cart is empty"}
    ]


def test_every_flag_of_every_line_is_a_problem_and_stock_ones_say_what_is_free() -> None:
    found = problems(
        [
            _line("a", "v1", 2, "insufficient_stock", "price_changed", available=1),
            _line("b", "v2", 1),
            _line("c", "v3", 1, "unavailable"),
        ],
        accept_price_changes=False,
    )
    assert [(p["item_id"], p["code"]) for p in found] == [
        ("a", "insufficient_stock"),
        ("a", "price_changed"),
        ("c", "unavailable"),
    ]
    assert found[0]["available_quantity"] == 1
    assert "available_quantity" not in found[1]


def test_accepting_price_changes_lets_only_price_changes_through() -> None:
    lines = [_line("a", "v1", 1, "price_changed"), _line("b", "v2", 1, "out_of_stock", available=0)]
    assert [p["code"] for p in problems(lines, accept_price_changes=True)] == ["out_of_stock"]


def test_quantities_add_up_lines_of_the_same_variant() -> None:
    lines = [_line("a", "v1", 2), _line("b", "v2", 1), _line("c", "v1", 3)]
    assert quantities(lines) == {"v1": 5, "v2": 1}


def test_shortages_name_every_line_of_a_short_variant() -> None:
    lines = [_line("a", "v1", 2), _line("b", "v2", 1), _line("c", "v1", 3)]
    found = shortage_problems(lines, {"v1": 4})
    assert [(p["item_id"], p["available_quantity"]) for p in found] == [("a", 4), ("c", 4)]
    assert {p["code"] for p in found} == {"insufficient_stock"}
