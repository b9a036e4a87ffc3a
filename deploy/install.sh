#!/usr/bin/env bash
# Install citydata natively on a Debian (12+) or Ubuntu (24.04+) server, without Docker:
# Mosquitto and InfluxDB from the distribution, citydata in /opt/citydata/venv, its settings in
# /etc/citydata, its systemd units, then start everything. Safe to run again: a file the
# operator edited is kept (the new version is put beside it as *.citydata-new), and a run
# that has nothing to do says so. docs/native-install.md is the walk-through.
#
# Usage: sudo deploy/install.sh [--root DIR] [--no-apt] [--no-pip] [--no-systemctl]
#   --root DIR      install under DIR instead of / (for tests: implies the three --no-*, and
#                   no user is created and no owner is changed)
#   --no-apt        do not install the distribution's packages
#   --no-pip        do not create or update /opt/citydata/venv
#   --no-systemctl  do not reload, enable, start or restart anything
set -euo pipefail

src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root=/
apt=true pip=true systemctl=true
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root="${2:?--root needs a directory}"; shift 2 ;;
    --root=*) root="${1#--root=}"; shift ;;
    --no-apt) apt=false; shift ;;
    --no-pip) pip=false; shift ;;
    --no-systemctl) systemctl=false; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
root="$(cd "$root" && pwd)"
R="${root%/}"          # prefix of every path written: empty for the real root
owners=true            # create the citydata user, chown to it
if [ -n "$R" ]; then apt=false pip=false systemctl=false owners=false; fi
if $owners && [ "$(id -u)" -ne 0 ]; then
  echo "install: run as root (sudo deploy/install.sh), or with --root DIR for a test" >&2
  exit 1
fi

changes=0
say() { echo "install: $*"; }
changed() { changes=$((changes + 1)); say "$*"; }
record="$R/etc/citydata/.installed"   # checksums of the files as this script last wrote them

own() {  # own OWNER:GROUP MODE PATH: set mode, and owner unless under a test root
  local who="$1" mode="$2" path="$3"
  chmod "$mode" "$path"
  if $owners; then chown "$who" "$path"; fi
}

ensure_dir() {  # ensure_dir PATH MODE OWNER:GROUP
  local path="$R$1"
  if [ ! -d "$path" ]; then
    mkdir -p "$path"
    changed "created $1"
  fi
  own "$3" "$2" "$path"
}

sum() { sha256sum "$1" | cut -d' ' -f1; }

# install_managed SRC DEST MODE OWNER:GROUP: a file this project ships. Replaced by a new
# version unless the operator changed what we installed (then kept, the new one beside it).
install_managed() {
  local from="$1" dest="$2" mode="$3" who="$4"
  local path="$R$dest" mark
  mark="$record/$(echo "$dest" | tr / _)"
  mkdir -p "$record"
  if [ -f "$path" ] && cmp -s "$from" "$path"; then
    own "$who" "$mode" "$path"
    [ "$(cat "$mark" 2>/dev/null)" = "$(sum "$path")" ] || sum "$path" > "$mark"
    return
  fi
  if [ -f "$path" ] && [ -f "$mark" ] && [ "$(sum "$path")" != "$(cat "$mark")" ]; then
    if ! cmp -s "$from" "$path.citydata-new" 2>/dev/null; then
      install -m "$mode" "$from" "$path.citydata-new"
      changed "kept $dest (edited here); the shipped version is $dest.citydata-new"
    else
      say "kept $dest (edited here)"
    fi
    return
  fi
  if [ -f "$path" ] && [ ! -f "$mark" ] && [ ! -e "$path.citydata-orig" ]; then
    cp -p "$path" "$path.citydata-orig"   # the distribution's own, kept once
    say "saved the previous $dest as $dest.citydata-orig"
  fi
  mkdir -p "$(dirname "$path")"
  install -m "$mode" "$from" "$path"
  own "$who" "$mode" "$path"
  sum "$path" > "$mark"
  changed "installed $dest"
}

# install_once SRC DEST MODE OWNER:GROUP: a file the operator owns: written only when missing.
install_once() {
  local from="$1" dest="$2" mode="$3" who="$4"
  local path="$R$dest"
  if [ -e "$path" ]; then
    say "kept $dest"
    return 1
  fi
  mkdir -p "$(dirname "$path")"
  install -m "$mode" "$from" "$path"
  own "$who" "$mode" "$path"
  changed "created $dest"
}

# --- the distribution's packages -------------------------------------------------------------
if $apt; then
  missing=()
  for package in mosquitto mosquitto-clients influxdb python3-venv openssl curl; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" \
      || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    changed "installed the packages ${missing[*]}"
  fi
fi

# --- the citydata user and its directories ---------------------------------------------------
if $owners; then
  if ! getent passwd citydata >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/citydata --no-create-home \
      --shell /usr/sbin/nologin --comment "citydata services" citydata
    changed "created the system user citydata"
  fi
else
  say "not creating the user citydata nor changing owners under the test root $root"
fi
ensure_dir /etc/citydata 0750 root:citydata
ensure_dir /var/lib/citydata 0750 citydata:citydata
ensure_dir /opt/citydata 0755 root:root

# --- citydata itself, in its own virtual environment -----------------------------------------
if $pip; then
  venv=/opt/citydata/venv
  stamp="$R$venv/.citydata-source"
  want="$(cd "$src" && find citydata collector api alerts simulators dashboards \
    pyproject.toml requirements-image.lock -type f -not -path '*/__pycache__/*' -print0 \
    | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
  if [ ! -x "$R$venv/bin/citydata" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    [ -x "$R$venv/bin/python" ] || python3 -m venv "$R$venv"
    # The packages the image has (requirements-image.lock: the project and its grafana extra),
    # each checked against its pinned hash; then citydata itself (a directory has no hash).
    # URLLIB3_NO_OVERRIDE and a source build of urllib3-future keep grafana-client's HTTP stack
    # from replacing the real urllib3 (as bootstrap.sh does).
    URLLIB3_NO_OVERRIDE=1 "$R$venv/bin/python" -m pip install -q --disable-pip-version-check \
      --no-binary urllib3-future --require-hashes --no-deps -r "$src/requirements-image.lock"
    "$R$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps "$src"
    echo "$want" > "$stamp"
    changed "installed citydata into $venv"
  fi
fi

# --- settings ----------------------------------------------------------------------------
new_env=false
if install_once "$src/deploy/citydata.env.example" /etc/citydata/citydata.env 0640 root:citydata
then
  new_env=true
fi
install_once "$src/deploy/alerts.yaml" /etc/citydata/alerts.yaml 0640 root:citydata || true

# --- Mosquitto -------------------------------------------------------------------------------
# Debian's /etc/mosquitto/mosquitto.conf already sets persistence_location and includes
# conf.d; Mosquitto refuses a second persistence_location, so that line is left out here.
# Plain MQTT (1883) listens on loopback only: on a server, the citydata programs are its only
# plain clients; devices and gateways elsewhere use TLS on 8883 (docs/tls.md).
mosquitto_conf="$(mktemp)"
trap 'rm -f "$mosquitto_conf"' EXIT
grep -v '^persistence_location' "$src/deploy/mosquitto.conf" \
  | sed 's/^listener 1883$/listener 1883 127.0.0.1/' > "$mosquitto_conf"
install_managed "$mosquitto_conf" /etc/mosquitto/conf.d/citydata.conf 0644 root:root
ensure_dir /etc/mosquitto/certs 0750 root:mosquitto
if [ ! -e "$R/etc/mosquitto/certs/server.key" ]; then
  # A self-signed certificate so the TLS listener starts; replace it with the municipality's.
  openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=$(hostname -f 2>/dev/null \
    || hostname)" -keyout "$R/etc/mosquitto/certs/server.key" \
    -out "$R/etc/mosquitto/certs/server.crt" 2>/dev/null
  own root:mosquitto 0640 "$R/etc/mosquitto/certs/server.key"
  own root:mosquitto 0644 "$R/etc/mosquitto/certs/server.crt"
  changed "created a self-signed /etc/mosquitto/certs/server.crt (replace it with your own)"
fi
acl="$(mktemp)"
trap 'rm -f "$mosquitto_conf" "$acl"' EXIT
cat > "$acl" <<'ACL'
# Who may use which topics (mosquitto.conf(5), acl_file). The collector and the API:
user citydata
topic read sensors/#
topic read $share/collectors/sensors/#
topic write sensors/#

# Each sensor publishes only on its own topic, with its id as its MQTT user name.
pattern write sensors/+/%u
ACL
install_once "$acl" /etc/mosquitto/acl 0640 mosquitto:mosquitto || true
if [ ! -e "$R/etc/mosquitto/passwd" ]; then
  install -m 0640 /dev/null "$R/etc/mosquitto/passwd"
  own mosquitto:mosquitto 0640 "$R/etc/mosquitto/passwd"
  changed "created /etc/mosquitto/passwd"
fi
if $new_env; then
  # The collector's broker password: random, in the broker's file and in the settings.
  password="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  sed -i "s/@MQTT_PASSWORD@/$password/" "$R/etc/citydata/citydata.env"
  if command -v mosquitto_passwd >/dev/null; then
    mosquitto_passwd -b "$R/etc/mosquitto/passwd" citydata "$password" 2>/dev/null
    own mosquitto:mosquitto 0640 "$R/etc/mosquitto/passwd"
    changed "set the broker password of the MQTT user citydata (in /etc/citydata/citydata.env)"
  else
    say "mosquitto_passwd missing: add the MQTT user citydata by hand (docs/native-install.md)"
  fi
fi

# --- InfluxDB --------------------------------------------------------------------------------
install_managed "$src/deploy/influxdb.conf" /etc/influxdb/influxdb.conf 0644 root:root

# --- systemd units ---------------------------------------------------------------------------
units=()   # those with an [Install] section, to enable
for unit in "$src"/deploy/systemd/*; do
  name="$(basename "$unit")"
  if grep -q '^\[Install\]' "$unit"; then units+=("$name"); fi
  install_managed "$unit" "/etc/systemd/system/$name" 0644 root:root
done

# --- start -----------------------------------------------------------------------------------
if $systemctl; then
  systemctl daemon-reload
  systemctl enable --quiet influxdb.service mosquitto.service "${units[@]}"
  if [ "$changes" -gt 0 ]; then
    systemctl restart influxdb.service mosquitto.service
    # A first start of InfluxDB takes a few seconds; the unit retries, and the collector
    # creates the database too.
    systemctl start citydata-db-init.service || say "citydata db init failed: it is retried"
    systemctl restart citydata.target
    say "restarted InfluxDB, Mosquitto and citydata"
  else
    systemctl start influxdb.service mosquitto.service citydata.target
  fi
  say "check: systemctl status 'citydata-*' ; curl -s http://127.0.0.1:8000/ready"
else
  say "systemctl skipped: nothing enabled, started or restarted"
fi

if [ "$changes" -eq 0 ]; then
  say "nothing changed"
else
  say "$changes changes"
fi
