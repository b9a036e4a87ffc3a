"""The simulated city for tests that need realistic history: the Lam Phaya fleet's last 2 days
ingested through a real broker and collector, a few dead letters, the collector's health
points, the derived series computed over the same 2 days (the minute series every 5
minutes, the simulator's backfill interval, as `citydata local` does), and the alert state
changes of the last 2 hours (the `alerts` measurement), by the real evaluator.

Built once per session (per xdist worker) by the `city` fixture in tests/conftest.py.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from citydata import retention, services
from citydata.alerts.evaluate import Evaluator
from citydata.alerts.rulefile import parse_rules
from citydata.alerts.store import AlertStore
from citydata.derived.backfill import backfill
from citydata.derived.deriver import Deriver
from citydata.derived.schedule import Loop
from citydata.health import DEADLETTERS
from citydata.health import MEASUREMENT as HEALTH
from citydata.influx import InfluxClient, InfluxError
from citydata.kinds import all_kinds
from citydata.registry import Registry
from citydata.settings import Settings, load_settings
from simulators.fleet import LAM_PHAYA
from simulators.publisher import backfill as publish_backfill
from simulators.registration import register_fleet
from tests.alerting import rules_text, shipped
from tests.helpers import publish_all, running_collector, wait_for

log = logging.getLogger(__name__)
DAYS = 2
INTERVAL_S = 300  # the simulator's backfill interval in `citydata local`
SEED = 12
_NS = 1_000_000_000

# Messages the collector must dead-letter, two reasons: (topic, payload).
INVALID: tuple[tuple[str, bytes], ...] = (
    ("sensors/air/lp-air-01", b"not json"),
    ("sensors/water/lp-water-01", b"{"),
    ("sensors/air/lp-air-02", json.dumps({"ts": 4_000_000_000, "pm25": 12.0}).encode()),
)
INVALID_REASONS = {"undecodable": 2, "future_timestamp": 1}

# Alerts: a cycle every 5 minutes over the last 2 hours. Per kind, one rule fires on every
# station and stays firing, one fires and resolves halfway, when the rules file is reloaded
# with its threshold raised; InfluxDB unreachable for two cycles fires the shipped platform
# rule, which resolves at the next cycle.
ALERT_SPAN_S = 2 * 3600
ALERT_RULES = {  # kind: (value, severity)
    "air": ({"metric": "pm25"}, "info"),
    "water": ({"metric": "level"}, "critical"),
    "traffic": ({"index": "congestion"}, "warning"),
}
FIRING_RULES = tuple(f"city-{kind}-firing" for kind in ALERT_RULES)
RESOLVED_RULES = (*(f"city-{kind}-resolved" for kind in ALERT_RULES), "influx-unreachable")
UNREACHABLE_S = (1800, 2100)  # after the span's start
RAISED_S = 3600


@dataclass(frozen=True)
class City:
    """The simulated city: settings (registry, data dir, InfluxDB database, broker) and the
    span its readings cover, (start_ns, end_ns], end a whole 5 minutes (the last round)."""

    settings: Settings
    influx: InfluxClient
    start_ns: int
    end_ns: int
    hourly_before_ns: int = 0  # the hourly series (citydata db init's backfill) holds hours before


def city_settings(
    broker: services.MosquittoService, influx: InfluxClient, data_dir: Path
) -> Settings:
    """Settings for the city's collector, registry and derived series."""
    return load_settings(
        {},
        mqtt_url=broker.url,
        mqtt_client_id=f"city-collector-{uuid.uuid4().hex[:8]}",
        influx_url=influx.url,
        influx_db=influx.database,
        data_dir=data_dir,
        collector_flush_interval_s=0.05,
        collector_health_interval_s=0.2,
        registry_refresh_s=0.3,
    )


def _health_points(influx: InfluxClient) -> int:
    rows = influx.records(f'SELECT count("written") FROM "{HEALTH}"')
    return int(rows[0]["count"]) if rows else 0


def _reported_twice(influx: InfluxClient) -> bool:
    """Each dead-letter reason counted in two health reports, as a collector that keeps running
    reports it, so that rates (differences) of the counts exist."""
    rows = influx.records(f'SELECT count("count") FROM "{DEADLETTERS}" GROUP BY "reason"')
    counts = {row["reason"]: row["count"] for row in rows}
    return all(counts.get(reason, 0) >= 2 for reason in INVALID_REASONS)


def ingest(settings: Settings, influx: InfluxClient, end_s: int) -> None:
    """The fleet's `DAYS` before `end_s` and the invalid messages, through a real collector."""
    with Registry.from_settings(settings) as registry:
        register_fleet(registry, LAM_PHAYA)
    with running_collector(settings) as c:
        acked = publish_backfill(
            settings, LAM_PHAYA, days=DAYS, interval_s=INTERVAL_S, seed=SEED, end=end_s
        )
        publish_all(settings.mqtt_url, list(INVALID))
        dead = sum(INVALID_REASONS.values())
        wait_for(lambda: c.stats.written == acked, what="the city's readings stored")
        wait_for(lambda: c.stats.dead_lettered == dead, what="the city's dead letters")
        wait_for(lambda: _health_points(influx) >= 2, what="the collector's health points")
        wait_for(lambda: _reported_twice(influx), what="dead letters in two health reports")


def alert_rules(raised: bool = False) -> str:
    """The city's rules file; `raised`: the resolving rules' threshold above any value."""
    rules = shipped("influx-unreachable", repeat=None)
    for kind, (value, severity) in ALERT_RULES.items():
        words = all_kinds()[kind]
        for name, above in (
            (f"city-{kind}-firing", -1e6),
            (f"city-{kind}-resolved", 1e9 if raised else -1e6),
        ):
            rules.append(
                {
                    "name": name,
                    "title_th": f"ทดสอบ{words.title_th}",
                    "title_en": f"Test of {words.title_en.lower()}",
                    "select": {"kind": kind},
                    "value": value,
                    "when": {"op": ">", "value": above},
                    "severity": severity,
                    "message_th": "{name}: {value} {unit}",
                    "message_en": "{name}: {value} {unit}",
                    "recipients": ["team"],
                }
            )
    return rules_text(rules)


def evaluate_alerts(settings: Settings, influx: InfluxClient, end_ns: int) -> None:
    """The alert rules after each derived cycle of the span before `end_ns` (judged again, not
    written), InfluxDB unreachable for two of them; the transitions go to `alerts`."""
    start = end_ns - ALERT_SPAN_S * _NS
    with Registry.from_settings(settings) as registry:
        store = AlertStore(registry)
        store.load(parse_rules(alert_rules()))
        evaluator = Evaluator(store, influx, channels=(), spool_max_bytes=1e9)
        deriver = Deriver(influx, registry, settings.aqi_above_200, write=False)
        loop = Loop(deriver, after=[evaluator.after_cycle])
        unreachable = {start + s * _NS for s in UNREACHABLE_S}
        for t in range(start, end_ns + 1, INTERVAL_S * _NS):
            if t == start + RAISED_S * _NS:
                store.load(parse_rules(alert_rules(raised=True)))
            if t in unreachable:
                evaluator.failed_cycle(t, InfluxError("connection refused"))
            else:
                loop.step(t)


def build_city(broker: services.MosquittoService, influx: InfluxClient, data_dir: Path) -> City:
    """Ingest the city, backfill its derived series over the same span, then evaluate the
    alert rules over its last 2 hours."""
    started = time.monotonic()
    settings = city_settings(broker, influx, data_dir)
    end_s = int(time.time()) // INTERVAL_S * INTERVAL_S
    ingest(settings, influx, end_s)
    # As `citydata db init` after a restore or a first start on old data: the retention
    # policies, the continuous queries and the hourly series of the readings so far.
    now_ns = time.time_ns()
    retention.ensure(influx, retention.Plan.of(settings), now_ns)
    city = City(
        settings,
        influx,
        (end_s - DAYS * 86_400) * _NS,
        end_s * _NS,
        now_ns // retention.HOUR_NS * retention.HOUR_NS,
    )
    with Registry.from_settings(settings) as registry:
        deriver = Deriver(influx, registry, settings.aqi_above_200)
        backfill(deriver, city.start_ns, city.end_ns, step_s=INTERVAL_S)
    alerts_started = time.monotonic()
    evaluate_alerts(settings, influx, city.end_ns)
    log.info(
        "built the simulated city in %.1f s (alerts %.1f s)",
        time.monotonic() - started,
        time.monotonic() - alerts_started,
    )
    return city
