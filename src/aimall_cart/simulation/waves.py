"""The waves of a simulation: customers fill carts and leave, the catalog churns under them, the
clock passes and recovery passes message them, they read and may come back, and each wave is
settled and reported. The analytics job runs where the worker would have run it, on the test
clock, so abandonment is found on the day it happens, with the cart as it then stood.

An entrypoint-level client: it commits, one transaction per batch of customers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.analytics import refresh as analytics
from aimall_cart.carts import access
from aimall_cart.carts.models import Cart
from aimall_cart.clock import Clock
from aimall_cart.config import Settings
from aimall_cart.db import Database
from aimall_cart.recovery import policy as recovery_policy
from aimall_cart.recovery import report, service
from aimall_cart.recovery.engine import Engine, Strategy
from aimall_cart.recovery.policy import RecoveryPolicy
from aimall_cart.recovery.report import GroupReport
from aimall_cart.simulation import shoppers
from aimall_cart.simulation.market import Customer, World, draw_customer, respond

T = TypeVar("T")
R = TypeVar("R")

CATALOG_PRODUCTS = 1500  # 12 categories with descriptions: alternatives abound
VARIANTS_PER_PRODUCT = 3
CUSTOMERS_PER_TRANSACTION = 100
READING_DELAY = timedelta(minutes=30)  # customers act half an hour after a pass messages them
CURRENCY = "USD"  # the demo catalog's
# Random streams, keyed (seed, wave, customer, stage, purpose): who each customer is (stage 0),
# each message stage's luck (1..), and each wave's deal of items. Every key has the same length:
# numpy pads a key shorter than four numbers with zeros, so (s, w, 100) would be (s, w, 100, 0).
_WHO, _LUCK, _DEAL = 1, 2, 3

# (steps done, steps in all, what is happening): one step is one customer handled in one phase.
Progress = Callable[[int, int, str], None]


class UnsuitableDatabase(ValueError):
    """The database already holds carts: passes would message real customers."""


def simulation_policy(seed: int) -> RecoveryPolicy:
    """The policy every simulation runs under: a third of customers in each group, no quiet
    hours (the test clock's hour of day is arbitrary), discounts up to 20%, in-app messages only;
    the salt follows the seed, so two arms of one seed split customers alike."""
    return RecoveryPolicy(
        holdout_percent=33,
        baseline_percent=33,
        quiet_hours=None,
        max_discount_percent=20,
        channels=["in_app"],
        experiment_salt=f"simulation-{seed}",
    )


@dataclass
class Ledger:
    """The simulator's own count of what customers did, to hold against the engine's report."""

    customers: int = 0
    messages_read: int = 0
    # What came of each return: "ordered"; "nothing_to_buy" (only missing items, nothing offered
    # to replace them); "blocked" (a service refused the checkout).
    returns: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)  # why the passes held messages back

    @property
    def orders(self) -> int:
        return self.returns["ordered"]


@dataclass(frozen=True)
class WaveFigures:
    number: int  # from 1
    groups: dict[str, GroupReport]


class Run:
    """One arm of a simulation on its own database: the engine, the policy and the clock it
    runs under, and the ledger of what its customers did."""

    def __init__(
        self,
        database: Database,
        world: World,
        *,
        seed: int,
        strategy: Strategy,
        progress: Progress | None,
    ) -> None:
        self.database, self.world, self.seed = database, world, seed
        self.clock = Clock(database)
        self.settings = Settings(
            database_url=database.url, env="test", test_clock=True, recovery_batch_size=1000
        )
        self.cart_policy = access.CartPolicy(
            max_lines=self.settings.max_lines_per_cart,
            default_currency=self.settings.default_currency,
        )
        self.engine = Engine.create(seed=seed, strategy=strategy)
        self.policy = simulation_policy(seed)
        self.ledger = Ledger()
        self.shelves: list[shoppers.Shelf] = []
        self._progress, self._done, self._total = progress, 0, 0

    async def prepare(self, *, products: int, customers: int) -> None:
        """Refuse a database with carts in it, then set the policy and stock the catalog."""
        self._total = customers * (1 + self.policy.max_messages_per_cart)
        now = await self.clock.now()
        async with self.database.write_session() as session:
            if await session.scalar(select(func.count()).select_from(Cart)):
                raise UnsuitableDatabase("the simulation needs a database without carts")
            await recovery_policy.replace(session, self.policy, now=now)
            self.shelves = await shoppers.stock_shop(
                session,
                products=products,
                variants_per_product=VARIANTS_PER_PRODUCT,
                now=now,
            )
            await session.commit()

    async def wave(self, number: int, size: int) -> WaveFigures:
        started = await self.clock.now()
        customers = [
            draw_customer(self.world, f"sim-{number:03d}-{i:05d}", self._rng(number, i, 0, _WHO))
            for i in range(size)
        ]
        self.ledger.customers += size
        churn = shoppers.CatalogChanges()
        await self._fill(number, customers, churn, now=started)
        waiting = list(enumerate(customers))
        detected = due = started + timedelta(minutes=self.policy.inactivity_minutes + 1)
        for stage in range(1, self.policy.max_messages_per_cart + 1):
            await self._advance_to(due)
            await self._pass()
            self._done += size - len(waiting)  # those already back count as handled
            waiting = await self._answer(number, stage, waiting, since=due)
            await self._analytics_after_idling()
            due += timedelta(minutes=self.policy.min_minutes_between_messages + 1)
        window = timedelta(hours=self.policy.attribution_window_hours, minutes=1)
        settled_at = await self._advance_to(detected + window)
        await self._pass()
        async with self.database.write_session() as session:
            await churn.undo(session, now=settled_at)
            await session.commit()
        async with self.database.read_session() as session:
            figures = await report.build(
                session, currency=CURRENCY, detected_from=started, detected_to=settled_at
            )
        return WaveFigures(number, figures.groups)

    def _rng(self, wave: int, customer: int, stage: int, purpose: int) -> np.random.Generator:
        """One stream per (wave, customer, stage, purpose): two arms of one seed meet the same
        customers with the same carts and the same luck, so they differ only in what the engine
        does."""
        return np.random.default_rng([self.seed, wave, customer, stage, purpose])

    async def _fill(
        self,
        number: int,
        customers: Sequence[Customer],
        churn: shoppers.CatalogChanges,
        *,
        now: datetime,
    ) -> None:
        """Fill every cart first, then churn the catalog under them, so no customer of the wave
        finds an item gone before carting it."""
        rng = self._rng(number, 0, 0, _DEAL)
        dealt = shoppers.deal(self.shelves, [c.line_count for c in customers], rng)
        hands = list(zip(customers, dealt, strict=True))

        async def fill(session: AsyncSession, hand: tuple[Customer, list[shoppers.Shelf]]) -> None:
            await shoppers.fill_cart(
                session, hand[0], hand[1], cart_policy=self.cart_policy, now=now
            )

        async def change(
            session: AsyncSession, hand: tuple[Customer, list[shoppers.Shelf]]
        ) -> None:
            await churn.apply(session, hand[0], hand[1], now=now)

        await self._in_batches(hands, fill, f"wave {number}: carts")
        changed = [hand for hand in hands if hand[0].stockout or hand[0].price_rise]
        await self._in_batches(changed, change, f"wave {number}: catalog churn", counted=False)

    async def _answer(
        self,
        number: int,
        stage: int,
        waiting: list[tuple[int, Customer]],
        *,
        since: datetime,
    ) -> list[tuple[int, Customer]]:
        """Every customer still away reads their inbox and may come back; answers who is still
        away. A customer with no message gets the same chance, unprompted."""
        now = await self.clock.advance(READING_DELAY.total_seconds())

        async def answer(session: AsyncSession, item: tuple[int, Customer]) -> bool:
            index, customer = item
            letter = await shoppers.read_inbox(session, customer.user_id, since=since, now=now)
            self.ledger.messages_read += letter is not None
            message = letter.message if letter else None
            if not respond(customer, message, self._rng(number, index, stage, _LUCK)):
                return True
            outcome = await shoppers.come_back(
                session,
                customer.user_id,
                letter,
                cart_policy=self.cart_policy,
                reservation_ttl=timedelta(seconds=self.settings.reservation_ttl_seconds),
                keys=self.settings.keys,
                max_units_per_variant=self.settings.max_reserved_units_per_variant,
                now=now,
            )
            self.ledger.returns[outcome] += 1
            return False

        away = await self._in_batches(waiting, answer, f"wave {number}: stage {stage}")
        return [item for item, still_away in zip(waiting, away, strict=True) if still_away]

    async def _pass(self) -> None:
        """A recovery pass, then the analytics job, as one worker tick runs them."""
        now = await self.clock.now()
        result = await service.run_pass(self.database, self.settings, self.engine, now=now)
        self.ledger.skipped.update(result.skipped)
        await analytics.run(self.database, self.settings, now=now)

    async def _analytics_after_idling(self) -> None:
        """The analytics job once the carts that customers came back to but did not check out
        have idled again, so they are found abandoned on that day; no recovery pass runs here."""
        now = await self.clock.now()
        await self._advance_to(now + timedelta(minutes=self.policy.inactivity_minutes + 1))
        await analytics.run(self.database, self.settings, now=await self.clock.now())

    async def _advance_to(self, target: datetime) -> datetime:
        now = await self.clock.now()
        if target <= now:
            return now
        return await self.clock.advance((target - now).total_seconds())

    async def _in_batches(
        self,
        items: Sequence[T],
        work: Callable[[AsyncSession, T], Awaitable[R]],
        description: str,
        *,
        counted: bool = True,
    ) -> list[R]:
        """``work`` on each item, one committed transaction per batch of customers; ``counted``
        batches move the progress on."""
        results: list[R] = []
        for start in range(0, len(items), CUSTOMERS_PER_TRANSACTION):
            batch = items[start : start + CUSTOMERS_PER_TRANSACTION]
            async with self.database.write_session() as session:
                results += [await work(session, item) for item in batch]
                await session.commit()
            self._done += len(batch) if counted else 0
            if self._progress is not None:
                self._progress(self._done, self._total, description)
        return results
