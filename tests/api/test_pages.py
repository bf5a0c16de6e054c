"""The pages the service serves itself load nothing from another host."""

from __future__ import annotations

import re

import httpx

_LINKED = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


def _outside(html: str) -> list[str]:
    return [url for url in _LINKED.findall(html) if re.match(r"^(https?:)?//", url)]


async def test_swagger_ui_is_served_from_the_package(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert _outside(page.text) == []
    assets = [url for url in _LINKED.findall(page.text) if url.startswith("/static/")]
    assert len(assets) == 3  # the script, the styles and the icon
    for url in assets:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 500, url
    assert "validatorUrl" in page.text  # the online validator badge is off
    assert (await client.get("/redoc")).status_code == 404


async def test_the_dashboard_page_loads_only_its_own_assets(client: httpx.AsyncClient) -> None:
    page = await client.get("/admin")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert _outside(page.text) == []
    scripts = re.findall(r'<script src="([^"]+)"', page.text)
    assert {url.split("?")[0] for url in scripts} == {
        "/static/vendor/chartjs/chart.umd.min.js",
        "/static/admin/dashboard.js",
    }
    for url in [*scripts, *re.findall(r'<link rel="stylesheet" href="([^"]+)"', page.text)]:
        assert (await client.get(url)).status_code == 200, url
    assert "<script>" not in page.text  # the policy allows no inline script
