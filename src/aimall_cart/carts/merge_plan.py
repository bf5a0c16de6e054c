"""Pure merge rules: how a guest cart's lines land in the member's cart on sign-in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

MergeStrategy = Literal["sum", "max", "keep_member", "replace"]
MergeOutcome = Literal["added", "combined", "dropped"]


@dataclass(frozen=True, slots=True)
class GuestLine:
    """A guest cart line offered to a merge, with what the catalog says of it now."""

    key: str
    quantity: int
    max_quantity: int
    available: bool  # product and variant still sold
    currency: str


@dataclass(frozen=True, slots=True)
class MergeDecision:
    key: str
    source: Literal["guest", "member"]
    outcome: MergeOutcome
    quantity: int  # the quantity the member's line ends with (0 when dropped)
    guest_quantity: int = 0
    member_quantity: int = 0
    clamped: bool = False
    reason: str | None = None


def _merged_quantity(strategy: MergeStrategy, member: int, guest: int) -> int:
    if strategy == "sum":
        return member + guest
    if strategy == "max":
        return max(member, guest)
    if strategy == "keep_member":
        return member
    return guest


def _drop_reason(line: GuestLine, currency: str | None, *, cart_full: bool) -> str | None:
    if not line.available:
        return "unavailable"
    if currency is not None and line.currency != currency:
        return "currency_mismatch"
    if cart_full:
        return "cart_full"
    return None


def plan_merge(
    member: Mapping[str, int],
    guest: Sequence[GuestLine],
    *,
    strategy: MergeStrategy,
    currency: str | None,
    max_lines: int,
) -> list[MergeDecision]:
    """How a guest cart's lines land in the member's cart (quantities by line key).

    ``sum`` adds quantities, ``max`` keeps the larger, ``keep_member`` keeps the member's where
    both have the line; all three add the guest's other lines. ``replace`` makes the member's cart
    the guest's. Quantities are clamped to the product's max. Lines that are no longer sold, in
    another currency (``currency`` is the member cart's, None when it may still change), or past
    ``max_lines`` are dropped with a reason.
    """
    decisions: list[MergeDecision] = []
    kept_member = {} if strategy == "replace" else dict(member)
    if strategy == "replace":
        decisions += [
            MergeDecision(key, "member", "dropped", 0, member_quantity=q, reason="replaced")
            for key, q in member.items()
            if key not in {line.key for line in guest}
        ]
    lines = len(kept_member)
    for line in guest:
        mine = member.get(line.key, 0)
        full = line.key not in kept_member and lines >= max_lines
        reason = _drop_reason(line, currency, cart_full=full)
        if reason is not None:
            decisions.append(
                MergeDecision(
                    line.key, "guest", "dropped", mine, line.quantity, mine, reason=reason
                )
            )
            continue
        currency = currency or line.currency
        combined = line.key in member
        wanted = _merged_quantity(strategy, mine, line.quantity) if combined else line.quantity
        quantity = min(wanted, line.max_quantity)
        outcome: MergeOutcome = "combined" if combined else "added"
        if line.key not in kept_member:
            lines += 1
        decisions.append(
            MergeDecision(
                line.key, "guest", outcome, quantity, line.quantity, mine, clamped=quantity < wanted
            )
        )
    return decisions
