"""The app factory: `create_app(settings)` wires the routers, problems and shared clients.

Every module in api/routers that defines `router` is included: a new resource is one module.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware

import api.routers
from api import problems
from citydata.influx import InfluxClient
from citydata.registry import Registry
from citydata.settings import Settings


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
    """A new API application; its registry and InfluxDB client live as long as its lifespan."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        registry = Registry.from_settings(settings)
        influx = InfluxClient.from_settings(settings)
        app.state.registry, app.state.influx = registry, influx
        try:
            yield
        finally:
            influx.close()
            registry.close()

    app = FastAPI(
        title="citydata API",
        summary="Sensors, readings and Thai indices of the city data platform.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
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
    for router in routers():
        app.include_router(router)
    return app
