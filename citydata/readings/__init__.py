"""Reads of sensor data from InfluxDB, one module per question: the latest reading of each
sensor (`latest`), a metric over a range raw or per bucket (`ranges`), hourly means
(`hourly`), and when each sensor or field was last heard from (`last_seen`)."""
