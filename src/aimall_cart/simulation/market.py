"""A synthetic market of shoppers who left their carts, to measure recovery against a known truth.

Every customer left for one hidden reason. The recovery engine never sees it: it sees only what
the catalog churn leaves in the cart (a price that rose, an item gone out of stock), and that
evidence is imperfect on purpose: churn misses some customers who left for its reason and hits
some who left for another.

A message stage is one chance to come back, messaged or not, so every group gets the same number
of chances. The chance is a logistic model:

    logit(p) = logit(unprompted) + affinity
               + reminder_lift                                 if any message came
               + alternatives_lift                             if an offered one is in stock
               + discount_strength * (1 - exp(-percent / sensitivity))    for a discount

``affinity`` is the customer's own fixed offset (the world's noise), so the same customer's two
chances are alike, as people are. The presets were chosen once, before any run, and are not tuned
to make any strategy look good. Pure: randomness comes in as a numpy Generator.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from aimall_cart.recovery.reasons import REASONS

_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Response:
    """How customers who left for one reason answer one message stage. Lifts are in logits."""

    unprompted: float  # chance of coming back in one stage with no message at all
    reminder_lift: float  # what any message adds, a plain reminder included
    alternatives_lift: float  # what an offered alternative adds, only when it is in stock
    discount_strength: float  # what a very large discount adds: the curve's ceiling
    discount_sensitivity: float  # the percent at which a discount gives 63% of its ceiling

    def __post_init__(self) -> None:
        if not 0 < self.unprompted < 1 or self.discount_sensitivity <= 0:
            raise ValueError("unprompted must be in (0, 1) and discount_sensitivity positive")


@dataclass(frozen=True, slots=True)
class Churn:
    """What the catalog does to the carted items of customers who left."""

    price_rise_probability: float  # a price customer finds a carted item's price raised
    stockout_probability: float  # an availability customer finds a carted item out of stock
    stray_price_rise_rate: float  # a customer who left for another reason sees a price rise
    stray_stockout_rate: float  # a customer who left for another reason sees a stock-out
    price_rise_range: tuple[float, float] = (0.05, 0.25)  # the rise, drawn uniformly

    def __post_init__(self) -> None:
        rates = (
            self.price_rise_probability,
            self.stockout_probability,
            self.stray_price_rise_rate,
            self.stray_stockout_rate,
        )
        low, high = self.price_rise_range
        if not all(0 <= rate <= 1 for rate in rates) or not 0 < low <= high:
            raise ValueError("churn rates must be probabilities and the rise range positive")


@dataclass(frozen=True)
class World:
    """A market: who leaves for which reason, how they answer, and how the catalog churns."""

    name: str
    reason_mix: Mapping[str, float]  # over REASONS, summing to 1
    responses: Mapping[str, Response]  # one per reason
    churn: Churn
    noise: float  # standard deviation of each customer's affinity (logits)
    sensitivity_spread: float  # standard deviation of the log of a customer's discount sensitivity
    cart_lines: tuple[float, ...] = (0.35, 0.30, 0.20, 0.15)  # chance of a cart of 1, 2, 3, 4 lines

    def __post_init__(self) -> None:
        if set(self.reason_mix) != set(REASONS) or set(self.responses) != set(REASONS):
            raise ValueError(f"reason_mix and responses need exactly {REASONS}")
        for weights in (list(self.reason_mix.values()), list(self.cart_lines)):
            if min(weights) < 0 or abs(sum(weights) - 1) > 1e-6:
                raise ValueError("reason_mix and cart_lines must be probability distributions")
        if self.noise < 0 or self.sensitivity_spread < 0:
            raise ValueError("noise and sensitivity_spread must not be negative")

    def adjusted(
        self,
        *,
        reason_mix: Mapping[str, float] | None = None,
        response_strength: float | None = None,
        discount_sensitivity: float | None = None,
        noise: float | None = None,
    ) -> World:
        """This world with overrides: reasons named in ``reason_mix`` take those shares and the
        others share what is left in their preset proportions; ``response_strength`` scales every
        lift a message gives; ``discount_sensitivity`` (percent) replaces every reason's. With
        no override it is this very world."""
        if (reason_mix, response_strength, discount_sensitivity, noise) == (None,) * 4:
            return self
        responses = dict(self.responses)
        if response_strength is not None:
            responses = {reason: _scaled(r, response_strength) for reason, r in responses.items()}
        if discount_sensitivity is not None:
            responses = {
                reason: replace(r, discount_sensitivity=discount_sensitivity)
                for reason, r in responses.items()
            }
        return replace(
            self,
            name=f"{self.name} (adjusted)",
            reason_mix=blend_mix(self.reason_mix, reason_mix or {}),
            responses=responses,
            noise=self.noise if noise is None else noise,
        )


def _scaled(response: Response, factor: float) -> Response:
    return replace(
        response,
        reminder_lift=response.reminder_lift * factor,
        alternatives_lift=response.alternatives_lift * factor,
        discount_strength=response.discount_strength * factor,
    )


def blend_mix(base: Mapping[str, float], given: Mapping[str, float]) -> dict[str, float]:
    """``given`` shares, with the rest of the mass spread over the other reasons as in ``base``."""
    if unknown := set(given) - set(REASONS):
        raise ValueError(f"unknown reasons {sorted(unknown)}; choose from {REASONS}")
    if any(share < 0 for share in given.values()) or sum(given.values()) > 1 + _EPSILON:
        raise ValueError("the given reason shares must be non-negative and sum to at most 1")
    rest = [reason for reason in REASONS if reason not in given]
    left, base_rest = 1 - sum(given.values()), sum(base[reason] for reason in rest)
    if rest and base_rest <= 0 and left > _EPSILON:
        raise ValueError("the preset gives the other reasons no share to scale")
    mix = {reason: float(share) for reason, share in given.items()}
    mix |= {reason: left * base[reason] / base_rest if base_rest else 0.0 for reason in rest}
    return {reason: mix[reason] for reason in REASONS}


def parse_mix(text: str) -> dict[str, float]:
    """``"price=0.4,availability=0.2"`` as shares by reason (checked by ``blend_mix``)."""
    shares: dict[str, float] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        reason, _, value = part.partition("=")
        try:
            shares[reason.strip()] = float(value)
        except ValueError:
            raise ValueError(f"write reason shares as reason=share, not {part!r}") from None
    return shares


@dataclass(frozen=True, slots=True)
class Customer:
    user_id: str
    reason: str  # hidden from the engine
    response: Response  # the world's answer for this reason
    affinity: float  # this customer's own logit offset
    discount_sensitivity: float  # percent; this customer's own
    line_count: int
    price_rise: float  # fraction a carted item's price rises by; 0 when none does
    stockout: bool  # whether a carted item goes out of stock


@dataclass(frozen=True, slots=True)
class Message:
    """What one recovery message offered, as the customer finds it when reading it."""

    discount_percent: int = 0
    alternatives_offered: int = 0
    alternatives_in_stock: int = 0  # of those offered, how many can really be bought now


def draw_customer(world: World, user_id: str, rng: np.random.Generator) -> Customer:
    reason = REASONS[_pick([world.reason_mix[r] for r in REASONS], rng)]
    response = world.responses[reason]
    churn = world.churn
    rise_chance = churn.price_rise_probability if reason == "price" else churn.stray_price_rise_rate
    stockout_chance = (
        churn.stockout_probability if reason == "availability" else churn.stray_stockout_rate
    )
    # Every draw is made whatever the reason, so one customer's draws never shift the next's.
    rises, rise = rng.random() < rise_chance, rng.uniform(*churn.price_rise_range)
    stockout = bool(rng.random() < stockout_chance)
    return Customer(
        user_id=user_id,
        reason=reason,
        response=response,
        affinity=float(rng.normal(0.0, world.noise)),
        discount_sensitivity=response.discount_sensitivity
        * math.exp(rng.normal(0.0, world.sensitivity_spread)),
        line_count=_pick(world.cart_lines, rng) + 1,
        price_rise=float(rise) if rises else 0.0,
        stockout=stockout,
    )


def _pick(weights: Sequence[float], rng: np.random.Generator) -> int:
    """An index drawn with the given probabilities (one uniform draw; faster than ``choice``)."""
    index = int(np.searchsorted(np.cumsum(weights), rng.random(), side="right"))
    return min(index, len(weights) - 1)


def return_probability(customer: Customer, message: Message | None) -> float:
    """The chance this customer comes back in one stage, given what the stage brought."""
    response = customer.response
    logit = math.log(response.unprompted / (1 - response.unprompted)) + customer.affinity
    if message is not None:
        logit += response.reminder_lift
        if message.alternatives_in_stock > 0:
            logit += response.alternatives_lift
        if message.discount_percent > 0:
            reach = 1 - math.exp(-message.discount_percent / customer.discount_sensitivity)
            logit += response.discount_strength * reach
    if logit < 0:  # the form that cannot overflow, whatever the noise
        return math.exp(logit) / (1 + math.exp(logit))
    return 1 / (1 + math.exp(-logit))


def respond(customer: Customer, message: Message | None, rng: np.random.Generator) -> bool:
    """Whether the customer comes back this stage (one uniform draw, so the same generator
    state answers a larger offer at least as well as a smaller one)."""
    return bool(rng.random() < return_probability(customer, message))


@dataclass(frozen=True, slots=True)
class CartLine:
    item_id: str
    variant_id: str
    buyable: bool  # sold, and enough stock for its quantity


@dataclass(frozen=True, slots=True)
class ReturnPlan:
    remove: tuple[str, ...]  # item ids of lines that cannot be bought
    add: tuple[tuple[str, str], ...]  # (product id, variant id) of alternatives taken, one each
    buys: bool  # whether anything is left to check out


def plan_return(lines: Sequence[CartLine], alternatives: Sequence[tuple[str, str]]) -> ReturnPlan:
    """What a returning customer does to the cart: each line that cannot be bought is dropped
    and, while in-stock alternatives (product id, variant id) remain, replaced by the next one.
    A missing item that is not replaced cannot be bought, so a cart of only missing items with
    nothing to replace them buys nothing."""
    carted = {line.variant_id for line in lines}
    spare = [alt for alt in dict.fromkeys(alternatives) if alt[1] not in carted]
    missing = [line for line in lines if not line.buyable]
    taken = tuple(spare[: len(missing)])
    kept = len(lines) - len(missing)
    return ReturnPlan(
        remove=tuple(line.item_id for line in missing), add=taken, buys=kept + len(taken) > 0
    )
