"""Choosing a recovery action: Thompson sampling on expected net margin, per context.

Pure apart from numpy; the random generator comes in as an argument.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from aimall_cart.recovery.reasons import ReasonEstimate


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
    probability: float  # the probability with which the policy picks this action here
    explored: bool
    # Posterior mean recovery probability and expected net margin per action name.
    expected_recovery: dict[str, float]
    expected_margin: dict[str, float]


def actions(max_discount_percent: int, *, alternatives_available: bool) -> list[Action]:
    raise NotImplementedError


def choose(
    estimate: ReasonEstimate,
    candidates: Sequence[Action],
    outcomes: Mapping[str, Outcomes],
    *,
    cart_value: int,
    margin_rate: float,
    exploration: float,
    rng: np.random.Generator,
) -> Choice:
    raise NotImplementedError
