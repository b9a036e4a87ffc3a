"""The derived-series service: station judgments written back to InfluxDB as series.

`judge` runs the judgments of `citydata.stations` for one minute or one hour, `points` turns
them into the points of docs/derived.md, `deriver` writes them, `schedule` runs a cycle every
whole minute with an injected clock, and `backfill` computes a past span.
"""
