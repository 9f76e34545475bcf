"""Every route and dependency of both services is a coroutine: FastAPI runs a plain ``def`` one in its
thread pool, a thread hop (and GIL hand-over) per dependency per request, for work that only reads
``app.state``."""

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from ingest_gateway.main import create_app as create_gateway
from query_api.main import create_app as create_query


def _calls(dependant: Any) -> Iterator[Any]:
    if dependant.call is not None:
        yield dependant.call
    for child in dependant.dependencies:
        yield from _calls(child)


def _routes(app: FastAPI) -> Iterator[Any]:
    """Every API route with its effective dependencies (an included router's own ones too)."""
    for route in app.routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "effective_route_contexts"):  # FastAPI >= 0.165 keeps included routers whole
            yield from route.effective_route_contexts()


@pytest.mark.parametrize("make_app", [create_gateway, create_query], ids=["gateway", "query"])
def test_no_route_or_dependency_runs_in_the_thread_pool(make_app: Any) -> None:
    app: FastAPI = make_app()
    routes = list(_routes(app))
    assert len(routes) > 5
    sync = {
        f"{route.path}: {call.__module__}.{call.__qualname__}"
        for route in routes
        for call in _calls(route.dependant)
        # an async generator (a streamed answer) runs on the event loop too
        if not (
            inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call) or inspect.isclass(call)
        )
    }
    assert sync == set()
