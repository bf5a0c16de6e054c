"""Alternatives for a batch of missing cart lines, read in a fixed number of queries.

Read-only: it takes whatever session the pass holds and never flushes or commits. The text index
it refreshes belongs to the caller and outlives the session.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from aimall_cart.catalog.models import Product, Variant
from aimall_cart.inventory import service as inventory
from aimall_cart.inventory.models import Inventory
from aimall_cart.recovery.alternatives import (
    DEFAULT_LIMIT,
    DEFAULT_PRICE_BAND,
    Alternative,
    Candidate,
    Document,
    TextIndex,
    rank,
)


@dataclass(frozen=True, slots=True)
class MissingLine:
    product_id: str
    variant_id: str
    unit_price: int  # net, as the line is priced


class _ProductText(NamedTuple):
    id: str
    name: str
    category: str | None
    description: str
    updated_at: datetime

    @property
    def document(self) -> Document:
        return Document.of(
            self.id,
            name=self.name,
            category=self.category,
            description=self.description,
            stamp=self.updated_at,
        )


_TEXT_COLUMNS = tuple(getattr(Product, column) for column in _ProductText._fields)


async def _products(session: AsyncSession, product_ids: Collection[str]) -> dict[str, _ProductText]:
    rows = await session.execute(select(*_TEXT_COLUMNS).where(Product.id.in_(product_ids)))
    return {row[0]: _ProductText(*row) for row in rows}


def _price_windows(
    missing: Sequence[MissingLine], products: dict[str, _ProductText], price_band: float
) -> dict[str, tuple[int, int]]:
    """Per category, the net prices any of its missing lines could accept; ``rank`` is exact."""
    windows: dict[str, tuple[int, int]] = {}
    for line in missing:
        product = products.get(line.product_id)
        if product is None or product.category is None:
            continue
        low = math.floor(line.unit_price * (1 - price_band))
        high = math.ceil(line.unit_price * (1 + price_band))
        known = windows.get(product.category, (low, high))
        windows[product.category] = (min(known[0], low), max(known[1], high))
    return windows


async def _candidates(
    session: AsyncSession,
    windows: dict[str, tuple[int, int]],
    *,
    excluded: Collection[str],
    now: datetime,
) -> tuple[list[Candidate], list[Document]]:
    """Sold variants with free stock in the windows, and their products' documents."""
    net = Variant.price - Variant.discount
    query = (
        select(Variant.id, net, *_TEXT_COLUMNS)
        .join(Product, Product.id == Variant.product_id)
        # Nothing on hand means nothing free, whatever the holds; it spares the stock query.
        .join(Inventory, and_(Inventory.variant_id == Variant.id, Inventory.on_hand > 0))
        .where(
            Product.status == "active",
            Variant.status == "active",
            or_(
                *(
                    and_(Product.category == category, net.between(low, high))
                    for category, (low, high) in windows.items()
                )
            ),
        )
    )
    if excluded:
        query = query.where(Product.id.not_in(excluded))
    found = (await session.execute(query)).all()
    stock = await inventory.levels(session, [row[0] for row in found], now=now)
    candidates, documents = [], {}
    for row in found:
        variant_id, unit_price, product = row[0], row[1], _ProductText(*row[2:])
        if variant_id in stock and stock[variant_id].available > 0:
            candidates.append(
                Candidate(product.id, variant_id, product.name, product.category, unit_price)
            )
            documents[product.id] = product.document
    return candidates, list(documents.values())


async def alternatives_for(
    session: AsyncSession,
    missing: Sequence[MissingLine],
    *,
    now: datetime,
    index: TextIndex,
    limit: int = DEFAULT_LIMIT,
    exclude_product_ids: Collection[str] = frozenset(),
    price_band: float = DEFAULT_PRICE_BAND,
) -> dict[str, list[Alternative]]:
    """In-stock stand-ins for each missing line, keyed by the line's variant id.

    Never the line's own product nor any in ``exclude_product_ids`` (what the cart already
    holds). A line whose product left the catalog, or has no category, gets an empty list.
    """
    if not missing:
        return {}
    products = await _products(session, {line.product_id for line in missing})
    windows = _price_windows(missing, products, price_band)
    if not windows:
        return {line.variant_id: [] for line in missing}
    candidates, documents = await _candidates(
        session, windows, excluded=exclude_product_ids, now=now
    )
    index.refresh([*(product.document for product in products.values()), *documents])
    by_category: dict[str | None, list[Candidate]] = defaultdict(list)
    for candidate in candidates:
        by_category[candidate.category].append(candidate)
    answer: dict[str, list[Alternative]] = {}
    for line in missing:
        product = products.get(line.product_id)
        if product is None:
            answer[line.variant_id] = []
            continue
        wanted = Candidate(
            line.product_id, line.variant_id, product.name, product.category, line.unit_price
        )
        answer[line.variant_id] = rank(
            wanted, by_category[product.category], index, limit=limit, price_band=price_band
        )
    return answer
