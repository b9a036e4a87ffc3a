"""Request dependencies: the app's settings, registry and InfluxDB client, as short aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from citydata.influx import InfluxClient
from citydata.kinds import all_kinds
from citydata.registry import Registry
from citydata.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


def get_influx(request: Request) -> InfluxClient:
    influx: InfluxClient = request.app.state.influx
    return influx


SettingsDep = Annotated[Settings, Depends(get_settings)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
InfluxDep = Annotated[InfluxClient, Depends(get_influx)]

# A kind filter: the schema lists the kinds this installation knows (the route still checks it).
KindQuery = Annotated[
    str | None,
    Query(
        description="only this sensor kind",
        json_schema_extra={"enum": sorted(all_kinds())},
    ),
]
