"""Registry migrations: data survives an upgrade, and the tables match the migrated schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from citydata.registry import Registry, RegistryError, migrate
from citydata.registry.tables import VERSION_TABLE, metadata

# Rows as revision 0001 stored them, written with plain SQL rather than today's code.
ROWS_0001: list[dict[str, Any]] = [
    {
        "id": "lp-water-01",
        "kind": "water",
        "name_th": "แม่น้ำท่าจีน ท่าน้ำลำพญา",
        "name_en": "Tha Chin river at Lam Phaya pier",
        "latitude": 14.0021,
        "longitude": 100.1418,
        "zone": "riverside",
        "site": "pier",
        "datum": "MSL",
        "install_date": "2023-11-20",
        "status": "active",
        "calibration": json.dumps({"level": {"scale": 1.0, "offset": -0.03}}),
        "thresholds": json.dumps({"level": {"watch": 1.8, "critical": 2.1, "bank": 2.3}}),
        "meta": json.dumps({"owner": "เทศบาลตำบลลำพญา"}, ensure_ascii=False),
        "created_at": "2024-01-02 03:04:05.000006",
        "updated_at": "2024-02-03 04:05:06.000007",
    },
    {
        "id": "lp-air-06",
        "kind": "air",
        "name_th": "ทุ่งนาด้านเหนือ",
        "name_en": "Rice fields north",
        "latitude": 14.015,
        "longitude": 100.152,
        "zone": "fields",
        "site": "north-fields",
        "datum": "MSL",
        "install_date": None,
        "status": "pending",
        "calibration": "{}",
        "thresholds": "{}",
        "meta": "{}",
        "created_at": "2024-03-01 00:00:00.000000",
        "updated_at": "2024-03-01 00:00:00.000000",
    },
]


def url_in(tmp_path: Path, name: str = "registry.db") -> str:
    return f"sqlite:///{tmp_path / name}"


def raw_rows(url: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [
            dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM sensors ORDER BY id"))
        ]
    engine.dispose()
    return rows


def fill_0001(url: str) -> None:
    command.upgrade(migrate.alembic_config(url), "0001")  # env.py connects by itself here
    engine = sa.create_engine(url)
    columns = ", ".join(ROWS_0001[0])
    values = ", ".join(f":{c}" for c in ROWS_0001[0])
    with engine.begin() as conn:
        conn.execute(sa.text(f"INSERT INTO sensors ({columns}) VALUES ({values})"), ROWS_0001)
    engine.dispose()


def test_data_written_at_0001_survives_upgrade_to_head(tmp_path: Path) -> None:
    url = url_in(tmp_path)
    fill_0001(url)
    before = raw_rows(url)
    assert [r["id"] for r in before] == ["lp-air-06", "lp-water-01"]
    command.upgrade(migrate.alembic_config(url), "head")
    assert raw_rows(url) == before
    with Registry.open(url) as reg:  # opening upgrades too, and reads the old rows
        water = reg.get("lp-water-01")
        assert water.name_th == "แม่น้ำท่าจีน ท่าน้ำลำพญา"
        assert water.calibration["level"].offset == -0.03
        assert water.thresholds["level"]["critical"] == 2.1
        assert water.meta == {"owner": "เทศบาลตำบลลำพญา"}
        assert water.created_at is not None and water.created_at.isoformat() == (
            "2024-01-02T03:04:05.000006+00:00"
        )
        assert reg.get("lp-air-06").install_date is None
    assert raw_rows(url) == before
    engine = sa.create_engine(url)
    assert migrate.current(engine) == migrate.head()
    engine.dispose()


def schema(url: str) -> dict[str, Any]:
    """The sensors table as the database itself describes it."""
    engine = sa.create_engine(url)
    inspector = sa.inspect(engine)
    described = {
        "columns": [
            (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns("sensors")
        ],
        "pk": inspector.get_pk_constraint("sensors"),
        "indexes": sorted(
            (i["name"], tuple(i["column_names"]), bool(i["unique"]))
            for i in inspector.get_indexes("sensors")
        ),
        "checks": sorted(
            (c["name"], c["sqltext"]) for c in inspector.get_check_constraints("sensors")
        ),
    }
    engine.dispose()
    return described


def test_the_migrated_schema_is_the_one_the_tables_describe(tmp_path: Path) -> None:
    migrated, created = url_in(tmp_path, "migrated.db"), url_in(tmp_path, "created.db")
    Registry.open(migrated).close()
    engine = sa.create_engine(created)
    metadata.create_all(engine)
    engine.dispose()
    assert schema(migrated) == schema(created)
    assert schema(migrated)["checks"][0][0] == "ck_sensors_status"


def diff_against(url: str, target: sa.MetaData) -> list[Any]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        opts = {"version_table": VERSION_TABLE, "compare_type": True}
        context = MigrationContext.configure(conn, opts=opts)
        diff: list[Any] = compare_metadata(context, target)
    engine.dispose()
    return diff


def test_autogenerate_finds_no_difference_after_upgrade(tmp_path: Path) -> None:
    url = url_in(tmp_path)
    Registry.open(url).close()
    assert diff_against(url, metadata) == []


def test_autogenerate_would_see_a_model_change(tmp_path: Path) -> None:
    """The comparison above can fail: a column added to the model shows up as a difference."""
    url = url_in(tmp_path)
    Registry.open(url).close()
    changed = sa.MetaData()
    for table in metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["sensors"].append_column(sa.Column("elevation", sa.Float))
    diff = diff_against(url, changed)
    assert [d[0] for d in diff] == ["add_column"] and diff[0][3].name == "elevation"


def test_downgrade_to_base_and_upgrade_again(tmp_path: Path) -> None:
    url = url_in(tmp_path)
    Registry.open(url).close()
    command.downgrade(migrate.alembic_config(url), "base")
    engine = sa.create_engine(url)
    assert "sensors" not in sa.inspect(engine).get_table_names()
    assert migrate.current(engine) is None
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()
    engine.dispose()


def test_a_database_from_a_newer_citydata_is_refused(tmp_path: Path) -> None:
    url = url_in(tmp_path)
    Registry.open(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(RegistryError, match=r"9999.*newer"):
        Registry.open(url)


def test_migrations_form_one_line_of_revisions_in_the_package() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert Path(script.dir).is_relative_to(Path(migrate.__file__).parent)
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert revisions[-1].revision == "0001" and revisions[-1].down_revision is None
    for rev in revisions:
        assert Path(rev.path).name.startswith(f"{rev.revision}_")


@pytest.mark.integration
def test_postgres_is_migrated_to_the_schema_the_tables_describe(postgres_url: str) -> None:
    Registry.open(postgres_url).close()
    assert diff_against(postgres_url, metadata) == []
    Registry.open(postgres_url).close()  # opening again is a no-op at head
    assert diff_against(postgres_url, metadata) == []
