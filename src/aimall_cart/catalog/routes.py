"""HTTP for the catalog read model: ``/v1/catalog``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from aimall_cart.auth import CurrentPrincipal
from aimall_cart.catalog import service as catalog
from aimall_cart.catalog.schemas import ProductIn, ProductOut, ProductPage, VariantOut, VariantPatch
from aimall_cart.clock import Now
from aimall_cart.db import ReadSession, WriteSession, commit
from aimall_cart.fields import CatalogId, Text

router = APIRouter(prefix="/v1/catalog", tags=["catalog"])

ProductId = Annotated[CatalogId, Path()]
VariantId = Annotated[CatalogId, Path()]


def render(item: catalog.ProductStock) -> ProductOut:
    product = item.product
    return ProductOut(
        id=product.id,
        seller_id=product.seller_id,
        name=product.name,
        description=product.description,
        category=product.category,
        thumbnail_url=product.thumbnail_url,
        status=product.status,
        currency=product.currency,
        min_quantity=product.min_quantity,
        max_quantity=product.max_quantity,
        variants=[
            VariantOut(
                variant_id=v.id,
                options=v.options,
                price=v.price,
                discount=v.discount,
                status=v.status,
                stock=item.stock[v.id].on_hand if v.id in item.stock else 0,
                available=item.stock[v.id].available if v.id in item.stock else 0,
            )
            for v in product.variants
        ],
        created_at=product.created_at,
        updated_at=product.updated_at,
    )


@router.put(
    "/products/{product_id}",
    response_model=ProductOut,
    responses={201: {"model": ProductOut, "description": "Created"}},
)
async def put_product(
    product_id: ProductId,
    body: ProductIn,
    response: Response,
    session: WriteSession,
    principal: CurrentPrincipal,
    now: Now,
) -> ProductOut:
    item, created = await commit(
        session,
        lambda: catalog.upsert_product(
            session, principal=principal, product_id=product_id, data=body, now=now
        ),
    )
    response.status_code = 201 if created else 200
    return render(item)


@router.patch("/variants/{variant_id}", response_model=ProductOut)
async def patch_variant(
    variant_id: VariantId,
    body: VariantPatch,
    session: WriteSession,
    principal: CurrentPrincipal,
    now: Now,
) -> ProductOut:
    item = await commit(
        session,
        lambda: catalog.patch_variant(
            session, principal=principal, variant_id=variant_id, data=body, now=now
        ),
    )
    return render(item)


@router.get("/products/{product_id}", response_model=ProductOut)
async def get_product(product_id: ProductId, session: ReadSession, now: Now) -> ProductOut:
    product = await catalog.get_product(session, product_id)
    return render(await catalog.with_stock(session, product, now=now))


@router.get("/products", response_model=ProductPage)
async def list_products(
    session: ReadSession,
    now: Now,
    category: Annotated[Text | None, Query(max_length=120)] = None,
    q: Annotated[Text | None, Query(max_length=200)] = None,
    cursor: Annotated[CatalogId | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ProductPage:
    items = await catalog.list_products(
        session, category=category, query=q, after=cursor, limit=limit, now=now
    )
    next_cursor = items[-1].product.id if len(items) == limit else None
    return ProductPage(items=[render(i) for i in items], next_cursor=next_cursor)
