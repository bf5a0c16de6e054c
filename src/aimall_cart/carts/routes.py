"""HTTP for the customer's own cart: ``/v1/cart``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from aimall_cart.caller import CallerRoute, caller_of
from aimall_cart.carts import access, merge_plan, present, promotions
from aimall_cart.carts import merge as merging
from aimall_cart.carts import service as carts
from aimall_cart.carts.etag import IfMatch, expected_version
from aimall_cart.carts.schemas import (
    AddItem,
    ApplyDiscount,
    CartOut,
    MergeLineOut,
    MergeOut,
    MergeReportOut,
    MergeRequest,
    UpdateItem,
)
from aimall_cart.config import Settings
from aimall_cart.crypto import keyed_hash, new_guest_token
from aimall_cart.db import Database, WriteSession, commit

router = APIRouter(prefix="/v1/cart", tags=["cart"], route_class=CallerRoute)


def _policy(request: Request) -> access.CartPolicy:
    settings: Settings = request.app.state.settings
    return access.CartPolicy(
        max_lines=settings.max_lines_per_cart, default_currency=settings.default_currency
    )


def _guest(request: Request) -> access.GuestCredential:
    settings: Settings = request.app.state.settings
    token = new_guest_token()
    return access.GuestCredential(token, keyed_hash(token, key=settings.token_hash_key))


def _respond(response: Response, view: access.CartView, *, created_status: int = 200) -> CartOut:
    response.headers["ETag"] = f'"{view.cart.version}"'
    if view.guest_token is not None:
        response.headers["X-Cart-Token"] = view.guest_token
    response.status_code = created_status if view.created else status.HTTP_200_OK
    return present.cart_body(view)


def _cart_response(view: access.CartView, *, created_status: int = 200) -> Response:
    """The cart as the hot path answers it: serialised once, not validated again."""
    headers = {"ETag": f'"{view.cart.version}"'}
    if view.guest_token is not None:
        headers["X-Cart-Token"] = view.guest_token
    return Response(
        present.cart_json(view),
        status_code=created_status if view.created else status.HTTP_200_OK,
        media_type="application/json",
        headers=headers,
    )


def _database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


@router.post(
    "",
    response_model=CartOut,
    status_code=201,
    responses={200: {"model": CartOut, "description": "The caller's cart, which already existed"}},
)
async def create_cart(request: Request) -> Response:
    caller = caller_of(request)
    guest, policy = _guest(request), _policy(request)
    view = await _database(request).change(
        lambda sql: carts.open_cart(
            sql, principal=caller.principal, guest=guest, policy=policy, now=caller.now
        )
    )
    return _cart_response(view, created_status=201)


@router.get("", response_model=CartOut)
async def read_cart(request: Request) -> Response:
    caller = caller_of(request)
    view = await _database(request).read(
        lambda sql: carts.get_cart(sql, principal=caller.principal, now=caller.now)
    )
    return _cart_response(view)


@router.post(
    "/items",
    response_model=CartOut,
    status_code=201,
    responses={200: {"model": CartOut, "description": "Added to a line already in the cart"}},
)
async def add_item(
    request: Request,
    body: AddItem,
    if_match: IfMatch = None,
) -> Response:
    caller = caller_of(request)
    expected, guest, policy = expected_version(if_match), _guest(request), _policy(request)
    view = await _database(request).change(
        lambda sql: carts.add_item(
            sql,
            principal=caller.principal,
            data=body,
            expected_version=expected,
            guest=guest,
            policy=policy,
            now=caller.now,
        )
    )
    return _cart_response(view, created_status=201)


@router.patch("/items/{item_id}", response_model=CartOut)
async def update_item(
    request: Request,
    item_id: uuid.UUID,
    body: UpdateItem,
    if_match: IfMatch = None,
) -> Response:
    caller = caller_of(request)
    expected = expected_version(if_match)
    view = await _database(request).change(
        lambda sql: carts.update_item(
            sql,
            principal=caller.principal,
            item_id=item_id,
            data=body,
            expected_version=expected,
            now=caller.now,
        )
    )
    return _cart_response(view)


@router.delete("/items/{item_id}", response_model=CartOut)
async def remove_item(
    request: Request,
    item_id: uuid.UUID,
    if_match: IfMatch = None,
) -> Response:
    caller = caller_of(request)
    expected = expected_version(if_match)
    view = await _database(request).change(
        lambda sql: carts.remove_item(
            sql,
            principal=caller.principal,
            item_id=item_id,
            expected_version=expected,
            now=caller.now,
        )
    )
    return _cart_response(view)


@router.delete("/items", response_model=CartOut)
async def clear_items(request: Request, if_match: IfMatch = None) -> Response:
    caller = caller_of(request)
    expected = expected_version(if_match)
    view = await _database(request).change(
        lambda sql: carts.clear(
            sql, principal=caller.principal, expected_version=expected, now=caller.now
        )
    )
    return _cart_response(view)


@router.post("/discount", response_model=CartOut)
async def apply_discount(
    request: Request,
    body: ApplyDiscount,
    response: Response,
    session: WriteSession,
    if_match: IfMatch = None,
) -> CartOut:
    """Apply a promotion code issued to the signed-in member, replacing any applied before."""
    caller = caller_of(request)
    outcome = await commit(
        session,
        lambda: promotions.apply(
            session,
            principal=caller.principal,
            code=body.code,
            expected_version=expected_version(if_match),
            now=caller.now,
        ),
    )
    if isinstance(outcome, promotions.InvalidDiscountCode):
        raise outcome  # the refused attempt is already counted and committed
    return _respond(response, outcome)


@router.delete("/discount", response_model=CartOut)
async def remove_discount(
    request: Request,
    response: Response,
    session: WriteSession,
    if_match: IfMatch = None,
) -> CartOut:
    caller = caller_of(request)
    view = await commit(
        session,
        lambda: promotions.remove(
            session,
            principal=caller.principal,
            expected_version=expected_version(if_match),
            now=caller.now,
        ),
    )
    return _respond(response, view)


def _report(result: merging.MergeResult, *, preview: bool) -> MergeReportOut:
    def out(decision: merge_plan.MergeDecision) -> MergeLineOut:
        line = result.lines[decision.key]
        return MergeLineOut(
            product_id=line.product_id,
            variant_id=line.variant_id,
            options=line.options,
            source=decision.source,
            quantity=decision.quantity,
            guest_quantity=decision.guest_quantity,
            member_quantity=decision.member_quantity,
            reason=decision.reason,
        )

    by_outcome = {
        outcome: [out(d) for d in result.decisions if d.outcome == outcome]
        for outcome in ("added", "combined", "dropped")
    }
    return MergeReportOut(
        strategy=result.strategy,
        preview=preview,
        clamped=[out(d) for d in result.decisions if d.clamped],
        **by_outcome,
    )


@router.post("/merge", response_model=MergeOut)
async def merge_guest_cart(
    request: Request,
    response: Response,
    session: WriteSession,
    body: MergeRequest | None = None,
    preview: Annotated[bool, Query()] = False,
    if_match: IfMatch = None,
) -> MergeOut:
    """Merge the guest cart named by X-Cart-Token into the signed-in member's cart."""
    caller = caller_of(request)

    async def work() -> merging.MergeResult:
        return await merging.merge(
            session,
            principal=caller.principal,
            strategy=(body or MergeRequest()).strategy,
            preview=preview,
            expected_version=expected_version(if_match),
            guest=_guest(request),
            policy=_policy(request),
            now=caller.now,
        )

    if not preview:
        result = await commit(session, work)
        return MergeOut(cart=_respond(response, result.view), merge=_report(result, preview=False))
    # A preview runs the very same merge, renders it, and rolls it back.
    result = await work()
    answer = MergeOut(cart=_respond(response, result.view), merge=_report(result, preview=True))
    await session.rollback()
    return answer
