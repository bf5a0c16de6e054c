"""The figures a scrape reads from the database, so they are the same whichever process answers
and whichever process did the work: the outbox, the workers' heartbeats, and the recovery
messages sent by group and action (from the decision log, which every worker writes to).

One read transaction per scrape, three small aggregate queries; never on a request's path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from aimall_cart.db import Database
from aimall_cart.health import WorkerHeartbeat
from aimall_cart.monitoring import service
from aimall_cart.recovery.models import Decision

NO_MESSAGE = "none"  # the action logged for a holdout case, which is sent nothing


@dataclass(eq=False)  # a registry keeps collectors in a dict
class Measured(Collector):
    pending: int = 0
    dead: int = 0
    oldest_pending_age_seconds: float = 0.0
    heartbeat_age_seconds: float | None = None
    messages: dict[tuple[str, str], int] = field(default_factory=dict)

    def collect(self) -> Iterable[Metric]:
        outbox = GaugeMetricFamily(
            "aimall_cart_outbox_events", "Outbox events waiting or given up on.", labels=["status"]
        )
        outbox.add_metric(["pending"], self.pending)
        outbox.add_metric(["dead"], self.dead)
        yield outbox
        yield GaugeMetricFamily(
            "aimall_cart_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending outbox event (0 when none waits).",
            value=self.oldest_pending_age_seconds,
        )
        if self.heartbeat_age_seconds is not None:
            yield GaugeMetricFamily(
                "aimall_cart_worker_heartbeat_age_seconds",
                "Seconds since the most recent heartbeat of any worker.",
                value=self.heartbeat_age_seconds,
            )
        messages = CounterMetricFamily(
            "aimall_cart_recovery_messages",
            "Recovery messages decided and sent, by experiment group and action.",
            labels=["group", "action"],
        )
        for (group, action), count in sorted(self.messages.items()):
            messages.add_metric([group, action], count)
        yield messages


async def measure(database: Database, *, now: datetime) -> Measured:
    async with database.read_session() as session:
        outbox = await service.outbox_figures(session, now)
        freshest = await session.scalar(select(func.max(WorkerHeartbeat.beat_at)))
        decided = await session.execute(
            select(Decision.group, Decision.action, func.count())
            .where(Decision.action != NO_MESSAGE)
            .group_by(Decision.group, Decision.action)
        )
        messages = {(group, action): int(count) for group, action, count in decided}
    last_beat = service.as_datetime(freshest)
    return Measured(
        pending=outbox.pending,
        dead=outbox.dead,
        oldest_pending_age_seconds=outbox.oldest_pending_age_seconds or 0.0,
        heartbeat_age_seconds=(now - last_beat).total_seconds() if last_beat else None,
        messages=messages,
    )
