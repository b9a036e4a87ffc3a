#!/bin/sh
# Prepare Mosquitto's /etc/mosquitto for deploy/mosquitto.conf (docker-compose.yml's mqtt-init):
# the password file and ACL from the .env passwords, and the TLS certificate (yours from
# deploy/compose/certs/, else a self-signed one made once). Runs before every broker start, so
# a password changed in .env applies at the next `docker compose up`.
set -eu
etc=/etc/mosquitto

check_password() {  # the name of the variable, its value
  case "$2" in
    "" | change-me*) echo "mqtt-init: set $1 in .env (it is empty or still change-me-...)" >&2; exit 1 ;;
    # It goes into CITYDATA_MQTT_URL unescaped: keep to characters a URL carries as they are.
    *[!A-Za-z0-9._~-]*) echo "mqtt-init: $1 may hold only letters, digits and . _ ~ -" >&2; exit 1 ;;
  esac
}
check_password MQTT_COLLECTOR_PASSWORD "${MQTT_COLLECTOR_PASSWORD:-}"
check_password MQTT_API_PASSWORD "${MQTT_API_PASSWORD:-}"
check_password MQTT_SIMULATOR_PASSWORD "${MQTT_SIMULATOR_PASSWORD:-}"

mkdir -p "$etc/certs"
# The broker's own healthcheck user: a random password made once, kept in the volume.
[ -s "$etc/healthcheck.password" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$etc/healthcheck.password"

tmp="$etc/passwd.new"
rm -f "$tmp" && touch "$tmp" && chmod 600 "$tmp"
mosquitto_passwd -b "$tmp" collector "$MQTT_COLLECTOR_PASSWORD"
mosquitto_passwd -b "$tmp" api "$MQTT_API_PASSWORD"
mosquitto_passwd -b "$tmp" simulator "$MQTT_SIMULATOR_PASSWORD"
mosquitto_passwd -b "$tmp" healthcheck "$(cat "$etc/healthcheck.password")"
mv "$tmp" "$etc/passwd"

# Native topics only (CITYDATA_ROUTES' default). Devices of their own and other formats' topics
# need lines of their own here, or the registry-driven ACL (citydata broker sync) when it comes.
cat > "$etc/acl" <<'ACL'
# Written by deploy/compose/mqtt-init.sh at every start: edit that script, not this file.
user collector
topic read sensors/#

user api
topic write sensors/#

user simulator
topic write sensors/#

user healthcheck
topic read $SYS/broker/uptime
ACL

if [ -s /certs/server.crt ] && [ -s /certs/server.key ]; then
  cp /certs/server.crt /certs/server.key "$etc/certs/"
  # The CA, for mosquitto.conf's cafile when client certificates are required (never ca.key).
  if [ -s /certs/ca.crt ]; then cp /certs/ca.crt "$etc/certs/"; chmod 644 "$etc/certs/ca.crt"; fi
  echo "mqtt-init: using the certificate in deploy/compose/certs/" >&2
elif [ ! -s "$etc/certs/server.crt" ]; then
  # Replace it with your own: a self-signed certificate makes devices trust it by hand.
  command -v openssl >/dev/null 2>&1 || apk add --no-cache -q openssl
  openssl req -x509 -newkey rsa:3072 -nodes -days 3650 -subj "/CN=${MQTT_TLS_HOSTNAME:-mosquitto}" \
    -addext "subjectAltName=DNS:${MQTT_TLS_HOSTNAME:-mosquitto},DNS:mosquitto,DNS:localhost" \
    -keyout "$etc/certs/server.key" -out "$etc/certs/server.crt" 2>/dev/null
  echo "mqtt-init: made a self-signed certificate for ${MQTT_TLS_HOSTNAME:-mosquitto}; put your own in deploy/compose/certs/" >&2
fi

# Mosquitto drops to its user (uid 1883) and refuses files others can read.
chown -R 1883:1883 "$etc" /var/lib/mosquitto
chmod 700 "$etc" "$etc/certs"
chmod 600 "$etc/passwd" "$etc/acl" "$etc/certs/server.key" "$etc/healthcheck.password"
chmod 644 "$etc/certs/server.crt"
echo "mqtt-init: password file, ACL and certificate ready" >&2
