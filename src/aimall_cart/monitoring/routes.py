"""HTTP for operators: the health report, the Prometheus scrape and the dashboard page."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from aimall_cart import __version__, metrics
from aimall_cart.auth import CurrentPrincipal
from aimall_cart.clock import Now
from aimall_cart.config import Settings
from aimall_cart.db import Database
from aimall_cart.monitoring import gauges, service
from aimall_cart.monitoring.schemas import HealthOut

router = APIRouter(tags=["operations"])

_pages = Environment(
    loader=PackageLoader("aimall_cart.monitoring", "templates"),
    autoescape=select_autoescape(["html"]),
)
# The dashboard loads its script, styles and chart library from this service and nothing else.
DASHBOARD_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


@router.get(
    "/v1/admin/health",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "The database does not answer"}},
)
async def read_health(request: Request, principal: CurrentPrincipal, now: Now) -> Response:
    """Measured now. ``503`` with the same body when the database does not answer."""
    principal.require("admin")
    database: Database = request.app.state.database
    settings: Settings = request.app.state.settings
    found = await service.report(database, settings, now=now)
    return Response(
        found.model_dump_json(),
        status_code=503 if found.status == "failing" else 200,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def read_metrics(request: Request, now: Now) -> Response:
    """Prometheus text: the counts of every process of this ``serve``, and the figures read
    from the database for this scrape."""
    settings: Settings = request.app.state.settings
    measured = await gauges.measure(request.app.state.database, now=now)
    body = metrics.exposition(settings.metrics_dir, extra=[measured])
    return Response(body, media_type=metrics.CONTENT_TYPE)


@router.get("/admin", response_class=HTMLResponse, include_in_schema=False)
async def dashboard() -> HTMLResponse:
    """The page only: it holds no figures, and fetches them with the token the admin gives."""
    page = _pages.get_template("dashboard.html").render(version=__version__)
    return HTMLResponse(
        page,
        headers={"Content-Security-Policy": DASHBOARD_POLICY, "Cache-Control": "no-cache"},
    )
