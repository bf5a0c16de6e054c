"""Recovery messages: what a customer reads, rendered from Jinja2 templates in ``templates/``.

The baseline group is the experiment's control, so it always reads the same plain reminder,
whatever the reason. The ai group reads words chosen for the inferred reason and the chosen
action: ``{channel}/{kind}_{reason}``, else ``{channel}/{kind}``, else the shared default, whose
layout (full for email, short otherwise) follows the channel. Pure: plain values in, text out.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

if TYPE_CHECKING:  # that module loads scikit-learn, which rendering has no need of
    from aimall_cart.recovery.alternatives import Alternative

GROUPS = ("baseline", "ai")
LAYOUTS = {"email": "_email.txt.j2", "in_app": "_short.txt.j2", "webhook": "_short.txt.j2"}
SUBJECT_MAX_CHARS = 119
# ISO 4217 currencies whose minor unit is not a hundredth; every other one has two decimals.
_MINOR_DIGITS = dict.fromkeys(
    ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND"),
    0,
) | dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3)


@dataclass(frozen=True)
class MessageLine:
    name: str
    quantity: int
    unit_price: int  # what it costs now, net of the variant's own discount
    line_total: int
    # False when the line cannot be supplied in full right now.
    available: bool = True
    # The unit price when it was added, given only when it has changed since.
    previous_unit_price: int | None = None


@dataclass(frozen=True)
class MessageContext:
    customer_name: str | None
    currency: str
    lines: Sequence[MessageLine]
    total: int
    reason: str
    action: str  # "reminder", "alternatives" or "discount_<percent>"
    group: str  # "baseline" or "ai"
    cart_url: str
    unsubscribe_url: str
    alternatives: Sequence[Alternative] = ()
    discount_code: str | None = None
    discount_percent: int | None = None
    discount_expires_at: datetime | None = None


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def webhook_payload(
    *,
    notification_id: uuid.UUID | str,
    user_id: str,
    cart_id: uuid.UUID | str,
    context: MessageContext,
    rendered: Rendered,
) -> dict[str, Any]:
    """What the recovery webhook receives: who and which cart, the words, the links and the offer
    in fields of their own. No email address: a receiver that needs one has its own records."""
    return {
        "notification_id": str(notification_id),
        "user_id": user_id,
        "cart_id": str(cart_id),
        "group": context.group,
        "reason": context.reason,
        "action": context.action,
        "subject": rendered.subject,
        "body": rendered.body,
        "cart_url": context.cart_url,
        "unsubscribe_url": context.unsubscribe_url,
        "currency": context.currency,
        "total": context.total,
        "discount_code": context.discount_code,
        "discount_percent": context.discount_percent,
        "discount_expires_at": (
            context.discount_expires_at.isoformat() if context.discount_expires_at else None
        ),
        "alternatives": [
            {
                "product_id": item.product_id,
                "variant_id": item.variant_id,
                "name": item.name,
                "unit_price": item.unit_price,
            }
            for item in context.alternatives
        ],
    }


def format_money(amount: int, currency: str) -> str:
    """Minor units as the currency's major unit: ``format_money(1999, "USD") == "USD 19.99"``."""
    digits = _MINOR_DIGITS.get(currency, 2)
    major, minor = divmod(abs(amount), 10**digits)
    sign = "-" if amount < 0 else ""
    fraction = f".{minor:0{digits}d}" if digits else ""
    return f"{currency} {sign}{major:,}{fraction}"


def format_moment(moment: datetime) -> str:
    """In UTC, e.g. ``24 Nov 2026, 18:00 UTC``; a naive time is refused rather than guessed."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to a message")
    utc = moment.astimezone(UTC)
    return f"{utc.day} {utc:%b %Y, %H:%M} UTC"


def message_kind(context: MessageContext) -> str:
    """What the message can actually offer: an action whose offer is missing (no code, no
    alternatives in stock) is read as a reminder, so no text promises what is not there."""
    action = context.action
    if action.startswith("discount_") and action.removeprefix("discount_").isdigit():
        return "discount" if context.discount_code else "reminder"
    if action == "alternatives":
        return "alternatives" if context.alternatives else "reminder"
    if action == "reminder":
        return "reminder"
    raise ValueError(f"unknown recovery action {action!r}")


class Renderer:
    """Holds the template environment, which compiles each template once and keeps it."""

    def __init__(self) -> None:
        self._environment = Environment(
            loader=PackageLoader("aimall_cart.recovery", "templates"),
            undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html",)),
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # templates ship with the package: no stat() per render
        )
        self._environment.filters["money"] = format_money
        self._environment.filters["moment"] = format_moment

    def render(self, channel: str, context: MessageContext) -> Rendered:
        if channel not in LAYOUTS:
            raise ValueError(f"unknown channel {channel!r}")
        if context.group not in GROUPS:
            raise ValueError(f"no message is sent to the {context.group!r} group")
        kind = message_kind(context)
        if context.group == "baseline":
            names = [f"{channel}/baseline.txt.j2", "baseline.txt.j2"]
        else:
            names = [
                f"{channel}/{kind}_{context.reason}.txt.j2",
                f"{channel}/{kind}.txt.j2",
                "default.txt.j2",
            ]
        template = self._environment.select_template(names)
        variables: dict[str, Any] = {f.name: getattr(context, f.name) for f in fields(context)}
        variables |= {"channel": channel, "kind": kind, "layout": LAYOUTS[channel]}
        module = template.make_module(variables)
        subject = getattr(module, "subject", None)  # what the layout's block rendered
        if subject is None:
            raise ValueError(f"template {template.name} does not extend a layout")
        return Rendered(subject=_one_line(str(subject)), body=_tidy(str(module)))


def _one_line(subject: str) -> str:
    """Whitespace collapsed (a header holds no line breaks) and cut to fit a subject line."""
    text = " ".join(subject.split())
    if len(text) <= SUBJECT_MAX_CHARS:
        return text
    return text[: SUBJECT_MAX_CHARS - 1].rstrip() + "…"


def _tidy(body: str) -> str:
    """Trailing spaces dropped and runs of blank lines folded into one, so templates can lay
    out their optional parts freely."""
    lines = [line.rstrip() for line in body.strip().splitlines()]
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    return "\n".join(tidy) + "\n"
