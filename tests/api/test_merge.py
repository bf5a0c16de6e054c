"""Merging a guest cart into the signed-in member's cart: `POST /v1/cart/merge`."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from aimall_cart.config import Settings
from tests.answers import Headers, merged, post_item, problem_of, quantities_of, read_cart
from tests.builders import admin, bearer, make_product, make_variant, put_product, shirt

REPORT_LISTS = ("added", "combined", "clamped", "dropped")


async def guest_with(client: httpx.AsyncClient, *lines: tuple[str, int]) -> Headers:
    """A guest cart holding the given shirt lines; answers the guest's headers."""
    created = await client.post("/v1/cart")
    assert created.status_code == 201, created.text
    guest = {"X-Cart-Token": created.headers["X-Cart-Token"]}
    for variant_id, quantity in lines:
        await post_item(client, guest, variant_id, quantity)
    return guest


async def member_with(
    client: httpx.AsyncClient, member: Headers, *lines: tuple[str, int]
) -> dict[str, Any]:
    """The member's cart, created if needed, holding the given shirt lines."""
    created = await client.post("/v1/cart", headers=member)
    assert created.status_code in (200, 201), created.text
    for variant_id, quantity in lines:
        await post_item(client, member, variant_id, quantity)
    return await read_cart(client, member)


async def merge(
    client: httpx.AsyncClient,
    member: Headers,
    guest: Headers,
    strategy: str | None = None,
    *,
    preview: bool = False,
    headers: Headers | None = None,
) -> httpx.Response:
    params = {"preview": "true"} if preview else None
    body = None if strategy is None else {"strategy": strategy}
    return await client.post(
        "/v1/cart/merge", json=body, params=params, headers={**member, **guest, **(headers or {})}
    )


def unordered(cart: dict[str, Any]) -> dict[str, Any]:
    """The cart with its items and issues in a fixed order: lines a merge adds in one go share a
    timestamp, and the contract does not order lines."""
    return {
        **cart,
        "items": sorted(cart["items"], key=lambda item: item["variant_id"]),
        "issues": sorted(cart["issues"], key=lambda issue: (issue["item_id"], issue["code"])),
    }


def report_line(
    variant_id: str,
    *,
    quantity: int,
    guest: int = 0,
    member: int = 0,
    source: str = "guest",
    reason: str | None = None,
    product_id: str = "shirt",
) -> dict[str, Any]:
    """A merge report entry for one of the `shirt` variants (`shirt-<color>-<size>`)."""
    _, color, size = variant_id.split("-")
    return {
        "product_id": product_id,
        "variant_id": variant_id,
        "options": {"color": color, "size": size.upper()},
        "source": source,
        "quantity": quantity,
        "guest_quantity": guest,
        "member_quantity": member,
        "reason": reason,
    }


def by_variant(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {entry["variant_id"]: entry for entry in entries}


# --- the strategies -------------------------------------------------------------------------


async def test_merge_sums_quantities_by_default_and_adds_guest_only_lines(
    client: httpx.AsyncClient, settings: Settings, member: Headers
) -> None:
    await shirt(client, settings)
    before = await member_with(client, member, ("shirt-red-m", 2), ("shirt-blue-m", 1))
    guest = await guest_with(client, ("shirt-red-m", 3), ("shirt-red-l", 1))

    cart, report = merged(await merge(client, member, guest))

    assert cart["id"] == before["id"]
    assert cart["owner"] == {"type": "member", "user_id": "u-1"}
    assert cart["status"] == "active"
    assert quantities_of(cart) == {"shirt-red-m": 5, "shirt-blue-m": 1, "shirt-red-l": 1}
    assert cart["totals"]["item_count"] == 7
    assert report == {
        "strategy": "sum",
        "preview": False,
        "added": [report_line("shirt-red-l", quantity=1, guest=1)],
        "combined": [report_line("shirt-red-m", quantity=5, guest=3, member=2)],
        "clamped": [],
        "dropped": [],
    }
    assert unordered(await read_cart(client, member)) == unordered(cart)


async def test_merge_with_an_empty_body_object_also_sums(
    client: httpx.AsyncClient, settings: Settings, member: Headers
) -> None:
    await shirt(client, settings)
    await member_with(client, member, ("shirt-red-m", 2))
    guest = await guest_with(client, ("shirt-red-m", 3))
    response = await client.post("/v1/cart/merge", json={}, headers={**member, **guest})
    cart, report = merged(response)
    assert report["strategy"] == "sum"
    assert quantities_of(cart) == {"shirt-red-m": 5}


MEMBER_LINES = (("shirt-red-m", 2), ("shirt-blue-m", 4), ("shirt-blue-l", 1))
GUEST_LINES = (("shirt-red-m", 5), ("shirt-blue-m", 1), ("shirt-red-l", 3))


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("sum", {"shirt-red-m": 7, "shirt-blue-m": 5, "shirt-blue-l": 1, "shirt-red-l": 3}),
        ("max", {"shirt-red-m": 5, "shirt-blue-m": 4, "shirt-blue-l": 1, "shirt-red-l": 3}),
        ("keep_member", {"shirt-red-m": 2, "shirt-blue-m": 4, "shirt-blue-l": 1, "shirt-red-l": 3}),
        ("replace", {"shirt-red-m": 5, "shirt-blue-m": 1, "shirt-red-l": 3}),
    ],
)
async def test_each_strategy_sets_the_quantities_of_shared_lines_its_own_way(
    client: httpx.AsyncClient,
    settings: Settings,
    member: Headers,
    strategy: str,
    expected: dict[str, int],
) -> None:
    await shirt(client, settings)
    await member_with(client, member, *MEMBER_LINES)
    guest = await guest_with(client, *GUEST_LINES)

    cart, report = merged(await merge(client, member, guest, strategy))

    assert quantities_of(cart) == expected
    assert report["strategy"] == strategy
    assert report["added"] == [report_line("shirt-red-l", quantity=3, guest=3)]
    assert by_variant(report["combined"]) == {
        "shirt-red-m": report_line(
            "shirt-red-m", quantity=expected["shirt-red-m"], guest=5, member=2
        ),
        "shirt-blue-m": report_line(
            "shirt-blue-m", quantity=expected["shirt-blue-m"], guest=1, member=4
        ),
    }
    assert report["clamped"] == []
    assert unordered(await read_cart(client, member)) == unordered(cart)


async def test_replace_drops_member_only_lines_with_reason_replaced(
    client: httpx.AsyncClient, settings: Settings, member: Headers
) -> None:
    await shirt(client, settings)
    await member_with(client, member, *MEMBER_LINES)
    guest = await guest_with(client, *GUEST_LINES)

    _, report = merged(await merge(client, member, guest, "replace"))

    assert report["dropped"] == [
        report_line("shirt-blue-l", quantity=0, member=1, source="member", reason="replaced")
    ]


@pytest.mark.parametrize("strategy", ["sum", "max", "keep_member"])
async def test_strategies_other_than_replace_drop_nothing_of_the_members(
    client: httpx.AsyncClient, settings: Settings, member: Headers, strategy: str
) -> None:
    await shirt(client, settings)
    await member_with(client, member, *MEMBER_LINES)
    guest = await guest_with(client, *GUEST_LINES)
    cart, report = merged(await merge(client, member, guest, strategy))
    assert report["dropped"] == []
    assert quantities_of(cart)["shirt-blue-l"] == 1


async def test_merge_clamps_a_sum_to_the_product_max_and_reports_it_clamped(
    client: httpx.AsyncClient, settings: Settings, member: Headers
) -> None:
    await shirt(client, settings)  # max_quantity 10
    await member_with(client, member, ("shirt-red-m", 7), ("shirt-blue-m", 1))
    guest = await guest_with(client, ("shirt-red-m", 6), ("shirt-blue-m", 2))

    cart, report = merged(await merge(client, member, guest))

    assert quantities_of(cart) == {"shirt-red-m": 10, "shirt-blue-m": 3}
    clamped = report_line("shirt-red-m", quantity=10, guest=6, member=7)
    assert report["clamped"] == [clamped]
    assert clamped in report["combined"]
    assert len(report["combined"]) == 2
    assert [i["flags"] for i in cart["items"]] == [[], []]


async def test_merge_clamps_a_guest_only_line_when_the_max_was_lowered_since(
    client: httpx.AsyncClient, settings: Settings, member: Headers
) -> None:
    await shirt(client, settings)
    await member_with(client, member, ("shirt-blue-m", 1))
    guest = await guest_with(client, ("shirt-red-m", 8))
    await shirt(client, settings, max_quantity=5)

    cart, report = merged(await merge(client, member, guest))

    assert quantities_of(cart) == {"shirt-blue-m": 1, "shirt-red-m": 5}
    clamped = report_line("shirt-red-m", quantity=5, guest=8)
    assert report["added"] == [clamped]
    assert report["clamped"] == [clamped]


async def test_max_clamps_too(
    client: httpx.AsyncClient, settings: Settings, member: Headers
) -> None:
    await shirt(client, settings)
    await member_with(client, member, ("shirt-red-m", 3))
    guest = await guest_with(client, ("shirt-red-m", 9))
    await shirt(client, settings, max_quantity=6)

    cart, report = merged(await merge(client, member, guest, "max"))

    assert quantities_of(cart) == {"shirt-red-m": 6}
    assert report["clamped"] == [report_line("shirt-red-m", quantity=6, guest=9, member=3)]


async def test_merge_into_a_member_without_a_cart_creates_the_members_cart(
    client: httpx.AsyncClient, settings: Settings, member: Headers
) -> None:
    await shirt(client, settings)
    guest = await guest_with(client, ("shirt-red-m", 2), ("shirt-blue-l", 1))
    guest_cart = await read_cart(client, guest)

    response = await merge(client, member, guest)
    cart, report = merged(response)

    assert cart["id"] != guest_cart["id"]
    assert cart["owner"] == {"type": "member", "user_id": "u-1"}
    assert quantities_of(cart) == {"shirt-red-m": 2, "shirt-blue-l": 1}
    assert cart["guest_token"] is None
    assert "X-Cart-Token" not in response.headers
    assert by_variant(report["added"]) == {
        "shirt-red-m": report_line("shirt-red-m", quantity=2, guest=2),
        "shirt-blue-l": report_line("shirt-blue-l", quantity=1, guest=1),
    }
    assert (report["combined"], report["dropped"]) == ([], [])
    assert unordered(await read_cart(client, member)) == unordered(cart)


async def test_an_empty_guest_cart_merges_into_nothing_new(
    client: httpx.AsyncClient, settings: Settings, member: Headers
) -> None:
    await shirt(client, settings)
    before = await member_with(client, member, ("shirt-red-m", 2))
    guest = await guest_with(client)

    cart, report = merged(await merge(client, member, guest))

    assert quantities_of(cart) == {"shirt-red-m": 2}
    assert all(report[name] == [] for name in REPORT_LISTS)
    assert cart["currency"] == before["currency"]


# --- what is dropped ------------------------------------------------------------------------


async def test_guest_lines_of_an_inactive_variant_or_product_are_dropped_as_unavailable(
    client: httpx.AsyncClient, settings: Settings, member: Headers
) -> None:
    await shirt(client, settings)
    hat = make_product(make_variant("hat-one", price=900), name="Hat")
    await put_product(client, settings, "hat", hat)
    await member_with(client, member, ("shirt-red-m", 1), ("shirt-blue-m", 2))
    guest = await guest_with(client, ("shirt-red-l", 2), ("shirt-blue-m", 3))
    await post_item(client, guest, "hat-one", 1, product_id="hat")
    response = await client.patch(
        "/v1/catalog/variants/shirt-blue-m", json={"status": "inactive"}, headers=admin(settings)
    )
    assert response.status_code == 200, response.text
    await put_product(client, settings, "hat", {**hat, "status": "inactive"})

    cart, report = merged(await merge(client, member, guest))

    assert report["added"] == [report_line("shirt-red-l", quantity=2, guest=2)]
    assert report["combined"] == []
    assert by_variant(report["dropped"]) == {
        "shirt-blue-m": report_line(
            "shirt-blue-m", quantity=2, guest=3, member=2, reason="unavailable"
        ),
        "hat-one": {
            "product_id": "hat",
            "variant_id": "hat-one",
            "options": {},
            "source": "guest",
            "quantity": 0,
            "guest_quantity": 1,
            "member_quantity": 0,
            "reason": "unavailable",
        },
    }
    # The member's own line of the unavailable variant stays as it was, flagged.
    assert quantities_of(cart) == {"shirt-red-m": 1, "shirt-blue-m": 2, "shirt-red-l": 2}
    [blue] = [i for i in cart["items"] if i["variant_id"] == "shirt-blue-m"]
    assert blue["flags"] == ["unavailable"]


async def test_guest_lines_in_another_currency_than_the_members_cart_are_dropped(
    client: httpx.AsyncClient, settings: Settings, member: Headers
) -> None:
    await shirt(client, settings)
    scarf = make_product(make_variant("scarf-one", price=1500), name="Scarf", currency="EUR")
    await put_product(client, settings, "scarf", scarf)
    await member_with(client, member, ("shirt-red-m", 1))
    guest = await guest_with(client)
    await post_item(client, guest, "scarf-one", 2, product_id="scarf")

    cart, report = merged(await merge(client, member, guest))

    assert cart["currency"] == "USD"
    assert quantities_of(cart) == {"shirt-red-m": 1}
    assert (report["added"], report["combined"]) == ([], [])
    [dropped] = report["dropped"]
    assert (dropped["variant_id"], dropped["source"], dropped["reason"]) == (
        "scarf-one",
        "guest",
        "currency_mismatch",
    )
    assert (dropped["quantity"], dropped["guest_quantity"]) == (0, 2)


async def test_an_empty_member_cart_takes_the_guest_carts_currency(
    client: httpx.AsyncClient, settings: Settings, member: Headers
) -> None:
    scarf = make_product(make_variant("scarf-one", price=1500), name="Scarf", currency="EUR")
    await put_product(client, settings, "scarf", scarf)
    before = await member_with(client, member)
    assert before["currency"] == "USD"
    guest = await guest_with(client)
    await post_item(client, guest, "scarf-one", 2, product_id="scarf")

    cart, report = merged(await merge(client, member, guest))

    assert cart["currency"] == "EUR"
    assert quantities_of(cart) == {"scarf-one": 2}
    assert report["dropped"] == []
    assert cart["totals"]["total"] == 3000


async def test_guest_lines_past_100_lines_are_dropped_as_cart_full(
    client: httpx.AsyncClient, settings: Settings, member: Headers
) -> None:
    many = make_product(*(make_variant(f"many-{n}", price=100, n=str(n)) for n in range(101)))
    await put_product(client, settings, "many", many)
    for n in range(99):
        await post_item(client, member, f"many-{n}", 1, product_id="many")
    guest = await guest_with(client)
    for n in (0, 99, 100):
        await post_item(client, guest, f"many-{n}", 2, product_id="many")

    cart, report = merged(await merge(client, member, guest))

    assert len(cart["items"]) == 100
    assert quantities_of(cart)["many-0"] == 3
    assert quantities_of(cart)["many-99"] == 2
    assert "many-100" not in quantities_of(cart)
    assert [(d["variant_id"], d["quantity"]) for d in report["combined"]] == [("many-0", 3)]
    assert [(d["variant_id"], d["quantity"]) for d in report["added"]] == [("many-99", 2)]
    assert report["dropped"] == [
        {
            "product_id": "many",
            "variant_id": "many-100",
            "options": {"n": "100"},
            "source": "guest",
            "quantity": 0,
            "guest_quantity": 2,
            "member_quantity": 0,
            "reason": "cart_full",
        }
    ]


async def test_guest_lines_keep_their_price_snapshot_in_the_members_cart(
    client: httpx.AsyncClient, settings: Settings, member: Headers
) -> None:
    await shirt(client, settings, price=1999, discount=200)
    await member_with(client, member, ("shirt-blue-m", 1))
    guest = await guest_with(client, ("shirt-red-m", 2))
    response = await client.patch(
        "/v1/catalog/variants/shirt-red-m",
        json={"price": 2499, "discount": 0},
        headers=admin(settings),
    )
    assert response.status_code == 200, response.text

    cart, _ = merged(await merge(client, member, guest))

    [red] = [i for i in cart["items"] if i["variant_id"] == "shirt-red-m"]
    assert (red["unit_price"], red["discount"], red["line_total"]) == (1999, 200, 3598)
    assert (red["current_unit_price"], red["current_discount"]) == (2499, 0)
    assert red["flags"] == ["price_changed"]
    assert (red["name"], red["options"]) == ("Linen Shirt", {"color": "red", "size": "M"})
    assert cart["checkout_blocked"] is True
    assert unordered(await read_cart(client, member)) == unordered(cart)


# --- once merged ----------------------------------------------------------------------------


async def test_the_merged_guest_token_stops_working(
    client: httpx.AsyncClient, settings: Settings, member: Headers
) -> None:
    await shirt(client, settings)
    guest = await guest_with(client, ("shirt-red-m", 1))
    merged(await merge(client, member, guest))
    problem_of(await client.get("/v1/cart", headers=guest), 404, "cart_not_found")


async def test_repeating_the_merge_adds_nothing_twice(
    client: httpx.AsyncClient, settings: Settings, member: Headers
) -> None:
    await shirt(client, settings)
    await member_with(client, member, ("shirt-red-m", 2))
    guest = await guest_with(client, ("shirt-red-m", 3), ("shirt-red-l", 1))
    first, _ = merged(await merge(client, member, guest))

    again, report = merged(await merge(client, member, guest))

    assert quantities_of(again) == {"shirt-red-m": 5, "shirt-red-l": 1}
    assert unordered(again) == unordered(first)
    assert (report["strategy"], report["preview"]) == ("sum", False)
    assert all(report[name] == [] for name in REPORT_LISTS)
    assert unordered(await read_cart(client, member)) == unordered(first)


async def test_repeating_the_merge_with_replace_drops_nothing(
    client: httpx.AsyncClient, settings: Settings, member: Headers
) -> None:
    await shirt(client, settings)
    guest = await guest_with(client, ("shirt-red-m", 3))
    merged(await merge(client, member, guest))
    await post_item(client, member, "shirt-blue-l", 2)
    before = await read_cart(client, member)

    again, report = merged(await merge(client, member, guest, "replace"))

    assert again == before
    assert all(report[name] == [] for name in REPORT_LISTS)


# --- preview --------------------------------------------------------------------------------


async def test_preview_answers_the_report_and_resulting_cart_but_changes_nothing(
    client: httpx.AsyncClient, settings: Settings, member: Headers
) -> None:
    await shirt(client, settings)
    await member_with(client, member, *MEMBER_LINES)
    guest = await guest_with(client, *GUEST_LINES)
    member_before, guest_before = await read_cart(client, member), await read_cart(client, guest)

    response = await merge(client, member, guest, "replace", preview=True)
    preview_cart, preview = merged(response)

    assert response.headers["ETag"] == f'"{member_before["version"]}"'
    assert preview_cart["id"] == member_before["id"]
    assert quantities_of(preview_cart) == {"shirt-red-m": 5, "shirt-blue-m": 1, "shirt-red-l": 3}
    assert preview["preview"] is True
    assert await read_cart(client, member) == member_before
    assert await read_cart(client, guest) == guest_before

    cart, report = merged(await merge(client, member, guest, "replace"))
    assert report == {**preview, "preview": False}
    assert quantities_of(cart) == quantities_of(preview_cart)
    assert cart["version"] == member_before["version"] + 1


async def test_preview_for_a_member_without_a_cart_creates_none(
    client: httpx.AsyncClient, settings: Settings, member: Headers
) -> None:
    await shirt(client, settings)
    guest = await guest_with(client, ("shirt-red-m", 2))
    guest_before = await read_cart(client, guest)

    cart, report = merged(await merge(client, member, guest, preview=True))

    assert quantities_of(cart) == {"shirt-red-m": 2}
    assert report["added"] == [report_line("shirt-red-m", quantity=2, guest=2)]
    problem_of(await client.get("/v1/cart", headers=member), 404, "cart_not_found")
    assert await read_cart(client, guest) == guest_before


async def test_preview_keeps_the_guest_token_working_for_the_real_merge(
    client: httpx.AsyncClient, settings: Settings, member: Headers
) -> None:
    await shirt(client, settings)
    await member_with(client, member, ("shirt-red-m", 1))
    guest = await guest_with(client, ("shirt-red-m", 1))
    merged(await merge(client, member, guest, preview=True))
    merged(await merge(client, member, guest, preview=True))

    cart, report = merged(await merge(client, member, guest))

    assert quantities_of(cart) == {"shirt-red-m": 2}
    assert report["combined"] == [report_line("shirt-red-m", quantity=2, guest=1, member=1)]


# --- errors ---------------------------------------------------------------------------------


async def test_merge_without_a_member_token_is_unauthenticated(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    guest = await guest_with(client, ("shirt-red-m", 1))
    before = await read_cart(client, guest)
    problem_of(await client.post("/v1/cart/merge", headers=guest), 401, "unauthenticated")
    problem_of(await client.post("/v1/cart/merge"), 401, "unauthenticated")
    assert await read_cart(client, guest) == before


async def test_merge_without_a_guest_token_needs_one(
    client: httpx.AsyncClient, settings: Settings, member: Headers
) -> None:
    await shirt(client, settings)
    before = await member_with(client, member, ("shirt-red-m", 1))
    response = await client.post("/v1/cart/merge", json={"strategy": "sum"}, headers=member)
    problem_of(response, 422, "guest_cart_required")
    assert await read_cart(client, member) == before


async def test_merge_with_a_token_that_names_no_cart_is_not_found(
    client: httpx.AsyncClient, member: Headers
) -> None:
    unknown = {"X-Cart-Token": "no-such-cart-token-0123456789abcdefghijk"}
    problem_of(await merge(client, member, unknown), 404, "cart_not_found")
    problem_of(await client.get("/v1/cart", headers=member), 404, "cart_not_found")


async def test_a_guest_cart_merged_into_one_member_is_not_found_for_another(
    client: httpx.AsyncClient, settings: Settings, member: Headers
) -> None:
    await shirt(client, settings)
    guest = await guest_with(client, ("shirt-red-m", 2))
    first, _ = merged(await merge(client, member, guest))
    other = bearer(settings, "u-2")

    problem_of(await merge(client, other, guest), 404, "cart_not_found")
    problem_of(await merge(client, other, guest, preview=True), 404, "cart_not_found")

    # The failed attempt leaves no cart behind for the other member, nor touches the first.
    problem_of(await client.get("/v1/cart", headers=other), 404, "cart_not_found")
    assert unordered(await read_cart(client, member)) == unordered(first)


async def test_a_merged_guest_cart_is_not_found_for_another_member_with_a_cart(
    client: httpx.AsyncClient, settings: Settings, member: Headers
) -> None:
    await shirt(client, settings)
    guest = await guest_with(client, ("shirt-red-m", 2))
    merged(await merge(client, member, guest))
    other = bearer(settings, "u-2")
    theirs = await member_with(client, other, ("shirt-blue-l", 1))

    problem_of(await merge(client, other, guest), 404, "cart_not_found")

    assert await read_cart(client, other) == theirs


async def test_merge_with_a_stale_if_match_changes_neither_cart(
    client: httpx.AsyncClient, settings: Settings, member: Headers
) -> None:
    await shirt(client, settings)
    member_before = await member_with(client, member, ("shirt-red-m", 1))
    guest = await guest_with(client, ("shirt-red-m", 2))
    guest_before = await read_cart(client, guest)
    stale = {"If-Match": f'"{member_before["version"] - 1}"'}

    problem_of(await merge(client, member, guest, headers=stale), 412, "version_mismatch")
    problem_of(
        await merge(client, member, guest, preview=True, headers=stale), 412, "version_mismatch"
    )

    assert await read_cart(client, member) == member_before
    assert await read_cart(client, guest) == guest_before


async def test_merge_with_the_current_if_match_succeeds_and_bumps_the_version_once(
    client: httpx.AsyncClient, settings: Settings, member: Headers
) -> None:
    await shirt(client, settings)
    before = await member_with(client, member, ("shirt-red-m", 1))
    guest = await guest_with(client, ("shirt-red-m", 2), ("shirt-blue-m", 1))
    current = {"If-Match": f'"{before["version"]}"'}

    cart, _ = merged(await merge(client, member, guest, headers=current))

    assert cart["version"] == before["version"] + 1
    assert quantities_of(cart) == {"shirt-red-m": 3, "shirt-blue-m": 1}


@pytest.mark.parametrize("body", [{"strategy": "newest"}, {"strategy": "SUM"}, {"strategy": 1}])
async def test_an_unknown_strategy_is_a_validation_error(
    client: httpx.AsyncClient, settings: Settings, member: Headers, body: dict[str, Any]
) -> None:
    await shirt(client, settings)
    guest = await guest_with(client, ("shirt-red-m", 1))
    guest_before = await read_cart(client, guest)
    response = await client.post("/v1/cart/merge", json=body, headers={**member, **guest})
    problem_of(response, 422, "validation_error")
    assert await read_cart(client, guest) == guest_before
    problem_of(await client.get("/v1/cart", headers=member), 404, "cart_not_found")


async def test_replace_takes_the_guest_carts_currency_and_lines(
    client: httpx.AsyncClient, settings: Settings, member: Headers
) -> None:
    await shirt(client, settings)
    scarf = make_product(make_variant("scarf-one", price=1500), name="Scarf", currency="EUR")
    await put_product(client, settings, "scarf", scarf)
    await member_with(client, member, ("shirt-red-m", 1))
    guest = await guest_with(client)
    await post_item(client, guest, "scarf-one", 2, product_id="scarf")

    cart, report = merged(await merge(client, member, guest, "replace"))

    assert (cart["currency"], quantities_of(cart)) == ("EUR", {"scarf-one": 2})
    assert [(d["variant_id"], d["reason"]) for d in report["dropped"]] == [
        ("shirt-red-m", "replaced")
    ]
    assert [d["variant_id"] for d in report["added"]] == ["scarf-one"]


@pytest.mark.parametrize("member_has_cart", [True, False], ids=["member_cart", "no_member_cart"])
async def test_concurrent_merges_of_one_guest_cart_add_its_lines_once(
    client: httpx.AsyncClient, settings: Settings, member: Headers, member_has_cart: bool
) -> None:
    await shirt(client, settings)
    if member_has_cart:
        await member_with(client, member, ("shirt-red-m", 1))
    guest = await guest_with(client, ("shirt-red-m", 2), ("shirt-blue-l", 1))

    responses = await asyncio.gather(*(merge(client, member, guest) for _ in range(5)))

    results = [merged(response) for response in responses]
    reports = [report for _, report in results if any(report[n] for n in REPORT_LISTS)]
    assert len(reports) == 1
    cart = await read_cart(client, member)
    expected_red = 3 if member_has_cart else 2
    assert quantities_of(cart) == {"shirt-red-m": expected_red, "shirt-blue-l": 1}
    assert {c["version"] for c, _ in results} == {cart["version"]}
    problem_of(await client.get("/v1/cart", headers=guest), 404, "cart_not_found")


async def test_merge_with_if_match_and_no_member_cart_is_version_mismatch(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    guest = await client.post(
        "/v1/cart/items", json={"product_id": "shirt", "variant_id": "shirt-red-m"}
    )
    token = guest.headers["X-Cart-Token"]
    member = bearer(settings, "u-no-cart-if-match")
    answer = await client.post(
        "/v1/cart/merge", headers={**member, "X-Cart-Token": token, "If-Match": '"1"'}
    )
    assert (answer.status_code, answer.json()["code"]) == (412, "version_mismatch")
    assert (await client.get("/v1/cart", headers=member)).status_code == 404


async def test_merged_lines_keep_the_guest_cart_order(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await shirt(client, settings)
    token = None
    order = ["shirt-blue-l", "shirt-red-m", "shirt-blue-m", "shirt-red-l"]
    for variant in order:
        headers = {"X-Cart-Token": token} if token else {}
        answer = await client.post(
            "/v1/cart/items", json={"product_id": "shirt", "variant_id": variant}, headers=headers
        )
        token = token or answer.headers["X-Cart-Token"]
    assert token is not None
    member = bearer(settings, "u-order")
    merged = await client.post("/v1/cart/merge", headers={**member, "X-Cart-Token": token})
    assert [i["variant_id"] for i in merged.json()["cart"]["items"]] == order
    read = await client.get("/v1/cart", headers=member)
    assert [i["variant_id"] for i in read.json()["items"]] == order
