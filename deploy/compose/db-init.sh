#!/bin/sh
# docker-compose.yml's db-init, once InfluxDB is healthy and before any citydata service starts:
# refuse the .env's placeholder secrets, create the database and its retention
# (`citydata db init`, as InfluxDB's admin), and migrate the sensor registry once, so the
# services that open it next do not race to create its tables.
set -eu
for name in INFLUXDB_ADMIN_PASSWORD INFLUXDB_USER_PASSWORD INFLUXDB_READ_USER_PASSWORD \
            GRAFANA_ADMIN_PASSWORD; do
  value="$(printenv "$name" || true)"
  case "$value" in
    "" | change-me*) echo "db-init: set $name in .env (it is empty or still change-me-...)" >&2; exit 1 ;;
  esac
done
citydata db init
citydata sensors list --format json > /dev/null
echo "db-init: database and registry ready" >&2
