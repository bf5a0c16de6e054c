"""The seller's and the admin's analytics, assembled from the roll-ups (``service``) with the
rules' sums, rates and suppression. Read-only: nothing here writes or commits."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.analytics import rules, schemas, service
from aimall_cart.analytics.rules import Figures
from aimall_cart.recovery import report as recovery_report

MOST_ABANDONED = 10


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _seller_product(found: service.ProductFigures, hidden: set[str]) -> schemas.SellerProduct:
    if found.product_id in hidden:
        return schemas.SellerProduct(product_id=found.product_id, suppressed=True)
    f = found.figures
    return schemas.SellerProduct(
        product_id=found.product_id,
        suppressed=False,
        name=found.name,
        carts=f.carts,
        units_added=f.units_added,
        abandoned_carts=f.abandoned_carts,
        recovered_carts=f.recovered_carts,
        converted_carts=f.converted_carts,
        abandonment_rate=f.rates()["abandonment_rate"],
        reasons=schemas.Reasons(**f.reasons()),
    )


def _seller_day(day: date, f: Figures, hidden: set[str]) -> schemas.SellerDay:
    if day.isoformat() in hidden:
        return schemas.SellerDay(date=day, suppressed=True)
    return schemas.SellerDay(
        date=day,
        suppressed=False,
        carts=f.carts,
        units_added=f.units_added,
        abandoned_carts=f.abandoned_carts,
        converted_carts=f.converted_carts,
    )


async def seller(
    session: AsyncSession, *, seller_id: str, first: date, last: date, min_group: int
) -> schemas.SellerAnalytics:
    """One seller's own products, with small groups withheld (``rules.withheld``)."""
    days = await service.daily(session, first=first, last=last, seller_id=seller_id)
    found = await service.products(session, first=first, last=last, seller_id=seller_id)
    totals = rules.total(days.values())
    shown = totals.size >= min_group
    product_sizes = {p.product_id: p.figures.size for p in found}
    hidden = rules.withheld(product_sizes, total_size=totals.size, min_group=min_group)
    series = {day: days.get(day, Figures()) for day in _days(first, last)}
    day_sizes = {day.isoformat(): f.size for day, f in series.items()}
    hidden_days = rules.withheld(day_sizes, total_size=totals.size, min_group=min_group)
    summary = schemas.SellerTotals(suppressed=True)
    if shown:
        summary = schemas.SellerTotals(
            suppressed=False,
            carts=totals.carts,
            units_added=totals.units_added,
            abandoned_carts=totals.abandoned_carts,
            recovered_carts=totals.recovered_carts,
            converted_carts=totals.converted_carts,
            value_in_open_carts=await service.open_value(session, seller_id=seller_id),
            **totals.rates(),
        )
    return schemas.SellerAnalytics(
        seller_id=seller_id,
        from_=first,
        to=last,
        min_group=min_group,
        totals=summary,
        products=[_seller_product(p, hidden) for p in found],
        series=[_seller_day(day, f, hidden_days) for day, f in series.items()],
    )


def _figures(f: Figures) -> dict[str, object]:
    found = asdict(f)
    for name in ("carts_created", "reason_price", "reason_availability", "reason_other"):
        del found[name]
    return {**found, **f.rates()}


def _admin_day(day: date, f: Figures) -> schemas.AdminDay:
    return schemas.AdminDay(date=day, carts_created=f.carts_created, **_figures(f))


def _abandoned(found: service.ProductFigures) -> schemas.AbandonedProduct:
    f = found.figures
    return schemas.AbandonedProduct(
        product_id=found.product_id,
        name=found.name,
        seller_id=found.seller_id,
        carts=f.carts,
        abandoned_carts=f.abandoned_carts,
        abandonment_rate=f.rates()["abandonment_rate"],
        abandoned_value=f.abandoned_value,
        reasons=schemas.Reasons(**f.reasons()),
    )


async def admin(
    session: AsyncSession, *, first: date, last: date, currency: str
) -> schemas.AdminAnalytics:
    """The platform, every seller, the funnel, reasons, the most abandoned products, and the
    recovery report for the carts found abandoned in the range."""
    days = await service.daily(session, first=first, last=last)
    totals = rules.total(days.values())
    open_values = await service.open_values(session)
    by_seller = await service.sellers(session, first=first, last=last)
    recovery = await recovery_report.build(
        session,
        currency=currency,
        detected_from=datetime.combine(first, time(), UTC),
        detected_to=datetime.combine(last + timedelta(days=1), time(), UTC),
    )
    top = await service.most_abandoned(session, first=first, last=last, limit=MOST_ABANDONED)
    return schemas.AdminAnalytics(
        from_=first,
        to=last,
        currency=currency,
        as_of=await service.refreshed_at(session),
        totals=schemas.AdminTotals(
            carts_created=totals.carts_created,
            value_in_open_carts=sum(open_values.values()),
            **_figures(totals),
        ),
        funnel=schemas.Funnel(
            carts_created=totals.carts_created,
            carts_with_items=totals.carts,
            checkouts_started=totals.checkouts_started,
            orders=totals.converted_carts,
        ),
        reasons=schemas.Reasons(**totals.reasons()),
        most_abandoned_products=[_abandoned(p) for p in top],
        sellers=[
            schemas.SellerSummary(
                seller_id=seller_id,
                value_in_open_carts=open_values.get(seller_id, 0),
                **_figures(f),
            )
            for seller_id, f in by_seller.items()
        ],
        recovery=recovery,
        series=[_admin_day(day, days.get(day, Figures())) for day in _days(first, last)],
    )


def series_csv(answer: schemas.AdminAnalytics) -> str:
    """The admin's daily series as CSV, one row per day, the columns named as in JSON."""
    columns = list(schemas.AdminDay.model_fields)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for day in answer.series:
        writer.writerow({k: "" if v is None else v for k, v in day.model_dump(mode="json").items()})
    return out.getvalue()
