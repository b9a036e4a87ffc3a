"""`citydata sensors ...` end to end: argv in, output and the registry's contents checked."""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from citydata.cli.sensors import add_commands
from citydata.registry import Registry, Sensor
from citydata.settings import Settings, load_settings

FLEET = Path(__file__).resolve().parents[1] / "data" / "registry" / "lam_phaya_fleet.csv"
HEADER = "id,kind,name_th,name_en,latitude,longitude,zone,site,install_date,calibration"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="citydata")
    add_commands(p.add_subparsers(dest="command", required=True))
    return p


class Cli:
    """Runs `citydata sensors ...` in this process against one data directory."""

    def __init__(self, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.settings: Settings = load_settings({}, data_dir=data_dir)
        self.capsys = capsys
        self.out = self.err = ""

    def __call__(self, *argv: str) -> int:
        self.capsys.readouterr()
        args = parser().parse_args(["sensors", *argv])
        code: int = args.func(self.settings, args)
        self.out, self.err = self.capsys.readouterr()
        return code

    def sensors(self) -> dict[str, Sensor]:
        with Registry.from_settings(self.settings) as reg:
            return reg.snapshot()


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(tmp_path / "var", capsys)


def fleet_rows() -> list[dict[str, str]]:
    with FLEET.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


ADD = [
    "lp-air-01",
    "--kind=air",
    "--name-th=สำนักงานเทศบาลตำบลลำพญา",
    "--name-en=Lam Phaya Municipal Office",
    "--lat=14.0005",
    "--lon=100.1460",
    "--zone=centre",
    "--site=municipal-office",
    "--install-date=2024-02-12",
    "--calibration=pm25=1.02*x+0.5; pm10=0.98*x-1.2",
    '--thresholds={"pm25": {"watch": 37.5}}',
    "--meta=model=AirNode-2",
    "--meta=owner=เทศบาลตำบลลำพญา",
]


def test_every_subcommand_explains_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    top = parser()
    sensors = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    sub = sensors.choices["sensors"]
    actions = next(a for a in sub._actions if isinstance(a, argparse._SubParsersAction))
    assert set(actions.choices) == {"add", "list", "show", "update", "retire", "import", "export"}
    for name, p in actions.choices.items():
        for action in p._actions:
            assert action.help and action.help != argparse.SUPPRESS, (name, action.dest)
        with pytest.raises(SystemExit) as exc:
            top.parse_args(["sensors", name, "--help"])
        assert exc.value.code == 0
        assert f"usage: citydata sensors {name}" in capsys.readouterr().out


def test_add_show_update_retire(cli: Cli) -> None:
    assert cli("add", *ADD) == 0, cli.err
    assert "lp-air-01" in cli.out
    assert cli("show", "lp-air-01") == 0
    shown = yaml.safe_load(cli.out)
    assert shown["name_th"] == "สำนักงานเทศบาลตำบลลำพญา" and "สำนักงาน" in cli.out
    assert shown["calibration"]["pm10"] == {"scale": 0.98, "offset": -1.2}
    assert shown["meta"] == {"model": "AirNode-2", "owner": "เทศบาลตำบลลำพญา"}
    assert shown["status"] == "active" and shown["created_at"]

    assert cli("update", "lp-air-01", "--status=maintenance", "--meta=owner=", "--meta=s=1") == 0
    sensor = cli.sensors()["lp-air-01"]
    assert sensor.status == "maintenance" and sensor.meta == {"model": "AirNode-2", "s": "1"}
    assert cli("update", "lp-air-01", "--calibration=") == 0
    assert cli.sensors()["lp-air-01"].calibration == {}

    assert cli("retire", "lp-air-01") == 0
    assert cli.sensors()["lp-air-01"].status == "retired"
    assert cli("show", "lp-air-01", "--format=json") == 0
    assert json.loads(cli.out)["status"] == "retired"


def test_add_reports_every_problem_and_stores_nothing(cli: Cli) -> None:
    argv = ["lp/1", "--kind=air", "--lat=95", "--zone=a b", "--calibration=level=2*x"]
    assert cli("add", *argv, "--thresholds={bad", "--meta=nokey") == 1
    for problem in ("id:", "name_th:", "latitude:", "longitude:", "zone:", "site:",
                    "calibration.level:", "--thresholds:", "--meta:"):  # fmt: skip
        assert problem in cli.err, problem
    assert cli.sensors() == {}
    assert cli("add", *ADD) == 0
    assert cli("add", *ADD) == 1 and "already registered" in cli.err


def test_a_failed_update_changes_nothing(cli: Cli) -> None:
    cli("add", *ADD)
    before = cli.sensors()
    assert cli("update", "lp-air-01", "--lat=14.1", "--calibration=pm25=abc") == 1
    assert "--calibration" in cli.err and "not updated" in cli.err
    assert cli("update", "lp-air-01", "--lat=95") == 1 and "latitude" in cli.err
    assert cli("update", "lp-air-01") == 1 and "nothing to change" in cli.err
    assert cli.sensors() == before
    assert cli("show", "lp-nope") == 1 and "not found" in cli.err
    assert cli("retire", "lp-nope") == 1 and "not found" in cli.err


def test_import_the_lam_phaya_fleet_then_list(cli: Cli) -> None:
    rows = fleet_rows()
    assert cli("import", str(FLEET)) == 0, cli.err
    assert f"{len(rows)} added" in cli.out
    sensors = cli.sensors()
    assert set(sensors) == {r["id"] for r in rows}
    for row in rows:
        s = sensors[row["id"]]
        assert (s.name_th, s.name_en, s.zone, s.site) == (
            row["name_th"], row["name_en"], row["zone"], row["site"]
        )  # fmt: skip
        assert (s.latitude, s.longitude) == (float(row["latitude"]), float(row["longitude"]))
        assert s.meta == {k[5:]: v for k, v in row.items() if k.startswith("meta.") and v}
    assert sensors["lp-water-01"].thresholds["level"]["critical"] == 2.1
    assert sensors["lp-water-03"].calibrate({"level": 0.5}) == {"level": 0.5 + 0.85}

    assert cli("list") == 0
    for row in rows:
        assert row["id"] in cli.out and row["name_th"] in cli.out
    assert cli.out.strip().endswith(f"{len(rows)} sensors")
    assert cli("list", "--zone=riverside", "--format=json") == 0
    expected = sorted(r["id"] for r in rows if r["zone"] == "riverside")
    assert [s["id"] for s in json.loads(cli.out)] == expected
    assert cli("list", "--status=retired", "--format=yaml") == 0
    assert [s["id"] for s in yaml.safe_load(cli.out)] == [
        r["id"] for r in rows if r["status"] == "retired"
    ]
    assert cli("list", "--kind=traffic", "--format=csv") == 0
    assert {r["kind"] for r in csv.DictReader(io.StringIO(cli.out))} == {"traffic"}


def test_importing_again_needs_update(cli: Cli) -> None:
    assert cli("import", str(FLEET)) == 0
    before = cli.sensors()
    assert cli("import", str(FLEET)) == 1
    assert "line 2 (lp-air-01): already registered" in cli.err
    assert cli.err.count("already registered") == len(fleet_rows())
    assert cli("import", str(FLEET), "--update") == 0
    assert f"{len(fleet_rows())} unchanged" in cli.out
    assert cli.sensors() == before


BAD_CSV = f"""{HEADER},meta.serial
ok-1,air,ทดสอบ,Test,14.0,100.1,centre,s1,2024-01-01,,A1
bad-1,air,ทดสอบ,Test,14.0,200,centre,s1,2567-01-01,pm25=2*x,A2

bad/2,soil,,Test,abc,100.1,centre,s1,,pm25=abc,A3
"ok-2","water","หลาย
บรรทัด",Test,14.0,100.1,canal,s2,,level=x+0.1,A4
bad-3,water,ทดสอบ,Test,14.0,100.1,canal,s2,,pm25=2*x,A5
ok-1,air,ทดสอบ,Test,14.0,100.1,centre,s1,,,A6
"""


def test_import_reports_every_invalid_row_by_line_and_imports_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(BAD_CSV, encoding="utf-8")
    assert cli("import", str(path)) == 1
    err = cli.err
    assert "nothing imported" in err
    for expected in (
        "line 3 (bad-1): longitude:",
        "line 3 (bad-1): install_date: year 2567 looks like a Buddhist-era year",
        "line 5 (bad/2): id:",
        "line 5 (bad/2): kind: unknown kind 'soil'",
        "line 5 (bad/2): name_th: Field required",
        "line 5 (bad/2): latitude:",
        "line 5 (bad/2): calibration: cannot read 'pm25=abc'",
        "line 8 (bad-3): calibration.pm25: not a metric of kind water",
        "line 9 (ok-1): id also on line 2",
    ):
        assert expected in err, f"{expected!r} not in:\n{err}"
    assert "line 2 " not in err and "line 6 " not in err  # valid rows, the second on two lines
    assert cli.sensors() == {}
    assert cli("import", str(path), "--dry-run") == 1


def test_header_problems_and_unreadable_files(cli: Cli, tmp_path: Path) -> None:
    bad_header = tmp_path / "header.csv"
    bad_header.write_text("id,kind,name,latitude\nx,air,y,14\n", encoding="utf-8")
    assert cli("import", str(bad_header)) == 1
    assert "unknown column 'name'" in cli.err and "missing column 'name_th'" in cli.err
    thai_windows = tmp_path / "cp874.csv"  # Excel's plain "CSV" on a Thai Windows
    thai_windows.write_bytes(FLEET.read_text(encoding="utf-8").encode("cp874"))
    assert cli("import", str(thai_windows)) == 1 and "not UTF-8" in cli.err
    assert cli("import", str(tmp_path / "fleet.txt")) == 1 and "--format" in cli.err
    assert cli("import", str(tmp_path / "missing.csv")) == 1 and "cannot read" in cli.err
    assert cli.sensors() == {}


def test_excel_csv_with_bom_and_crlf_imports_the_same(cli: Cli, tmp_path: Path) -> None:
    excel = tmp_path / "excel.csv"
    excel.write_bytes(b"\xef\xbb\xbf" + FLEET.read_bytes().replace(b"\n", b"\r\n"))
    assert cli("import", str(excel)) == 0, cli.err
    from_excel = cli.sensors()
    other = Cli(tmp_path / "other", cli.capsys)
    assert other("import", str(FLEET)) == 0
    plain = other.sensors()
    assert from_excel.keys() == plain.keys()
    assert all(from_excel[i].same_as(plain[i]) for i in plain)


@pytest.mark.parametrize("suffix", ["csv", "yaml"])
def test_export_then_import_gives_identical_sensors(cli: Cli, tmp_path: Path, suffix: str) -> None:
    assert cli("import", str(FLEET)) == 0
    original = cli.sensors()
    exported = tmp_path / f"fleet.{suffix}"
    assert cli("export", str(exported)) == 0
    assert f"exported {len(original)} sensors" in cli.out
    raw = exported.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") == (suffix == "csv")  # Excel needs the BOM
    assert "แม่น้ำท่าจีน ท่าน้ำลำพญา".encode() in raw  # Thai as itself, not escaped

    fresh = Cli(tmp_path / "fresh", cli.capsys)
    assert fresh("import", str(exported)) == 0, fresh.err
    copied = fresh.sensors()
    assert copied.keys() == original.keys()
    for sensor_id, sensor in original.items():
        assert copied[sensor_id].as_dict() == sensor.as_dict()


def test_export_to_stdout_and_import_yaml_errors_by_line(cli: Cli, tmp_path: Path) -> None:
    cli("import", str(FLEET))
    assert cli("export", "-", "--format=yaml", "--kind=water") == 0
    water = yaml.safe_load(cli.out)
    assert {s["kind"] for s in water} == {"water"} and len(water) == 3
    water[1]["latitude"] = 99
    water[2]["thresholds"] = {"level": {"bank": "high"}}
    path = tmp_path / "water.yaml"
    path.write_text(yaml.safe_dump(water, allow_unicode=True, sort_keys=False), encoding="utf-8")
    lines = path.read_text(encoding="utf-8").splitlines()
    starts = [n for n, line in enumerate(lines, 1) if line.startswith("- id:")]
    fresh = Cli(tmp_path / "fresh", cli.capsys)
    assert fresh("import", str(path)) == 1
    assert f"line {starts[1]} ({water[1]['id']}): latitude" in fresh.err
    assert f"line {starts[2]} ({water[2]['id']}): thresholds.level.bank" in fresh.err
    assert f"line {starts[0]} " not in fresh.err
    assert fresh.sensors() == {}


def test_dry_run_validates_without_storing(cli: Cli) -> None:
    assert cli("import", str(FLEET), "--dry-run") == 0
    assert f"{len(fleet_rows())} sensors valid" in cli.out
    assert cli.sensors() == {}


def test_building_the_parser_loads_no_database_library() -> None:
    # Every `citydata` command builds the whole parser; only `sensors` should pay for these.
    code = (
        "import sys, citydata.cli.sensors; "
        "print(sorted({'sqlalchemy', 'alembic'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
