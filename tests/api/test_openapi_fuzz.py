"""Schemathesis against ``/openapi.json``: every operation, every kind of caller, and no 5xx.

The app's database pool belongs to the test's event loop, so requests go through
``httpx.ASGITransport`` on that loop, as in every other API test. Hypothesis runs in a worker
thread and hands each request to the loop; Schemathesis generates the cases from the schema the app
serves and judges the answers. Each (operation, caller, positive|negative data) is one derandomized
Hypothesis run, and every failing run is reported, shrunk, with the server's traceback.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, CheckFunction, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from aimall_cart.config import Settings
from tests.builders import bearer, make_product, make_variant, put_product, shirt

BASE_URL = "http://cart.test"
RED_M = {"color": "red", "size": "M"}
BLUE_L = {"color": "blue", "size": "L"}
# Examples per (operation, caller, mode): 20 operations x 6 callers, under 20 s per backend.
EXAMPLES = {GenerationMode.POSITIVE: 16, GenerationMode.NEGATIVE: 6}
REQUEST_TIMEOUT_SECONDS = 30
INNERMOST_FRAMES = 4

# What must hold today: no 5xx, and 2xx bodies and headers as documented.
SERVER_CHECKS: list[CheckFunction] = [
    not_a_server_error,
    response_schema_conformance,
    response_headers_conformance,
]
# What the OpenAPI document should also promise: every status and media type the app answers.
DOCUMENTATION_CHECKS: list[CheckFunction] = [status_code_conformance, content_type_conformance]


# An explicit config: no schemathesis.toml found on the way up may change the run. Schema-valid
# data may still be refused by a rule the schema cannot state: a stale If-Match (412), or a cursor,
# code or merge that is not the caller's, fields that do not fit together, or a number written
# as 2.0 where the API takes only JSON integers (422).
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "412", "422", "429"]
            }
        }
    }
)


@dataclass(frozen=True)
class Caller:
    name: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Seeded:
    """What exists before fuzzing starts, with the ids a generator would never guess."""

    callers: list[Caller]
    known: dict[str, list[Any]]


async def _add_shirt(
    client: httpx.AsyncClient, headers: dict[str, str], variant: str
) -> httpx.Response:
    response = await client.post(
        "/v1/cart/items",
        json={"product_id": "shirt", "variant_id": variant, "quantity": 1},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response


async def _place_order(client: httpx.AsyncClient, headers: dict[str, str], variant: str) -> str:
    await _add_shirt(client, headers, variant)
    started = await client.post("/v1/cart/checkout", json={}, headers=headers)
    assert started.status_code == 201, started.text
    placed = await client.post("/v1/cart/checkout/complete", json={}, headers=headers)
    assert placed.status_code == 201, placed.text
    order_id: str = placed.json()["id"]
    return order_id


async def seed(client: httpx.AsyncClient, settings: Settings) -> Seeded:
    await shirt(client, settings)
    hat = make_product(make_variant("retired-hat-v"), name="Retired Hat", status="inactive")
    await put_product(client, settings, "retired-hat", hat)
    guest = await _add_shirt(client, {}, "shirt-red-m")
    merging_guest = await _add_shirt(client, {}, "shirt-blue-l")
    customer = bearer(settings, "member-1")
    order_id = await _place_order(client, customer, "shirt-blue-m")
    member = await _add_shirt(client, customer, "shirt-red-l")
    callers = [
        Caller("anonymous", {}),
        Caller("guest", {"X-Cart-Token": guest.headers["X-Cart-Token"]}),
        Caller("customer", customer),
        Caller(
            "customer+guest", {**customer, "X-Cart-Token": merging_guest.headers["X-Cart-Token"]}
        ),
        Caller("seller", bearer(settings, "seller-user-1", "seller", seller_id="seller-1")),
        Caller("admin", bearer(settings, "admin-1", "admin")),
    ]
    known = {
        "item_id": [r.json()["items"][0]["id"] for r in (guest, merging_guest, member)],
        "order_id": [order_id],
        "variant": [
            {"product_id": "shirt", "variant_id": "shirt-red-m", "options": RED_M},
            {"product_id": "shirt", "variant_id": "shirt-blue-l", "options": BLUE_L},
            {"product_id": "retired-hat", "variant_id": "retired-hat-v", "options": {}},
        ],
        "quantity": [0, 1, 2, 11],
    }
    return Seeded(callers, known)


def _aim(case: schemathesis.Case, known: dict[str, Any]) -> schemathesis.Case:
    """Point a generated case at seeded records and drop its (almost always stale) If-Match."""
    variant = known["variant"]
    ids = {"item_id": known["item_id"], "order_id": known["order_id"], **variant}
    if names := case.path_parameters.keys() & ids.keys():
        case.path_parameters = {**case.path_parameters, **{name: ids[name] for name in names}}
    if isinstance(case.body, dict):
        body = dict(case.body)
        if "product_id" in body:
            body["variant_id"] = variant["variant_id"]
        for name in ("product_id", "variant_id", "options"):
            if name in body:
                body[name] = variant[name]
        if "quantity" in body:
            body["quantity"] = known["quantity"]
        case.body = body
    case.headers = CaseInsensitiveDict(
        {name: value for name, value in case.headers.items() if name.lower() != "if-match"}
    )
    return case


def _strategy(
    operation: schemathesis.APIOperation, mode: GenerationMode, seeded: Seeded
) -> st.SearchStrategy[schemathesis.Case]:
    """Cases from the schema alone and, with positive data, the same aimed at seeded records."""
    generated = operation.as_strategy(generation_mode=mode)
    aimable = len(operation.path_parameters) + len(operation.headers) + len(operation.body)
    if mode is not GenerationMode.POSITIVE or not aimable:
        return generated
    known = st.fixed_dictionaries({n: st.sampled_from(v) for n, v in seeded.known.items()})
    return st.one_of(generated, st.tuples(generated, known).map(lambda pair: _aim(*pair)))


class ServerLog(logging.Handler):
    """The tracebacks the app logs while it answers one request."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.tracebacks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            error = traceback.TracebackException(*record.exc_info)
            self.tracebacks.append("".join(_our_frames(error).format()).rstrip())


def _our_frames(error: traceback.TracebackException) -> traceback.TracebackException:
    """Keep our own frames and the innermost few: the framework's middleware stack says nothing."""
    for chained in (error, error.__cause__, error.__context__):
        if chained is not None and chained is not error:
            _our_frames(chained)
    frames = list(error.stack)
    kept = [
        frame
        for index, frame in enumerate(frames)
        if "site-packages" not in frame.filename or index >= len(frames) - INNERMOST_FRAMES
    ]
    error.stack = traceback.StackSummary.from_list(kept)
    return error


def _wire_headers(prepared: requests.PreparedRequest) -> list[tuple[bytes, bytes]]:
    """Header octets as ``requests`` writes them (latin-1); httpx would refuse non-ASCII text."""

    def octets(value: str | bytes) -> bytes:
        return value if isinstance(value, bytes) else value.encode("latin-1")

    return [(octets(name), octets(value)) for name, value in prepared.headers.items()]


@dataclass
class Fuzzer:
    """Sends Schemathesis cases from a worker thread to the app on the test's event loop."""

    client: httpx.AsyncClient
    loop: asyncio.AbstractEventLoop
    server_log: ServerLog
    checks: Sequence[CheckFunction]
    stop_at_first_failure: bool = False
    callers: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    # Callers who got a 2xx to some write: proof the fuzzing went past the 401s and 404s.
    writers: set[str] = field(default_factory=set)

    def exchange(self, case: schemathesis.Case, caller: Caller) -> None:
        kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=caller.headers)
        prepared = requests.Request(**kwargs).prepare()
        body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
        self.server_log.tracebacks.clear()
        sent = self.client.request(
            str(prepared.method), str(prepared.url), headers=_wire_headers(prepared), content=body
        )
        future = asyncio.run_coroutine_threadsafe(sent, self.loop)
        response = future.result(REQUEST_TIMEOUT_SECONDS)
        if response.is_success and case.method.upper() != "GET":
            self.writers.add(caller.name)
        try:
            case.validate_response(response, checks=list(self.checks))
        except (Exception, BaseExceptionGroup) as exc:
            exc.add_note(f"Caller: {caller.name} (headers {sorted(caller.headers)})")
            exc.add_note(f"Request: {prepared.method} {prepared.url}\nBody: {body!r}")
            for server_traceback in self.server_log.tracebacks:
                exc.add_note(f"Server-side traceback:\n{server_traceback}")
            raise

    def run(
        self,
        operation: schemathesis.APIOperation,
        mode: GenerationMode,
        caller: Caller,
        seeded: Seeded,
    ) -> str | None:
        """None when every example passed, else the shrunk failure with its reproduction."""
        phases = [Phase.explicit, Phase.generate]
        if not self.stop_at_first_failure:
            phases.append(Phase.shrink)

        @hypothesis.settings(
            max_examples=EXAMPLES[mode],
            derandomize=True,
            database=None,
            deadline=None,
            phases=phases,
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )
        @hypothesis.given(case=_strategy(operation, mode, seeded))
        def fuzz(case: schemathesis.Case) -> None:
            self.exchange(case, caller)

        try:
            fuzz()
        except hypothesis.errors.Unsatisfiable:
            return None
        # Schemathesis' FailureGroup is a BaseExceptionGroup, not an Exception.
        except (Exception, BaseExceptionGroup) as exc:
            return _describe(f"{operation.label} as {caller.name} ({mode.value} data)", exc)
        return None

    def run_all(self, schema: schemathesis.BaseSchema, seeded: Seeded) -> None:
        self.callers = [caller.name for caller in seeded.callers]
        operations = sorted((r.ok() for r in schema.get_all_operations()), key=_stage)
        for operation in operations:
            for caller in seeded.callers:
                for mode in EXAMPLES:
                    if (failure := self.run(operation, mode, caller, seeded)) is not None:
                        self.failures.append(failure)
                        if self.stop_at_first_failure:
                            return


# The cart operations in an order that lets each find what the one before left: lines to change,
# then a checkout to read and complete, and emptying the carts last.
CART_FLOW = [
    "POST /v1/cart",
    "POST /v1/cart/items",
    "PATCH /v1/cart/items/{item_id}",
    "POST /v1/cart/merge",
    "DELETE /v1/cart/items/{item_id}",
    "POST /v1/cart/checkout",
    "GET /v1/cart/checkout",
    "POST /v1/cart/checkout/complete",
    "DELETE /v1/cart/checkout",
    "DELETE /v1/cart/items",
]


def _stage(operation: schemathesis.APIOperation) -> tuple[int, int, str]:
    """Reads first, then the cart flow, then other writes, which rewrite the seeded catalog."""
    if operation.label in CART_FLOW:
        return (1, CART_FLOW.index(operation.label), "")
    return (0 if operation.method == "get" else 2, 0, operation.label)


def _describe(title: str, exc: BaseException) -> str:
    def lines(error: BaseException) -> list[str]:
        summary = f"{type(error).__name__}: {error}".rstrip()
        # Hypothesis replays the failing example, so the same notes may be added twice.
        notes = dict.fromkeys(note.strip() for note in getattr(error, "__notes__", []))
        return [summary, *notes]

    found = [f"=== {title}", *lines(exc)]
    # Hypothesis groups distinct bugs; Schemathesis' own group already names its failures.
    if type(exc) in (ExceptionGroup, BaseExceptionGroup):
        for inner in exc.exceptions:
            found.extend(lines(inner))
    return "\n".join(found)


async def fuzz_app(
    app: FastAPI,
    settings: Settings,
    checks: Sequence[CheckFunction],
    *,
    stop_at_first_failure: bool = False,
) -> Fuzzer:
    """Seed the catalog and carts, then fuzz every operation of /openapi.json as every caller."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        served = await client.get("/openapi.json")
        assert served.status_code == 200, served.text
        schema = schemathesis.openapi.from_dict(served.json(), config=CONFIG)
        seeded = await seed(client, settings)
        server_log = ServerLog()
        app_log = logging.getLogger("aimall_cart")
        app_log.addHandler(server_log)
        try:
            fuzzer = Fuzzer(
                client, asyncio.get_running_loop(), server_log, checks, stop_at_first_failure
            )
            await asyncio.to_thread(fuzzer.run_all, schema, seeded)
        finally:
            app_log.removeHandler(server_log)
    return fuzzer


async def test_no_operation_answers_a_server_error_to_any_caller(
    app: FastAPI, settings: Settings
) -> None:
    fuzzer = await fuzz_app(app, settings, SERVER_CHECKS)
    failures = fuzzer.failures
    assert not failures, f"{len(failures)} failing runs:\n\n" + "\n\n".join(failures)
    assert fuzzer.writers == set(fuzzer.callers), "some callers never got past the errors"


async def test_openapi_documents_every_status_and_media_type_the_app_answers(
    app: FastAPI, settings: Settings
) -> None:
    fuzzer = await fuzz_app(app, settings, DOCUMENTATION_CHECKS, stop_at_first_failure=True)
    assert not fuzzer.failures, "\n\n".join(fuzzer.failures)


async def test_every_schemathesis_check_holds(app: FastAPI, settings: Settings) -> None:
    """Every check Schemathesis has (conformance of statuses, media types, headers and bodies,
    rejection of invalid and acceptance of valid data, missing headers, unsupported methods,
    ignored auth, use after free, object-level authorization), on every operation and caller."""
    fuzzer = await fuzz_app(app, settings, CHECKS.get_all())
    failures = fuzzer.failures
    assert not failures, f"{len(failures)} failing runs:\n\n" + "\n\n".join(failures)
