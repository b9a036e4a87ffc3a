"""Errors answered as RFC 9457 problem details (`application/problem+json`), never tracebacks."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any, NoReturn

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

from citydata.errors import QueryError
from citydata.influx import InfluxError, InfluxQueryError
from citydata.registry import SensorExists, SensorNotFound

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


def invalid_input(loc: tuple[str, ...], msg: str, kind: str = "value_error") -> NoReturn:
    """Refuse a request input that passed type checks but not the route's own: the same 422
    problem, listing it with its location, as FastAPI's validation gives."""
    raise RequestValidationError([{"loc": loc, "msg": msg, "type": kind}])


class FieldProblem(BaseModel):
    """One invalid input: where it is, what is wrong, the pydantic error type."""

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem; `errors` lists every invalid input of a 422."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "/problems/sensor-not-found",
                    "title": "Sensor not found",
                    "status": 404,
                    "detail": "sensor 'lp-air-99' not found",
                    "instance": "/sensors/lp-air-99",
                }
            ]
        }
    )

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str
    errors: list[FieldProblem] | None = Field(default=None)


def problem_response(
    request: Request, status: int, detail: str, *, type: str = "about:blank", **extra: Any
) -> JSONResponse:
    """A problem+json response for this request."""
    body = {
        "type": type,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    return JSONResponse(jsonable_encoder(body), status_code=status, media_type=PROBLEM_JSON)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries saying these statuses answer with a Problem."""
    return {
        s: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": HTTPStatus(s).phrase}
        for s in statuses
    }


def _field_problem(err: Any) -> dict[str, Any]:
    # pydantic prefixes a validator's own message with "Value error, ": the reader needs only
    # the message.
    msg = str(err.get("msg", "")).removeprefix("Value error, ")
    return {"loc": list(err.get("loc", ())), "msg": msg, "type": err["type"]}


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [_field_problem(err) for err in exc.errors()]
    detail = (
        "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
        or "invalid request"
    )
    return problem_response(request, 422, detail, type="/problems/validation-error", errors=errors)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = dict(exc.headers or {})
    if exc.status_code == 405 and (methods := allowed_methods(request.app, request.url.path)):
        detail = f"{request.method} is not allowed here; allowed: {', '.join(methods)}"
        headers["Allow"] = ", ".join(methods)
    response = problem_response(request, exc.status_code, detail)
    response.headers.update(headers)
    return response


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method the schema documents for `path`. Starlette's own 405 names only the methods
    of the first route matching the path, though several routes may share it (GET and POST)."""
    table: list[tuple[re.Pattern[str], list[str]]] | None = getattr(app.state, "_allow", None)
    if table is None:
        table = [
            (compile_path(template)[0], sorted(m.upper() for m in operations))
            for template, operations in app.openapi().get("paths", {}).items()
        ]
        app.state._allow = table
    for pattern, methods in table:
        if pattern.match(path):
            return methods
    return []


async def _query(request: Request, exc: Exception) -> JSONResponse:
    """A query citydata cannot answer as asked: the 422 of an invalid input, located at the
    path or query parameter the error names (the query as a whole when it names none)."""
    assert isinstance(exc, QueryError)
    if exc.field is None:
        loc: tuple[str, ...] = ("query",)
    else:
        loc = ("path" if exc.field in request.path_params else "query", exc.field)
    errors = [{"loc": loc, "msg": str(exc), "type": "value_error"}]
    return await _validation(request, RequestValidationError(errors))


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(request, 404, str(exc), type="/problems/sensor-not-found")


async def _exists(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(request, 409, str(exc), type="/problems/sensor-exists")


async def _unreachable(request: Request, exc: Exception) -> JSONResponse:
    """InfluxDB could not be reached (down, refusing, timing out): a 503 that says so, not a
    500. A query it refused (InfluxQueryError) is a fault of ours: a 500, logged."""
    if isinstance(exc, InfluxQueryError):
        return await _unexpected(request, exc)
    log.warning("%s %s: %s", request.method, request.url.path, exc)
    response = problem_response(
        request,
        503,
        "the readings database (InfluxDB) cannot be reached now; try again shortly",
        type="/problems/influxdb-unreachable",
    )
    response.headers["Retry-After"] = "30"
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        request, 500, "an unexpected error occurred; it has been logged", type="about:blank"
    )


def install(app: FastAPI) -> None:
    """Answer every error of `app` as a problem."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(QueryError, _query)
    app.add_exception_handler(SensorNotFound, _not_found)
    app.add_exception_handler(SensorExists, _exists)
    app.add_exception_handler(InfluxError, _unreachable)
    app.add_exception_handler(Exception, _unexpected)
