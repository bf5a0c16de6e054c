"""Random sequences of cart operations through the HTTP API, checked against a plain model.

Each Hypothesis example is a new member (and guest) on one database, so examples stay
independent without paying for a database each.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from aimall_cart.app import create_app
from aimall_cart.config import Settings
from tests.builders import bearer, shirt

VARIANTS = ("shirt-red-m", "shirt-red-l", "shirt-blue-m", "shirt-blue-l")
OPTIONS = {v: {"color": v.split("-")[1], "size": v.split("-")[2].upper()} for v in VARIANTS}
MAX_QUANTITY = 10
_members = itertools.count()


class CartMachine(RuleBasedStateMachine):
    """The member cart as {variant: quantity}, a guest cart beside it for merges, and the
    version the member cart must be at."""

    loop: asyncio.AbstractEventLoop
    client: httpx.AsyncClient
    config: Settings

    def __init__(self) -> None:
        super().__init__()
        self.member = bearer(self.config, f"machine-{next(_members)}")
        self.model: dict[str, int] = {}
        self.guest: dict[str, int] = {}
        self.guest_token: str | None = None
        self.version: int | None = None
        self.last_keyed: tuple[str, dict[str, Any], str, httpx.Response] | None = None

    def call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.client.request(method, url, **kwargs))

    def changed(self, answer: httpx.Response) -> None:
        assert answer.status_code in (200, 201), answer.text
        expected = 2 if self.version is None else self.version + 1  # a new cart starts at 1
        assert answer.json()["version"] == expected
        self.version = expected

    def refused(self, answer: httpx.Response, status: int, code: str) -> None:
        assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text

    def item_id(self, variant: str) -> str:
        cart = self.call("GET", "/v1/cart", headers=self.member).json()
        return next(i["id"] for i in cart["items"] if i["variant_id"] == variant)

    @rule(variant=st.sampled_from(VARIANTS), quantity=st.integers(1, 4), by_options=st.booleans())
    def add(self, variant: str, quantity: int, by_options: bool) -> None:
        body: dict[str, Any] = {"product_id": "shirt", "quantity": quantity}
        body.update({"options": OPTIONS[variant]} if by_options else {"variant_id": variant})
        key = str(uuid.uuid4())
        answer = self.call(
            "POST", "/v1/cart/items", json=body, headers={**self.member, "Idempotency-Key": key}
        )
        if self.model.get(variant, 0) + quantity > MAX_QUANTITY:
            self.refused(answer, 422, "quantity_out_of_range")
        else:
            self.changed(answer)
            self.model[variant] = self.model.get(variant, 0) + quantity
        self.last_keyed = (key, body, "/v1/cart/items", answer)

    @precondition(lambda self: self.last_keyed is not None)
    @rule()
    def replay(self) -> None:
        assert self.last_keyed is not None
        key, body, url, first = self.last_keyed
        again = self.call("POST", url, json=body, headers={**self.member, "Idempotency-Key": key})
        assert (again.status_code, again.json()) == (first.status_code, first.json())
        assert again.headers["Idempotent-Replayed"] == "true"

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data(), quantity=st.integers(0, MAX_QUANTITY + 2))
    def update(self, data: st.DataObject, quantity: int) -> None:
        variant = data.draw(st.sampled_from(sorted(self.model)))
        answer = self.call(
            "PATCH",
            f"/v1/cart/items/{self.item_id(variant)}",
            json={"quantity": quantity},
            headers=self.member,
        )
        if quantity > MAX_QUANTITY:
            self.refused(answer, 422, "quantity_out_of_range")
            return
        self.changed(answer)
        if quantity == 0:
            del self.model[variant]
        else:
            self.model[variant] = quantity

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data(), to_variant=st.sampled_from(VARIANTS))
    def change_options(self, data: st.DataObject, to_variant: str) -> None:
        variant = data.draw(st.sampled_from(sorted(self.model)))
        answer = self.call(
            "PATCH",
            f"/v1/cart/items/{self.item_id(variant)}",
            json={"options": OPTIONS[to_variant]},
            headers=self.member,
        )
        joined = self.model[variant] + (
            self.model.get(to_variant, 0) if to_variant != variant else 0
        )
        if joined > MAX_QUANTITY:
            self.refused(answer, 422, "quantity_out_of_range")
            return
        self.changed(answer)
        del self.model[variant]
        self.model[to_variant] = joined

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        variant = data.draw(st.sampled_from(sorted(self.model)))
        self.changed(
            self.call("DELETE", f"/v1/cart/items/{self.item_id(variant)}", headers=self.member)
        )
        del self.model[variant]

    @rule(variant=st.sampled_from(VARIANTS), quantity=st.integers(1, MAX_QUANTITY))
    def guest_adds(self, variant: str, quantity: int) -> None:
        if self.guest.get(variant, 0) + quantity > MAX_QUANTITY:
            return
        headers = {"X-Cart-Token": self.guest_token} if self.guest_token else {}
        body = {"product_id": "shirt", "variant_id": variant, "quantity": quantity}
        answer = self.call("POST", "/v1/cart/items", json=body, headers=headers)
        assert answer.status_code in (200, 201), answer.text
        self.guest_token = answer.headers.get("X-Cart-Token", self.guest_token)
        self.guest[variant] = self.guest.get(variant, 0) + quantity

    @precondition(lambda self: self.guest_token is not None)
    @rule(preview=st.booleans())
    def merge(self, preview: bool) -> None:
        assert self.guest_token is not None
        answer = self.call(
            "POST",
            f"/v1/cart/merge?preview={str(preview).lower()}",
            headers={**self.member, "X-Cart-Token": self.guest_token},
        )
        assert answer.status_code == 200, answer.text
        expected = dict(self.model)
        for variant, quantity in self.guest.items():
            expected[variant] = min(expected.get(variant, 0) + quantity, MAX_QUANTITY)
        got = {i["variant_id"]: i["quantity"] for i in answer.json()["cart"]["items"]}
        assert got == expected
        if preview:
            return
        self.version = answer.json()["cart"]["version"]
        self.model, self.guest, self.guest_token = expected, {}, None

    @invariant()
    def cart_matches_the_model(self) -> None:
        answer = self.call("GET", "/v1/cart", headers=self.member)
        if self.version is None:
            assert answer.status_code == 404
            return
        cart = answer.json()
        assert {i["variant_id"]: i["quantity"] for i in cart["items"]} == self.model
        assert cart["version"] == self.version
        assert cart["totals"]["item_count"] == sum(self.model.values())
        assert cart["totals"]["total"] == 1999 * sum(self.model.values())


EXAMPLES = 20


def test_cart_behaves_like_its_model(database_url: str) -> None:
    config = Settings(database_url=database_url, env="test", _env_file=None)  # type: ignore[call-arg]
    loop = asyncio.new_event_loop()
    app = create_app(config)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cart.test")
    try:
        loop.run_until_complete(shirt(client, config, stock=1000, max_quantity=MAX_QUANTITY))
        CartMachine.loop, CartMachine.client, CartMachine.config = loop, client, config
        run_state_machine_as_test(
            CartMachine,
            settings=settings(
                max_examples=EXAMPLES,
                stateful_step_count=25,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(app.state.database.dispose())
        loop.close()
