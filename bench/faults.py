"""Fault benchmark: for each failure scenario, publish a known set of readings at QoS 1 through
real Mosquitto, InfluxDB and a collector process, inject the fault mid-stream, and print
published / stored / missing / duplicated and the time from the fault's end until every
reading was queryable.

    .venv/bin/python bench/faults.py [--messages 20000] [--rate 4000] [--only SUBSTRING]

The scenarios are those of tests/integration/test_faults.py (tests/faultlab.py), plus the
broker restart with the default shared subscription, which Mosquitto 2.0 does not restore
from persistence: that row shows what a broker restart costs in that configuration.
Everything runs on 127.0.0.1 in a temporary directory and stops by PID.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import faultlab


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=4000, help="publish rate, msg/s")
    parser.add_argument("--only", help="run the scenarios whose name contains this")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for recovery")
    args = parser.parse_args()

    scenarios = dict(faultlab.SCENARIOS)
    scenarios["mosquitto restarted, shared subscription"] = (faultlab.broker_restarted, {})
    rows = []
    for name, (fault, lab_kw) in scenarios.items():
        if args.only and args.only not in name:
            continue
        print(f"{name} …", flush=True)
        with tempfile.TemporaryDirectory(prefix="citydata-faults-") as tmp:
            result = faultlab.run(
                name,
                Path(tmp),
                fault,
                n=args.messages,
                rate=args.rate,
                timeout=args.timeout,
                **lab_kw,
            )
        rows.append(result)

    print()
    header = (
        f"{'scenario':44} {'published':>9} {'stored':>7} {'missing':>7} {'dup':>4} {'recover s':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.scenario:44} {r.published:9,} {r.stored:7,} {r.missing:7,} {r.extra:4,} "
            f"{r.recover_s:9.2f}"
        )
        for note in r.notes:
            print(f"{'':44}   {note[-110:]}")
    print(
        "\nrecover s: from the end of the fault (service back) until every reading was "
        f"queryable; {args.timeout:g} s means it never was."
    )
    return 0 if all(r.exact for r in rows if "shared" not in r.scenario) else 1


if __name__ == "__main__":
    raise SystemExit(main())
