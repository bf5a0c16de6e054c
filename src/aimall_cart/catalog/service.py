"""Catalog use cases: sellers write their own products, admins any; everyone reads."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from aimall_cart.auth import Principal
from aimall_cart.catalog.models import Product, Variant
from aimall_cart.catalog.schemas import ProductIn, VariantPatch
from aimall_cart.errors import Conflict, Forbidden, Invalid, NotFound
from aimall_cart.inventory import service as inventory


class ProductNotFound(NotFound):
    code = "product_not_found"


class VariantNotFound(NotFound):
    code = "variant_not_found"


class VariantConflict(Conflict):
    code = "variant_conflict"


class InvalidPrice(Invalid):
    code = "invalid_price"


@dataclass(frozen=True, slots=True)
class ProductStock:
    product: Product
    stock: dict[str, inventory.StockLevel]


async def find_product(session: AsyncSession, product_id: str) -> Product | None:
    return await session.scalar(
        select(Product).options(selectinload(Product.variants)).where(Product.id == product_id)
    )


async def get_product(session: AsyncSession, product_id: str) -> Product:
    product = await find_product(session, product_id)
    if product is None:
        raise ProductNotFound(f"No product {product_id!r}", product_id=product_id)
    return product


class LiveVariant(NamedTuple):
    """What a cart needs to know of a variant now, read without building ORM objects."""

    variant_id: str
    sold: bool  # product and variant both active
    price: int
    discount: int
    min_quantity: int
    max_quantity: int


async def live_variants(
    session: AsyncSession, variant_ids: Collection[str]
) -> dict[str, LiveVariant]:
    """The live state of each variant; unknown ids are absent."""
    if not variant_ids:
        return {}
    rows = await session.execute(
        select(
            Variant.id,
            and_(Variant.status == "active", Product.status == "active"),
            Variant.price,
            Variant.discount,
            Product.min_quantity,
            Product.max_quantity,
        )
        .join(Product, Product.id == Variant.product_id)
        .where(Variant.id.in_(variant_ids))
    )
    return {row[0]: LiveVariant(row[0], bool(row[1]), *row[2:]) for row in rows}


async def with_stock(session: AsyncSession, product: Product, *, now: datetime) -> ProductStock:
    stock = await inventory.levels(session, [v.id for v in product.variants], now=now)
    return ProductStock(product, stock)


async def list_products(
    session: AsyncSession,
    *,
    category: str | None,
    query: str | None,
    after: str | None,
    limit: int,
    now: datetime,
) -> list[ProductStock]:
    """Active products in id order, a page after the cursor ``after``."""
    stmt = (
        select(Product)
        .options(selectinload(Product.variants))
        .where(Product.status == "active")
        .order_by(Product.id)
        .limit(limit)
    )
    if category is not None:
        stmt = stmt.where(Product.category == category)
    if query:
        pattern = "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(func.lower(Product.name).like(pattern + "%", escape="\\"))
    if after is not None:
        stmt = stmt.where(Product.id > after)
    products = list(await session.scalars(stmt))
    stock = await inventory.levels(session, [v.id for p in products for v in p.variants], now=now)
    return [
        ProductStock(p, {v.id: stock[v.id] for v in p.variants if v.id in stock}) for p in products
    ]


def _owner_for_write(principal: Principal, requested: str | None) -> str | None:
    """The seller a write is for: a seller's own id, or what an admin names."""
    principal.require("seller", "admin")
    if principal.role == "seller":
        if requested is not None and requested != principal.seller_id:
            raise Forbidden("Sellers may only write their own products")
        return principal.seller_id
    return requested


def _check_may_touch(principal: Principal, product: Product) -> None:
    if principal.role == "seller" and product.seller_id != principal.seller_id:
        # Another seller's product is not revealed.
        raise ProductNotFound(f"No product {product.id!r}", product_id=product.id)


async def upsert_product(
    session: AsyncSession, *, principal: Principal, product_id: str, data: ProductIn, now: datetime
) -> tuple[ProductStock, bool]:
    """Create or replace a product; variants left out of ``data`` become inactive, never deleted,
    so carts that hold them can say they are unavailable."""
    seller_id = _owner_for_write(principal, data.seller_id)
    product = await session.scalar(
        select(Product)
        .options(selectinload(Product.variants))
        .where(Product.id == product_id)
        .with_for_update()
    )
    created = product is None
    if product is None:
        if seller_id is None:
            raise Invalid("seller_id is required when an admin creates a product")
        product = Product(id=product_id, seller_id=seller_id, created_at=now, variants=[])
        session.add(product)
    else:
        _check_may_touch(principal, product)
        product.seller_id = seller_id or product.seller_id
    for field in ("name", "description", "category", "thumbnail_url", "status", "currency"):
        setattr(product, field, getattr(data, field))
    product.min_quantity, product.max_quantity = data.min_quantity, data.max_quantity
    product.updated_at = now

    existing = {v.id: v for v in product.variants}
    foreign = await session.scalars(
        select(Variant.id).where(
            Variant.id.in_([v.variant_id for v in data.variants]), Variant.product_id != product_id
        )
    )
    if taken := sorted(foreign):
        raise VariantConflict("These variant ids belong to another product", variant_ids=taken)
    for item in data.variants:
        variant = existing.pop(item.variant_id, None)
        if variant is None:
            variant = Variant(id=item.variant_id, product_id=product_id)
            product.variants.append(variant)
        variant.options, variant.price, variant.discount = item.options, item.price, item.discount
        variant.status, variant.updated_at = item.status, now
    for dropped in existing.values():
        dropped.status, dropped.updated_at = "inactive", now
    await session.flush()
    await inventory.set_on_hand(
        session, on_hand={item.variant_id: item.stock for item in data.variants}, now=now
    )
    await session.flush()
    return await with_stock(session, product, now=now), created


async def patch_variant(
    session: AsyncSession,
    *,
    principal: Principal,
    variant_id: str,
    data: VariantPatch,
    now: datetime,
) -> ProductStock:
    principal.require("seller", "admin")
    variant = await session.scalar(
        select(Variant)
        .options(joinedload(Variant.product).selectinload(Product.variants))
        .where(Variant.id == variant_id)
        .with_for_update(of=Variant)
    )
    if variant is None or (
        principal.role == "seller" and variant.product.seller_id != principal.seller_id
    ):
        raise VariantNotFound(f"No variant {variant_id!r}", variant_id=variant_id)
    price = variant.price if data.price is None else data.price
    discount = variant.discount if data.discount is None else data.discount
    if discount > price:
        raise InvalidPrice("discount must not exceed price", price=price, discount=discount)
    variant.price, variant.discount = price, discount
    if data.status is not None:
        variant.status = data.status
    variant.updated_at = now
    if data.stock is not None:
        await inventory.set_on_hand(session, on_hand={variant_id: data.stock}, now=now)
    await session.flush()
    return await with_stock(session, variant.product, now=now)
