"""The sensor registry: the Sensor model's validation and the Registry's storage."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from citydata.kinds import all_kinds
from citydata.registry import (
    Registry,
    RegistryError,
    Sensor,
    SensorExists,
    SensorNotFound,
    describe_errors,
    registry_url,
)
from citydata.settings import load_settings

T0 = datetime(2026, 1, 15, 3, 0, 0, 123456, tzinfo=UTC)


def sensor_data(**overrides: Any) -> dict[str, Any]:
    """A valid water gauge on the Tha Chin at Lam Phaya, as plain data."""
    data: dict[str, Any] = {
        "id": "lp-water-01",
        "kind": "water",
        "name_th": "แม่น้ำท่าจีน ท่าน้ำลำพญา",
        "name_en": "Tha Chin river at Lam Phaya pier",
        "latitude": 14.0021,
        "longitude": 100.1418,
        "zone": "riverside",
        "site": "pier",
        "install_date": "2023-11-20",
        "calibration": {"level": {"scale": 1.0, "offset": -0.03}},
        "thresholds": {"level": {"watch": 1.8, "warning": 2.0, "critical": 2.1, "bank": 2.3}},
        "meta": {"model": "RiverSense RL-3", "serial": "RL3-2311-07"},
    }
    return {**data, **overrides}


def make(**overrides: Any) -> Sensor:
    return Sensor.model_validate(sensor_data(**overrides))


def error_locs(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as exc:
        Sensor.model_validate(data)
    return [line.split(":")[0] for line in describe_errors(exc.value)]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 60) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def registry(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> Iterator[Registry]:
    """The registry on SQLite, and again on a real PostgreSQL server."""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp_path / 'registry.db'}"
    reg = Registry.open(url, clock=clock)
    yield reg
    reg.close()


# --- the model ---------------------------------------------------------------------------


def test_a_valid_sensor_takes_the_defaults() -> None:
    s = make(install_date=None, calibration={}, thresholds={}, meta={})
    assert (s.datum, s.status, s.install_date) == ("MSL", "active", None)
    assert s.calibration == {} and s.thresholds == {} and s.meta == {}
    assert s.tags == {"zone": "riverside", "site": "pier"}
    assert s.name_th == "แม่น้ำท่าจีน ท่าน้ำลำพญา"


def test_text_is_stripped_and_the_sensor_is_frozen() -> None:
    s = make(id="  lp-water-01 ", name_en=" Pier ", zone=" riverside")
    assert (s.id, s.name_en, s.zone) == ("lp-water-01", "Pier", "riverside")
    with pytest.raises(ValidationError):
        s.zone = "elsewhere"


@pytest.mark.parametrize(
    ("field", "value", "loc"),
    [
        ("id", "lp/water", "id"),
        ("id", "lp+1", "id"),
        ("id", "lp#1", "id"),
        ("id", "lp 1", "id"),
        ("id", "", "id"),
        ("id", "x" * 129, "id"),
        ("kind", "soil", "kind"),
        ("name_th", "", "name_th"),
        ("name_en", " ", "name_en"),
        ("latitude", 90.01, "latitude"),
        ("latitude", -90.5, "latitude"),
        ("latitude", "nan", "latitude"),
        ("latitude", True, "latitude"),
        ("longitude", 180.5, "longitude"),
        ("longitude", "100,14", "longitude"),
        ("zone", "river side", "zone"),
        ("zone", "", "zone"),
        ("site", "pier/1", "site"),
        ("datum", "", "datum"),
        ("install_date", "20/11/2023", "install_date"),
        ("install_date", "2566-11-20", "install_date"),
        ("status", "broken", "status"),
        ("calibration", {"pm25": {"scale": 1.0}}, "calibration.pm25"),
        ("calibration", {"level": {"scale": 0}}, "calibration.level.scale"),
        ("calibration", {"level": {"offset": "inf"}}, "calibration.level.offset"),
        ("calibration", {"level": {"gain": 2}}, "calibration.level.gain"),
        ("thresholds", {"speed": {"low": 20}}, "thresholds.speed"),
        ("thresholds", {"level": {"watch": True}}, "thresholds.level.watch"),
        ("thresholds", {"level": {"watch": "high"}}, "thresholds.level.watch"),
        ("thresholds", {"level": {}}, "thresholds.level"),
        ("thresholds", {"level": {"2bad": 1.0}}, "thresholds.level.2bad"),
        ("meta", {"serial no": "1"}, "meta.serial no"),
        ("meta", {"serial": ""}, "meta.serial"),
        ("meta", {"serial": 123}, "meta.serial"),
        ("colour", "blue", "colour"),
    ],
)
def test_each_field_is_checked(field: str, value: Any, loc: str) -> None:
    assert error_locs(sensor_data(**{field: value})) == [loc]


def test_required_fields_are_each_reported() -> None:
    assert error_locs({"id": "x", "kind": "air"}) == [
        "name_th",
        "name_en",
        "latitude",
        "longitude",
        "zone",
        "site",
    ]


def test_every_problem_is_listed_at_once() -> None:
    data = sensor_data(
        id="a/b",
        latitude=91,
        zone="a b",
        install_date="2567-01-01",
        calibration={"pm25": {"scale": 1}, "level": {"scale": 0}},
        thresholds={"speed": {"x": 1}},
        meta={"ok": ""},
    )
    locs = error_locs(data)
    assert sorted(locs) == sorted(
        [
            "id",
            "latitude",
            "zone",
            "install_date",
            "calibration.pm25",
            "calibration.level.scale",
            "thresholds.speed",
            "meta.ok",
        ]
    )


def test_error_messages_explain_the_fix() -> None:
    with pytest.raises(ValidationError) as exc:
        Sensor.model_validate(sensor_data(install_date="2567-03-01", calibration={"pm25": {}}))
    text = "\n".join(describe_errors(exc.value))
    assert "Buddhist-era" in text and "2024" in text
    assert "not a metric of kind water" in text and "level" in text


def test_calibration_is_applied_before_storage() -> None:
    s = make(calibration={"level": {"scale": 1.02, "offset": -0.03}, "do": {"offset": 0.4}})
    out = s.calibrate({"level": 1.5, "do": 5.0, "ph": 7.2})
    assert out == {"level": 1.5 * 1.02 - 0.03, "do": 5.0 + 0.4, "ph": 7.2}
    assert make(calibration={}).calibrate({"level": 1.5}) == {"level": 1.5}


# --- the registry ------------------------------------------------------------------------


def test_add_then_get_returns_the_stored_sensor(registry: Registry, clock: Clock) -> None:
    stored = registry.add(make())
    assert stored.created_at == stored.updated_at == T0
    got = registry.get("lp-water-01")
    assert got == stored
    assert got.same_as(make())
    assert got.install_date == date(2023, 11, 20)


def test_an_id_is_registered_once(registry: Registry) -> None:
    registry.add(make())
    with pytest.raises(SensorExists, match="lp-water-01"):
        registry.add(make(name_en="Another"))
    assert registry.get("lp-water-01").name_en == "Tha Chin river at Lam Phaya pier"


def test_unknown_ids_raise_sensor_not_found(registry: Registry) -> None:
    for action in (registry.get, registry.retire, lambda i: registry.update(i, zone="z")):
        with pytest.raises(SensorNotFound, match="lp-nope"):
            action("lp-nope")


def test_list_filters_by_kind_zone_and_status(registry: Registry) -> None:
    registry.add(make(id="w1"))
    registry.add(make(id="w2", zone="canal", status="maintenance"))
    registry.add(make(id="a1", kind="air", calibration={}, thresholds={}, zone="canal"))
    assert [s.id for s in registry.list()] == ["a1", "w1", "w2"]
    assert [s.id for s in registry.list(kind="water")] == ["w1", "w2"]
    assert [s.id for s in registry.list(zone="canal")] == ["a1", "w2"]
    assert [s.id for s in registry.list(status="maintenance")] == ["w2"]
    assert [s.id for s in registry.list(kind="air", zone="canal", status="active")] == ["a1"]
    assert registry.list(kind="traffic") == []


def test_update_validates_the_whole_sensor_and_keeps_created_at(
    registry: Registry, clock: Clock
) -> None:
    registry.add(make())
    later = clock.tick()
    updated = registry.update("lp-water-01", datum="LOCAL", thresholds={"level": {"bank": 2.4}})
    assert (updated.datum, updated.thresholds) == ("LOCAL", {"level": {"bank": 2.4}})
    assert (updated.created_at, updated.updated_at) == (T0, later)
    assert registry.get("lp-water-01") == updated
    clock.tick()
    assert registry.update("lp-water-01", datum="LOCAL").updated_at == later  # no change


def test_a_bad_update_changes_nothing(registry: Registry) -> None:
    before = registry.add(make())
    with pytest.raises(ValidationError):
        registry.update("lp-water-01", latitude=95, kind="air")  # level is no air metric
    with pytest.raises(RegistryError, match="id"):
        registry.update("lp-water-01", id="lp-water-99")
    with pytest.raises(RegistryError, match="created_at"):
        registry.update("lp-water-01", created_at=T0)
    assert registry.get("lp-water-01") == before


def test_retire_keeps_the_sensor(registry: Registry) -> None:
    registry.add(make())
    assert registry.retire("lp-water-01").status == "retired"
    assert registry.get("lp-water-01").status == "retired"
    assert [s.id for s in registry.list(status="retired")] == ["lp-water-01"]


def test_snapshot_holds_every_sensor_by_id(registry: Registry) -> None:
    assert registry.snapshot() == {}
    for i in range(5):
        registry.add(make(id=f"lp-water-{i:02}", latitude=14 + i / 100))
    snap = registry.snapshot()
    assert len(snap) == 5
    assert snap == {s.id: s for s in registry.list()}
    registry.update("lp-water-03", status="maintenance")
    assert snap["lp-water-03"].status == "active"  # a snapshot does not change under you
    assert registry.snapshot()["lp-water-03"].status == "maintenance"


def test_upsert_many_adds_updates_and_skips_unchanged(registry: Registry, clock: Clock) -> None:
    registry.add(make(id="a"))
    registry.add(make(id="b"))
    clock.tick()
    done = registry.upsert_many([make(id="a"), make(id="b", site="bridge"), make(id="c")])
    assert (done.added, done.updated, done.unchanged) == (["c"], ["b"], ["a"])
    assert registry.get("b").site == "bridge"
    assert registry.get("b").created_at == T0 < registry.get("b").updated_at  # type: ignore[operator]
    assert registry.get("a").updated_at == T0


def test_upsert_many_is_one_transaction(registry: Registry) -> None:
    registry.add(make(id="a"))
    before = registry.snapshot()
    # model_construct skips validation, so the database itself refuses the last sensor.
    broken = Sensor.model_construct(**{**make(id="z").__dict__, "name_th": None})
    with pytest.raises(RegistryError, match="database error"):
        registry.upsert_many([make(id="b"), make(id="a", zone="canal"), broken])
    assert registry.snapshot() == before


def test_upsert_many_without_update_refuses_registered_ids(registry: Registry) -> None:
    registry.add(make(id="a"))
    with pytest.raises(SensorExists, match="'a'"):
        registry.upsert_many([make(id="b"), make(id="a")], update=False)
    with pytest.raises(RegistryError, match="twice"):
        registry.upsert_many([make(id="c"), make(id="c")])
    assert list(registry.snapshot()) == ["a"]


def test_sensors_persist_across_opening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'dir' / 'registry.db'}"
    with Registry.open(url) as reg:
        stored = reg.add(make())
    with Registry.open(url) as reg:
        assert reg.get("lp-water-01") == stored


def test_an_in_memory_registry_works() -> None:
    with Registry.open("sqlite://") as reg:
        reg.add(make())
        assert list(reg.snapshot()) == ["lp-water-01"]


def test_a_row_broken_outside_the_registry_is_reported(registry: Registry) -> None:
    registry.add(make())
    with registry._engine.begin() as conn:  # another program writing the table directly
        conn.execute(sa.text("UPDATE sensors SET latitude = 500"))
    with pytest.raises(RegistryError, match=r"lp-water-01.*invalid"):
        registry.get("lp-water-01")


def test_a_bad_url_is_a_registry_error() -> None:
    with pytest.raises(RegistryError, match="invalid registry URL"):
        Registry.open("not a url")


def test_the_default_registry_is_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings({}, data_dir=tmp_path / "var")
    assert registry_url(settings) == f"sqlite:///{tmp_path / 'var' / 'registry.db'}"
    with Registry.from_settings(settings) as reg:
        reg.add(make())
    assert (tmp_path / "var" / "registry.db").is_file()


def test_a_registry_url_setting_wins_over_the_data_dir(tmp_path: Path) -> None:
    # CITYDATA_REGISTRY_URL is read when Settings has it; a stand-in until it is wired in.
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    settings = SimpleNamespace(data_dir=tmp_path / "var", registry_url=url)
    assert registry_url(settings) == url  # type: ignore[arg-type]
    empty = SimpleNamespace(data_dir=tmp_path / "var", registry_url="")
    assert registry_url(empty).endswith("var/registry.db")  # type: ignore[arg-type]


def test_offline_limit_is_the_kinds_unless_the_sensors_meta_sets_one() -> None:
    base = {
        "id": "air-x",
        "kind": "air",
        "name_th": "x",
        "name_en": "x",
        "latitude": 14.0,
        "longitude": 100.1,
        "zone": "z",
        "site": "s",
    }
    assert Sensor.model_validate(base).offline_limit_s == 1800.0
    water = Sensor.model_validate({**base, "kind": "water"})
    assert water.offline_limit_s == all_kinds()["water"].offline_after_s
    own = Sensor.model_validate({**base, "meta": {"offline_after_s": "10800"}})
    assert own.offline_limit_s == 10800.0
    for bad in ("soon", "0", "-5", "nan", "inf"):
        with pytest.raises(ValueError, match="offline_after_s must be a positive number"):
            Sensor.model_validate({**base, "meta": {"offline_after_s": bad}})
