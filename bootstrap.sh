#!/usr/bin/env bash
# Install what citydata needs on Debian or Ubuntu, only what is missing: Mosquitto, InfluxDB and
# PostgreSQL from the distribution's packages, and a Python virtual environment in .venv; with
# --tests also what the public page's browser tests need: Chromium and its driver (Debian's), npm,
# and axe-core in .venv/node. Safe to run again; run-local.sh and run-tests.sh (--tests) call it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
tests=false
[ "${1:-}" = "--tests" ] && tests=true

have() { PATH="$PATH:/usr/sbin:/sbin" command -v "$1" >/dev/null 2>&1; }
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif have sudo; then sudo "$@"
  else echo "bootstrap: need root (or sudo) to run: $*" >&2; exit 1
  fi
}

packages=()
have mosquitto || packages+=(mosquitto)
have mosquitto_sub || packages+=(mosquitto-clients)  # to watch the readings, as README shows
have influxd || packages+=(influxdb)
# PostgreSQL: the registry's tests run against a real server too (only its binaries are used).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || packages+=(postgresql)
have python3 || packages+=(python3)
if have python3 && ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  packages+=(python3-venv)
fi
# The city page's tests drive Debian's Chromium (Selenium through chromium-driver, never a
# downloaded browser) and run axe-core, an npm package, in it.
if $tests; then
  [ -x /usr/bin/chromium ] || packages+=(chromium)
  [ -x /usr/bin/chromedriver ] || packages+=(chromium-driver)
  have npm || packages+=(nodejs npm)
fi
if [ ${#packages[@]} -gt 0 ]; then
  echo "bootstrap: installing ${packages[*]}" >&2
  as_root apt-get update -qq
  # The packages may start system-wide servers on the default ports; citydata's own runs use
  # their own config files and ports, so those are left alone.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
fi

python3 - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"bootstrap: citydata needs Python 3.11 or newer, found {sys.version.split()[0]}")
PY

stamp=".venv/.citydata-installed"
want="$(cat pyproject.toml constraints.txt requirements.lock | sha256sum | cut -d' ' -f1)"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: installing Python packages into .venv" >&2
  python3 -m venv .venv
  pip=(.venv/bin/python -m pip install -q --disable-pip-version-check --no-compile)
  # requirements.lock pins every package the project and its dev extra need, each with the
  # SHA-256 of its files (README, Dependencies): pip refuses any download whose hash differs, and
  # --no-deps installs nothing the lock does not name. The project itself goes in editable and
  # on its own, as a local directory cannot be hash-checked; --no-deps again, so it adds nothing.
  # --no-compile: Python compiles what it imports when it first imports it; compiling every
  # installed file up front took a third of the install (20 of 56 s here).
  # URLLIB3_NO_OVERRIDE and a source build of urllib3-future (grafana-client's HTTP stack) keep
  # it from replacing the real urllib3 that other packages import (its maintainers' advice); the
  # lock holds its sdist's hash.
  URLLIB3_NO_OVERRIDE=1 "${pip[@]}" --no-binary urllib3-future --require-hashes --no-deps \
    -r requirements.lock
  "${pip[@]}" --no-deps -e .
  echo "$want" > "$stamp"
fi

# axe-core, pinned, in an ignored folder: the browser tests inject its axe.min.js into the page.
axe_version="4.14.1"
axe_dir=".venv/node"
if $tests && ! grep -qs "\"version\": \"$axe_version\"" "$axe_dir/node_modules/axe-core/package.json"; then
  echo "bootstrap: installing axe-core $axe_version into $axe_dir" >&2
  npm install --prefix "$axe_dir" --no-save --no-audit --no-fund --no-package-lock --silent \
    "axe-core@$axe_version" >/dev/null
fi
