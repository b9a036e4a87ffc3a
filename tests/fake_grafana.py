"""A fake Grafana on 127.0.0.1 that serves the HTTP API `citydata dashboards push` calls and
checks every request against Grafana's documentation of it.

Grafana cannot be installed on the development machines, so this stands in for it. The pages
each check comes from: Grafana's documentation of its `/api` HTTP API, the files
docs/sources/developers/http_api/{dashboard,folder,data_source}.md in grafana/grafana, served at
https://grafana.com/docs/grafana/v11.6/developers/http_api/{dashboard,folder,data_source}/
(Grafana 12 and later keep these endpoints, documented as "legacy", beside `/apis`):

- dashboard.md, "Create / Update dashboard": `POST /api/dashboards/db` with a JSON body of
  `dashboard` (the model; `uid` at most 40 characters; `id` null or the existing one),
  `folderUid` (or `folderId`), `overwrite`, `message`; answers `id`, `uid`, `url`, `status`,
  `version`, `slug`; 412 when the uid exists and overwrite is false.
- folder.md, "Get folder by uid" (`GET /api/folders/:uid`, 404 when missing) and "Create
  folder" (`POST /api/folders` with `uid`, `title`, optional `parentUid`; 409 when it exists).
- data_source.md, "Get a single data source by uid" (`GET /api/datasources/uid/:uid`, 404 when
  missing) and "Create a data source" (`POST /api/datasources` with `name`, `type`, `url`,
  `access`, optional `uid`, `basicAuth`, `user`, `database`, `jsonData`, `secureJsonData`...;
  secrets go in `secureJsonData` and are never answered back, only named in
  `secureJsonFields`).
- Every request: `Authorization: Bearer <token>` (401 otherwise); a body is
  `Content-Type: application/json`.

A request the documentation does not allow, or one this fake does not serve, is recorded in
`problems` (and answered 400 or 404); the fixture using it fails the test when there is any.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Json = dict[str, Any]
UID = re.compile(r"^[a-zA-Z0-9_-]{1,40}$")
DASHBOARD_KEYS = {"dashboard", "folderId", "folderUid", "overwrite", "message"}
FOLDER_KEYS = {"uid", "title", "parentUid"}
DATASOURCE_KEYS = {
    "name", "type", "url", "access", "uid", "basicAuth", "basicAuthUser", "user", "database",
    "withCredentials", "isDefault", "jsonData", "secureJsonData", "readOnly", "orgId",
}  # fmt: skip


@dataclass(frozen=True)
class Seen:
    """One request as the fake received it."""

    method: str
    path: str
    body: Any


@dataclass
class FakeGrafana:
    """Grafana's state (folders, datasources, dashboards by uid) and what it was sent."""

    token: str
    fail_upload: int | None = None  # answer 500 to this upload (1 = the first)
    forbidden: str | None = None  # answer 403 to paths starting so (a token of too low a role)
    not_grafana: str | None = None  # answer every request 200 with a web page of this type
    folders: dict[str, Json] = field(default_factory=dict)
    datasources: dict[str, Json] = field(default_factory=dict)
    dashboards: dict[str, Json] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    url: str = ""
    uploads: int = 0

    def requests(self, method: str, prefix: str = "/api/") -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path.startswith(prefix)]

    def handle(self, method: str, path: str, headers: Any, raw: bytes) -> tuple[int, Json]:
        """The status and JSON answer to one request; records problems with it."""
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            self.problems.append(f"{method} {path}: Authorization is not 'Bearer <token>'")
        body = self._body(method, path, headers, raw)
        self.seen.append(Seen(method, path, body))
        if auth != f"Bearer {self.token}":
            return 401, {"message": "Unauthorized"}
        if self.forbidden and path.startswith(self.forbidden):
            return 403, {"message": "You'll need additional permissions to perform this action."}
        for verb, pattern, route in _ROUTES:
            found = pattern.match(path)
            if verb == method and found:
                return route(self, found.group("uid") if "uid" in pattern.groupindex else "", body)
        self.problems.append(f"{method} {path}: not an endpoint this fake serves")
        return 404, {"message": "Not found"}

    def _body(self, method: str, path: str, headers: Any, raw: bytes) -> Any:
        if method != "POST":
            if raw:
                self.problems.append(f"{method} {path}: a body on a {method}")
            return None
        ctype = headers.get("Content-Type", "")
        if not ctype.startswith("application/json"):
            self.problems.append(f"{method} {path}: Content-Type {ctype!r}, not application/json")
        try:
            body = json.loads(raw)
        except ValueError:
            self.problems.append(f"{method} {path}: the body is not JSON")
            return None
        if not isinstance(body, dict):
            self.problems.append(f"{method} {path}: the body is not a JSON object")
        return body

    def _bad(self, where: str, problems: list[str]) -> tuple[int, Json] | None:
        if not problems:
            return None
        self.problems.extend(f"{where}: {p}" for p in problems)
        return 400, {"message": "; ".join(problems)}

    def get_folder(self, uid: str, body: Any) -> tuple[int, Json]:
        folder = self.folders.get(uid)
        return (200, folder) if folder else (404, {"message": "folder not found"})

    def create_folder(self, _: str, body: Any) -> tuple[int, Json]:
        body = body if isinstance(body, dict) else {}
        problems = [f"unknown field {k!r}" for k in body if k not in FOLDER_KEYS]
        if not isinstance(body.get("title"), str) or not body["title"].strip():
            problems.append("no title")
        if not isinstance(body.get("uid"), str) or not UID.match(body["uid"]):
            problems.append(f"uid {body.get('uid')!r}: citydata sends a fixed one, <= 40 chars")
        if bad := self._bad("POST /api/folders", problems):
            return bad
        if body["uid"] in self.folders:
            return 409, {"message": "a folder with the same uid already exists"}
        folder = {
            "id": len(self.folders) + 1,
            "uid": body["uid"],
            "title": body["title"],
            "url": f"/dashboards/f/{body['uid']}/{_slug(body['title'])}",
            "version": 1,
        }
        self.folders[body["uid"]] = folder
        return 200, folder

    def get_datasource(self, uid: str, body: Any) -> tuple[int, Json]:
        found = self.datasources.get(uid)
        if found is None:
            return 404, {"message": "Data source not found"}
        return 200, _public(found)

    def create_datasource(self, _: str, body: Any) -> tuple[int, Json]:
        body = body if isinstance(body, dict) else {}
        problems = [f"unknown field {k!r}" for k in body if k not in DATASOURCE_KEYS]
        for key in ("name", "type", "url", "access", "uid"):
            if not isinstance(body.get(key), str) or not body[key]:
                problems.append(f"no {key}")
        if body.get("access") not in ("proxy", "direct"):
            problems.append(f"access {body.get('access')!r} is neither proxy nor direct")
        for key in ("jsonData", "secureJsonData"):
            if key in body and not isinstance(body[key], dict):
                problems.append(f"{key} is not an object")
        if "password" in body or "basicAuthPassword" in body:
            problems.append("a password outside secureJsonData")
        if bad := self._bad("POST /api/datasources", problems):
            return bad
        if any(d["name"] == body["name"] for d in self.datasources.values()):
            return 409, {"message": "data source with the same name already exists"}
        if body["uid"] in self.datasources:
            return 409, {"message": "data source with the same uid already exists"}
        stored = {"id": len(self.datasources) + 1, "orgId": 1, "version": 1, **body}
        self.datasources[body["uid"]] = stored
        answer = _public(stored)
        return 200, {"datasource": answer, "id": answer["id"], "message": "Datasource added"}

    def save_dashboard(self, _: str, body: Any) -> tuple[int, Json]:
        body = body if isinstance(body, dict) else {}
        problems = [f"unknown field {k!r}" for k in body if k not in DASHBOARD_KEYS]
        model = body.get("dashboard")
        if not isinstance(model, dict):
            problems.append("no dashboard object")
            model = {}
        if not isinstance(model.get("uid"), str) or not UID.match(model["uid"]):
            problems.append(f"dashboard.uid {model.get('uid')!r}: citydata sends a fixed one")
        if not isinstance(model.get("title"), str) or not model["title"]:
            problems.append("no dashboard.title")
        if model.get("id") is not None:
            problems.append("dashboard.id is not null (another Grafana's id would be used)")
        if body.get("folderUid") not in self.folders:
            problems.append(f"folderUid {body.get('folderUid')!r}: no such folder")
        if body.get("overwrite") is not True:
            problems.append("overwrite is not true")
        if not isinstance(body.get("message"), str) or not body["message"]:
            problems.append("no message for the version history")
        if bad := self._bad("POST /api/dashboards/db", problems):
            return bad
        self.uploads += 1
        if self.uploads == self.fail_upload:
            return 500, {"message": "Internal Server Error"}
        uid = model["uid"]
        version = self.dashboards.get(uid, {}).get("version", 0) + 1
        self.dashboards[uid] = {**model, "version": version, "folderUid": body["folderUid"]}
        slug = _slug(model["title"])
        return 200, {
            "id": list(self.dashboards).index(uid) + 1,
            "uid": uid,
            "url": f"/d/{uid}/{slug}",
            "status": "success",
            "version": version,
            "slug": slug,
        }


_ROUTES = [
    ("GET", re.compile(r"^/api/folders/(?P<uid>[^/?]+)$"), FakeGrafana.get_folder),
    ("POST", re.compile(r"^/api/folders$"), FakeGrafana.create_folder),
    ("GET", re.compile(r"^/api/datasources/uid/(?P<uid>[^/?]+)$"), FakeGrafana.get_datasource),
    ("POST", re.compile(r"^/api/datasources$"), FakeGrafana.create_datasource),
    ("POST", re.compile(r"^/api/dashboards/db$"), FakeGrafana.save_dashboard),
]


def _slug(title: str) -> str:
    return re.sub(r"[^\w]+", "-", title.lower()).strip("-")


def _public(datasource: Json) -> Json:
    """A datasource as Grafana answers it: secrets only named, never given back."""
    answer = {k: v for k, v in datasource.items() if k != "secureJsonData"}
    answer["secureJsonFields"] = {k: True for k in datasource.get("secureJsonData", {})}
    return answer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding"):
            self.server.grafana.problems.append(f"{self.command} {self.path}: chunked body")
        raw = self.rfile.read(length) if length else b""
        grafana = self.server.grafana
        with self.server.lock:
            status, answer = grafana.handle(self.command, self.path, self.headers, raw)
        data, ctype = json.dumps(answer).encode(), "application/json; charset=UTF-8"
        if grafana.not_grafana:
            status, data, ctype = 200, b"<html><body>Welcome</body></html>", grafana.not_grafana
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the test reads `seen`
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, grafana: FakeGrafana) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.grafana = grafana
        self.lock = threading.Lock()


@contextmanager
def serving(grafana: FakeGrafana) -> Iterator[FakeGrafana]:
    """Serve `grafana` on a free loopback port (its `url`) in a thread until the block ends."""
    server = _Server(grafana)
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="fake-grafana", daemon=True
    )
    thread.start()
    grafana.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield grafana
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
