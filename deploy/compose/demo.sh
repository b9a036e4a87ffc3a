#!/bin/sh
# The demo profile's simulator (docker-compose.yml): register the Lam Phaya fleet, give the
# collector time to reread the registry, on a first start publish the fleet's last days and
# compute their derived series (as `citydata local` does), then publish live.
set -eu
days="${DEMO_BACKFILL_DAYS:-2}"
marker="${CITYDATA_DATA_DIR:?}/demo-backfill.done"
citydata simulate --register --rounds 0
sleep "$(( ${CITYDATA_REGISTRY_REFRESH_S:-15} + 5 ))"  # unknown sensors would be dead-lettered
if [ "$days" -gt 0 ] && [ ! -e "$marker" ]; then
  echo "demo: backfilling the last $days days (a reading every 5 min per sensor)" >&2
  citydata simulate --backfill-days "$days" --interval 300
  sleep 20  # the collector acknowledges once spooled; let the writer reach InfluxDB
  citydata derive --once --since "$(( days * 24 ))h" --step 300 \
    || echo "demo: the derived backfill failed; going on without it" >&2
  touch "$marker"
fi
exec citydata simulate --interval "${DEMO_INTERVAL_S:-5}"
