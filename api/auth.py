"""Who is asking: API keys with roles, checked on every route that declares an access level.

Routes declare what they need with a parameter: `_: ReadAccess`, `_: OperatorAccess`,
`_: AdminAccess` or `device: DeviceAccess`. A key comes as `X-API-Key: <key>`, as
`Authorization: Bearer <key>`, or (for device firmware that can only do that) as HTTP Basic with
the sensor id as the user name and the key as the password. Without a key, reading is allowed
when CITYDATA_API_ANONYMOUS_READ is true (open data); everything else answers 401. A key whose
role is too low answers 403; an expired key answers 401 saying when it expired.

Every failed authentication (a key missing where one is needed, malformed, unknown, revoked or
expired) is logged with the source address and, when the key has the shape of one, its id, never
its secret. A source with CITYDATA_API_AUTH_FAILURES_PER_MINUTE failures in the last minute is
answered 429 with Retry-After, without its key being looked up (api/failures.py). The source is
the peer address, or the X-Forwarded-For of a proxy in CITYDATA_API_FORWARDED_ALLOW_IPS.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import (
    APIKeyHeader,
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)
from pydantic import BaseModel

from api.deps import RegistryDep, SettingsDep
from api.failures import AuthFailures
from citydata.registry import ApiKey, Role
from citydata.registry.keys import KeyRefused, Refusal

log = logging.getLogger(__name__)

_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An API key from `citydata keys create`."
)
_bearer = HTTPBearer(auto_error=False, description="The same API key as a bearer token.")
_basic = HTTPBasic(
    auto_error=False,
    description="Device firmware: the sensor id as user name, its device key as password.",
)


class Principal(BaseModel):
    """The caller: a key, or anonymous (key None) when anonymous reading is on."""

    key: ApiKey | None = None

    @property
    def name(self) -> str:
        return self.key.name if self.key else "anonymous"


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        401, detail=detail, headers={"WWW-Authenticate": 'Bearer, Basic realm="citydata"'}
    )


def source_of(request: Request) -> str:
    """The caller's address (uvicorn has already taken it from X-Forwarded-For when the peer is
    a trusted proxy)."""
    return request.client.host if request.client else "unknown"


def _failures(request: Request) -> AuthFailures:
    failures: AuthFailures = request.app.state.auth_failures
    return failures


def _refuse_if_blocked(request: Request) -> None:
    """429 for a source that failed too often in the last minute."""
    retry = _failures(request).retry_after(source_of(request))
    if retry is not None:
        raise HTTPException(
            429,
            detail=f"too many failed authentications from this address; try again in {retry} s",
            headers={"Retry-After": str(retry)},
        )


def _failed(request: Request, reason: str, key_id: str | None = None) -> None:
    """Log and count one failed authentication (the key's id only: never its secret)."""
    source = source_of(request)
    count = _failures(request).record(source)
    limit = _failures(request).limit
    log.warning(
        "authentication failed from %s: %s key%s on %s %s (%d of %d allowed per minute)",
        source,
        reason,
        f" {key_id}" if key_id else "",
        request.method,
        request.url.path,
        count,
        limit,
    )


def _refusal(exc: KeyRefused) -> HTTPException:
    if exc.reason is Refusal.expired and exc.expires_at is not None:
        return _unauthorized(
            f"the API key {exc.key_id} expired at {exc.expires_at:%Y-%m-%dT%H:%M:%SZ}; "
            "ask for a new one"
        )
    return _unauthorized("the API key is not valid (malformed, unknown or revoked)")


async def _caller(
    request: Request,
    registry: RegistryDep,
    header: Annotated[str | None, Depends(_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    basic: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
) -> ApiKey | None:
    """The key the request carries (None when it carries none); 401 for a bad one, 429 for a
    source that failed too often."""
    token = (
        header or (bearer.credentials if bearer else None) or (basic.password if basic else None)
    )
    if not token:
        return None
    _refuse_if_blocked(request)
    try:
        key = await run_in_threadpool(registry.verify_key, token)  # a hash check and a read
    except KeyRefused as exc:
        _failed(request, exc.reason.value, exc.key_id)
        raise _refusal(exc) from None
    if (
        basic is not None
        and not header
        and not bearer
        and key.sensor_id not in (None, basic.username)
    ):
        _failed(request, "foreign device", key.id)
        raise _unauthorized(f"this device key does not belong to sensor {basic.username!r}")
    return key


CallerDep = Annotated[ApiKey | None, Depends(_caller)]


def _need(request: Request, role: Role, key: ApiKey | None) -> Principal:
    if key is None:
        _refuse_if_blocked(request)
        _failed(request, "missing")
        raise _unauthorized(f"this needs an API key with the {role} role")
    if not key.allows(role):
        raise HTTPException(
            403, detail=f"this needs the {role} role; key {key.id!r} has {key.role}"
        )
    return Principal(key=key)


async def require_read(request: Request, settings: SettingsDep, key: CallerDep) -> Principal:
    if key is None and settings.api_anonymous_read:
        return Principal()
    return _need(request, Role.read, key)


async def require_operator(request: Request, key: CallerDep) -> Principal:
    return _need(request, Role.operator, key)


async def require_admin(request: Request, key: CallerDep) -> Principal:
    return _need(request, Role.admin, key)


async def require_device(request: Request, key: CallerDep) -> Principal:
    """A device key, or an operator/admin key (to post on a device's behalf, for tests and
    tooling). Which sensors it may post for is checked by the route against the payload."""
    if key is not None and key.role in (Role.operator, Role.admin):
        return Principal(key=key)
    return _need(request, Role.device, key)


ReadAccess = Annotated[Principal, Depends(require_read)]
OperatorAccess = Annotated[Principal, Depends(require_operator)]
AdminAccess = Annotated[Principal, Depends(require_admin)]
DeviceAccess = Annotated[Principal, Depends(require_device)]
