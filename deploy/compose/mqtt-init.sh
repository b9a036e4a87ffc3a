#!/bin/sh
# Prepare Mosquitto's /etc/mosquitto for deploy/mosquitto.conf (docker-compose.yml's mqtt-init,
# after broker-sync): the password file and ACL broker-sync wrote from the registry, plus the
# broker healthcheck's own user, and the TLS certificate (yours from deploy/compose/certs/, else
# a self-signed one made once). Runs before every broker start; run it again after broker-sync
# to apply a registry change (docs/compose.md, "The broker").
set -eu
etc="${MOSQUITTO_ETC:-/etc/mosquitto}"
certs="${CERTS_DIR:-/certs}"
data="${MOSQUITTO_DATA:-/var/lib/mosquitto}"
from="${BROKER_FILES:-/citydata/broker}"  # broker-sync's output, in the citydata volume

for file in passwd acl; do
  [ -s "$from/$file" ] || { echo "mqtt-init: no $from/$file: run broker-sync first" >&2; exit 1; }
done

mkdir -p "$etc/certs"
# The broker's own healthcheck user: a random password made once, kept in the volume.
[ -s "$etc/healthcheck.password" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$etc/healthcheck.password"

tmp="$etc/passwd.new"
rm -f "$tmp" && cp "$from/passwd" "$tmp" && chmod 600 "$tmp"
mosquitto_passwd -b "$tmp" healthcheck "$(cat "$etc/healthcheck.password")"
mv "$tmp" "$etc/passwd"

tmp="$etc/acl.new"
{
  cat "$from/acl"
  printf '\n# Added by deploy/compose/mqtt-init.sh: the broker healthcheck reads its uptime.\n'
  # shellcheck disable=SC2016 # $SYS is a topic, not a variable
  printf 'user healthcheck\ntopic read $SYS/broker/uptime\n'
} > "$tmp"
chmod 600 "$tmp" && mv "$tmp" "$etc/acl"

if [ -s "$certs/server.crt" ] && [ -s "$certs/server.key" ]; then
  cp "$certs/server.crt" "$certs/server.key" "$etc/certs/"
  # The CA, for mosquitto.conf's cafile when client certificates are required (never ca.key).
  if [ -s "$certs/ca.crt" ]; then cp "$certs/ca.crt" "$etc/certs/"; chmod 644 "$etc/certs/ca.crt"; fi
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
chown -R 1883:1883 "$etc" "$data"
chmod 700 "$etc" "$etc/certs"
chmod 600 "$etc/passwd" "$etc/acl" "$etc/certs/server.key" "$etc/healthcheck.password"
chmod 644 "$etc/certs/server.crt"
echo "mqtt-init: password file, ACL and certificate ready" >&2
