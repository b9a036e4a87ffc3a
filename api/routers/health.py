"""Liveness and readiness: is the process up, and can it reach what it serves from."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict

from api.deps import InfluxDep, RegistryDep
from api.problems import problem_responses
from api.publisher import PublisherDep
from citydata.registry import RegistryError

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """The process is up."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    """Every dependency checked answered."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"status": "ready", "checks": {"influxdb": "ok", "registry": "ok", "mqtt": "ok"}}
            ]
        }
    )

    status: Literal["ready"] = "ready"
    checks: dict[str, Literal["ok"]]


@router.get("/health", response_model=Health)
def health() -> Health:
    """The process is up (it checks nothing else)."""
    return Health()


@router.get("/ready", response_model=Ready, responses=problem_responses(503))
def ready(influx: InfluxDep, registry: RegistryDep, publisher: PublisherDep) -> Ready:
    """200 when InfluxDB answers /ping, the registry answers a snapshot and the API is connected
    to the MQTT broker (HTTP ingestion publishes there); else a 503 problem naming what is not
    reachable (`influxdb`, `registry`, `mqtt`)."""
    down = [] if influx.ping() else ["influxdb"]
    try:
        registry.snapshot()
    except RegistryError:
        down.append("registry")
    if not publisher.connected:
        down.append("mqtt")
    if down:
        raise HTTPException(503, detail=f"not reachable: {', '.join(down)}")
    return Ready(checks={"influxdb": "ok", "registry": "ok", "mqtt": "ok"})
