"""The live guest carts a run works on, made through the HTTP API like a shopper makes them, and
the data file that the wrk script reads them from."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

Pair = tuple[str, str]  # (product_id, variant_id)
_RETRIED_STATUSES = frozenset({429, 503})


@dataclass(frozen=True, slots=True)
class GuestCart:
    token: str
    item_ids: tuple[str, ...]


def _client(url: str) -> httpx.AsyncClient:
    """A client on one keep-alive connection."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    return httpx.AsyncClient(base_url=url, limits=limits, timeout=60, trust_env=False)


async def _catalog(client: httpx.AsyncClient) -> list[dict[str, object]]:
    """Every active product, page by page (bounded: far more pages than the demo has)."""
    products: list[dict[str, object]] = []
    cursor: str | None = None
    for _ in range(200):
        params: dict[str, str | int] = {"limit": 200}
        if cursor is not None:
            params["cursor"] = cursor
        answer = await client.get("/v1/catalog/products", params=params)
        answer.raise_for_status()
        page = answer.json()
        products += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    return products


async def addable_pairs(url: str, *, pool: int, rng: random.Random) -> list[Pair]:
    """``pool`` active variants of active products, taken from the best stocked.

    Carts only ever hold these, so a cart stays at most ``pool`` lines long however long the run:
    later runs read and write carts of the same size as earlier ones.
    """
    async with _client(url) as client:
        products = await _catalog(client)
    offers = [
        (-int(variant["available"]), str(product["id"]), str(variant["variant_id"]))
        for product in products
        if product["status"] == "active"
        for variant in product["variants"]  # type: ignore[attr-defined]
        if variant["status"] == "active" and int(variant["available"]) > 0
    ]
    if len(offers) < 2:
        raise RuntimeError(f"{url} sells fewer than two variants in stock: seed the catalog")
    best = sorted(offers)[: max(4 * pool, 40)]
    return [(product, variant) for _, product, variant in rng.sample(best, min(pool, len(best)))]


async def _post_item(client: httpx.AsyncClient, pair: Pair, token: str | None) -> httpx.Response:
    """One add; a busy (503) or rate-limited (429) answer, or a connection lost on the way, is
    tried again, a few times.

    The retry carries the first attempt's ``Idempotency-Key``, so an add the server did make is
    replayed rather than made twice (a first add has no caller to replay to: its retry makes a
    second guest cart, which no one uses).
    """
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    if token:
        headers["X-Cart-Token"] = token
    body = {"product_id": pair[0], "variant_id": pair[1], "quantity": 1}
    for attempt in range(5):
        try:
            answer = await client.post("/v1/cart/items", json=body, headers=headers)
        except httpx.TransportError:
            if attempt == 4:
                raise
        else:
            if answer.status_code not in _RETRIED_STATUSES:
                break
        await asyncio.sleep(0.2 * (attempt + 1))
    if answer.status_code not in (200, 201):
        raise RuntimeError(f"POST /v1/cart/items: {answer.status_code} {answer.text[:300]}")
    return answer


async def _one_cart(client: httpx.AsyncClient, lines: Sequence[Pair]) -> GuestCart:
    """A new guest cart (the first add without credentials makes it) holding ``lines``."""
    first = await _post_item(client, lines[0], None)
    token = first.headers.get("X-Cart-Token")
    if not token:
        raise RuntimeError("a new guest cart came back without X-Cart-Token")
    last = first
    for pair in lines[1:]:
        last = await _post_item(client, pair, token)
    items = tuple(str(item["id"]) for item in last.json()["items"])
    return GuestCart(token, items)


async def make_carts(
    url: str,
    pairs: Sequence[Pair],
    *,
    count: int,
    concurrency: int,
    rng: random.Random,
    advance: Callable[[], None],
) -> list[GuestCart]:
    """``count`` guest carts of one or two lines each, ``concurrency`` requests in flight."""
    plans = [rng.sample(list(pairs), 1 + (rng.random() < 0.5)) for _ in range(count)]
    remaining: Iterator[list[Pair]] = iter(plans)

    async def maker() -> list[GuestCart]:
        # A client of one connection each: httpx's shared pool looks over all its connections
        # for every request, which made the client the bottleneck, and left some connections
        # idle long enough for the server to close them under a request on its way.
        made = []
        async with _client(url) as client:
            for lines in remaining:  # one shared iterator: every plan is taken exactly once
                made.append(await _one_cart(client, lines))
                advance()
        return made

    batches = await asyncio.gather(*(maker() for _ in range(concurrency)))
    return [cart for batch in batches for cart in batch]


def write_data(path: Path, carts: Sequence[GuestCart], pairs: Sequence[Pair]) -> None:
    """The file benchmarks/wrk/cart.lua reads: one ``cart`` line per cart, one ``pair`` line per
    addable variant (tokens, ids and variant ids never contain spaces)."""
    lines = [" ".join(("cart", cart.token, *cart.item_ids)) for cart in carts]
    lines += [f"pair {product} {variant}" for product, variant in pairs]
    path.write_text("\n".join(lines) + "\n")
