"""The hot path's connection turns: strictly first come, first served."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest

from aimall_cart.turns import Turns


class Served:
    """Who held a turn, in order, and a way to wait until someone has."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self._seen: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)

    def add(self, name: str) -> None:
        self.order.append(name)
        self._seen[name].set()

    async def reached(self, name: str) -> None:
        await self._seen[name].wait()


async def _hold(turns: Turns, name: str, served: Served, release: asyncio.Event) -> None:
    async with turns.turn(timeout_seconds=5):
        served.add(name)
        await release.wait()


async def test_a_freed_turn_goes_to_the_oldest_waiter_not_to_a_newcomer() -> None:
    turns = Turns(1)
    served = Served()
    releases = {name: asyncio.Event() for name in "ABCD"}
    holders = [asyncio.create_task(_hold(turns, "A", served, releases["A"]))]
    await asyncio.sleep(0)
    for name in "BC":
        holders.append(asyncio.create_task(_hold(turns, name, served, releases[name])))
        await asyncio.sleep(0)
    releases["A"].set()
    # D asks in the very step the turn is freed, before B has run: a plain asyncio.Queue lets D
    # take it and sends B to the back.
    holders.append(asyncio.create_task(_hold(turns, "D", served, releases["D"])))
    for name in "BCD":
        await asyncio.wait_for(served.reached(name), timeout=5)
        releases[name].set()
    await asyncio.gather(*holders)
    assert served.order == ["A", "B", "C", "D"]


async def test_a_wait_that_times_out_leaves_the_turns_whole() -> None:
    turns = Turns(1)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(turns, "A", Served(), release))
    await asyncio.sleep(0)
    with pytest.raises(TimeoutError):
        async with turns.turn(timeout_seconds=0.01):
            pass
    release.set()
    await holder
    served: list[str] = []
    with pytest.raises(TimeoutError):  # still exactly one turn: not lost, not doubled
        async with turns.turn(timeout_seconds=0.01), turns.turn(timeout_seconds=0.01):
            served.append("two at once")
    async with turns.turn(timeout_seconds=0.01):
        served.append("one")
    assert served == ["one"]


async def test_a_turn_handed_to_a_waiter_cancelled_at_that_moment_is_passed_on() -> None:
    turns = Turns(1)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(turns, "A", Served(), release))
    await asyncio.sleep(0)
    served = Served()
    cancelled = asyncio.create_task(_hold(turns, "B", served, asyncio.Event()))
    await asyncio.sleep(0)
    later = asyncio.create_task(_hold(turns, "C", served, asyncio.Event()))
    await asyncio.sleep(0)
    release.set()
    await asyncio.sleep(0)  # A leaves and hands its turn to B's ticket
    cancelled.cancel()  # before B resumes
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await asyncio.wait_for(served.reached("C"), timeout=5)
    assert served.order == ["C"]
    later.cancel()
    with pytest.raises(asyncio.CancelledError):
        await later
    await holder
