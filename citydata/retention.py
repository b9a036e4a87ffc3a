"""Retention and downsampling: the raw policy's duration, the hourly series kept for ever, the
continuous queries that compute it, and the backfill of old readings (docs/retention.md).

Raw readings stay in the database's default retention policy (`autogen` on a new database),
whose duration `ensure` sets; each kind's hourly mean, min, max and count per metric go to
`"forever"."<kind>_1h"` (fields `mean_<metric>`, `min_<metric>`, `max_<metric>`,
`count_<metric>`, tags as the raw series). A kind's continuous query exists only once its
backfill has finished, so readers take its existence to mean "the hourly series is complete".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from citydata.influx import InfluxClient, quote_ident
from citydata.kinds import all_kinds
from citydata.timeutil import as_datetime

if TYPE_CHECKING:
    from citydata.settings import Settings

HOURLY_RP = "forever"
HOUR_NS = 3600 * 1_000_000_000
BACKFILL_CHUNK_NS = 30 * 24 * HOUR_NS  # one SELECT ... INTO per 30 days of raw readings
MIN_FOR_H, MAX_FOR_H = 2, 48
_UNITS = (("w", 168), ("d", 24), ("h", 1))  # InfluxDB writes a duration in its largest unit

Backfill = Literal["changed", "all", "none"]


def hourly_measurement(kind: str) -> str:
    return f"{kind}_1h"


def cq_name(kind: str) -> str:
    return f"cq_{kind}_1h"


def resample_for_hours(max_age_s: float) -> int:
    """How far back each hourly run recomputes: the collector's oldest accepted reading,
    within [MIN_FOR_H, MAX_FOR_H] hours (each run rereads this much raw data)."""
    return min(max(math.ceil(max_age_s / 3600), MIN_FOR_H), MAX_FOR_H)


def hours_literal(hours: int) -> str:
    """`hours` as InfluxDB itself prints a duration (48 -> 2d), so definitions compare equal."""
    for unit, size in _UNITS:
        if hours % size == 0:
            return f"{hours // size}{unit}"
    raise AssertionError("unreachable")


def duration_hours(text: str) -> int | None:
    """Hours of an InfluxQL duration (730d, 104w, 36h; 17520h0m0s as SHOW prints), None for
    INF or 0s (for ever)."""
    if text.upper() == "INF":
        return None
    total = 0
    for number, unit in re.findall(r"(\d+)([wdhms])", text):
        total += int(number) * {"w": 168, "d": 24, "h": 1, "m": 0, "s": 0}[unit]
    return total or None


def shard_duration(hours: int | None) -> str:
    """InfluxDB's own default shard-group duration for a policy of this many hours."""
    if hours is None or hours > 180 * 24:
        return "7d"
    return "1h" if hours < 48 else "1d"


def cq_statement(db: str, raw_rp: str, kind: str, for_hours: int) -> str:
    """The continuous query of one kind, written as SHOW CONTINUOUS QUERIES gives it back."""
    return (
        f"CREATE CONTINUOUS QUERY {cq_name(kind)} ON {_ident(db)} RESAMPLE EVERY 1h FOR "
        f"{hours_literal(for_hours)} BEGIN {_select_into(db, raw_rp, kind)} "
        "GROUP BY time(1h), * END"
    )


def _select_into(db: str, raw_rp: str, kind: str) -> str:
    db, hourly = _ident(db), f"{_ident(HOURLY_RP)}.{_ident(hourly_measurement(kind))}"
    return (
        f"SELECT mean(*), min(*), max(*), count(*) INTO {db}.{hourly} "
        f"FROM {db}.{_ident(raw_rp)}.{_ident(kind)}"
    )


def _ident(name: str) -> str:
    # Quoted only when needed, as InfluxDB prints identifiers back.
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else quote_ident(name)


def _normal(statement: str) -> str:
    return " ".join(statement.replace('"', "").split())


def continuous_queries(influx: InfluxClient) -> dict[str, str]:
    """This database's continuous queries, name -> definition."""
    return {
        name: query
        for series in influx.query("SHOW CONTINUOUS QUERIES")
        if series.name == influx.database
        for name, query in series.values
    }


def hourly_complete_before(influx: InfluxClient, kind: str, now_ns: int) -> int | None:
    """Epoch ns before which `kind`'s hourly series is final (whole hours, recomputed for the
    last time by the continuous query), or None when it has no continuous query (not yet set
    up or being redefined): then read raw readings only."""
    query = continuous_queries(influx).get(cq_name(kind))
    found = re.search(r"\bFOR (\S+) BEGIN", query or "")
    hours = duration_hours(found.group(1)) if found else None
    if hours is None:
        return None
    return (now_ns // HOUR_NS) * HOUR_NS - hours * HOUR_NS


def retention_policies(influx: InfluxClient) -> dict[str, tuple[str, bool]]:
    """name -> (duration as InfluxDB prints it, default?)."""
    return {
        str(row["name"]): (str(row["duration"]), bool(row["default"]))
        for row in influx.records(f"SHOW RETENTION POLICIES ON {quote_ident(influx.database)}")
    }


def backfill(influx: InfluxClient, raw_rp: str, kind: str, end_ns: int) -> tuple[int, int]:
    """Hourly means of every raw reading of `kind` before `end_ns` (an hour boundary), 30 days
    per statement; (first hour written, points written), (0, 0) when there is nothing."""
    db = influx.database
    source = f"{quote_ident(db)}.{quote_ident(raw_rp)}.{quote_ident(kind)}"
    first = influx.records(f"SELECT * FROM {source} LIMIT 1")
    if not first:
        return 0, 0
    start = (int(first[0]["time"]) // HOUR_NS) * HOUR_NS
    written = 0
    for a in range(start, end_ns, BACKFILL_CHUNK_NS):
        b = min(a + BACKFILL_CHUNK_NS, end_ns)
        select = _select_into(db, raw_rp, kind)
        q = f"{select} WHERE time >= {a} AND time < {b} GROUP BY time(1h), *"
        for row in influx.records(q):
            written += int(row.get("written") or 0)
    return start, written


@dataclass(frozen=True)
class Plan:
    """What `ensure` sets up: the raw duration, the hourly runs' look-back, what to backfill."""

    raw_retention: str  # InfluxQL duration or INF
    for_hours: int
    backfill: Backfill = "changed"
    kinds: tuple[str, ...] = ()  # default: every registered kind

    @classmethod
    def of(cls, settings: Settings, backfill: Backfill = "changed") -> Plan:
        """`citydata db init`'s plan: CITYDATA_INFLUX_RAW_RETENTION, and hourly runs looking
        back as far as the collector accepts old readings (CITYDATA_COLLECTOR_MAX_AGE_S)."""
        return cls(
            settings.influx_raw_retention,
            resample_for_hours(settings.collector_max_age_s),
            backfill,
        )


def ensure(influx: InfluxClient, plan: Plan, now_ns: int) -> list[str]:
    """Create or update the policies and continuous queries (safe to repeat); one line per
    thing done, for the command to print."""
    db = quote_ident(influx.database)
    influx.create_database()
    policies = retention_policies(influx)
    raw_rp = next((name for name, (_, default) in policies.items() if default), "autogen")
    out: list[str] = []
    if HOURLY_RP not in policies:
        influx.query(
            f"CREATE RETENTION POLICY {HOURLY_RP} ON {db} DURATION INF REPLICATION 1 "
            "SHARD DURATION 52w",
            method="POST",
        )
        out.append(f"retention policy {HOURLY_RP!r} created (hourly means, kept for ever)")
    existing = continuous_queries(influx)
    end = (now_ns // HOUR_NS) * HOUR_NS
    for kind in plan.kinds or sorted(all_kinds()):
        out.append(_ensure_cq(influx, raw_rp, kind, plan, existing.get(cq_name(kind)), end))
    out.append(_ensure_raw(influx, raw_rp, policies[raw_rp][0], plan.raw_retention))
    return out


def _ensure_cq(
    influx: InfluxClient, raw_rp: str, kind: str, plan: Plan, old: str | None, end: int
) -> str:
    # Dropped before the backfill and created after it: readers fall back to raw readings
    # meanwhile, and never see a half-filled hourly series.
    new = cq_statement(influx.database, raw_rp, kind, plan.for_hours)
    same = old is not None and _normal(old) == _normal(new)
    fill = plan.backfill == "all" or (plan.backfill == "changed" and not same)
    if same and not fill:
        return f"continuous query {cq_name(kind)}: unchanged"
    if old is not None:
        influx.query(
            f"DROP CONTINUOUS QUERY {cq_name(kind)} ON {quote_ident(influx.database)}",
            method="POST",
        )
    done = "recreated" if old is not None and same else "updated" if old else "created"
    line = f"continuous query {cq_name(kind)}: {done}"
    if fill:
        start, written = backfill(influx, raw_rp, kind, end)
        if written:
            line += f"; backfilled {written} hourly points from {_iso(start)} to {_iso(end)}"
        else:
            line += "; nothing to backfill"
    influx.query(new, method="POST")
    return line


def _ensure_raw(influx: InfluxClient, raw_rp: str, current: str, wanted: str) -> str:
    # After the backfill: a shorter duration lets InfluxDB delete old raw shards.
    hours = duration_hours(wanted)
    if duration_hours(current) == hours:
        return f"retention policy {raw_rp!r} (raw readings): {wanted}, unchanged"
    influx.query(
        f"ALTER RETENTION POLICY {quote_ident(raw_rp)} ON {quote_ident(influx.database)} "
        f"DURATION {wanted} SHARD DURATION {shard_duration(hours)} DEFAULT",
        method="POST",
    )
    return f"retention policy {raw_rp!r} (raw readings): duration set to {wanted}"


def _iso(ns: int) -> str:
    return as_datetime(ns).strftime("%Y-%m-%dT%H:%MZ")
