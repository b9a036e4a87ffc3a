"""The app factory: `create_app(settings)` wires the routers, problems and shared clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import problems
from api.routers import aqi, health, readings, sensors
from citydata.influx import InfluxClient
from citydata.registry import Registry
from citydata.settings import Settings


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
    for router in (health.router, sensors.router, readings.router, aqi.router):
        app.include_router(router)
    return app
