"""Request dependencies: the app's settings, registry and InfluxDB client, as short aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from pydantic import AfterValidator, WithJsonSchema

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


def known_kind(name: str) -> str:
    """A kind this installation knows; ValueError (a 422 where it is a request input) else."""
    if name not in all_kinds():
        raise ValueError(f"unknown kind {name!r}; known: {', '.join(all_kinds())}")
    return name


# A kind as a request input: checked, and listed in the schema.
KindName = Annotated[
    str, AfterValidator(known_kind), WithJsonSchema({"type": "string", "enum": sorted(all_kinds())})
]
KindQuery = Annotated[KindName | None, Query(description="only this sensor kind")]
