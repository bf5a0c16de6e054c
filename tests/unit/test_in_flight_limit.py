"""Requests in flight: a bounded number worked on at once, the rest in turn or refused busy."""

from __future__ import annotations

import asyncio

import orjson
from starlette.types import Message, Receive, Scope, Send

from aimall_cart.app import _send_problem
from aimall_cart.middleware import InFlightLimit


class HeldApp:
    """Answers 200 once its request is let go; remembers which requests it began, in order."""

    def __init__(self) -> None:
        self.began: list[str] = []
        self.let_go = {name: asyncio.Event() for name in ("a", "b", "c")}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = scope["query_string"].decode()
        self.began.append(name)
        if name in self.let_go:
            await self.let_go[name].wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": name.encode()})


async def _request(app: InFlightLimit, path: str, name: str) -> list[Message]:
    scope = {"type": "http", "method": "GET", "path": path, "query_string": name.encode()}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    async with asyncio.timeout(2):  # a request that is never answered fails, not hangs
        await app(scope, receive, send)
    return sent


async def test_requests_beyond_the_limit_are_worked_on_in_the_order_they_came() -> None:
    held = HeldApp()
    app = InFlightLimit(held, limit=1, timeout_seconds=5, send_problem=_send_problem)
    first = asyncio.create_task(_request(app, "/v1/cart", "a"))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(_request(app, "/v1/cart", name)) for name in ("b", "c")]
    await asyncio.sleep(0.01)
    assert held.began == ["a"]
    for name in ("a", "b", "c"):
        held.let_go[name].set()
    answers = await asyncio.gather(first, *waiting)
    assert held.began == ["a", "b", "c"]
    assert [sent[0]["status"] for sent in answers] == [200, 200, 200]


async def test_a_request_that_waits_too_long_is_answered_busy_and_its_turn_is_not_lost() -> None:
    held = HeldApp()
    app = InFlightLimit(held, limit=1, timeout_seconds=0.02, send_problem=_send_problem)
    first = asyncio.create_task(_request(app, "/v1/cart", "a"))
    await asyncio.sleep(0)
    start, body = await _request(app, "/v1/cart", "b")
    assert start["status"] == 503
    assert (b"retry-after", b"1") in start["headers"]
    assert orjson.loads(body["body"])["code"] == "busy"
    assert held.began == ["a"]
    held.let_go["a"].set()
    await first
    held.let_go["c"].set()
    assert (await _request(app, "/v1/cart", "c"))[0]["status"] == 200


async def test_health_probes_and_the_scrape_never_wait() -> None:
    held = HeldApp()
    app = InFlightLimit(held, limit=1, timeout_seconds=5, send_problem=_send_problem)
    first = asyncio.create_task(_request(app, "/v1/cart", "a"))
    await asyncio.sleep(0)
    for path in ("/healthz", "/readyz", "/metrics"):
        answer = await _request(app, path, path)
        assert answer[0]["status"] == 200
    held.let_go["a"].set()
    await first
