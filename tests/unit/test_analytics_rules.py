"""Suppression and rates of the analytics, on plain values."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aimall_cart.analytics.rules import Figures, rate, total, withheld

MIN_GROUP = 5


def test_a_cell_under_the_minimum_is_withheld_with_the_smallest_other() -> None:
    sizes = {"shirt": 8, "cap": 5, "mug": 4}
    assert withheld(sizes, total_size=8, min_group=MIN_GROUP) == {"mug", "cap"}


def test_nothing_is_withheld_when_every_cell_is_large_enough_or_empty() -> None:
    sizes = {"shirt": 8, "cap": 5, "idle": 0}
    assert withheld(sizes, total_size=9, min_group=MIN_GROUP) == set()


def test_complements_are_added_until_the_withheld_carts_reach_the_minimum() -> None:
    # Two tiny cells together still name fewer than five carts: a third goes with them.
    sizes = {"a": 1, "b": 2, "c": 9, "d": 12}
    assert withheld(sizes, total_size=14, min_group=MIN_GROUP) == {"a", "b", "c"}


def test_a_total_under_the_minimum_withholds_everything() -> None:
    assert withheld({"a": 3, "b": 0}, total_size=3, min_group=MIN_GROUP) == {"a", "b"}


@given(
    st.dictionaries(st.text(min_size=1, max_size=3), st.integers(0, 30), max_size=8),
    st.integers(0, 40),
)
def test_no_withheld_cell_can_be_worked_out_from_the_total(
    sizes: dict[str, int], extra: int
) -> None:
    total_size = max(sizes.values(), default=0) + extra
    hidden = withheld(sizes, total_size=total_size, min_group=MIN_GROUP)
    if total_size < MIN_GROUP:
        assert hidden == set(sizes)
        return
    assert {key for key, size in sizes.items() if 0 < size < MIN_GROUP} <= hidden
    if hidden:
        assert len(hidden) >= 2 or hidden == set(sizes)
        shown = sum(size for key, size in sizes.items() if key not in hidden)
        behind = max(max(sizes[key] for key in hidden), total_size - shown)
        assert behind >= MIN_GROUP


def test_rates_are_rounded_and_none_without_a_base() -> None:
    figures = total([Figures(carts=3, abandoned_carts=1), Figures(carts=3, converted_carts=2)])
    assert figures.rates() == {
        "abandonment_rate": 0.1667,
        "conversion_rate": 0.3333,
        "recovery_rate": 0.0,
    }
    assert rate(1, 0) is None
