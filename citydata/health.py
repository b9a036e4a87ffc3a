"""The collector-health series the collector writes and the API and dashboards read.

`MEASUREMENT`: one point per collector instance and health interval, tagged `collector` (its
MQTT client id) and `host`, its fields the collector's figures as floats (counters cumulative
since the instance started; levels and latencies as of the interval).

`DEADLETTERS`: at the same time, one point per dead-letter reason the instance has seen, tagged
`collector`, `host` and `reason`, field `count` (cumulative since the instance started). The
reason codes are a fixed set of about twenty (docs/operations.md), so `reason` is a
low-cardinality tag.
"""

from __future__ import annotations

MEASUREMENT = "citydata_collector"
DEADLETTERS = "citydata_deadletters"
