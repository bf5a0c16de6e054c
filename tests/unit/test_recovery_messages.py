"""Recovery messages: every template renders strictly, says what the customer needs, and the
baseline reads the same whatever the reason; the email payload keeps the address sealed."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from aimall_cart import mail
from aimall_cart.recovery.alternatives import Alternative
from aimall_cart.recovery.messages import (
    LAYOUTS,
    MessageContext,
    MessageLine,
    Rendered,
    Renderer,
    format_moment,
    format_money,
    message_kind,
    webhook_payload,
)
from aimall_cart.recovery.reasons import REASONS

CHANNELS = tuple(LAYOUTS)
ACTIONS = ("reminder", "alternatives", "discount_10")
EXPIRES = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
CART_URL = "https://shop.example/cart"
UNSUBSCRIBE_URL = "https://shop.example/unsubscribe?token=tok-123"
LINES = (
    MessageLine("Enamel mug", 2, 999, 1998),
    MessageLine("Desk lamp", 1, 4500, 4500),
)
ALTERNATIVES = (
    Alternative("p-9", "v-9", "Brass table lamp", 3999, 0.8),
    Alternative("p-7", "v-7", "Clip-on lamp", 1250, 0.6),
)
RENDERER = Renderer()


def _context(**changes: Any) -> MessageContext:
    context = MessageContext(
        customer_name="Alex",
        currency="USD",
        lines=LINES,
        total=6498,
        reason="price",
        action="reminder",
        group="ai",
        cart_url=CART_URL,
        unsubscribe_url=UNSUBSCRIBE_URL,
    )
    return dataclasses.replace(context, **changes)


def _offer(action: str) -> dict[str, Any]:
    if action == "alternatives":
        return {"alternatives": ALTERNATIVES}
    if action.startswith("discount_"):
        return {
            "discount_code": "SAVE-7Q2X",
            "discount_percent": 10,
            "discount_expires_at": EXPIRES,
        }
    return {}


def _render(channel: str, **changes: Any) -> Rendered:
    return RENDERER.render(channel, _context(**changes))


@pytest.mark.parametrize("reason", REASONS)
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("channel", CHANNELS)
def test_every_channel_action_and_reason_renders_everything_the_customer_needs(
    channel: str, action: str, reason: str
) -> None:
    rendered = _render(channel, reason=reason, action=action, **_offer(action))

    assert 0 < len(rendered.subject) < 120
    assert "\n" not in rendered.subject
    body = rendered.body
    assert body.startswith("Hi Alex,")
    assert "- 2 x Enamel mug: USD 19.98" in body
    assert "- 1 x Desk lamp: USD 45.00" in body
    assert "Total: USD 64.98" in body
    assert CART_URL in body
    assert UNSUBSCRIBE_URL in body
    assert "None" not in body
    if action == "alternatives":
        assert "Brass table lamp: USD 39.99" in body
        assert "Clip-on lamp: USD 12.50" in body
    if action.startswith("discount_"):
        assert "SAVE-7Q2X" in body
        assert "10% off" in body
        assert "24 Nov 2026, 18:00 UTC" in body


@pytest.mark.parametrize("group", ["baseline", "ai"])
@pytest.mark.parametrize("channel", CHANNELS)
def test_without_a_name_the_greeting_is_neutral(channel: str, group: str) -> None:
    rendered = _render(channel, customer_name=None, group=group)
    assert rendered.body.startswith("Hello,\n")
    assert "None" not in rendered.body + rendered.subject


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_discount_action_without_a_code_promises_no_discount(channel: str) -> None:
    rendered = _render(channel, action="discount_15", discount_percent=15)
    text = (rendered.subject + rendered.body).lower()
    assert "code" not in text
    assert "discount" not in text
    assert "%" not in text


def test_an_alternatives_action_with_none_in_stock_reads_as_a_reminder() -> None:
    assert message_kind(_context(action="alternatives")) == "reminder"
    assert message_kind(_context(action="alternatives", alternatives=ALTERNATIVES)) == (
        "alternatives"
    )
    assert message_kind(_context(action="discount_5", discount_code="C")) == "discount"
    assert "in stock" not in _render("email", action="alternatives").body.lower()


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_baseline_reads_the_same_whatever_the_reason(channel: str) -> None:
    lines = (
        MessageLine("Enamel mug", 2, 999, 1998, previous_unit_price=899),
        MessageLine("Desk lamp", 1, 4500, 4500, available=False),
    )
    price = _render(channel, group="baseline", reason="price", lines=lines)
    availability = _render(channel, group="baseline", reason="availability", lines=lines)
    hesitation = _render(channel, group="baseline", reason="hesitation", lines=lines)

    assert price == availability == hesitation
    assert "was USD" not in price.body
    assert "not available" not in price.body
    assert price != _render(channel, group="ai", reason="price", lines=lines)


def test_the_price_message_shows_what_each_moved_line_cost_before() -> None:
    lines = (MessageLine("Enamel mug", 2, 999, 1998, previous_unit_price=899), LINES[1])
    rendered = _render(
        "email", reason="price", action="discount_10", lines=lines, **_offer("discount_10")
    )
    assert "- 2 x Enamel mug: USD 19.98 (USD 9.99 each), was USD 8.99 each" in rendered.body
    assert "price" in rendered.subject.lower()
    assert "To make up for the change" in rendered.body


def test_the_availability_message_names_what_is_missing_then_the_alternatives() -> None:
    lines = (LINES[0], MessageLine("Desk lamp", 1, 4500, 4500, available=False))
    rendered = _render("email", reason="availability", action="alternatives", lines=lines,
                       alternatives=ALTERNATIVES)  # fmt: skip
    body = rendered.body
    assert "Desk lamp is not available in the quantity you chose" in body
    assert body.index("Brass table lamp") < body.index("Your cart:")
    assert rendered.subject == "In-stock alternatives for Desk lamp"


def test_the_hesitation_message_reassures_with_the_total() -> None:
    body = _render("email", reason="hesitation").body
    assert "Nothing is charged until you confirm at checkout" in body
    assert "The total below is what you would pay today" in body


def test_the_not_interested_email_offers_the_way_out_before_the_cart() -> None:
    body = _render("email", reason="not_interested").body
    assert body.index(UNSUBSCRIBE_URL) < body.index("Your cart:")


@pytest.mark.parametrize("reason", REASONS)
def test_in_app_messages_are_shorter_than_emails(reason: str) -> None:
    assert len(_render("in_app", reason=reason).body) < len(_render("email", reason=reason).body)


def test_a_subject_is_cut_below_120_characters_and_kept_on_one_line() -> None:
    long_name = "Hand-thrown stoneware\nmug " + "with a very long description " * 10
    rendered = _render("email", reason="distraction", lines=(MessageLine(long_name, 1, 10, 10),))
    assert len(rendered.subject) == 119
    assert rendered.subject.startswith("You left Hand-thrown stoneware mug with")
    assert rendered.subject.endswith("…")


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (1999, "USD", "USD 19.99"),
        (5, "EUR", "EUR 0.05"),
        (0, "USD", "USD 0.00"),
        (123_456_789, "GBP", "GBP 1,234,567.89"),
        (1500, "JPY", "JPY 1,500"),
        (1234, "KWD", "KWD 1.234"),
        (-250, "USD", "USD -2.50"),
    ],
)
def test_money_is_minor_units_shown_in_the_currency(amount: int, currency: str, text: str) -> None:
    assert format_money(amount, currency) == text


def test_a_moment_is_shown_in_utc_and_a_naive_one_is_refused() -> None:
    assert format_moment(EXPIRES) == "24 Nov 2026, 18:00 UTC"
    tokyo = EXPIRES.astimezone(timezone(timedelta(hours=9)))
    assert format_moment(tokyo) == "24 Nov 2026, 18:00 UTC"
    assert format_moment(datetime(2026, 3, 4, 5, 6, tzinfo=UTC)) == "4 Mar 2026, 05:06 UTC"
    with pytest.raises(ValueError, match="naive"):
        format_moment(datetime(2026, 3, 4, 5, 6))


@pytest.mark.parametrize(
    ("channel", "changes"),
    [
        ("sms", {}),
        ("email", {"group": "holdout"}),
        ("email", {"action": "discount_"}),
        ("email", {"action": "free_shipping"}),
    ],
)
def test_what_no_message_exists_for_is_refused(channel: str, changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"unknown|no message"):
        _render(channel, **changes)


def test_the_email_payload_reads_back_as_the_email_it_carries() -> None:
    notification_id = uuid.uuid4()
    payload = mail.email_payload(
        notification_id=notification_id,
        to="alex@example.org",
        subject="S",
        body="B",
        unsubscribe_url=UNSUBSCRIBE_URL,
    )

    email = mail.read_email_payload(payload)
    assert (email.to, email.subject, email.body, email.notification_id) == (
        "alex@example.org",
        "S",
        "B",
        str(notification_id),
    )
    assert "alex@example.org" not in repr(email)
    with pytest.raises(ValueError, match="text fields"):
        mail.read_email_payload({k: v for k, v in payload.items() if k != "body"})


def test_the_webhook_payload_carries_the_words_the_links_and_the_offer() -> None:
    context = _context(reason="availability", action="alternatives", alternatives=ALTERNATIVES)
    rendered = RENDERER.render("webhook", context)
    payload = webhook_payload(
        notification_id="n-1", user_id="user-1", cart_id="cart-1", context=context,
        rendered=rendered,
    )  # fmt: skip

    assert payload["subject"] == rendered.subject
    assert payload["body"] == rendered.body
    assert (payload["cart_url"], payload["unsubscribe_url"]) == (CART_URL, UNSUBSCRIBE_URL)
    assert (payload["group"], payload["reason"], payload["action"]) == (
        "ai",
        "availability",
        "alternatives",
    )
    assert payload["alternatives"][0] == {
        "product_id": "p-9",
        "variant_id": "v-9",
        "name": "Brass table lamp",
        "unit_price": 3999,
    }
    assert payload["discount_code"] is None
    assert (payload["total"], payload["currency"]) == (6498, "USD")


def test_the_message_id_is_fixed_per_notification_at_the_sender_domain() -> None:
    sender = "AIMall <no-reply@aimall.example>"
    assert mail.message_id("n-1", sender) == "<n-1@aimall.example>"
    assert mail.message_id("n-1", sender) == mail.message_id("n-1", sender)
