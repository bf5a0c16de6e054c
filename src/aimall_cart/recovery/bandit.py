"""Choosing a recovery action: Thompson sampling on expected net margin, per context.

Each action's recovery probability has a Beta posterior: a prior built from the reason estimate
(``PRIOR_RECOVERY`` weighted by the reason probabilities, worth ``PRIOR_STRENGTH`` pseudo-cases)
plus the settled outcomes of that action in this context. The table says how actions compare,
not how well a shop's customers answer: its level is anchored, empirical-Bayes fashion, to the
recovery rate measured for the baseline group's randomised plain reminders in the same context,
so a shop whose customers answer weakly starts from weak priors for every action.

The value of an action is the net margin of a recovered cart,
``p * cart_value * (margin_rate - discount)``, so a discount has to win back more carts than it
gives away in margin.

Pure apart from numpy; the random generator comes in as an argument.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from aimall_cart.recovery.reasons import REASONS, ReasonEstimate

DISCOUNT_STEP_PERCENT = 5

# Prior recovery probability per reason and kind of action; the "discount" column is for a
# discount of DISCOUNT_REFERENCE_PERCENT. Reminders bring back the distracted, alternatives the
# carts blocked by stock, discounts the price-sensitive; nothing much brings back the uninterested.
# A discount adds nothing for the distracted: its prior ties the reminder's there, so for a mostly
# distracted shopper only the chance of another reason can make a discount look worth its cost.
PRIOR_RECOVERY: dict[str, dict[str, float]] = {
    "price": {"reminder": 0.10, "alternatives": 0.14, "discount": 0.28},
    "availability": {"reminder": 0.06, "alternatives": 0.30, "discount": 0.08},
    "hesitation": {"reminder": 0.15, "alternatives": 0.15, "discount": 0.20},
    "distraction": {"reminder": 0.30, "alternatives": 0.27, "discount": 0.30},
    "not_interested": {"reminder": 0.04, "alternatives": 0.05, "discount": 0.05},
}
DISCOUNT_REFERENCE_PERCENT = 10
# Prior change in recovery per percentage point of discount away from the reference: a larger
# discount wins back many more price-sensitive carts, a few more hesitant ones, hardly any other.
DISCOUNT_LIFT_PER_POINT: dict[str, float] = {
    "price": 0.012,
    "availability": 0.001,
    "hesitation": 0.004,
    "distraction": 0.0,
    "not_interested": 0.001,
}
# Priors stay strictly inside (0, 1) so that every Beta is proper, whatever the discount.
PRIOR_FLOOR, PRIOR_CEILING = 0.01, 0.9
# The prior counts as this many settled cases: enough to act sensibly on the first cart, few
# enough that a few dozen real outcomes outweigh it.
PRIOR_STRENGTH = 8.0
# Monte Carlo draws behind Choice.probability; its standard error is at most 0.5 / sqrt(512) ~ 2%.
PROBABILITY_DRAWS = 512

REMINDER = "reminder"


@dataclass(frozen=True, slots=True)
class Action:
    name: str  # "reminder", "alternatives", "discount_5", "discount_10", ...
    discount_percent: int = 0
    with_alternatives: bool = False


@dataclass(frozen=True, slots=True)
class Outcomes:
    """Settled cases of one (context, action): recovered, and not recovered."""

    recovered: int = 0
    lost: int = 0


@dataclass(frozen=True, slots=True)
class Choice:
    action: Action
    # The probability with which this policy picks this action in this context (the propensity
    # logged for off-policy evaluation): exploration / k + (1 - exploration) * P(the action wins
    # a Thompson draw), k the actions left after the guards. P is the share of PROBABILITY_DRAWS
    # posterior draws the action wins; the draw that decided an exploiting choice is one of them,
    # which keeps a logged propensity above zero at the cost of a bias below 1 / PROBABILITY_DRAWS.
    probability: float
    explored: bool
    # Posterior mean recovery probability and expected net margin (minor units) per action name,
    # for every candidate, including those the guards dropped.
    expected_recovery: dict[str, float]
    expected_margin: dict[str, float]


def actions(max_discount_percent: int, *, alternatives_available: bool) -> list[Action]:
    found = [Action(REMINDER)]
    if alternatives_available:
        found.append(Action("alternatives", with_alternatives=True))
    for percent in range(DISCOUNT_STEP_PERCENT, max_discount_percent + 1, DISCOUNT_STEP_PERCENT):
        found.append(Action(f"discount_{percent}", discount_percent=percent))
    return found


def choose(
    estimate: ReasonEstimate,
    candidates: Sequence[Action],
    outcomes: Mapping[str, Outcomes],
    *,
    anchor: Outcomes = Outcomes(),
    cart_value: int,
    margin_rate: float,
    exploration: float,
    rng: np.random.Generator,
) -> Choice:
    """Pick one of ``candidates``; ``outcomes`` are per action name, for the estimate's context,
    and ``anchor`` the baseline's plain reminders in that context.

    Guards run before any sampling, so even exploration never offers a discount that loses money
    on every sale, nor one not expected to recover more carts than a plain reminder.
    """
    if not 0.0 <= exploration <= 1.0:
        raise ValueError(f"exploration must be within [0, 1], got {exploration}")
    if not candidates:
        raise ValueError("no candidate actions to choose from")
    alpha, beta = _posterior(estimate, candidates, outcomes, anchor)
    mean = alpha / (alpha + beta)
    margin_share = margin_rate - np.array([a.discount_percent for a in candidates]) / 100
    reminder_mean = _reminder_mean(estimate, candidates, mean, outcomes, anchor)
    kept = _guard(candidates, mean, reminder_mean, margin_rate)
    if not kept.size:
        raise ValueError("no candidate action survives the guards")
    explored = bool(rng.random() < exploration)
    # Ranked per unit of cart value: the same order as the value itself, and still meaningful for
    # an empty cart.
    draws = rng.beta(alpha[kept], beta[kept], size=(PROBABILITY_DRAWS, kept.size))
    winners = np.argmax(draws * margin_share[kept], axis=1)
    win_share = np.bincount(winners, minlength=kept.size) / PROBABILITY_DRAWS
    picked = int(rng.integers(kept.size)) if explored else int(winners[0])
    return Choice(
        action=candidates[int(kept[picked])],
        probability=float(exploration / kept.size + (1 - exploration) * win_share[picked]),
        explored=explored,
        expected_recovery={a.name: float(m) for a, m in zip(candidates, mean, strict=True)},
        expected_margin={
            a.name: float(m * cart_value * share)
            for a, m, share in zip(candidates, mean, margin_share, strict=True)
        },
    )


_Floats = npt.NDArray[np.float64]


def _posterior(
    estimate: ReasonEstimate,
    candidates: Sequence[Action],
    outcomes: Mapping[str, Outcomes],
    anchor: Outcomes,
) -> tuple[_Floats, _Floats]:
    """Beta parameters per candidate: the reason-weighted prior, anchored to the baseline's
    reminders, plus this context's outcomes."""
    weights = np.array([estimate.probabilities[reason] for reason in REASONS])
    table = np.array(
        [_prior_by_reason(a.discount_percent, a.with_alternatives) for a in candidates]
    )
    reminder = float(np.array(_prior_by_reason(0, False)) @ weights)
    prior = _anchored(table @ weights, reminder, anchor)
    settled = [outcomes.get(a.name, Outcomes()) for a in candidates]
    recovered = np.array([o.recovered for o in settled], dtype=np.float64)
    lost = np.array([o.lost for o in settled], dtype=np.float64)
    return prior * PRIOR_STRENGTH + recovered, (1 - prior) * PRIOR_STRENGTH + lost


def _anchored(prior: _Floats, reminder: float, anchor: Outcomes) -> _Floats:
    """``prior`` scaled by as much as the table's reminder must be to meet the baseline's
    measured reminder rate (itself shrunk towards the table by PRIOR_STRENGTH pseudo-cases, so a
    context the baseline has hardly seen keeps the table's level). Each action keeps its ratio
    to the reminder, the table's belief about how actions compare; scaling ratios rather than
    odds keeps that belief from growing where everything is rare."""
    measured = (anchor.recovered + PRIOR_STRENGTH * reminder) / (
        anchor.recovered + anchor.lost + PRIOR_STRENGTH
    )
    return np.clip(prior * (measured / reminder), PRIOR_FLOOR, PRIOR_CEILING)


def _reminder_mean(
    estimate: ReasonEstimate,
    candidates: Sequence[Action],
    mean: _Floats,
    outcomes: Mapping[str, Outcomes],
    anchor: Outcomes,
) -> float:
    for action, action_mean in zip(candidates, mean, strict=True):
        if action.name == REMINDER:
            return float(action_mean)
    alpha, beta = _posterior(estimate, [Action(REMINDER)], outcomes, anchor)
    return float(alpha[0] / (alpha[0] + beta[0]))


def _guard(
    candidates: Sequence[Action], mean: _Floats, reminder_mean: float, margin_rate: float
) -> npt.NDArray[np.intp]:
    """Indices of the candidates worth offering; a non-discount action always is."""
    return np.array(
        [
            index
            for index, action in enumerate(candidates)
            if not action.discount_percent
            or (action.discount_percent / 100 < margin_rate and mean[index] > reminder_mean)
        ],
        dtype=np.intp,
    )


@lru_cache(maxsize=256)
def _prior_by_reason(discount_percent: int, with_alternatives: bool) -> tuple[float, ...]:
    """Prior recovery of one action under each reason, in REASONS order."""
    if discount_percent:
        points = discount_percent - DISCOUNT_REFERENCE_PERCENT
        return tuple(
            _clip(PRIOR_RECOVERY[reason]["discount"] + DISCOUNT_LIFT_PER_POINT[reason] * points)
            for reason in REASONS
        )
    kind = "alternatives" if with_alternatives else REMINDER
    return tuple(PRIOR_RECOVERY[reason][kind] for reason in REASONS)


def _clip(probability: float) -> float:
    return min(PRIOR_CEILING, max(PRIOR_FLOOR, probability))
