"""Who sends a request and when, known before a route reads anything else: for the routes that
serve carts all day.

The same answer as the ``CurrentPrincipal`` and ``Now`` dependencies, without FastAPI resolving
two dependencies on every request: without them a cart read took a fifth less CPU in the
application (benchmarks/README.md). It is found before the body is read, as those dependencies
were, so bad credentials are still refused (401) before a bad body (422).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from aimall_cart.auth import Principal, request_principal
from aimall_cart.clock import request_now


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    now: datetime


class CallerRoute(APIRoute):
    """A route that finds its ``Caller`` first; the endpoint takes it with ``caller_of``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def with_caller(request: Request) -> Response:
            principal = await request_principal(request)
            request.state.caller = Caller(principal, await request_now(request))
            return await handler(request)

        return with_caller


def caller_of(request: Request) -> Caller:
    """The caller a ``CallerRoute`` found for this request."""
    caller: Caller = request.state.caller
    return caller
