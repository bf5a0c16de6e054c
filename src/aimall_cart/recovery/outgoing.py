"""Writing what a batch decided to send: discount codes, decisions, one notification per channel,
and the outbox events that carry email and webhooks, each kind in one bulk INSERT."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart import events, mail
from aimall_cart.carts import promotions
from aimall_cart.carts import rules as cart_rules
from aimall_cart.carts.models import CartItem
from aimall_cart.config import Settings
from aimall_cart.crypto import KeyRing
from aimall_cart.privacy import service as privacy
from aimall_cart.recovery import channels, inbox, messages
from aimall_cart.recovery.models import Decision, Notification
from aimall_cart.recovery.plan import Plan, decision
from aimall_cart.recovery.policy import RecoveryPolicy


async def write(
    session: AsyncSession,
    plans: list[Plan],
    *,
    settings: Settings,
    renderer: messages.Renderer,
    policy: RecoveryPolicy,
    policy_version: int,
    now: datetime,
) -> None:
    """Writes only: the plans' stages are already claimed by the caller's transaction."""
    expires_at = now + timedelta(hours=policy.discount_valid_hours)
    grants = [
        promotions.Grant(plan.case.user_id, plan.case.cart_id, plan.action.discount_percent)
        for plan in plans
        if plan.action.discount_percent
    ]
    codes = iter(await promotions.issue_many(session, grants, expires_at=expires_at, now=now))
    decisions, notes, outbox = [], [], []
    base = settings.public_base_url.rstrip("/")
    for plan in plans:
        row = decision(
            plan.case,
            plan.estimate,
            plan.action.name,
            plan.probability,
            policy_version=policy_version,
            now=now,
        )
        decisions.append(row)
        code = next(codes) if plan.action.discount_percent else None
        message = _context(plan, base, settings.keys, code, expires_at)
        for channel in plan.channels:
            rendered = renderer.render(channel, message)
            note = _notification(plan, row["id"], channel, message, rendered, now)
            _seal(note, settings.keys)
            notes.append(note)
            if event := _outbox_event(plan, channel, note["id"], message, rendered, settings):
                outbox.append(event)
    await session.execute(insert(Decision), decisions)
    await session.execute(insert(Notification), notes)
    await events.emit_many(session, outbox, keys=settings.keys, now=now)


def _seal(note: dict[str, Any], keys: KeyRing) -> None:
    for field in inbox.SEALED_FIELDS:
        note[field] = inbox.seal_text(keys, note["id"], field, note[field])


def _outbox_event(
    plan: Plan,
    channel: str,
    notification_id: uuid.UUID,
    message: messages.MessageContext,
    rendered: messages.Rendered,
    settings: Settings,
) -> tuple[str, dict[str, Any], str] | None:
    """What the worker delivers for a channel that leaves the service; None for in-app."""
    person = events.member(plan.case.user_id)
    if channel == "email" and plan.contact.email:
        return (
            channels.EMAIL_EVENT,
            mail.email_payload(
                notification_id=notification_id,
                to=plan.contact.email,
                subject=rendered.subject,
                body=rendered.body,
                unsubscribe_url=message.unsubscribe_url,
            ),
            person,
        )
    if channel == "webhook":
        return (
            channels.WEBHOOK_EVENT,
            messages.webhook_payload(
                notification_id=notification_id,
                user_id=plan.case.user_id,
                cart_id=plan.case.cart_id,
                context=message,
                rendered=rendered,
            ),
            person,
        )
    return None


def _context(
    plan: Plan, base: str, keys: KeyRing, code: str | None, expires_at: datetime
) -> messages.MessageContext:
    """An ai-group message carries the plan's alternatives whatever its action: the action
    chooses the offer and the words, never whether a missing line's stand-ins are shown."""
    missing = {line.variant_id for line in plan.state.missing()}
    lines = [
        _line(
            item, plan.state.offers.get(item.variant_id), available=item.variant_id not in missing
        )
        for item in plan.state.items
    ]
    return messages.MessageContext(
        customer_name=plan.contact.name,
        currency=plan.cart.currency,
        lines=lines,
        total=sum(line.line_total for line in lines),
        reason=plan.estimate.primary,
        action=plan.action.name,
        group=plan.case.group,
        cart_url=f"{base}/cart",
        unsubscribe_url=privacy.unsubscribe_url(base, keys, plan.case.user_id),
        alternatives=plan.alternatives if plan.case.group == "ai" else (),
        discount_code=code,
        discount_percent=plan.action.discount_percent or None,
        discount_expires_at=expires_at if code else None,
    )


def _line(
    item: CartItem, offer: cart_rules.Offer | None, *, available: bool
) -> messages.MessageLine:
    """The line at today's net price (what checkout would charge), with the price it was added
    at when that differs; a line whose product left the sale keeps the price it was added at."""
    added = item.unit_price - item.discount
    today = offer.unit_price - offer.discount if offer is not None and offer.active else added
    return messages.MessageLine(
        item.name,
        item.quantity,
        today,
        today * item.quantity,
        available=available,
        previous_unit_price=added if today != added else None,
    )


def _notification(
    plan: Plan,
    decision_id: uuid.UUID,
    channel: str,
    message: messages.MessageContext,
    rendered: messages.Rendered,
    now: datetime,
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "decision_id": decision_id,
        "cart_id": plan.case.cart_id,
        "user_id": plan.case.user_id,
        "group": plan.case.group,
        "reason": message.reason,
        "action": message.action,
        "channel": channel,
        "subject": rendered.subject,
        "body": rendered.body,
        "discount_code": message.discount_code,
        "discount_percent": message.discount_percent,
        "alternatives": [
            {
                "product_id": a.product_id,
                "variant_id": a.variant_id,
                "name": a.name,
                "unit_price": a.unit_price,
            }
            for a in message.alternatives
        ],
        "sent_at": now,
    }
