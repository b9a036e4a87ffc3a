"""Settings from CITYDATA_* environment variables and an optional TOML file, checked strictly.

Every program reads the same `Settings`. Sources, highest priority first: environment variables
(`CITYDATA_MQTT_URL`), the TOML file named by `CITYDATA_CONFIG` (keys without the prefix,
`mqtt_url = "..."`), then the defaults below. An unknown key in either source, or a bad value,
raises `ConfigError` listing every problem at once, so an operator fixes them in one go.

Relative paths (the config file, `data_dir`, a SQLite `registry_url`) are made absolute once, in
`load_settings`, against the directory the command started in: the servers and child processes
that later run with another working directory get paths that still mean the same file.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from citydata.routes import NATIVE, Route

ENV_PREFIX = "CITYDATA_"
CONFIG_ENV = "CITYDATA_CONFIG"


class ConfigError(Exception):
    """The configuration is invalid; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


def is_http_url(value: str) -> bool:
    """An http:// or https:// URL with a host (InfluxDB, Grafana, a browser origin)."""
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class Settings(BaseModel):
    """Every setting the programs share. Field names are the env names without the prefix."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mqtt_url: str = Field(
        "mqtt://localhost:1883",
        description="Broker URL: mqtt://user:pass@host:1883, or mqtts:// for TLS.",
    )
    mqtt_client_id: str = Field(
        "citydata-collector", min_length=1, max_length=64, description="MQTT client id."
    )
    mqtt_share_group: str = Field(
        "collectors",
        description="MQTT 5 shared-subscription group, so several collectors split one stream; "
        "empty for a plain subscription.",
    )
    mqtt_session_expiry_s: int = Field(
        86_400,
        ge=0,
        description="How long the broker keeps the collector's session (and queues "
        "its messages) while it is disconnected, seconds; 0 for a clean session.",
    )
    mqtt_keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keep-alive, seconds.")
    mqtt_ca_file: Path | None = Field(
        None,
        description="CA certificates (PEM) that sign the broker's certificate, for mqtts:// "
        "(ca.crt of `citydata broker cert`); unset: the system's. The broker's host name is "
        "always checked.",
    )
    mqtt_client_cert: Path | None = Field(
        None,
        description="Client certificate (PEM) shown to a broker that requires one, for mqtts://; "
        "set with CITYDATA_MQTT_CLIENT_KEY.",
    )
    mqtt_client_key: Path | None = Field(
        None, description="The private key (PEM, unencrypted) of CITYDATA_MQTT_CLIENT_CERT."
    )
    influx_url: str = Field("http://localhost:8086", description="InfluxDB base URL (1.x API).")
    influx_db: str = Field("citydata", min_length=1, description="InfluxDB database (bucket).")
    influx_token: SecretStr | None = Field(None, description="InfluxDB 2.x/3 API token.")
    influx_user: str | None = Field(None, description="InfluxDB 1.x user.")
    influx_password: SecretStr | None = Field(None, description="InfluxDB 1.x password.")
    influx_timeout_s: float = Field(10.0, gt=0, le=300, description="HTTP timeout, seconds.")
    influx_raw_retention: str = Field(
        "730d",
        pattern=r"^([1-9][0-9]*(h|d|w)|INF)$",
        description="How long InfluxDB keeps raw readings (an InfluxQL duration: 730d, 104w; "
        "INF for ever); their hourly means are kept for ever (citydata db init).",
    )
    influx_backup_addr: str = Field(
        "127.0.0.1:8088",
        description="InfluxDB's backup and restore (RPC) address, host:port, which "
        "`citydata backup` and `citydata restore` use through influxd.",
    )
    data_dir: Path = Field(Path("./var"), description="Dead letters, spool and registry live here.")
    registry_url: str = Field(
        "",
        description="Sensor registry database, any SQLAlchemy URL; empty for the SQLite "
        "file registry.db in data_dir.",
    )
    registry_refresh_s: float = Field(
        15.0, gt=0, le=30, description="How often the collector rereads the sensor registry."
    )
    collector_queue_size: int = Field(
        50_000, ge=100, description="Messages held between the MQTT thread and the pipeline."
    )
    collector_batch_size: int = Field(
        5_000, ge=1, le=100_000, description="Points per InfluxDB write."
    )
    collector_flush_interval_s: float = Field(
        0.1, gt=0, le=60, description="Longest a point waits in a batch, seconds."
    )
    collector_spool_max_bytes: int = Field(
        1 << 30,
        ge=1 << 16,
        description="Most bytes the disk spool holds while InfluxDB is away; when full the "
        "collector stops acknowledging and the broker holds the messages.",
    )
    collector_retry_max_s: float = Field(
        10.0, gt=0, le=600, description="Longest wait between InfluxDB write retries, seconds."
    )
    collector_drain_timeout_s: float = Field(
        15.0,
        ge=0,
        description="At shutdown, how long to keep writing the spool to InfluxDB; "
        "what is left stays in the spool for the next start.",
    )
    collector_health_interval_s: float = Field(
        10.0, gt=0, le=3600, description="How often the collector records its health, seconds."
    )
    collector_max_future_s: float = Field(
        300.0, ge=0, description="Readings timestamped further ahead than this are rejected."
    )
    collector_max_age_s: float = Field(
        400 * 86_400.0, gt=0, description="Readings older than this are rejected, seconds."
    )
    collector_max_payload_bytes: int = Field(
        256 * 1024,
        ge=1024,
        le=268_435_455,
        description="Largest MQTT payload the collector decodes, bytes; a larger one is "
        "dead-lettered (too_large) with its first KiB, size and SHA-256. Keep the broker's "
        "message_size_limit a little above it.",
    )
    routes: list[Route] = Field(
        default_factory=lambda: [NATIVE],
        min_length=1,
        description="Topic filter → payload format → kind, first match wins (JSON in the "
        "environment, [[routes]] tables in the config file).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO")
    local_run: bool = Field(
        False,
        description="Set by `citydata local` for itself and the programs it starts: placeholder "
        "secrets (change-me...) are accepted. Never set it for a real deployment.",
    )
    aqi_above_200: Literal["extrapolate", "cap"] = Field(
        "extrapolate",
        description="How an AQI above 200 is numbered (no official formula; always labelled an "
        "estimate): extrapolate the level-4 line, or cap at 201.",
    )
    api_anonymous_read: bool = Field(
        True,
        description="Let requests without an API key read (open data); false requires a key "
        "with the read role or higher for every route but /health and /ready.",
    )
    api_latest_cache_s: float = Field(
        2.0,
        ge=0,
        le=60,
        description="How long GET /readings/latest reuses its answer for whole kinds, seconds "
        "(0: query InfluxDB for every request).",
    )
    api_cors_origins: list[str] = Field(
        default_factory=list,
        description="Web origins allowed to call the API from a browser, comma-separated "
        "(https://data.example.go.th); '*' allows any. Empty: no CORS headers.",
    )
    api_auth_failures_per_minute: int = Field(
        10,
        ge=1,
        le=100_000,
        description="Failed authentications (missing, malformed, unknown, revoked or expired "
        "key) one source address may make per minute; past them it is answered 429 with "
        "Retry-After until the oldest leaves the minute.",
    )
    api_forwarded_allow_ips: list[str] = Field(
        default_factory=list,
        description="Addresses of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto "
        "are believed, comma-separated (127.0.0.1); empty: none, the peer address is the source.",
    )
    api_hsts_max_age_s: int = Field(
        0,
        ge=0,
        le=2 * 365 * 86_400,
        description="Strict-Transport-Security max-age on every answer, seconds (31536000: a "
        "year); only when the API is served over HTTPS (behind a TLS proxy). 0: no header.",
    )

    api_snapshot_s: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="How often the API rebuilds the city snapshot, seconds: the public page, "
        "/city, and /aqi, /water/status and /traffic/status without parameters answer from it "
        "(0: compute every request).",
    )

    web_public: bool = Field(
        True,
        description="Serve the public city page at / and its data at /city to anyone, without "
        "a key (false: neither is served).",
    )
    web_city_th: str = Field("เทศบาลตำบลลำพญา", min_length=1, description="The city's Thai name.")
    web_city_en: str = Field(
        "Lam Phaya Subdistrict Municipality", min_length=1, description="The city's English name."
    )
    web_tiles_url: str = Field(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        description="Map tiles of the public page, {z}/{x}/{y} URL (an intranet tile server, "
        "or OpenStreetMap's); empty: no tiles, the stations on a plain background.",
    )
    web_tiles_attribution: str = Field(
        "© OpenStreetMap contributors", description="The tiles' credit, shown on the map."
    )
    web_licence_name: str = Field(
        "Creative Commons Attribution 4.0 (CC BY 4.0)",
        min_length=1,
        description="The licence of the published data, shown on the page.",
    )
    web_licence_url: str = Field(
        "https://creativecommons.org/licenses/by/4.0/deed.th",
        description="Where the licence's text is (empty: no link).",
    )

    alerts_rules_file: Path | None = Field(
        None,
        description="YAML file of alert rules and recipients (deploy/alerts.yaml ships the Lam "
        "Phaya defaults), loaded into the registry database when the alerts service starts; "
        "unset: the rules already there (citydata alerts load, or the API).",
    )
    alerts_line_api_url: str = Field(
        "https://api.line.me", description="LINE Messaging API base URL (push messages)."
    )
    alerts_line_token: SecretStr | None = Field(
        None, description="LINE channel access token (long-lived); unset: no LINE delivery."
    )
    alerts_smtp_url: str = Field(
        "",
        description="Mail server: smtp://user:pass@host:587 (STARTTLS, required) or "
        "smtps://user:pass@host:465 (TLS from the start); empty: no e-mail delivery.",
    )
    alerts_smtp_from: str = Field(
        "citydata@localhost", description="Sender address of alert e-mails."
    )
    alerts_smtp_ca_file: Path | None = Field(
        None,
        description="CA certificates (PEM) that sign the mail server's certificate; unset: the "
        "system's.",
    )
    alerts_webhook_secret: SecretStr | None = Field(
        None,
        description="Key of the HMAC-SHA256 signature sent with every webhook "
        "(X-Citydata-Signature); unset: no webhook delivery.",
    )
    alerts_retry_max_s: float = Field(
        600.0, gt=0, le=86_400, description="Longest wait between delivery retries, seconds."
    )
    alerts_timeout_s: float = Field(
        10.0, gt=0, le=120, description="Timeout of one delivery attempt, seconds."
    )

    broker_password_file: Path = Field(
        Path("/etc/mosquitto/passwd"),
        description="Mosquitto's password_file, which `citydata broker sync` writes from the "
        "registry's MQTT credentials.",
    )
    broker_acl_file: Path = Field(
        Path("/etc/mosquitto/acl"),
        description="Mosquitto's acl_file, which `citydata broker sync` writes from the "
        "registry's MQTT credentials, sensors and routes.",
    )
    broker_pid_file: Path = Field(
        Path("/run/mosquitto/mosquitto.pid"),
        description="Mosquitto's pid_file: `citydata broker sync` sends that process SIGHUP so "
        "it rereads the password file and ACL.",
    )

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError("must start with mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError("has no host")
        _ = parts.port  # raises ValueError on a bad port
        return value

    @field_validator("influx_url")
    @classmethod
    def _influx_url(cls, value: str) -> str:
        if not is_http_url(value):
            raise ValueError("must be http(s)://host[:port]")
        _ = urlsplit(value).port
        return value.rstrip("/")

    @field_validator("web_tiles_url")
    @classmethod
    def _tiles_url(cls, value: str) -> str:
        if value and not (is_http_url(value) and all(k in value for k in ("{z}", "{x}", "{y}"))):
            raise ValueError("must be empty or an http(s) URL with {z}, {x} and {y}")
        return value

    @field_validator("web_licence_url")
    @classmethod
    def _licence_url(cls, value: str) -> str:
        if value and not is_http_url(value):
            raise ValueError("must be empty or an http(s) URL")
        return value

    @field_validator("alerts_line_api_url")
    @classmethod
    def _line_url(cls, value: str) -> str:
        if not is_http_url(value):
            raise ValueError("must be http(s)://host[:port]")
        return value.rstrip("/")

    @field_validator("alerts_smtp_url")
    @classmethod
    def _smtp_url(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("must start with smtp:// (STARTTLS) or smtps:// (TLS)")
        if not parts.hostname:
            raise ValueError("has no host")
        _ = parts.port
        return value

    @field_validator("api_cors_origins", "api_forwarded_allow_ips", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("api_cors_origins")
    @classmethod
    def _origin_urls(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and (not is_http_url(origin) or urlsplit(origin).path):
                raise ValueError(f"{origin!r} is not an origin like https://host[:port] or '*'")
        return value

    @field_validator("api_forwarded_allow_ips")
    @classmethod
    def _proxy_addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            try:
                ipaddress.ip_network(address, strict=False)
            except ValueError:
                raise ValueError(f"{address!r} is not an IP address or network") from None
        return value

    @field_validator("mqtt_share_group")
    @classmethod
    def _share_group(cls, value: str) -> str:
        if any(c in value for c in "/+#"):
            raise ValueError("must not contain '/', '+' or '#'")
        return value

    @property
    def subscriptions(self) -> list[str]:
        """The topic filters actually subscribed (one per route), shared when a group is set."""
        topics = list(dict.fromkeys(route.topic for route in self.routes))
        if self.mqtt_share_group:
            return [f"$share/{self.mqtt_share_group}/{topic}" for topic in topics]
        return topics

    def env(self) -> dict[str, str]:
        """These settings as CITYDATA_* variables, to hand to a child process."""
        out: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if name in _JSON_SETTINGS:
                value = json.dumps([route.model_dump() for route in value])
            elif name in _LIST_SETTINGS:
                value = ",".join(value)
            out[ENV_PREFIX + name.upper()] = str(value)
        return out

    def redacted(self) -> dict[str, Any]:
        """These settings as JSON values with every secret '***' (None stays None) and the
        password of every URL '***', to write down or compare without revealing them."""
        out: dict[str, Any] = self.model_dump(mode="json")
        for name, value in out.items():
            if isinstance(getattr(self, name), SecretStr):
                out[name] = "***"
            elif isinstance(value, str) and "://" in value:
                out[name] = _hide_password(value)
        return out


def _hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


_SECRETS = {"influx_token", "influx_password", "alerts_line_token", "alerts_webhook_secret"}
_JSON_SETTINGS = {"routes"}  # structured: JSON in the environment, tables in the file
# comma-separated in the environment, arrays in the file
_LIST_SETTINGS = {"api_cors_origins", "api_forwarded_allow_ips"}
_URL_PASSWORD = re.compile(r"(?<=://)([^:/@\s]*):[^@/\s]*@")


# The placeholders of .env.example (change-me-...) and deploy/citydata.env.example (CHANGE-ME).
_PLACEHOLDER = re.compile(r"^change[-_ ]?me", re.IGNORECASE)


def placeholder_secrets(settings: Settings) -> list[str]:
    """One problem per secret (a secret setting, or a URL's password) still set to an example
    file's placeholder: outside `citydata local` the programs refuse to start with one."""
    problems = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            secret, what = value.get_secret_value(), "is"
        elif isinstance(value, str) and "://" in value:
            secret, what = urlsplit(value).password or "", "has a password that is"
        else:
            continue
        if _PLACEHOLDER.match(secret):
            problems.append(
                f"{_where((name,))}: {what} still the example's placeholder (change-me...); "
                "set a real secret (only `citydata local` accepts placeholders)"
            )
    return problems


def _where(loc: tuple[int | str, ...]) -> str:
    """A setting's name as an operator writes it: CITYDATA_ROUTES[0].kind."""
    if not loc:
        return "settings"
    rest = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:])
    return f"{ENV_PREFIX}{str(loc[0]).upper()}{rest}"


def _redact(value: object) -> object:
    """A URL's password replaced by ***, so error messages never show it."""
    return _URL_PASSWORD.sub(r"\1:***@", value) if isinstance(value, str) else value


def _from_env(environ: Mapping[str, str], problems: list[str]) -> dict[str, Any]:
    fields = Settings.model_fields
    values: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX) or key == CONFIG_ENV:
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name not in fields:
            problems.append(f"{key}: unknown setting")
            continue
        if name in _JSON_SETTINGS:
            try:
                values[name] = json.loads(raw)
            except ValueError as exc:
                problems.append(f"{key}: not valid JSON: {exc}")
            continue
        values[name] = raw
    return values


def _from_file(path: Path, problems: list[str]) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        problems.append(f"{CONFIG_ENV}={path}: cannot read: {exc.strerror}")
        return {}
    except UnicodeDecodeError as exc:
        problems.append(f"{path}: not UTF-8 text: {exc.reason} at byte {exc.start}")
        return {}
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{path}: not valid TOML: {exc}")
        return {}
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name not in Settings.model_fields:
            problems.append(f"{path}: {name}: unknown setting")
        else:
            values[name] = value
    return values


def absolute_path(path: Path | str, cwd: Path | None = None) -> Path:
    """`path` made absolute against `cwd` (the current directory), `~` expanded; `..` kept."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else (cwd or Path.cwd()).absolute() / path


def _absolute_sqlite_url(url: str, cwd: Path) -> str:
    """A SQLite URL naming a relative file, made absolute; any other URL unchanged."""
    if not url:  # the default: registry.db in data_dir, already absolute
        return url
    from sqlalchemy.engine import make_url  # only when a URL is set: commands start faster
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return url  # the registry reports a bad URL when it opens it
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
        return url
    if database.startswith("file:"):  # sqlite:///file:name?uri=true: left to SQLite
        return url
    return parsed.set(database=str(absolute_path(database, cwd))).render_as_string(
        hide_password=False
    )


def _maybe_absolute(path: Path | None, cwd: Path) -> Path | None:
    return None if path is None else absolute_path(path, cwd)


def _absolute_paths(settings: Settings, cwd: Path) -> Settings:
    return settings.model_copy(
        update={
            "data_dir": absolute_path(settings.data_dir, cwd),
            "registry_url": _absolute_sqlite_url(settings.registry_url, cwd),
            "alerts_rules_file": _maybe_absolute(settings.alerts_rules_file, cwd),
            "alerts_smtp_ca_file": _maybe_absolute(settings.alerts_smtp_ca_file, cwd),
            **{name: absolute_path(getattr(settings, name), cwd) for name in _BROKER_FILES},
            **{name: _maybe_absolute(getattr(settings, name), cwd) for name in _MQTT_TLS_FILES},
        }
    )


_MQTT_TLS_FILES = ("mqtt_ca_file", "mqtt_client_cert", "mqtt_client_key")
_BROKER_FILES = ("broker_password_file", "broker_acl_file", "broker_pid_file")


def _mqtt_tls_problems(settings: Settings) -> list[str]:
    """The MQTT TLS files must exist, come for an mqtts:// URL (never silently unused, which
    would send the connection in clear) and the client certificate with its key."""
    problems: list[str] = []
    given = [name for name in _MQTT_TLS_FILES if getattr(settings, name) is not None]
    for name in given:
        path: Path = getattr(settings, name)
        if not path.is_file():
            why = "not a file" if path.exists() else "no such file"
            problems.append(f"{_where((name,))}: {why}: {path}")
    if given and urlsplit(settings.mqtt_url).scheme != "mqtts":
        names = ", ".join(_where((name,)) for name in given)
        problems.append(f"{names}: TLS files for a plain mqtt:// CITYDATA_MQTT_URL; use mqtts://")
    if (settings.mqtt_client_cert is None) != (settings.mqtt_client_key is None):
        problems.append(
            "CITYDATA_MQTT_CLIENT_CERT and CITYDATA_MQTT_CLIENT_KEY: give both or neither"
        )
    return problems


def load_settings(
    environ: Mapping[str, str] | None = None, *, cwd: Path | None = None, **overrides: Any
) -> Settings:
    """Build the settings from the environment, the config file and `overrides` (highest).

    Relative paths are resolved against `cwd` (default: the current directory)."""
    environ = os.environ if environ is None else environ
    cwd = absolute_path(cwd) if cwd is not None else Path.cwd()
    problems: list[str] = []
    values: dict[str, Any] = {}
    config = environ.get(CONFIG_ENV)
    if config:
        values.update(_from_file(absolute_path(config, cwd), problems))
    values.update(_from_env(environ, problems))
    values.update(overrides)
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else ""
            got = "***" if name in _SECRETS else repr(_redact(err.get("input")))
            message = err["msg"].removeprefix("Value error, ")
            problems.append(f"{_where(err['loc'])}: {message} (got {got})")
        settings = None
    if problems:
        raise ConfigError(problems)
    assert settings is not None
    settings = _absolute_paths(settings, cwd)
    problems = _mqtt_tls_problems(settings)  # files: once their paths are absolute
    if not settings.local_run:
        problems += placeholder_secrets(settings)
    if problems:
        raise ConfigError(problems)
    return settings
