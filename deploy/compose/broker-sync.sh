#!/bin/sh
# docker-compose.yml's broker-sync, after db-init and before mqtt-init: the services' MQTT
# credentials from the .env passwords into the registry (created, or rotated when a password
# changed), then the broker's password file and ACL from the registry (`citydata broker sync`:
# every device, gateway and service credential, docs/broker.md) into the data volume, where
# mqtt-init hands them to Mosquitto. After adding, retiring or re-keying a sensor, run it again
# with mqtt-init and a reload (docs/compose.md, "The broker").
set -eu
out="${BROKER_FILES:-/var/lib/citydata/broker}"

for role in collector api simulator; do
  name="MQTT_$(echo "$role" | tr '[:lower:]' '[:upper:]')_PASSWORD"
  password="$(printenv "$name" || true)"
  case "$password" in
    "" | change-me*) echo "broker-sync: set $name in .env (it is empty or still change-me-...)" >&2; exit 1 ;;
    # It goes into CITYDATA_MQTT_URL unescaped: keep to characters a URL carries as they are.
    *[!A-Za-z0-9._~-]*) echo "broker-sync: $name may hold only letters, digits and . _ ~ -" >&2; exit 1 ;;
  esac
  printf '%s\n' "$password" | citydata broker credential ensure "$role" --role "$role"
done

mkdir -p "$out"
citydata broker sync --no-reload --password-file "$out/passwd" --acl-file "$out/acl"
echo "broker-sync: password file and ACL written to $out" >&2
