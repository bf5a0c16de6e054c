"""The action chooser: guards, Thompson sampling on net margin, and the logged propensity."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping

import numpy as np
import pytest

from aimall_cart.recovery.bandit import Action, Choice, Outcomes, actions, choose
from aimall_cart.recovery.reasons import REASONS, ReasonEstimate

CART_VALUE = 10_000
MARGIN = 0.30
EVERY_ACTION = actions(15, alternatives_available=True)

# Large counts pin each posterior near its rate. Net margin per unit of cart value: reminder 0.030,
# alternatives 0.045, discount_5 0.050, discount_10 0.060 (the best), discount_15 0.0495.
KNOWN = {
    "reminder": Outcomes(recovered=100, lost=900),
    "alternatives": Outcomes(recovered=150, lost=850),
    "discount_5": Outcomes(recovered=200, lost=800),
    "discount_10": Outcomes(recovered=300, lost=700),
    "discount_15": Outcomes(recovered=330, lost=670),
}


def estimate(**weights: float) -> ReasonEstimate:
    """A distribution spreading what ``weights`` leave over the other reasons."""
    rest = (1.0 - sum(weights.values())) / (len(REASONS) - len(weights))
    return ReasonEstimate({reason: weights.get(reason, rest) for reason in REASONS}, evidence=[])


def run(
    draws: int,
    *,
    seed: int = 20,
    reasons: ReasonEstimate | None = None,
    candidates: list[Action] = EVERY_ACTION,
    outcomes: Mapping[str, Outcomes] = KNOWN,
    margin_rate: float = MARGIN,
    exploration: float = 0.1,
) -> list[Choice]:
    rng = np.random.default_rng(seed)
    return [
        choose(
            reasons or estimate(price=0.5),
            candidates,
            outcomes,
            cart_value=CART_VALUE,
            margin_rate=margin_rate,
            exploration=exploration,
            rng=rng,
        )
        for _ in range(draws)
    ]


def test_actions_step_discounts_by_five_up_to_the_maximum() -> None:
    listed = actions(15, alternatives_available=True)

    assert [a.name for a in listed] == [
        "reminder",
        "alternatives",
        "discount_5",
        "discount_10",
        "discount_15",
    ]
    assert [a.discount_percent for a in listed] == [0, 0, 5, 10, 15]
    assert [a.with_alternatives for a in listed] == [False, True, False, False, False]


def test_actions_offer_alternatives_only_when_available() -> None:
    assert [a.name for a in actions(12, alternatives_available=False)] == [
        "reminder",
        "discount_5",
        "discount_10",
    ]
    assert actions(0, alternatives_available=False) == [Action("reminder")]


def test_known_posteriors_pick_the_best_net_margin_nearly_always() -> None:
    exploration, draws = 0.1, 2_000
    counts = Counter(choice.action.name for choice in run(draws, exploration=exploration))

    assert counts["discount_10"] >= 0.85 * draws
    floor = 0.5 * exploration / len(EVERY_ACTION) * draws
    assert all(counts[a.name] >= floor for a in EVERY_ACTION)


def test_a_discount_no_better_than_the_reminder_is_never_chosen_even_exploring() -> None:
    # The reminder has recovered 40% here; with no outcomes of their own, the discounts' priors
    # for a distracted shopper (about 28%) fall short of it.
    outcomes = {"reminder": Outcomes(recovered=40, lost=60)}
    choices = run(300, reasons=estimate(distraction=0.9), outcomes=outcomes, exploration=1.0)

    assert {choice.action.name for choice in choices} == {"reminder", "alternatives"}
    assert all(choice.probability == pytest.approx(0.5) for choice in choices)
    recovery = choices[0].expected_recovery
    assert recovery["discount_5"] < recovery["reminder"]


def test_the_prior_gives_a_discount_no_edge_over_the_reminder_for_distraction() -> None:
    # An estimate of pure distraction never comes out of reasons.infer; it isolates that reason's
    # column of the prior table.
    choices = run(300, reasons=estimate(distraction=1.0), outcomes={}, exploration=1.0)

    assert {choice.action.name for choice in choices} == {"reminder", "alternatives"}


def test_a_discount_at_or_above_the_margin_rate_is_never_chosen() -> None:
    choices = run(300, reasons=estimate(price=0.9), outcomes={}, margin_rate=0.10, exploration=1.0)

    chosen = {choice.action.name for choice in choices}
    assert chosen == {"reminder", "alternatives", "discount_5"}
    assert choices[0].expected_margin["discount_15"] < 0


def test_the_reminder_survives_when_every_discount_is_dropped() -> None:
    choices = run(
        20,
        candidates=actions(20, alternatives_available=False),
        margin_rate=0.04,
        exploration=0.5,
    )

    assert all(choice.action == Action("reminder") for choice in choices)
    assert all(choice.probability == 1.0 for choice in choices)


def test_the_reported_probability_matches_how_often_each_action_is_chosen() -> None:
    # Few outcomes, close rates: every action wins some draws, so the propensities are far from
    # 0 and 1 and a mismatch would show.
    outcomes = {
        "reminder": Outcomes(recovered=8, lost=32),
        "alternatives": Outcomes(recovered=10, lost=30),
        "discount_5": Outcomes(recovered=11, lost=29),
    }
    draws = 2_000
    choices = run(
        draws,
        candidates=actions(5, alternatives_available=True),
        outcomes=outcomes,
        exploration=0.2,
    )

    reported: dict[str, list[float]] = defaultdict(list)
    for choice in choices:
        reported[choice.action.name].append(choice.probability)
    assert set(reported) == {"reminder", "alternatives", "discount_5"}
    for probabilities in reported.values():
        assert len(probabilities) / draws == pytest.approx(np.mean(probabilities), abs=0.04)
        assert min(probabilities) >= 0.2 / 3


def test_the_prior_prefers_discounts_for_price_and_the_reminder_for_distraction() -> None:
    (price,) = run(1, reasons=estimate(price=0.9), outcomes={})
    (distraction,) = run(1, reasons=estimate(distraction=0.9), outcomes={})

    by_percent = [price.expected_recovery[f"discount_{p}"] for p in (5, 10, 15)]
    assert by_percent == sorted(by_percent)
    assert price.expected_recovery["discount_10"] > 2 * price.expected_recovery["reminder"]
    margin = distraction.expected_margin
    assert max(margin, key=margin.__getitem__) == "reminder"


def test_the_same_seed_gives_the_same_choices() -> None:
    outcomes = {"reminder": Outcomes(recovered=3, lost=9)}
    first, second, other = (run(50, seed=seed, outcomes=outcomes) for seed in (7, 7, 8))

    assert first == second
    assert [c.action for c in first] != [c.action for c in other]


def test_exploration_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="exploration"):
        run(1, exploration=1.5)


def anchored(anchor: Outcomes, *, outcomes: Mapping[str, Outcomes] | None = None) -> Choice:
    return choose(
        estimate(price=0.6),
        EVERY_ACTION,
        outcomes or {},
        anchor=anchor,
        cart_value=CART_VALUE,
        margin_rate=MARGIN,
        exploration=0.1,
        rng=np.random.default_rng(4),
    )


def test_the_baselines_reminders_set_the_level_of_every_prior() -> None:
    table = anchored(Outcomes()).expected_recovery
    # Thousands of baseline reminders at 3% outweigh the table's 8 pseudo-cases.
    weak = anchored(Outcomes(recovered=300, lost=9700)).expected_recovery
    assert weak["reminder"] == pytest.approx(0.03, abs=0.001)
    for action in ("alternatives", "discount_5", "discount_15"):
        assert weak[action] / weak["reminder"] == pytest.approx(
            table[action] / table["reminder"], rel=1e-6
        )
        assert weak[action] < table[action]


def test_a_baseline_with_few_outcomes_barely_moves_the_prior() -> None:
    table = anchored(Outcomes()).expected_recovery
    one_loss = anchored(Outcomes(recovered=0, lost=1)).expected_recovery
    assert one_loss["reminder"] == pytest.approx(table["reminder"] * 8 / 9, rel=1e-6)


def test_the_groups_own_outcomes_still_outweigh_the_anchored_prior() -> None:
    learned = anchored(Outcomes(recovered=10, lost=990), outcomes=KNOWN).expected_recovery
    assert learned["discount_10"] == pytest.approx(0.3, abs=0.01)
    assert learned["reminder"] == pytest.approx(0.1, abs=0.01)
