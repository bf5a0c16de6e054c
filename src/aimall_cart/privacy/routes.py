"""The member's own preferences and consent, and the unsubscribe page and action."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from aimall_cart.auth import CurrentPrincipal, Principal
from aimall_cart.clock import Now
from aimall_cart.config import AppSettings
from aimall_cart.db import ReadSession, WriteSession, commit
from aimall_cart.errors import Unauthenticated
from aimall_cart.privacy import erasure, export, personal
from aimall_cart.privacy import service as privacy
from aimall_cart.privacy.schemas import ErasedOut, PreferencesIn, PreferencesOut, UnsubscribedOut

router = APIRouter(tags=["privacy"])

Token = Annotated[str, Query(description="The token from the unsubscribe link")]


def _member(principal: Principal) -> str:
    principal.require("customer", "seller", "admin")
    assert principal.user_id is not None  # require() refuses anyone without one
    return principal.user_id


def _body(view: privacy.PreferencesView) -> PreferencesOut:
    contact = view.contact
    return PreferencesOut.model_validate(
        {
            "marketing_consent": contact.marketing_consent,
            "email": contact.email,
            "name": contact.name,
            "channels": list(contact.channels),
            "timezone": contact.timezone,
            "consent_updated_at": view.consent_updated_at,
            "updated_at": view.updated_at,
        }
    )


@router.get("/v1/me/preferences", response_model=PreferencesOut)
async def read_preferences(
    session: ReadSession, principal: CurrentPrincipal, settings: AppSettings
) -> PreferencesOut:
    """The caller's contact preferences; the defaults (no consent) until they save some."""
    user_id = _member(principal)
    return _body(await privacy.read(session, keys=settings.keys, user_id=user_id))


@router.put("/v1/me/preferences", response_model=PreferencesOut)
async def save_preferences(
    body: PreferencesIn,
    session: WriteSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    now: Now,
) -> PreferencesOut:
    """Replace the caller's preferences; a field left out goes back to its default."""
    user_id = _member(principal)
    view = await commit(
        session,
        lambda: privacy.save(session, keys=settings.keys, user_id=user_id, choice=body, now=now),
    )
    return _body(view)


_PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
)
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Unsubscribe</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 32rem; margin: 4rem auto">
<h1>Stop reminders about your cart?</h1>
<p>We will send no more marketing messages about carts you leave behind.</p>
<form method="post" action="/v1/unsubscribe?token={token}">
<button type="submit">Unsubscribe</button></form>
</body></html>
"""


@router.get(
    "/v1/unsubscribe",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}, "description": "The confirmation page"}},
)
async def unsubscribe_page(token: Token, settings: AppSettings) -> HTMLResponse:
    """The page behind the link in a message: a button that withdraws consent. Reading it changes
    nothing, since mail scanners and prefetchers follow links. A token that is not one of ours is
    404 ``invalid_unsubscribe_token``."""
    privacy.user_of_token(settings.keys, token)
    return HTMLResponse(
        _PAGE.format(token=quote(token, safe="")),
        headers={"Content-Security-Policy": _PAGE_POLICY},
    )


@router.post("/v1/unsubscribe", response_model=UnsubscribedOut)
async def unsubscribe_one_click(
    token: Token, session: WriteSession, settings: AppSettings, now: Now
) -> UnsubscribedOut:
    """Withdraw marketing consent: the page's button, or RFC 8058 one-click unsubscribe from the
    mail client; any body is ignored. No sign-in: the token is the credential, and never expires.
    A token that is not one of ours is 404 ``invalid_unsubscribe_token``."""
    await commit(
        session,
        lambda: privacy.unsubscribe(session, keys=settings.keys, token=token, now=now),
    )
    return UnsubscribedOut()


def _subject(principal: Principal) -> personal.Subject:
    """A signed-in member, or a guest by the cart token they hold."""
    if principal.user_id is not None:
        return personal.Subject(principal.user_id, None)
    if principal.cart_token_hash is not None:
        return personal.Subject(None, principal.cart_token_hash)
    raise Unauthenticated("Sign in, or send the cart token, to reach your data")


@router.get("/v1/me/data")
async def export_my_data(
    session: ReadSession, principal: CurrentPrincipal, settings: AppSettings
) -> dict[str, Any]:
    """Everything the cart system holds about the caller, as one document: a member's
    preferences and consent, carts, archives, orders, discount codes, recovery messages and the
    decisions about them; a guest's own cart and its orders."""
    subject = _subject(principal)
    return await export.export(session, subject=subject, keys=settings.keys)


@router.delete("/v1/me/data", status_code=202, response_model=ErasedOut)
async def erase_my_data(
    session: WriteSession, principal: CurrentPrincipal, settings: AppSettings, now: Now
) -> ErasedOut:
    """Erase what is held about the caller; orders keep their lines and totals, nameless.
    Erasing again erases nothing more."""
    subject = _subject(principal)
    erased = await commit(
        session, lambda: erasure.erase(session, subject=subject, keys=settings.keys, now=now)
    )
    return ErasedOut(erased=erased)
