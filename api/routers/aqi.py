"""Thai AQI (PCD method) computed from concentrations given in the query."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.problems import invalid_input, problem_responses
from citydata.aqi import AVERAGING_HOURS, UNITS, AqiResult, calculate

router = APIRouter(prefix="/aqi", tags=["aqi"])

AQI_EXAMPLE: dict[str, Any] = calculate({"pm25": 40.0, "pm10": 60.0}).model_dump(mode="json")


def _concentration(pollutant: str) -> Any:
    return Query(
        ge=0,
        allow_inf_nan=False,
        description=f"{pollutant} in {UNITS[pollutant]}, {AVERAGING_HOURS[pollutant]} h average",
    )


@router.get(
    "/calculate",
    response_model=AqiResult,
    responses={
        200: {"content": {"application/json": {"example": AQI_EXAMPLE}}},
        **problem_responses(422),
    },
)
def calculate_aqi(
    pm25: Annotated[float | None, _concentration("pm25")] = None,
    pm10: Annotated[float | None, _concentration("pm10")] = None,
    o3: Annotated[float | None, _concentration("o3")] = None,
    co: Annotated[float | None, _concentration("co")] = None,
    no2: Annotated[float | None, _concentration("no2")] = None,
    so2: Annotated[float | None, _concentration("so2")] = None,
    at: Annotated[
        datetime | None,
        Query(
            description="when the averages end (naive means Thai time); "
            "PM2.5 before June 2023 uses the old row"
        ),
    ] = None,
) -> AqiResult:
    """The overall AQI, its level, colour, names and advice, and every sub-index."""
    values = {"pm25": pm25, "pm10": pm10, "o3": o3, "co": co, "no2": no2, "so2": so2}
    if all(v is None for v in values.values()):
        invalid_input(
            ("query",), "at least one pollutant is required: " + ", ".join(values), "missing"
        )
    try:
        return calculate(values, at)
    except ValueError as exc:
        invalid_input(("query",), str(exc))
