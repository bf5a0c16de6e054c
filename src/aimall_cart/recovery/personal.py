"""Recovery's part of a member's data, for export and erasure (``privacy.personal``).

Erasing keeps the experiment's figures and names no one: the member's cases stay as anonymous
rows (no user, a random cart id, an open one closed as lost) with their decisions, so the report
and the learned policy keep their counts; messages and the experiment assignment go. A pass
share-locks the carts it works on and erasure locks them before it gets here, so a pass either
finished with this member (and its messages are deleted here) or skips them.

Importing this module registers the holder; the application's entrypoint does.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.crypto import KeyRing
from aimall_cart.privacy import personal
from aimall_cart.recovery import inbox
from aimall_cart.recovery.models import Assignment, Decision, Notification, RecoveryCase

ERASED_USER = "erased"


def _case(case: RecoveryCase, decisions: list[Decision]) -> dict[str, Any]:
    return {
        "cart_id": str(case.cart_id),
        "group": case.group,
        "status": case.status,
        "abandoned_at": case.abandoned_at,
        "detected_at": case.detected_at,
        "messages_sent": case.messages_sent,
        "primary_reason": case.primary_reason,
        "decisions": [
            {
                "stage": d.stage,
                "action": d.action,
                "primary_reason": d.primary_reason,
                "reasons": d.reasons,
                "evidence": d.evidence,
                "decided_at": d.decided_at,
            }
            for d in decisions
            if d.case_id == case.id
        ],
    }


async def export(session: AsyncSession, subject: personal.Subject, keys: KeyRing) -> dict[str, Any]:
    if subject.user_id is None:
        return {"recovery": {"group": None, "cases": [], "messages": []}}
    assignment = await session.get(Assignment, subject.user_id)
    cases = list(
        await session.scalars(select(RecoveryCase).where(RecoveryCase.user_id == subject.user_id))
    )
    decisions = list(
        await session.scalars(
            select(Decision)
            .where(Decision.case_id.in_([case.id for case in cases]))
            .order_by(Decision.case_id, Decision.stage)
        )
    )
    notes = await session.scalars(
        select(Notification)
        .where(Notification.user_id == subject.user_id)
        .order_by(Notification.sent_at, Notification.id)
    )
    return {
        "recovery": {
            "group": assignment.group if assignment else None,
            "cases": [_case(case, decisions) for case in cases],
            "messages": [inbox.readable(note, keys) for note in notes],
        }
    }


async def erase(session: AsyncSession, subject: personal.Subject, now: datetime) -> dict[str, int]:
    if subject.user_id is None:
        return {"recovery_cases": 0, "notifications": 0}
    case_ids = list(
        await session.scalars(
            select(RecoveryCase.id)
            .where(RecoveryCase.user_id == subject.user_id)
            .order_by(RecoveryCase.id)
            .with_for_update()
        )
    )
    for case_id in case_ids:
        await session.execute(
            update(RecoveryCase)
            .where(RecoveryCase.id == case_id)
            .values(user_id=ERASED_USER, cart_id=uuid.uuid4())
        )
    await session.execute(
        update(RecoveryCase)
        .where(RecoveryCase.id.in_(case_ids), RecoveryCase.status == "open")
        .values(status="lost", settled_at=now)
    )
    notes = await session.execute(
        delete(Notification).where(Notification.user_id == subject.user_id)
    )
    await session.execute(delete(Assignment).where(Assignment.user_id == subject.user_id))
    return {
        "recovery_cases": len(case_ids),
        "notifications": int(getattr(notes, "rowcount", 0) or 0),
    }


personal.register(personal.Holder("recovery", export, erase))
