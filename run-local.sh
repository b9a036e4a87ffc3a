#!/usr/bin/env bash
# Run citydata on this machine with a simulated Lam Phaya fleet: Mosquitto, InfluxDB, the
# collector and the simulator, data under ./var. Ctrl-C stops everything. Options: see
# `.venv/bin/citydata local --help` (ports, interval).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
bash bootstrap.sh
exec .venv/bin/citydata local "$@"
