"""InfluxDB access over the 1.x HTTP API: /ping, /write (gzip line protocol) and /query (InfluxQL).

The same calls work on InfluxDB 1.x natively, on 2.x through its compatibility endpoints (token
auth, database mapped to a bucket) and on 3. Errors:

    InfluxError                 anything the server or the network refused
    ├── InfluxWriteError        /write answered non-2xx (`status`, `body`, `retry_after`)
    └── InfluxQueryError        /query answered an error, or a statement in it failed
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from citydata.errors import QueryError
from citydata.settings import Settings
from citydata.timeutil import retry_after


class InfluxError(Exception):
    """InfluxDB refused a request or could not be reached."""


class InfluxWriteError(InfluxError):
    def __init__(self, status: int, body: str, retry_after: float | None = None) -> None:
        self.status = status
        self.body = body
        self.retry_after = retry_after
        super().__init__(f"InfluxDB write failed: HTTP {status}: {body.strip()[:500]}")


class InfluxQueryError(InfluxError):
    pass


def _escaped(text: str, quote: str) -> str:
    # InfluxQL ends a quoted string at a raw newline, carriage return or NUL (a parse error, not
    # an injection); a newline has the escape \n, the others none: refused, as no data can hold
    # them.
    if "\0" in text or "\r" in text:
        raise QueryError(
            f"{text[:40]!r} holds a NUL or carriage return, which InfluxQL cannot quote"
        )
    escaped = text.replace("\\", "\\\\").replace(quote, "\\" + quote).replace("\n", "\\n")
    return quote + escaped + quote


def quote_ident(name: str) -> str:
    """An InfluxQL identifier (measurement, tag or field name) in double quotes."""
    return _escaped(name, '"')


def quote_literal(value: str) -> str:
    """An InfluxQL string literal in single quotes."""
    return _escaped(value, "'")


@dataclass(frozen=True)
class Series:
    """One series of a query result: name, tags, columns and rows."""

    name: str
    columns: list[str]
    values: list[list[Any]]
    tags: dict[str, str] = field(default_factory=dict)

    def records(self) -> Iterator[dict[str, Any]]:
        """Each row as a dict of column to value, with the series' tags added."""
        for row in self.values:
            yield {**self.tags, **dict(zip(self.columns, row, strict=True))}


class InfluxClient:
    """A small, thread-safe client for one database."""

    def __init__(
        self,
        url: str,
        database: str,
        *,
        token: str | None = None,
        user: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        headers = {"Authorization": f"Token {token}"} if token else {}
        auth = httpx.BasicAuth(user, password or "") if user else None
        self._http = httpx.Client(base_url=url, headers=headers, auth=auth, timeout=timeout)

    @classmethod
    def from_settings(cls, settings: Settings) -> InfluxClient:
        token = settings.influx_token.get_secret_value() if settings.influx_token else None
        password = settings.influx_password.get_secret_value() if settings.influx_password else None
        return cls(
            settings.influx_url,
            settings.influx_db,
            token=token,
            user=settings.influx_user,
            password=password,
            timeout=settings.influx_timeout_s,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> InfluxClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ping(self) -> bool:
        """True when the server answers /ping."""
        try:
            return self._http.get("/ping").status_code == 204
        except httpx.HTTPError:
            return False

    def create_database(self, name: str | None = None) -> None:
        """CREATE DATABASE (a no-op when it exists)."""
        self.query(f"CREATE DATABASE {quote_ident(name or self.database)}", method="POST")

    def write_lines(self, lines: Iterable[str], *, compress: bool = True) -> None:
        """POST line protocol to /write with nanosecond precision, gzip-compressed."""
        self.write("\n".join(lines).encode("utf-8"), compress=compress)

    def write(self, body: bytes, *, compress: bool = True) -> None:
        """POST UTF-8 line protocol (lines joined by newlines) to /write, precision ns."""
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if compress:
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        try:
            response = self._http.post(
                "/write",
                params={"db": self.database, "precision": "ns"},
                content=body,
                headers=headers,
            )
        except httpx.HTTPError as exc:
            raise InfluxError(f"InfluxDB write failed: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 204:
            raise InfluxWriteError(
                response.status_code,
                response.text,
                retry_after(response.headers.get("Retry-After")),
            )

    def query(
        self, q: str, *, params: Mapping[str, str] | None = None, method: str = "GET"
    ) -> list[Series]:
        """Run InfluxQL; return every series of every statement (times as epoch ns)."""
        args = {"db": self.database, "q": q, "epoch": "ns", **(params or {})}
        try:
            if method == "POST":
                response = self._http.post("/query", data=args)
            else:
                response = self._http.get("/query", params=args)
        except httpx.HTTPError as exc:
            raise InfluxError(f"InfluxDB query failed: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise InfluxQueryError(f"HTTP {response.status_code}: {response.text.strip()[:500]}")
        out: list[Series] = []
        for result in response.json().get("results", []):
            if "error" in result:
                raise InfluxQueryError(f"{result['error']} (query: {q[:200]})")
            for s in result.get("series", []):
                out.append(
                    Series(
                        s.get("name", ""), s["columns"], s.get("values", []), s.get("tags") or {}
                    )
                )
        return out

    def records(self, q: str) -> list[dict[str, Any]]:
        """Every row of every series of `q` as dicts."""
        return [row for series in self.query(q) for row in series.records()]
