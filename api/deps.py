"""Request dependencies (settings, registry, InfluxDB client, latest cache) as short aliases."""

from __future__ import annotations

from collections import Counter
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import AfterValidator, WithJsonSchema

from citydata.alerts.store import AlertStore
from citydata.influx import InfluxClient
from citydata.kinds import all_kinds
from citydata.readings.latest import LatestCache
from citydata.registry import Registry
from citydata.settings import Settings


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


async def get_influx(request: Request) -> InfluxClient:
    influx: InfluxClient = request.app.state.influx
    return influx


async def get_latest_cache(request: Request) -> LatestCache:
    cache: LatestCache = request.app.state.latest_cache
    return cache


async def get_alert_store(request: Request) -> AlertStore:
    """The alerts' tables, in the registry database."""
    return AlertStore(await get_registry(request))


SettingsDep = Annotated[Settings, Depends(get_settings)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
InfluxDep = Annotated[InfluxClient, Depends(get_influx)]
LatestCacheDep = Annotated[LatestCache, Depends(get_latest_cache)]
AlertStoreDep = Annotated[AlertStore, Depends(get_alert_store)]


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


def _is_sequence(annotation: Any) -> bool:
    if get_origin(annotation) in (list, tuple, set, frozenset):
        return True
    return any(
        _is_sequence(arg) for arg in get_args(annotation) if get_origin(annotation) in _UNIONS
    )


_UNIONS = (Union, UnionType)


def _single_query_params(route: APIRoute) -> frozenset[str]:
    """The query parameters of `route` (its dependencies' too) that take one value."""
    single: set[str] = set()
    dependants = [route.dependant]
    while dependants:
        dependant = dependants.pop()
        single.update(
            field.alias
            for field in dependant.query_params
            if not _is_sequence(field.field_info.annotation)
        )
        dependants.extend(dependant.dependencies)
    return frozenset(single)


async def single_values(request: Request) -> None:
    """A query parameter that takes one value, given several times, is a 422 (rather than
    the last one silently winning); the list parameters (`reason`, `sensor_id` of the dead
    letters) may repeat. Applied to every route by the app."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    single = _single_query_params(route)
    counts = Counter(key for key, _ in request.query_params.multi_items())
    repeated = sorted(key for key, n in counts.items() if n > 1 and key in single)
    if repeated:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", key),
                    "msg": f"given {counts[key]} times; this parameter takes one value",
                    "type": "repeated",
                }
                for key in repeated
            ]
        )
