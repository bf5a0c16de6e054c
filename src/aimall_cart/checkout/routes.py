"""HTTP for checkout (``/v1/cart/checkout``) and orders (``/v1/orders``)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import APIRouter, Request, Response

from aimall_cart import metrics
from aimall_cart.auth import CurrentPrincipal
from aimall_cart.carts import present
from aimall_cart.carts.etag import IfMatch, expected_version
from aimall_cart.carts.schemas import CartOut
from aimall_cart.checkout import orders as order_service
from aimall_cart.checkout import service as checkout
from aimall_cart.checkout.schemas import CheckoutOut, CompleteCheckout, OrderOut, StartCheckout
from aimall_cart.clock import Now
from aimall_cart.config import AppSettings, Settings
from aimall_cart.db import ReadSession, WriteSession, commit

router = APIRouter(prefix="/v1/cart/checkout", tags=["checkout"])
orders = APIRouter(prefix="/v1/orders", tags=["orders"])


def _render(result: checkout.CheckoutView, response: Response) -> CheckoutOut:
    body = present.cart_body(result.cart)
    response.headers["ETag"] = f'"{body.version}"'
    return CheckoutOut(
        id=result.checkout.id,
        status=result.checkout.status,
        cart_id=body.id,
        cart_version=body.version,
        currency=body.currency,
        lines=body.items,
        promotion=body.promotion,
        totals=body.totals,
        expires_at=result.checkout.expires_at,
        created_at=result.checkout.created_at,
    )


@router.post("", response_model=CheckoutOut, status_code=201)
async def start_checkout(
    request: Request,
    response: Response,
    session: WriteSession,
    principal: CurrentPrincipal,
    now: Now,
    body: StartCheckout | None = None,
    if_match: IfMatch = None,
) -> CheckoutOut:
    """Validate every line, reserve its stock and lock the cart."""
    settings: Settings = request.app.state.settings
    result = await commit(
        session,
        lambda: checkout.start(
            session,
            principal=principal,
            accept_price_changes=(body or StartCheckout()).accept_price_changes,
            expected_version=expected_version(if_match),
            ttl=timedelta(seconds=settings.reservation_ttl_seconds),
            max_units_per_variant=settings.max_reserved_units_per_variant,
            now=now,
        ),
    )
    metrics.CHECKOUTS.labels("started").inc()
    return _render(result, response)


@router.get("", response_model=CheckoutOut)
async def read_checkout(
    response: Response, session: ReadSession, principal: CurrentPrincipal, now: Now
) -> CheckoutOut:
    return _render(await checkout.get(session, principal=principal, now=now), response)


@router.post("/complete", response_model=OrderOut, status_code=201)
async def complete_checkout(
    response: Response,
    session: WriteSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    now: Now,
    body: CompleteCheckout | None = None,
) -> OrderOut:
    """Place the order: sell the reserved stock, archive and clear the cart, hand the order on."""
    order = await commit(
        session,
        lambda: checkout.complete(
            session,
            principal=principal,
            payment_reference=(body or CompleteCheckout()).payment_reference,
            keys=settings.keys,
            now=now,
        ),
    )
    metrics.CHECKOUTS.labels("completed").inc()
    response.headers["Location"] = f"/v1/orders/{order.id}"
    return OrderOut.model_validate(order_service.document(order, settings.keys))


@router.delete("", response_model=CartOut)
async def cancel_checkout(
    response: Response, session: WriteSession, principal: CurrentPrincipal, now: Now
) -> CartOut:
    """Release the reservation and unlock the cart."""
    view = await commit(session, lambda: checkout.cancel(session, principal=principal, now=now))
    metrics.CHECKOUTS.labels("cancelled").inc()
    response.headers["ETag"] = f'"{view.cart.version}"'
    return present.cart_body(view)


@orders.get("/{order_id}", response_model=OrderOut)
async def read_order(
    order_id: uuid.UUID, session: ReadSession, principal: CurrentPrincipal, settings: AppSettings
) -> OrderOut:
    order = await order_service.get(session, principal=principal, order_id=order_id)
    return OrderOut.model_validate(order_service.document(order, settings.keys))
