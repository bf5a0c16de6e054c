"""Recovery over HTTP: the admin's policy, passes, notifications and report; the member's inbox.

The engine (numpy, scikit-learn) is imported on the first pass, never at start-up.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Request

from aimall_cart.auth import CurrentPrincipal
from aimall_cart.clock import Now
from aimall_cart.config import AppSettings
from aimall_cart.db import Database, ReadSession, WriteSession, commit
from aimall_cart.errors import Unauthenticated
from aimall_cart.fields import Moment, Text
from aimall_cart.recovery import inbox, report
from aimall_cart.recovery import policy as recovery_policy
from aimall_cart.recovery.models import Notification
from aimall_cart.recovery.schemas import (
    InboxItem,
    InboxPage,
    NotificationOut,
    NotificationPage,
    PassOut,
)

if TYPE_CHECKING:
    from aimall_cart.recovery.engine import Engine

router = APIRouter(tags=["recovery"])
Currency = Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")]


def _engine(request: Request) -> Engine:
    engine: Engine | None = getattr(request.app.state, "recovery_engine", None)
    if engine is None:
        from aimall_cart.recovery.engine import Engine

        engine = request.app.state.recovery_engine = Engine.create()
    return engine


@router.get("/v1/admin/recovery/policy", response_model=recovery_policy.PolicyOut)
async def read_policy(
    session: ReadSession, principal: CurrentPrincipal
) -> recovery_policy.PolicyOut:
    principal.require("admin")
    return await recovery_policy.read(session)


@router.put("/v1/admin/recovery/policy", response_model=recovery_policy.PolicyOut)
async def replace_policy(
    body: recovery_policy.PolicyIn,
    session: WriteSession,
    principal: CurrentPrincipal,
    now: Now,
) -> recovery_policy.PolicyOut:
    """Replace the whole policy; fields left out take their defaults. Groups already assigned
    keep their group: the split applies to customers seen from now on. A GET's answer may be
    sent back as it is: its ``version`` must still be current (412 otherwise)."""
    principal.require("admin")
    return await commit(
        session,
        lambda: recovery_policy.replace(
            session, body.policy(), expected_version=body.version, now=now
        ),
    )


@router.post("/v1/admin/recovery/run", response_model=PassOut)
async def run_pass(
    request: Request, principal: CurrentPrincipal, settings: AppSettings, now: Now
) -> PassOut:
    """One recovery pass now, the same the worker runs on its schedule."""
    principal.require("admin")
    from aimall_cart.recovery import service

    database: Database = request.app.state.database
    result = await service.run_pass(database, settings, _engine(request), now=now)
    return PassOut(
        examined=result.examined,
        detected=result.detected,
        sent=result.sent,
        settled=result.settled,
        skipped=dict(result.skipped),
    )


def _page(notes: list[Notification], limit: int) -> str | None:
    return inbox.cursor_of(notes[-1]) if len(notes) == limit else None


@router.get("/v1/admin/notifications", response_model=NotificationPage)
async def list_notifications(
    session: ReadSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    cart_id: uuid.UUID | None = None,
    user_id: Annotated[Text | None, Query(max_length=128)] = None,
    since: Moment | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> NotificationPage:
    principal.require("admin")
    notes = list(
        await inbox.sent(
            session, cart_id=cart_id, user_id=user_id, since=since, cursor=cursor, limit=limit
        )
    )
    return NotificationPage(
        items=[NotificationOut.model_validate(inbox.readable(n, settings.keys)) for n in notes],
        next_cursor=_page(notes, limit),
    )


@router.get("/v1/admin/recovery/report", response_model=report.ReportOut)
async def recovery_report(
    session: ReadSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    currency: Currency = None,
    detected_from: Moment | None = None,
    detected_to: Moment | None = None,
) -> report.ReportOut:
    """Per group, in one currency (the default currency unless named)."""
    principal.require("admin")
    return await report.build(
        session,
        currency=currency or settings.default_currency,
        detected_from=detected_from,
        detected_to=detected_to,
    )


@router.get("/v1/me/notifications", response_model=InboxPage)
async def my_notifications(
    session: ReadSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> InboxPage:
    if principal.user_id is None:
        raise Unauthenticated("Sign in to read your notifications")
    notes = list(await inbox.in_app(session, user_id=principal.user_id, cursor=cursor, limit=limit))
    return InboxPage(
        items=[InboxItem.model_validate(inbox.readable(n, settings.keys)) for n in notes],
        next_cursor=_page(notes, limit),
    )
