"""Turns at something scarce, handed out strictly first come, first served."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Turns:
    """At most ``size`` holders at once; the others are served strictly in the order they came.

    Held for the hot path's database connections (``driver_pool``) and by each request a
    process works on (``middleware.InFlightLimit``). asyncio's ``Queue``, which asyncpg's pool
    waits on, wakes the first waiter when a connection comes back but lets any task that asks
    before that waiter runs take the connection, and the waiter then queues again at the back.
    Under load a few requests so lose their turn over and over and wait many times the median
    (the cart benchmark at 1,000 connections: p50 0.1 s, p99 over 4 s). Here a freed turn is
    handed to the oldest waiter directly, so nobody overtakes.
    """

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiting: deque[asyncio.Future[None]] = deque()

    @asynccontextmanager
    async def turn(self, *, timeout_seconds: float) -> AsyncIterator[None]:
        """Hold a turn for the block; ``TimeoutError`` when none comes in time."""
        await self.take(timeout_seconds=timeout_seconds)
        try:
            yield
        finally:
            self.give_back()

    async def take(self, *, timeout_seconds: float) -> None:
        """Wait for a turn, to be given back once; ``TimeoutError`` when none comes in time."""
        if self._free and not self._waiting:
            self._free -= 1
            return
        ticket = asyncio.get_running_loop().create_future()
        self._waiting.append(ticket)
        try:
            async with asyncio.timeout(timeout_seconds):
                await ticket
        except BaseException:
            # Handed a turn just as the wait ended: pass it on rather than lose it. A cancelled
            # ticket stays queued; ``give_back`` skips it.
            if ticket.done() and not ticket.cancelled():
                self.give_back()
            raise

    def give_back(self) -> None:
        """End a turn: the oldest waiter has it next."""
        while self._waiting:
            ticket = self._waiting.popleft()
            if not ticket.done():
                ticket.set_result(None)
                return
        self._free += 1
