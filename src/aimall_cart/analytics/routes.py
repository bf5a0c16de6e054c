"""Analytics over HTTP: a seller's own figures (small groups withheld), the admin's platform
figures (JSON or the daily series as CSV), and an immediate refresh."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from aimall_cart.analytics import refresh, reports, schemas, service
from aimall_cart.auth import CurrentPrincipal
from aimall_cart.clock import Now
from aimall_cart.config import AppSettings
from aimall_cart.db import ReadSession
from aimall_cart.errors import Invalid, NotFound
from aimall_cart.fields import CatalogId

router = APIRouter(tags=["analytics"])
From = Annotated[date | None, Query(alias="from", description="First day (UTC), inclusive")]
To = Annotated[
    date | None, Query(alias="to", description="Last day (UTC), inclusive; today by default")
]


class SellerNotFound(NotFound):
    code = "seller_not_found"


class SellerRequired(Invalid):
    code = "seller_id_required"


class RefreshOut(BaseModel):
    abandoned: int
    days: int
    purged: int


@router.get(
    "/v1/seller/analytics",
    response_model=schemas.SellerAnalytics,
    response_model_exclude_unset=True,
)
async def seller_analytics(
    session: ReadSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    now: Now,
    first: From = None,
    last: To = None,
    seller_id: Annotated[CatalogId | None, Query()] = None,
) -> schemas.SellerAnalytics:
    """A seller's own products only (``seller_id`` is for admins); cells drawn from fewer than
    ``min_group`` carts are withheld, with enough others that none can be worked out."""
    principal.require("seller", "admin")
    if principal.role == "seller":
        seller_id = principal.seller_id
    elif seller_id is None:
        raise SellerRequired("Name the seller with `seller_id`")
    assert seller_id is not None, "a seller's token names their seller_id"
    if principal.role == "admin" and not await service.seller_exists(session, seller_id):
        raise SellerNotFound("There is no such seller", seller_id=seller_id)
    first, last = service.day_range(first, last, today=now.date())
    return await reports.seller(
        session,
        seller_id=seller_id,
        first=first,
        last=last,
        min_group=settings.seller_min_group,
    )


@router.get(
    "/v1/admin/analytics",
    response_model=schemas.AdminAnalytics,
    responses={200: {"content": {"text/csv": {}}}},
)
async def admin_analytics(
    session: ReadSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    now: Now,
    first: From = None,
    last: To = None,
    format: Literal["json", "csv"] = "json",
) -> schemas.AdminAnalytics | Response:
    """The platform and every seller; ``format=csv`` answers the daily series as CSV."""
    principal.require("admin")
    first, last = service.day_range(first, last, today=now.date())
    answer = await reports.admin(
        session, first=first, last=last, currency=settings.default_currency
    )
    if format == "csv":
        name = f"aimall-cart-analytics-{first}-{last}.csv"
        return Response(
            reports.series_csv(answer),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return answer


@router.post("/v1/admin/analytics/refresh", response_model=RefreshOut)
async def refresh_now(
    request: Request, principal: CurrentPrincipal, settings: AppSettings, now: Now
) -> RefreshOut:
    """Find abandoned carts and roll the event log up now, as the worker does on its own."""
    principal.require("admin")
    done = await refresh.run(request.app.state.database, settings, now=now)
    return RefreshOut(abandoned=done.abandoned, days=done.days, purged=done.purged)
