"""Answers' security headers and the request body size limit, as ASGI middleware on every route.

Every answer carries `X-Content-Type-Options: nosniff`, `Referrer-Policy`, `X-Frame-Options:
DENY` and a Content-Security-Policy: the city page's allows its own scripts, styles and fonts and
the map tiles' origin, with no inline script (its data sits in `type="application/json"` blocks,
which are not executed); the interactive documentation's allows what FastAPI's Swagger UI and
ReDoc pages load from their CDN; every other answer (JSON, problems, files) allows nothing.
`Strict-Transport-Security` only when CITYDATA_API_HSTS_MAX_AGE_S is set (behind TLS).

A request body over MAX_BODY_BYTES is answered 413 (a problem) before any route sees it: at once
from its Content-Length, or, sent chunked, once that many bytes have arrived (so at most that
much is held).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citydata.settings import Settings

MAX_BODY_BYTES = 1 << 20  # the largest write (a sensor or rule) is a few KiB; ingest has 256 KiB
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# FastAPI's /docs and /redoc: their scripts and styles from jsDelivr, Swagger UI's inline start.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; connect-src 'self'; worker-src blob:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)


def tiles_source(tiles_url: str) -> str:
    """The CSP source of the map tiles (`https://tile.openstreetmap.org`), '' without tiles;
    a `{s}` subdomain placeholder becomes a wildcard."""
    if not tiles_url:
        return ""
    parts = urlsplit(tiles_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    if "{s}" in host:  # CSP has a wildcard only for the leftmost label
        host = "*." + host.split(".", 1)[1]
    return f"{parts.scheme}://{host}"


def page_csp(settings: Settings) -> str:
    """The city page's policy: nothing inline but style attributes (the page's colour
    swatches), images from itself and the tile server, data only from itself."""
    tiles = tiles_source(settings.web_tiles_url)
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        "style-src-attr 'unsafe-inline'; "
        f"img-src 'self' data:{' ' + tiles if tiles else ''}; font-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


class SecurityHeaders:
    """Add the security headers to every HTTP answer of `app`."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if settings.api_hsts_max_age_s:
            hsts = f"max-age={settings.api_hsts_max_age_s}; includeSubDomains"
            common.append((b"strict-transport-security", hsts.encode()))
        self.common = common
        self.page = page_csp(settings).encode()

    def _csp(self, path: str) -> bytes:
        if path == "/":
            return self.page
        return DOCS_CSP.encode() if path in DOCS_PATHS else API_CSP.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = self._csp(scope["path"])

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in self.common if n not in names]
                if b"content-security-policy" not in names:
                    extra.append((b"content-security-policy", csp))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    """Answer 413 to a request whose body is larger than `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None:
            # the server holds a body to its Content-Length: the header is the bound
            if length.isdigit() and int(length) > self.max_bytes:
                await self._too_large(scope, send)
                return
            await self.app(scope, receive, send)
            return
        if b"chunked" not in headers.get(b"transfer-encoding", b"").lower():
            await self.app(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:  # at most max_bytes kept: the answer is 413 past them
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_bytes:
                await self._too_large(scope, send)
                return
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        body = json.dumps(
            {
                "type": "/problems/body-too-large",
                "title": "Content Too Large",
                "status": 413,
                "detail": f"the request body is larger than {self.max_bytes // 1024} KiB",
                "instance": scope["path"],
            }
        ).encode()
        headers = [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives `body` in one message, then whatever the client sends next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
