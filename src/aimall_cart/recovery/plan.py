"""One case's message in the making, and the decision row it is logged under.

Deciding (``act``) fills plans; sending (``outgoing``) writes them. Both import this module and
neither imports the other.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aimall_cart.carts.models import Cart
from aimall_cart.privacy import service as privacy
from aimall_cart.recovery import bandit, context, reasons
from aimall_cart.recovery.alternatives import Alternative
from aimall_cart.recovery.models import RecoveryCase

REMINDER = bandit.Action("reminder")


@dataclass
class Plan:
    case: RecoveryCase
    cart: Cart
    state: context.CartState
    estimate: reasons.ReasonEstimate
    contact: privacy.Contact
    channels: list[str] = field(default_factory=list)  # where it goes: policy and customer agree
    # Stand-ins for the cart's missing lines; an ai-group message carries them whatever its action.
    alternatives: list[Alternative] = field(default_factory=list)
    action: bandit.Action = REMINDER
    probability: float = 1.0


def decision(
    case: RecoveryCase,
    estimate: reasons.ReasonEstimate,
    action: str,
    probability: float,
    *,
    policy_version: int,
    now: datetime,
) -> dict[str, Any]:
    """The decision log's row for this case's current stage."""
    return {
        "id": uuid.uuid4(),
        "case_id": case.id,
        "stage": case.messages_sent,
        "group": case.group,
        "policy_version": policy_version,
        "action": action,
        "probability": probability,
        "primary_reason": estimate.primary,
        "reasons": dict(estimate.probabilities),
        "evidence": list(estimate.evidence),
        "decided_at": now,
    }
