"""Deciding and sending for one batch of due cases, inside the batch's transaction.

For each case: infer the reasons, check consent, channels, the customer's weekly cap and quiet
hours, and choose the action for the case's group. Then the batch claims its stages with one
conditional UPDATE per stage (``messages_sent = n``, RETURNING the rows it took: a case another
worker claimed first is left alone), and writes the decisions, discount codes, notifications and
outbox events with a few bulk INSERTs.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.carts.models import Cart
from aimall_cart.config import Settings
from aimall_cart.privacy import service as privacy
from aimall_cart.recovery import bandit, context, outgoing, reasons, suggest, tallies
from aimall_cart.recovery.alternatives import Alternative
from aimall_cart.recovery.engine import Engine
from aimall_cart.recovery.models import Decision, RecoveryCase
from aimall_cart.recovery.plan import REMINDER, Plan, decision
from aimall_cart.recovery.policy import RecoveryPolicy

MAX_ALTERNATIVES_SHOWN = 3
_CASES: Table = RecoveryCase.__table__  # type: ignore[assignment]  # Core, so no ORM session sync


class Batch:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        policy: RecoveryPolicy,
        policy_version: int,
        learned: Mapping[str, Mapping[str, bandit.Outcomes]],
        anchors: Mapping[str, bandit.Outcomes],
        now: datetime,
    ) -> None:
        """``learned`` is the ai group's settled messages per context and action; ``anchors``
        the baseline's plain reminders per context."""
        self.settings, self.engine, self.policy = settings, engine, policy
        self.policy_version, self.learned, self.now = policy_version, learned, now
        self.anchors = anchors
        self.sent = 0

    async def handle(
        self,
        session: AsyncSession,
        due: Sequence[tuple[RecoveryCase, Cart]],
        skipped: Counter[str],
    ) -> None:
        observed, plans = await self._plan(session, due, skipped)
        await self._observe(session, observed)
        await self._find_alternatives(session, [p for p in plans if p.case.group == "ai"])
        for plan in plans:
            plan.action, plan.probability = self._choose(plan)
        taken = await self._claim(session, plans)
        skipped["taken"] += len(plans) - len(taken)
        await self._close_earlier(session, taken)
        if taken:
            await outgoing.write(
                session,
                taken,
                settings=self.settings,
                renderer=self.engine.renderer,
                policy=self.policy,
                policy_version=self.policy_version,
                now=self.now,
            )
        self.sent = len(taken)

    async def _plan(
        self,
        session: AsyncSession,
        due: Sequence[tuple[RecoveryCase, Cart]],
        skipped: Counter[str],
    ) -> tuple[list[tuple[RecoveryCase, reasons.ReasonEstimate]], list[Plan]]:
        """The holdout's cases to observe, and a plan for every other case that may be sent to;
        why the rest are held back is counted in ``skipped``."""
        cart_ids = [case.cart_id for case, _ in due]
        user_ids = {case.user_id for case, _ in due}
        states = await context.cart_states(session, cart_ids, now=self.now)
        histories = await context.histories(session, user_ids, excluding=cart_ids)
        contacts = await privacy.contacts(session, keys=self.settings.keys, user_ids=user_ids)
        recent = await context.messages_this_week(session, user_ids, now=self.now)
        observed: list[tuple[RecoveryCase, reasons.ReasonEstimate]] = []
        plans: list[Plan] = []
        for case, cart in due:
            state = states[case.cart_id]
            estimate = reasons.infer(
                context.signals(
                    state,
                    histories[case.user_id],
                    discount_attempts=cart.discount_attempts,
                    idle=self.now - cart.last_activity_at,
                    stage=case.messages_sent,
                )
            )
            contact = contacts.get(case.user_id)
            if case.group == "holdout":
                observed.append((case, estimate))
            elif (why := self._hold_back(contact, recent[case.user_id])) is not None:
                skipped[why] += 1
            elif contact is not None:
                recent[case.user_id] += 1  # a second cart of theirs in this batch counts too
                plans.append(Plan(case, cart, state, estimate, contact, self.channels(contact)))
        return observed, plans

    def _hold_back(self, contact: privacy.Contact | None, sent_lately: int) -> str | None:
        """Why nothing may be sent to this customer now, if anything forbids it."""
        if contact is None or not contact.marketing_consent:
            return "no_consent"  # consent withdrawn since the case opened
        if not self.channels(contact):
            return "no_channel"
        if sent_lately >= self.policy.max_messages_per_customer_per_week:
            return "customer_cap"
        quiet = self.policy.quiet_hours
        zone = ZoneInfo(contact.timezone or "UTC")
        if quiet is not None and quiet.covers(self.now.astimezone(zone).hour):
            return "quiet_hours"
        return None

    def channels(self, contact: privacy.Contact) -> list[str]:
        wanted = [c for c in self.policy.channels if c in contact.channels]
        return [c for c in wanted if c != "email" or contact.email]

    async def _observe(
        self, session: AsyncSession, observed: list[tuple[RecoveryCase, reasons.ReasonEstimate]]
    ) -> None:
        """The holdout gets no message, but its reasons are logged like everyone's, once."""
        if not observed:
            return
        claimed = set(
            await session.scalars(
                update(_CASES)
                .where(
                    _CASES.c.id.in_([case.id for case, _ in observed]),
                    _CASES.c.primary_reason.is_(None),
                )
                .values(first_action="none")
                .returning(_CASES.c.id)
            )
        )
        mine = [(case, estimate) for case, estimate in observed if case.id in claimed]
        if not mine:
            return
        await session.execute(
            update(_CASES).where(_CASES.c.id == bindparam("case_id")),
            [{"case_id": case.id, "primary_reason": estimate.primary} for case, estimate in mine],
        )
        await session.execute(
            insert(Decision),
            [
                decision(
                    case, estimate, "none", 1.0, policy_version=self.policy_version, now=self.now
                )
                for case, estimate in mine
            ],
        )

    async def _find_alternatives(self, session: AsyncSession, plans: list[Plan]) -> None:
        """Stand-ins for every missing line of the batch, in one lookup; each cart then drops
        what it already holds."""
        missing = {line.variant_id: line for plan in plans for line in plan.state.missing()}
        if not missing:
            return
        found = await suggest.alternatives_for(
            session,
            list(missing.values()),
            now=self.now,
            index=self.engine.index,
            limit=2 * MAX_ALTERNATIVES_SHOWN,
        )
        for plan in plans:
            held = {item.product_id for item in plan.state.items}
            shown: dict[str, Alternative] = {}
            for line in plan.state.missing():
                for alternative in found.get(line.variant_id, []):
                    if alternative.product_id not in held:
                        shown.setdefault(alternative.product_id, alternative)
            plan.alternatives = list(shown.values())[:MAX_ALTERNATIVES_SHOWN]

    def _choose(self, plan: Plan) -> tuple[bandit.Action, float]:
        if plan.case.group == "baseline":
            return REMINDER, 1.0
        top = self.policy.max_discount_percent
        if self.engine.strategy == "blanket_discount":
            return (bandit.Action(f"discount_{top}", top) if top else REMINDER), 1.0
        choice = bandit.choose(
            plan.estimate,
            bandit.actions(top, alternatives_available=bool(plan.alternatives)),
            self.learned.get(plan.estimate.primary, {}),
            anchor=self.anchors.get(plan.estimate.primary, bandit.Outcomes()),
            cart_value=plan.state.value,
            margin_rate=self.settings.recovery_gross_margin_percent / 100,
            exploration=self.policy.exploration_percent / 100,
            rng=self.engine.draws_for(plan.case.user_id, plan.case.messages_sent),
        )
        return choice.action, choice.probability

    async def _close_earlier(self, session: AsyncSession, taken: list[Plan]) -> None:
        """Under last-touch credit a message is lost once its case's next stage is decided: count
        it now rather than when the case settles, days later, so that what the policy has
        learned is not tilted towards the wins, which settle as soon as they are ordered."""
        by_stage: dict[int, list[uuid.UUID]] = defaultdict(list)
        for plan in taken:
            if plan.case.messages_sent > 0:  # the stage claimed; the message before it is lost
                by_stage[plan.case.messages_sent - 1].append(plan.case.id)
        for stage, case_ids in sorted(by_stage.items()):
            earlier = await session.scalars(
                select(Decision.id).where(
                    Decision.case_id.in_(sorted(case_ids)), Decision.stage == stage
                )
            )
            await tallies.close(session, list(earlier), tallies.LOST, now=self.now)

    async def _claim(self, session: AsyncSession, plans: list[Plan]) -> list[Plan]:
        """Take each planned case's next stage; the plans whose stage this batch now owns."""
        by_stage: dict[int, list[Plan]] = defaultdict(list)
        for plan in plans:
            by_stage[plan.case.messages_sent].append(plan)
        taken: list[Plan] = []
        for stage, staged in sorted(by_stage.items()):
            claimed = set(
                await session.scalars(
                    update(_CASES)
                    .where(
                        _CASES.c.id.in_(sorted(plan.case.id for plan in staged)),
                        _CASES.c.status == "open",
                        _CASES.c.messages_sent == stage,
                    )
                    .values(messages_sent=stage + 1, last_message_at=self.now)
                    .returning(_CASES.c.id)
                )
            )
            taken += [plan for plan in staged if plan.case.id in claimed]
        first = [plan for plan in taken if plan.case.messages_sent == 0]
        if first:
            await session.execute(
                update(_CASES)
                .where(_CASES.c.id == bindparam("case_id"))
                .values(first_message_at=self.now, window_starts_at=self.now),
                [
                    {
                        "case_id": plan.case.id,
                        "primary_reason": plan.estimate.primary,
                        "first_action": plan.action.name,
                    }
                    for plan in first
                ],
            )
        return taken
