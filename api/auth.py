"""Who is asking: API keys with roles, checked on every route that declares an access level.

Routes declare what they need with a parameter: `_: ReadAccess`, `_: OperatorAccess`,
`_: AdminAccess` or `device: DeviceAccess`. A key comes as `X-API-Key: <key>`, as
`Authorization: Bearer <key>`, or (for device firmware that can only do that) as HTTP Basic with
the sensor id as the user name and the key as the password. Without a key, reading is allowed
when CITYDATA_API_ANONYMOUS_READ is true (open data); everything else answers 401. A key whose
role is too low answers 403.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException
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
from citydata.registry import ApiKey, Role

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


async def _caller(
    registry: RegistryDep,
    header: Annotated[str | None, Depends(_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    basic: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
) -> ApiKey | None:
    """The key the request carries (None when it carries none); 401 for a bad one."""
    token = (
        header or (bearer.credentials if bearer else None) or (basic.password if basic else None)
    )
    if not token:
        return None
    key = await run_in_threadpool(registry.authenticate, token)  # a hash check and a read
    if key is None:
        raise _unauthorized("the API key is not valid (malformed, unknown or revoked)")
    if (
        basic is not None
        and not header
        and not bearer
        and key.sensor_id not in (None, basic.username)
    ):
        raise _unauthorized(f"this device key does not belong to sensor {basic.username!r}")
    return key


CallerDep = Annotated[ApiKey | None, Depends(_caller)]


def _need(role: Role, key: ApiKey | None) -> Principal:
    if key is None:
        raise _unauthorized(f"this needs an API key with the {role} role")
    if not key.allows(role):
        raise HTTPException(
            403, detail=f"this needs the {role} role; key {key.id!r} has {key.role}"
        )
    return Principal(key=key)


async def require_read(settings: SettingsDep, key: CallerDep) -> Principal:
    if key is None and settings.api_anonymous_read:
        return Principal()
    return _need(Role.read, key)


async def require_operator(key: CallerDep) -> Principal:
    return _need(Role.operator, key)


async def require_admin(key: CallerDep) -> Principal:
    return _need(Role.admin, key)


async def require_device(key: CallerDep) -> Principal:
    """A device key, or an operator/admin key (to post on a device's behalf, for tests and
    tooling). Which sensors it may post for is checked by the route against the payload."""
    if key is not None and key.role in (Role.operator, Role.admin):
        return Principal(key=key)
    return _need(Role.device, key)


ReadAccess = Annotated[Principal, Depends(require_read)]
OperatorAccess = Annotated[Principal, Depends(require_operator)]
AdminAccess = Annotated[Principal, Depends(require_admin)]
DeviceAccess = Annotated[Principal, Depends(require_device)]
