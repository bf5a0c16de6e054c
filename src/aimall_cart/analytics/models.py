"""The daily roll-ups of the cart event log, and how far they have read it."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from aimall_cart.db import Base

# The roll-up rows that hold a whole seller (product ``ALL``) or the whole platform (seller too).
ALL = ""


class DailyFigures(Base):
    """One day's figures for one product, one seller (``product_id`` = ``ALL``) or the platform
    (both ``ALL``). Cart counts are distinct carts; ``carts`` counts a cart on the first day it
    took the product (or the seller's, or any, product), so days add up to a range's figure."""

    __tablename__ = "analytics_daily"

    day: Mapped[date] = mapped_column(primary_key=True)
    seller_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    carts_created: Mapped[int] = mapped_column(default=0)
    carts: Mapped[int] = mapped_column(default=0)
    units_added: Mapped[int] = mapped_column(default=0)
    value_added: Mapped[int] = mapped_column(BigInteger, default=0)
    checkouts_started: Mapped[int] = mapped_column(default=0)
    converted_carts: Mapped[int] = mapped_column(default=0)
    converted_value: Mapped[int] = mapped_column(BigInteger, default=0)
    abandoned_carts: Mapped[int] = mapped_column(default=0)
    abandoned_value: Mapped[int] = mapped_column(BigInteger, default=0)
    recovered_carts: Mapped[int] = mapped_column(default=0)
    reason_price: Mapped[int] = mapped_column(default=0)
    reason_availability: Mapped[int] = mapped_column(default=0)
    reason_other: Mapped[int] = mapped_column(default=0)


class RollupState(Base):
    """How far the roll-ups have read the event log (one row; a refresh locks it).

    Once ``incremental``, every event with an id up to ``last_event_id`` is rolled up but those
    whose ids are ``RollupGap`` rows, and a refresh folds in only the events it has not read.
    Until then (first use, and after migration 0010) a refresh recomputes recent days whole.
    """

    __tablename__ = "analytics_rollup_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger)
    refreshed_at: Mapped[datetime]
    incremental: Mapped[bool] = mapped_column(default=False)


class RollupGap(Base):
    """An event id at or below the roll-ups' ``last_event_id`` that was missing when a refresh
    read past it: its transaction was still open (its events are folded in when they commit) or
    rolled back (the gap is forgotten once ``LATE_COMMIT_MARGIN`` has passed)."""

    __tablename__ = "analytics_rollup_gaps"

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    noticed_at: Mapped[datetime]
