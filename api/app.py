"""The app factory: `create_app(settings)` wires the routers, problems, shared clients and the
hardening (security headers, body size limit, failed-authentication limit: api/hardening.py,
api/failures.py).

Every module in api/routers that defines `router` is included: a new resource is one module.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

import api.routers
from api import problems
from api.auth import require_read
from api.deps import single_values
from api.failures import AuthFailures
from api.hardening import BodyLimit, SecurityHeaders
from api.publisher import Publisher
from api.routers.city import Pages
from api.snapshot import Snapshot
from citydata.influx import InfluxClient
from citydata.readings.latest import LatestCache
from citydata.registry import Registry
from citydata.settings import Settings
from citydata.stations.city import city_view


def routers() -> list[APIRouter]:
    """The `router` of every module in api/routers, in module-name order."""
    found = []
    for info in sorted(pkgutil.iter_modules(api.routers.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"api.routers.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            found.append(router)
    return found


def create_app(settings: Settings) -> FastAPI:
    """A new API application; its registry, InfluxDB and MQTT clients live as long as its
    lifespan."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        registry = Registry.from_settings(settings)
        influx = InfluxClient.from_settings(settings)
        publisher = Publisher(settings)
        publisher.start()  # in the background: the API starts while the broker is down
        app.state.registry, app.state.influx = registry, influx
        app.state.publisher = publisher
        app.state.build_city = partial(
            city_view, influx, registry, above_200=settings.aqi_above_200
        )
        snapshot = None
        if settings.api_snapshot_s > 0:
            snapshot = Snapshot(app.state.build_city, settings.api_snapshot_s)
            snapshot.on_refresh(app.state.pages.for_snap)  # rendered once, by its thread
            snapshot.start()
        app.state.snapshot = snapshot
        try:
            yield
        finally:
            if snapshot is not None:
                snapshot.close()
            publisher.close()
            influx.close()
            registry.close()

    app = FastAPI(
        title="citydata API",
        summary="Sensors, readings and Thai indices of the city data platform.",
        version="0.1.0",
        lifespan=lifespan,
        dependencies=[Depends(single_values)],
    )
    app.state.settings = settings
    app.state.latest_cache = LatestCache(settings.api_latest_cache_s)
    app.state.snapshot = None
    app.state.pages = Pages(settings)
    app.state.auth_failures = AuthFailures(settings.api_auth_failures_per_minute)
    problems.install(app)
    if settings.api_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api_cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
            expose_headers=["Content-Disposition"],
            max_age=3600,
        )
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders, settings=settings)  # outermost: on every answer
    included = routers()
    for router in included:
        app.include_router(router)
    _document_access(app, included, anonymous_read=settings.api_anonymous_read)
    return app


def _uses(dependant: Dependant, call: object) -> bool:
    return any(d.call is call or _uses(d, call) for d in dependant.dependencies)


def _document_access(app: FastAPI, included: list[APIRouter], *, anonymous_read: bool) -> None:
    """Complete the OpenAPI schema with what the access dependencies do: routes that take a key
    answer 401, 403 and (too many failed keys from one address) 429 problems, and reading
    routes' keys are optional (an empty security requirement) when anonymous reading is on."""
    generate = app.openapi
    answers = problems.problem_responses(401, 403, 429)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for route in (r for router in included for r in router.routes):
                if not isinstance(route, APIRoute) or not route.include_in_schema:
                    continue
                for method in route.methods or ():
                    operation = schema["paths"][route.path_format][method.lower()]
                    if not operation.get("security"):
                        continue
                    for status in (401, 403, 429):
                        operation["responses"].setdefault(
                            str(status),
                            {
                                "description": answers[status]["description"],
                                "content": {
                                    problems.PROBLEM_JSON: {
                                        "schema": {"$ref": "#/components/schemas/Problem"}
                                    }
                                },
                            },
                        )
                    if anonymous_read and _uses(route.dependant, require_read):
                        operation["security"].append({})
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]
