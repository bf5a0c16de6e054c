"""The recovery report's statistics and the experiment's group assignment."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from aimall_cart.recovery.rules import (
    Z_95,
    Interval,
    assign_group,
    gross_margin,
    relative_lift,
    wilson,
)

USERS = [f"u-{n}" for n in range(20_000)]


def test_the_wilson_interval_matches_the_published_values() -> None:
    # 10 of 100: 0.0552 to 0.1744 (Wilson 1927; Newcombe 1998, method 3).
    interval = wilson(10, 100)
    assert interval is not None
    assert interval.low == pytest.approx(0.0552291, abs=1e-6)
    assert interval.high == pytest.approx(0.1743657, abs=1e-6)


def test_the_wilson_interval_stays_inside_zero_and_one_at_the_edges() -> None:
    none = wilson(0, 10)
    every = wilson(10, 10)
    assert none is not None
    assert every is not None
    assert none.low == 0.0
    assert none.high == pytest.approx(0.2775328, abs=1e-6)
    assert every.low == pytest.approx(1 - 0.2775328, abs=1e-6)
    assert every.high == pytest.approx(1.0)
    assert wilson(0, 0) is None


@pytest.mark.parametrize(("successes", "trials"), [(1, 2), (3, 7), (50, 100), (999, 1000)])
def test_the_wilson_interval_holds_the_observed_rate_and_narrows_with_more_trials(
    successes: int, trials: int
) -> None:
    small, large = wilson(successes, trials), wilson(successes * 10, trials * 10)
    assert small is not None
    assert large is not None
    assert small.low <= successes / trials <= small.high
    assert large.high - large.low < small.high - small.low


def test_the_katz_lift_is_the_risk_ratio_less_one_with_its_log_interval() -> None:
    # 20/100 against 10/100: a ratio of 2; the standard error of its log is
    # sqrt(1/20 - 1/100 + 1/10 - 1/100) = sqrt(0.13).
    found = relative_lift(20, 100, 10, 100)
    assert found is not None
    lift, interval = found
    spread = math.exp(Z_95 * math.sqrt(0.13))
    assert lift == pytest.approx(1.0)
    assert interval == Interval(pytest.approx(2 / spread - 1), pytest.approx(2 * spread - 1))
    assert interval.low == pytest.approx(-0.0134368, abs=1e-6)
    assert interval.high == pytest.approx(3.0544792, abs=1e-6)


def test_equal_rates_have_no_lift_and_an_interval_around_zero() -> None:
    found = relative_lift(30, 200, 15, 100)
    assert found is not None
    lift, interval = found
    assert lift == pytest.approx(0.0)
    assert interval.low < 0 < interval.high
    # The log interval is symmetric in the ratio: (1 + low) * (1 + high) == 1.
    assert (1 + interval.low) * (1 + interval.high) == pytest.approx(1.0)


@pytest.mark.parametrize("counts", [(0, 10, 5, 10), (5, 10, 0, 10), (0, 0, 5, 10), (5, 10, 0, 0)])
def test_the_lift_is_undefined_while_either_side_has_no_successes(
    counts: tuple[int, int, int, int],
) -> None:
    assert relative_lift(*counts) is None


def test_a_customer_keeps_their_group_and_another_salt_reshuffles_them() -> None:
    def groups(salt: str) -> list[str]:
        return [assign_group(u, salt=salt, holdout_percent=10, baseline_percent=10) for u in USERS]

    first = groups("recovery-1")
    assert groups("recovery-1") == first
    moved = sum(a != b for a, b in zip(first, groups("recovery-2"), strict=True))
    # Two independent draws of a 10/10/80 split disagree for about 1 - (.01 + .01 + .64) = 34%.
    assert 0.30 < moved / len(USERS) < 0.38


@pytest.mark.parametrize(("holdout", "baseline"), [(10, 10), (0, 50), (25, 0), (33, 33)])
def test_groups_follow_the_split(holdout: int, baseline: int) -> None:
    counts = Counter(
        assign_group(u, salt="s", holdout_percent=holdout, baseline_percent=baseline) for u in USERS
    )
    for group, percent in (("holdout", holdout), ("baseline", baseline)):
        share = counts[group] / len(USERS)
        assert abs(share - percent / 100) < 0.015, (group, share)
    assert set(counts) <= {"holdout", "baseline", "ai"}


def test_the_extremes_put_everyone_in_one_group() -> None:
    assert {assign_group(u, salt="s", holdout_percent=0, baseline_percent=0) for u in USERS} == {
        "ai"
    }
    assert {
        assign_group(u, salt="s", holdout_percent=100, baseline_percent=0) for u in USERS[:500]
    } == {"holdout"}


def test_a_larger_holdout_only_takes_customers_into_the_holdout() -> None:
    for user in USERS[:2000]:
        before = assign_group(user, salt="s", holdout_percent=10, baseline_percent=10)
        after = assign_group(user, salt="s", holdout_percent=20, baseline_percent=10)
        assert before == after or after == "holdout" or (before, after) == ("ai", "baseline")


def test_gross_margin_counts_the_order_before_its_promotion_and_rounds_down() -> None:
    assert gross_margin(9000, 1000, margin_percent=30) == 3000
    assert gross_margin(999, 0, margin_percent=33) == 329  # 329.67 rounded down
    assert gross_margin(0, 0, margin_percent=30) == 0
