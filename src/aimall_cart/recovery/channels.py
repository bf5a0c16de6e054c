"""Where recovery messages leave the service: ``recovery.email`` over SMTP and
``recovery.webhook`` to the recovery webhook, both from the outbox, at least once.

Importing this module registers both channels with the outbox delivery; the worker's entrypoint
does. It imports no model library, so the API starts without them.
"""

from __future__ import annotations

import httpx

from aimall_cart import delivery, mail
from aimall_cart.config import Settings

EMAIL_EVENT = "recovery.email"
WEBHOOK_EVENT = "recovery.webhook"


# The same signed envelope as orders, under the recovery webhook's own secret.
to_webhook = delivery.signed_webhook(
    lambda settings: settings.recovery_webhook_url,
    lambda settings: settings.recovery_webhook_secret,
)


async def by_email(
    settings: Settings, _http: httpx.AsyncClient, event: delivery.Claimed
) -> str | None:
    """What an error says is kept in the outbox and logged, so it never names the address; a mail
    server tells repeats by the notification's ``Message-ID``. No SMTP host: logged only."""
    if not settings.smtp_host:
        return None
    try:
        email = mail.read_email_payload(event.payload)
        await mail.send(
            settings,
            to=email.to,
            subject=email.subject,
            body=email.body,
            unsubscribe_url=email.unsubscribe_url,
            message_id=mail.message_id(email.notification_id, settings.smtp_sender),
        )
    except ValueError as error:
        return f"unreadable email payload: {error}"
    except mail.SendFailed as error:
        return str(error)
    return None


delivery.register(EMAIL_EVENT, by_email)
delivery.register(WEBHOOK_EVENT, to_webhook)
