"""How the order module hears of orders: every ``order.*`` outbox event (``order.placed``) is
POSTed, signed, to ``AIMALL_CART_ORDER_WEBHOOK_URL``; without one the event counts as delivered
(the log names it by id, never its payload, which carries personal fields).

Importing this module registers the channel with the outbox delivery; the worker's entrypoint
does.
"""

from __future__ import annotations

from aimall_cart import delivery

ORDER_EVENTS = "order."  # the prefix of every event the order webhook receives


to_order_module = delivery.signed_webhook(
    lambda settings: settings.order_webhook_url, lambda settings: settings.order_webhook_secret
)

delivery.register(ORDER_EVENTS, to_order_module)
