"""Upload dashboards to a running Grafana through its HTTP API, with grafana-client.

One push, in this order, stopping at the first failure:

1. `GET /api/folders/citydata`; `POST /api/folders` when Grafana answers 404.
2. `GET /api/datasources/uid/<uid>`; `POST /api/datasources` when 404. An existing datasource
   is left as it is: an operator may have pointed it elsewhere or given it credentials.
3. `POST /api/dashboards/db` for each dashboard, into the folder, with `overwrite: true`.

Every failure (Grafana unreachable or too slow, a refused token, any other HTTP error, an answer
that is not Grafana's) becomes one `PushError` whose message says which step failed and which
dashboards Grafana had already taken, so nothing is half-uploaded without being said. The token
travels only in the Authorization header; no message contains it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import yaml
from grafana_client.api import GrafanaApi
from grafana_client.client import (
    GrafanaClientError,
    GrafanaException,
    GrafanaTimeoutError,
)
from niquests.exceptions import InvalidJSONError, RequestException

from citydata.settings import Settings, is_http_url

FOLDER_UID = "citydata"
FOLDER_TITLE = "citydata"
TIMEOUT_S = 10.0
MESSAGE = "citydata dashboards push"  # the version history's note on each upload

Json = dict[str, Any]


class PushError(Exception):
    """The push stopped: what failed, which dashboards Grafana had taken and which not."""

    def __init__(
        self, what: str, uploaded: list[str] | None = None, pending: list[str] | None = None
    ) -> None:
        self.what = what
        self.uploaded = list(uploaded or [])
        self.pending = list(pending or [])
        note = ""
        if uploaded is not None:
            done = ", ".join(self.uploaded) or "none"
            note = f"; dashboards uploaded: {done}; not uploaded: {', '.join(self.pending)}"
        super().__init__(what + note)


def public_url(url: str) -> str:
    """`url` without a user:password@ part, fit for a message."""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def check_url(url: str) -> str:
    """Grafana's base URL with a final slash (grafana-client joins a sub-path without one);
    PushError unless it is http(s) with a host."""
    if not is_http_url(url):
        raise PushError(f"--url {public_url(url)!r} is not an http:// or https:// URL")
    parts = urlsplit(url)
    return url if parts.path.endswith("/") else parts._replace(path=parts.path + "/").geturl()


def datasource(provisioning: Path, uid: str, influx_url: str, settings: Settings) -> Json:
    """The body of `POST /api/datasources` for the provisioned datasource `uid`: its name,
    type, access and jsonData from the provisioning file, with the InfluxDB URL, database and
    credentials given here (the file's `${VAR}`s are Grafana's to expand, not ours)."""
    try:
        doc = yaml.safe_load(provisioning.read_text(encoding="utf-8"))
        (entry,) = [d for d in doc["datasources"] if d.get("uid") == uid]
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise PushError(f"no datasource {uid!r} in {provisioning}: {exc}") from None
    if not is_http_url(influx_url):
        raise PushError(f"InfluxDB URL {public_url(influx_url)!r} is not http(s)://host[:port]")
    json_data = {k: v for k, v in (entry.get("jsonData") or {}).items() if k != "dbName"}
    body: Json = {
        "name": entry["name"],
        "uid": uid,
        "type": entry["type"],
        "access": entry.get("access", "proxy"),
        "url": influx_url,
        "database": settings.influx_db,  # older Grafanas read this; newer ones jsonData.dbName
        "basicAuth": False,
        "jsonData": {**json_data, "dbName": settings.influx_db},
    }
    secure: Json = {}
    if settings.influx_token is not None:  # InfluxDB 2.x/3 compatibility API, as citydata.influx
        body["jsonData"]["httpHeaderName1"] = "Authorization"
        secure["httpHeaderValue1"] = f"Token {settings.influx_token.get_secret_value()}"
    elif settings.influx_user:
        body["user"] = settings.influx_user
        if settings.influx_password is not None:
            secure["password"] = settings.influx_password.get_secret_value()
    if secure:
        body["secureJsonData"] = secure
    return body


def _reason(exc: Exception, grafana: str) -> str:
    """One line saying why a request failed; never the token."""
    if isinstance(exc, GrafanaTimeoutError):
        return f"Grafana at {grafana} did not answer within {TIMEOUT_S:g} s"
    if isinstance(exc, InvalidJSONError):
        return f"{grafana} does not answer as Grafana does (not JSON)"
    status = getattr(exc, "status_code", 0)
    if isinstance(exc, RequestException) or status == 0:
        errno = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(exc))
        why = errno.group(1).strip() if errno else type(exc).__name__
        return f"cannot reach Grafana at {grafana} ({why})"
    if status == 401:
        return f"Grafana at {grafana} refused the token (401 Unauthorized)"
    if status == 403:
        return f"Grafana at {grafana} refused the token (403 Forbidden: it needs the Admin role)"
    response = getattr(exc, "response", None)
    detail = response.get("message") if isinstance(response, dict) else response
    text = " ".join(str(detail or "").split())[:200]
    return f"Grafana at {grafana} answered {status}" + (f": {text}" if text else "")


class _Session:
    """The requests of one push, each named by what it does, and the dashboards uploaded."""

    def __init__(self, api: GrafanaApi, grafana: str, names: list[str]) -> None:
        self.api = api
        self.grafana = grafana
        self.names = names
        self.uploaded: list[str] = []

    def fail(self, what: str) -> PushError:
        pending = [n for n in self.names if n not in self.uploaded]
        return PushError(what, self.uploaded, pending)

    def call(self, what: str, request: Callable[[], Any], missing_ok: bool = False) -> Any:
        """`request()`'s answer; None for a 404 when `missing_ok`; PushError otherwise."""
        try:
            return request()
        except GrafanaClientError as exc:
            if missing_ok and exc.status_code == 404:
                return None
            raise self.fail(f"{what} failed: {_reason(exc, self.grafana)}") from None
        except (GrafanaException, RequestException) as exc:
            raise self.fail(f"{what} failed: {_reason(exc, self.grafana)}") from None

    def answer(self, what: str, request: Callable[[], Any]) -> Json:
        """Grafana's JSON object; PushError when the request fails or the answer is not one."""
        return self._object(what, self.call(what, request))

    def lookup(self, what: str, request: Callable[[], Any]) -> Json | None:
        """As `answer`, but None when Grafana says 404 (not found)."""
        found = self.call(what, request, missing_ok=True)
        return None if found is None else self._object(what, found)

    def _object(self, what: str, found: Any) -> Json:
        if not isinstance(found, dict):
            raise self.fail(f"{what} failed: {self.grafana} does not answer as Grafana does")
        return found


def _ensure_folder(s: _Session, report: Callable[[str], None]) -> None:
    what = f"checking folder {FOLDER_UID!r}"
    if s.lookup(what, lambda: s.api.folder.get_folder(FOLDER_UID)) is not None:
        return
    s.answer(
        f"creating folder {FOLDER_UID!r}",
        lambda: s.api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID),
    )
    report(f"created folder {FOLDER_TITLE!r} (uid {FOLDER_UID})")


def _ensure_datasource(s: _Session, body: Json, report: Callable[[str], None]) -> None:
    uid = body["uid"]
    what = f"checking datasource {uid!r}"
    found = s.lookup(what, lambda: s.api.datasource.get_datasource_by_uid(uid))
    if found is not None:
        report(f"datasource {uid!r} exists: left as it is ({found.get('url', '?')})")
        return
    s.answer(f"creating datasource {uid!r}", lambda: s.api.datasource.create_datasource(body))
    report(f"created datasource {uid!r}: {body['url']}, database {body['jsonData']['dbName']}")


def _upload(s: _Session, name: str, model: Json, report: Callable[[str], None]) -> None:
    body = {
        "dashboard": {**model, "id": None},  # matched by uid, never by another Grafana's id
        "folderUid": FOLDER_UID,
        "overwrite": True,
        "message": MESSAGE,
    }
    what = f"uploading dashboard {name!r} (uid {model['uid']})"
    saved = s.answer(what, lambda: s.api.dashboard.update_dashboard(body))
    report(f"{name}: {urljoin(s.grafana, str(saved.get('url', '')))}")
    s.uploaded.append(name)


def push(
    url: str,
    token: str,
    dashboards: Mapping[str, Json],
    datasource_body: Json,
    report: Callable[[str], None] = print,
) -> list[str]:
    """Upload `dashboards` (name -> JSON model) to the Grafana at `url`, creating the folder
    and `datasource_body` when missing; `report` gets one line per step done. The names
    uploaded; PushError (naming those already uploaded) at the first failure."""
    base = check_url(url)
    untitled = [n for n, m in dashboards.items() if not m.get("uid") or not m.get("title")]
    if untitled:
        raise PushError(f"dashboards without a uid or title: {', '.join(untitled)}")
    api = GrafanaApi.from_url(base, credential=token, timeout=TIMEOUT_S)
    session = _Session(api, public_url(base), list(dashboards))
    try:
        _ensure_folder(session, report)
        _ensure_datasource(session, datasource_body, report)
        for name, model in dashboards.items():
            _upload(session, name, model, report)
    finally:
        api.client.s.close()
    return session.uploaded
