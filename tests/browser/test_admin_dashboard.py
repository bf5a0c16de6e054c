"""The admin dashboard in a real browser: a served page, signed in with an admin token, whose
charts drew and whose numbers are the API's.

Needs Chromium (Debian's `chromium`); without it the test skips, except in CI, where it fails.
`AIMALL_CART_DASHBOARD_SCREENSHOT=docs/admin-dashboard.png` also saves the screenshot there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright

from aimall_cart.config import Settings
from tests.builders import bearer, make_product, make_variant, token
from tests.databases import IN_CI
from tests.ports import free_port

CHARTS = ("funnel-chart", "series-chart", "recovery-chart", "reasons-chart")
ANALYTICS_LAG_SECONDS = 2  # the least the setting allows
ORDERS = 4  # one, two and one on the three days of the history


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        reason = "Chromium is not installed (apt-get install chromium)"
        if IN_CI:
            pytest.fail(f"CI runs the browser test: {reason}")
        pytest.skip(reason)
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server for the module: the customer is turned away before any history matters."""
    tmp_path = tmp_path_factory.mktemp("dashboard")
    port = free_port()
    env = {
        **os.environ,
        "AIMALL_CART_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/dashboard.db",
        "AIMALL_CART_ENV": "test",
        "AIMALL_CART_TEST_CLOCK": "true",
        "AIMALL_CART_ANALYTICS_LAG_SECONDS": str(ANALYTICS_LAG_SECONDS),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "aimall_cart", "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"serve exited: {process.stderr.read()!r}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the server did not come up")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _history(api: httpx.Client, admin: dict[str, str], settings: Settings) -> None:
    """Three days of shoppers: each day four fill carts, one or two check out, and the rest
    leave theirs until they count as abandoned."""
    for product_id, price in (("lamp", 4500), ("kettle", 2900), ("rug", 12900)):
        body = make_product(
            make_variant(f"{product_id}-1", price=price, stock=500), name=product_id
        )
        assert api.put(f"/v1/catalog/products/{product_id}", json=body, headers=admin).is_success
    for day in range(3):
        members = [bearer(settings, f"shopper-{day}-{n}") for n in range(4 + day)]
        for n, member in enumerate(members):
            for product_id in ("lamp", "kettle", "rug")[: 1 + (n + day) % 3]:
                line = {"product_id": product_id, "variant_id": f"{product_id}-1", "quantity": 1}
                assert api.post("/v1/cart/items", json=line, headers=member).is_success
        for member in members[: 1 + day % 2]:
            assert api.post("/v1/cart/checkout", headers=member).status_code == 201
            assert api.post("/v1/cart/checkout/complete", headers=member).status_code == 201
        later = {"seconds": 24 * 3600}
        assert api.post("/v1/admin/clock/advance", json=later, headers=admin).is_success
        assert api.post("/v1/admin/recovery/run", headers=admin).is_success
    assert api.post("/v1/admin/analytics/refresh", headers=admin).is_success


def _figures(answer: httpx.Response) -> dict[str, Any]:
    """The analytics without ``as_of``, which moves on each roll-up even when nothing changed."""
    assert answer.status_code == 200, answer.text
    return {name: value for name, value in answer.json().items() if name != "as_of"}


def _settled_analytics(api: httpx.Client, admin: dict[str, str]) -> dict[str, Any]:
    """The admin analytics once the roll-ups have caught up with the history."""
    previous: dict[str, Any] | None = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = _figures(api.get("/v1/admin/analytics", headers=admin))
        if found == previous and found["funnel"]["orders"] == ORDERS:
            return found
        previous = found
        time.sleep(ANALYTICS_LAG_SECONDS)
    raise TimeoutError(f"analytics did not settle: {previous}")


def _dig(document: Any, path: str) -> Any:
    for key in path.split("."):
        document = document[key]
    return document


def _formatted(value: Any, kind: str, currency_symbol: str = "$") -> str:
    if value is None:
        return "\u2013"  # an en dash, as the page shows a missing figure
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "signed-rate":
        return f"{'+' if value >= 0 else ''}{value * 100:.1f}%"
    if kind == "money":
        return f"{currency_symbol}{value / 100:,.2f}"
    return f"{value:,}"


def _assert_figures_match(page: Page, analytics: dict[str, Any]) -> int:
    figures = page.eval_on_selector_all(
        "[data-figure]",
        "nodes => nodes.map(n => [n.dataset.figure, n.dataset.format || 'count',"
        " JSON.parse(n.dataset.value), n.textContent])",
    )
    for path, kind, shown_value, text in figures:
        expected = _dig(analytics, path)
        assert shown_value == expected, path
        assert text == _formatted(expected, kind), path
    return len(figures)


def _assert_charts_drew(page: Page, analytics: dict[str, Any]) -> None:
    for chart_id in CHARTS:
        painted = page.evaluate(
            """id => { const canvas = document.getElementById(id);
                const pixels = canvas.getContext('2d')
                    .getImageData(0, 0, canvas.width, canvas.height).data;
                let inked = 0;
                for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
                return inked; }""",
            chart_id,
        )
        assert painted > 500, f"{chart_id} is blank"
    funnel = page.evaluate("Chart.getChart('funnel-chart').data.datasets[0].data")
    steps = analytics["funnel"]
    assert funnel == [
        steps["carts_created"],
        steps["carts_with_items"],
        steps["checkouts_started"],
        steps["orders"],
    ]
    days = page.evaluate("Chart.getChart('series-chart').data.labels")
    assert days == [day["date"] for day in analytics["series"]]
    abandoned = page.evaluate("Chart.getChart('series-chart').data.datasets[1].data")
    assert abandoned == [day["abandoned_carts"] for day in analytics["series"]]


def test_an_admin_sees_the_apis_figures_drawn(server: str, tmp_path: Path) -> None:
    chromium = _chromium()
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    admin = {"Authorization": f"Bearer {token(settings, 'admin-1', 'admin')}"}
    with httpx.Client(base_url=server, timeout=30) as api:
        _history(api, admin, settings)
        _settled_analytics(api, admin)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(f"{server}/admin")
            page.fill("#token", admin["Authorization"].removeprefix("Bearer "))
            with page.expect_response(lambda r: "/v1/admin/analytics" in r.url) as seen:
                page.click("#sign-in-form button[type=submit]")
            shown: dict[str, Any] = seen.value.json()
            page.wait_for_selector("body[data-loaded=true]", state="attached", timeout=20_000)
            shown_figures = {name: value for name, value in shown.items() if name != "as_of"}
            assert _figures(api.get(seen.value.url, headers=admin)) == shown_figures

            assert _assert_figures_match(page, shown) == 11  # every tile and the lift
            _assert_charts_drew(page, shown)
            products = page.eval_on_selector_all(
                "#products tbody tr", "rows => rows.map(r => r.dataset.product)"
            )
            assert products == [p["product_id"] for p in shown["most_abandoned_products"]]
            sellers = page.eval_on_selector_all(
                "#sellers tbody tr",
                "rows => rows.map(r => [...r.cells].map(c => c.textContent))",
            )
            assert sellers == [
                [
                    s["seller_id"],
                    _formatted(s["carts"], "count"),
                    _formatted(s["converted_carts"], "count"),
                    _formatted(s["abandoned_carts"], "count"),
                    _formatted(s["recovered_carts"], "count"),
                    _formatted(s["abandonment_rate"], "rate"),
                    _formatted(s["value_in_open_carts"], "money"),
                ]
                for s in shown["sellers"]
            ]
            health = api.get("/v1/admin/health", headers=admin).json()
            assert page.inner_text("#health-status") == health["status"] == "ok"
            assert page.inner_text("#lift-interval")

            shot = tmp_path / "admin-dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 20_000
            if target := os.environ.get("AIMALL_CART_DASHBOARD_SCREENSHOT"):
                shutil.copy(shot, target)
            assert problems == []
            browser.close()


def test_a_customer_token_is_turned_away(server: str) -> None:
    chromium = _chromium()
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{server}/admin")
        page.fill("#token", token(settings, "shopper-1"))
        page.click("#sign-in-form button[type=submit]")
        page.wait_for_selector("#sign-in-error:not([hidden])")
        assert "not an admin" in page.inner_text("#sign-in-error")
        assert page.is_hidden("#board")
        browser.close()
