#!/usr/bin/env bash
# Run the whole test suite: lint, types, then unit, integration (real Mosquitto and InfluxDB,
# started by the tests on free loopback ports) and end-to-end tests. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
bash bootstrap.sh --tests
.venv/bin/ruff check .
.venv/bin/ruff format --check --quiet .
.venv/bin/mypy
.venv/bin/lint-imports --no-cache  # imports run one way (pyproject.toml: tool.importlinter)
exec .venv/bin/python -m pytest "$@"
