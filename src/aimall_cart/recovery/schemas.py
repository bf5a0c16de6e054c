"""Recovery's HTTP shapes."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


class AlternativeOut(BaseModel):
    product_id: str
    variant_id: str
    name: str
    unit_price: int


class InboxItem(BaseModel):
    """What the member sees of a message: not the experiment's bookkeeping."""

    id: uuid.UUID
    cart_id: uuid.UUID
    subject: str
    body: str
    discount_code: str | None
    discount_percent: int | None
    alternatives: list[AlternativeOut]
    sent_at: datetime


class NotificationOut(InboxItem):
    """A message as the admin log shows it: with whom it went to and why."""

    user_id: str
    group: str
    reason: str
    action: str
    channel: str


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None


class InboxPage(BaseModel):
    items: list[InboxItem]
    next_cursor: str | None


class PassOut(BaseModel):
    examined: int
    detected: int
    sent: int
    settled: int
    skipped: dict[str, int]
