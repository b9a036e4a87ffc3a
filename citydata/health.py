"""The collector-health series the collector writes and the API reads: one point per collector
instance and health interval, tagged `collector` (its MQTT client id) and `host`, its fields
the collector's counters as floats (cumulative since the instance started)."""

from __future__ import annotations

MEASUREMENT = "citydata_collector"
