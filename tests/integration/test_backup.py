"""Backup and restore for real: data loaded through a real broker and collector, backed up, the
installation wiped (a new InfluxDB, a new data directory), restored, and compared in full."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from citydata import backup as bk
from citydata import retention, services
from citydata.influx import InfluxClient, quote_ident
from citydata.registry import Registry, Role, migrate
from citydata.registry.store import registry_url
from citydata.settings import Settings, load_settings
from collector.service import Collector
from simulators.fleet import LAM_PHAYA
from simulators.publisher import backfill as publish_backfill
from simulators.registration import register_fleet
from tests.city import INVALID, INVALID_REASONS
from tests.helpers import publish_all, register, running_collector, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def source(settings: Settings, influx_server: services.InfluxService) -> Settings:
    """The test's own installation, backed up through the session InfluxDB's RPC port."""
    return settings.model_copy(update={"influx_backup_addr": influx_server.backup_addr})


@pytest.fixture
def wiped(tmp_path: Path, source: Settings) -> Iterator[Settings]:
    """An empty installation: a new InfluxDB of its own and a new data directory."""
    server = services.influxdb(tmp_path / "influxdb-new").start()
    yield source.model_copy(
        update={
            "influx_url": server.url,
            "influx_backup_addr": server.backup_addr,
            "data_dir": tmp_path / "var-new",
        }
    )
    server.stop()


def influx_contents(settings: Settings) -> dict[str, Any]:
    """Every retention policy, and every row of every measurement in each."""
    with InfluxClient.from_settings(settings) as client:
        rps = client.records("SHOW RETENTION POLICIES")
        out: dict[str, Any] = {"retention policies": rps}
        for rp in rps:
            for series in client.query("SHOW MEASUREMENTS"):
                for (name,) in series.values:
                    source = f"{quote_ident(rp['name'])}.{quote_ident(name)}"
                    rows = client.records(f"SELECT * FROM {source}")
                    out[f"{rp['name']}.{name}"] = sorted(rows, key=lambda r: json.dumps(r))
        return out


def counts_per_sensor(settings: Settings, measurement: str) -> dict[str, int]:
    with InfluxClient.from_settings(settings) as client:
        q = f"SELECT count(*) FROM {quote_ident(measurement)} GROUP BY sensor_id"
        return {
            row["sensor_id"]: max(v for k, v in row.items() if k.startswith("count_"))
            for row in client.records(q)
        }


def registry_contents(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every registry table, the alembic version table included."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return {
                table: sorted(
                    (tuple(row) for row in conn.execute(sa.text(f'SELECT * FROM "{table}"'))),
                    key=repr,
                )
                for table in sa.inspect(conn).get_table_names()
            }
    finally:
        engine.dispose()


def file_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def load_fleet(settings: Settings, hours: float = 6) -> None:
    """The Lam Phaya fleet's last `hours` and the city's invalid messages through a collector,
    plus API keys (one revoked)."""
    with Registry.from_settings(settings) as registry:
        register_fleet(registry, LAM_PHAYA)
        registry.create_key("control room", Role.operator)
        revoked, _ = registry.create_key("old laptop", Role.read)
        registry.revoke_key(revoked.id)
    with running_collector(settings) as c:
        acked = publish_backfill(settings, LAM_PHAYA, days=hours / 24, interval_s=300, seed=7)
        publish_all(settings.mqtt_url, list(INVALID))
        wait_for(lambda: c.stats.written == acked, what="the fleet's readings stored")
        dead = sum(INVALID_REASONS.values())
        wait_for(lambda: c.stats.dead_lettered == dead, what="the dead letters")


def test_backup_wipe_restore_gives_back_every_count_value_sensor_key_and_dead_letter(
    source: Settings, wiped: Settings, tmp_path: Path
) -> None:
    load_fleet(source)
    with InfluxClient.from_settings(source) as client:  # as `citydata db init` does
        plan = retention.Plan(raw_retention="730d", for_hours=2)
        retention.ensure(client, plan, time.time_ns())
    before = influx_contents(source)
    assert {rp["name"] for rp in before["retention policies"]} == {"autogen", "forever"}
    assert before["forever.air_1h"]
    air = counts_per_sensor(source, "air")
    assert len(air) == sum(1 for s in LAM_PHAYA if s.kind == "air") and min(air.values()) >= 72

    done = bk.backup(source, tmp_path / "backup")
    manifest = json.loads((tmp_path / "backup" / bk.MANIFEST).read_text())
    assert manifest["registry"]["alembic_revision"] == migrate.head()
    assert manifest["deadletter_files"] >= 1 and done.bytes > 0
    settings_json = (tmp_path / "backup" / bk.SETTINGS).read_text()
    assert "registry_url" in settings_json and '"influx_password": null' in settings_json

    restored = bk.restore(wiped, tmp_path / "backup")
    assert influx_contents(wiped) == before
    for kind in ("air", "water", "traffic"):
        assert counts_per_sensor(wiped, kind) == counts_per_sensor(source, kind)
    assert registry_contents(registry_url(wiped)) == registry_contents(registry_url(source))
    with Registry.from_settings(wiped) as registry:
        assert {s.id for s in registry.list()} == {s.sensor_id for s in LAM_PHAYA}
        assert len(registry.list_keys(include_revoked=True)) == 2
    dead_before = file_bytes(Path(source.data_dir) / "deadletter")
    assert dead_before and file_bytes(Path(wiped.data_dir) / "deadletter") == dead_before
    assert any("data_dir" in note for note in restored.notes)  # what differed is said


def _publish_until(
    settings: Settings, stop: threading.Event, sent: list[int], started: list[float]
) -> None:
    """Readings of air-2, a batch at a time, until `stop`; each batch's start time in `started`
    before it goes out, its size in `sent` once the broker has it."""
    while not stop.is_set():
        now = time.time()
        started.append(now)
        batch = [
            ("sensors/air/air-2", json.dumps({"ts": now - i / 1000, "pm25": 5.0}).encode())
            for i in range(50)
        ]
        publish_all(settings.mqtt_url, batch)
        sent.append(len(batch))


def test_a_backup_of_a_running_platform_holds_everything_written_before_it_started(
    source: Settings, wiped: Settings, collector: Collector, tmp_path: Path
) -> None:
    n = 2000
    start = time.time() - 3600
    before = [
        ("sensors/air/air-1", json.dumps({"ts": start + i, "pm25": i / 10}).encode())
        for i in range(n)
    ]
    publish_all(source.mqtt_url, before)
    wait_for(lambda: counts_per_sensor(source, "air").get("air-1") == n, what="N stored")
    stop, sent, started = threading.Event(), list[int](), list[float]()
    writer = threading.Thread(target=_publish_until, args=(source, stop, sent, started))
    writer.start()
    try:
        wait_for(lambda: len(sent) >= 3, what="writes under way")
        stored_before = counts_per_sensor(source, "air").get("air-2", 0)
        done = len(sent)
        bk.backup(source, tmp_path / "backup")
        # Batch number `done` was unfinished when the backup began and had started when it
        # ended: readings were being written while it ran (however quick the backup was).
        assert len(started) > done and writer.is_alive(), "nothing was written during the backup"
    finally:
        stop.set()
        writer.join()
    bk.restore(wiped, tmp_path / "backup")
    counts = counts_per_sensor(wiped, "air")
    assert counts["air-1"] == n
    assert stored_before <= counts.get("air-2", 0) <= sum(sent)
    with InfluxClient.from_settings(wiped) as client:
        values = client.records("SELECT pm25 FROM air WHERE sensor_id = 'air-1'")
    assert sorted(row["pm25"] for row in values) == [i / 10 for i in range(n)]


def _small_installation(settings: Settings) -> None:
    with InfluxClient.from_settings(settings) as client:
        client.write_lines(
            f"air,sensor_id=air-1 pm25={i}.5 {1_700_000_000_000_000_000 + i * 10**9}"
            for i in range(100)
        )
    register(settings, {"air-1": "air"})
    letters = Path(settings.data_dir) / "deadletter"
    letters.mkdir(parents=True, exist_ok=True)
    (letters / "2026-01-02.jsonl").write_text('{"topic":"sensors/air/x","reason":"bad"}\n')


def citydata(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """`citydata ARGS` as an operator runs it, with these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYDATA_")}
    return subprocess.run(
        [sys.executable, "-m", "citydata", *args],
        env={**env, **settings.env()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.e2e
def test_the_commands_refuse_a_damaged_backup_and_a_target_holding_data(
    influx: InfluxClient, influx_server: services.InfluxService, tmp_path: Path
) -> None:
    settings = load_settings(
        {},
        influx_url=influx.url,
        influx_db=influx.database,
        influx_backup_addr=influx_server.backup_addr,
        data_dir=tmp_path / "var",
    )
    _small_installation(settings)
    out = tmp_path / "backup"
    done = citydata(settings, "backup", str(out))
    assert done.returncode == 0, done.stderr
    assert "backed up into" in done.stdout and " s\n" in done.stdout and "KB" in done.stdout
    again = citydata(settings, "backup", str(out))
    assert again.returncode == 1 and "not empty" in again.stderr

    refused = citydata(settings, "restore", str(out))
    assert refused.returncode == 3, refused.stderr
    assert "--force" in refused.stderr and influx.database in refused.stderr

    damaged = tmp_path / "damaged"
    shutil.copytree(out, damaged)
    shard = next((damaged / "influxdb").glob("*.tar.gz"))
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    refused = citydata(settings, "restore", "--force", str(damaged))
    assert refused.returncode == 4 and shard.name in refused.stderr, refused.stderr
    (damaged / bk.MANIFEST).unlink()
    refused = citydata(settings, "restore", str(damaged))
    assert refused.returncode == 4 and "did not finish" in refused.stderr
    assert counts_per_sensor(settings, "air") == {"air-1": 100}  # nothing was touched

    with InfluxClient.from_settings(settings) as client:
        client.write_lines(["air,sensor_id=air-9 pm25=1 1700000000000000000"])
    forced = citydata(settings, "restore", "--force", str(out))
    assert forced.returncode == 0, forced.stderr
    assert "citydata db init" in forced.stdout and "continuous query" in forced.stdout
    assert counts_per_sensor(settings, "air") == {"air-1": 100}  # as backed up


NEXT_MIGRATION = '''"""A test-only migration standing in for the next citydata's."""

import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sensors") as batch:
        batch.add_column(sa.Column("next_note", sa.String(64), nullable=True))
    op.execute("UPDATE sensors SET next_note = 'migrated'")
'''


def test_a_backup_restores_into_this_version_and_the_next_ones_migrations(
    source: Settings, wiped: Settings, tmp_path: Path
) -> None:
    load_fleet(source, hours=1)
    bk.backup(source, tmp_path / "backup")
    bk.restore(wiped, tmp_path / "backup")
    url = registry_url(wiped)
    engine = sa.create_engine(url)
    try:
        assert migrate.current(engine) == migrate.head()  # opened at head
        before = registry_contents(url)
        scripts = tmp_path / "migrations"
        shutil.copytree(migrate.MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
        (scripts / "versions" / "9999_next.py").write_text(
            NEXT_MIGRATION.replace("{head}", migrate.head())
        )
        with engine.begin() as conn:
            cfg = migrate.alembic_config()
            cfg.set_main_option("script_location", str(scripts))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        assert migrate.current(engine) == "9999"
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, next_note FROM sensors")).all()
    finally:
        engine.dispose()
    assert sorted(sid for sid, _ in rows) == sorted(s.sensor_id for s in LAM_PHAYA)
    assert {note for _, note in rows} == {"migrated"}
    after = registry_contents(url)
    assert {t: len(r) for t, r in after.items() if t != "sensors"} == {
        t: len(r) for t, r in before.items() if t != "sensors"
    }
    assert [row[:-1] for row in after["sensors"]] == before["sensors"]  # the new column last
    assert influx_contents(wiped) == influx_contents(source)


def test_a_postgresql_registry_is_backed_up_with_pg_dump_and_restored(
    source: Settings,
    wiped: Settings,
    postgres_url: str,
    postgres_server: services.PostgresService,
    tmp_path: Path,
) -> None:
    shutil.which("pg_dump") or pytest.skip("pg_dump not installed")
    source = source.model_copy(update={"registry_url": postgres_url})
    _small_installation(source)
    with Registry.from_settings(source) as registry:
        registry.create_key("control room", Role.admin)
    bk.backup(source, tmp_path / "backup")
    assert (tmp_path / "backup" / bk.PG_FILE).is_file()
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        target = wiped.model_copy(
            update={"registry_url": postgres_server.url.rsplit("/", 1)[0] + f"/{name}"}
        )
        bk.restore(target, tmp_path / "backup")
        assert registry_contents(target.registry_url) == registry_contents(postgres_url)
        with pytest.raises(bk.NotEmpty, match="registry"):
            bk.restore(target.model_copy(update={"data_dir": tmp_path / "v3"}), tmp_path / "backup")
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
