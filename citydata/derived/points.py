"""Station judgments as the points of docs/derived.md, one line-protocol line each.

Every value comes from a judgment made by `citydata.stations`; nothing here judges. A point's
time is the whole hour or minute judged, and its fields depend only on the judgment, so the
same judgment always gives the same line (InfluxDB overwrites, never adds).
"""

from __future__ import annotations

from citydata.derived.judge import Snapshot, status_rank
from citydata.lineprotocol import encode_point
from citydata.stations.aqi import AqiStation
from citydata.stations.base import Station
from citydata.stations.traffic import TrafficStation
from citydata.stations.water import WaterStation

AQI = "city_aqi"
WATER = "city_water"
TRAFFIC = "city_traffic"
STATION = "city_station"
MEASUREMENTS = (AQI, WATER, TRAFFIC, STATION)

Fields = dict[str, float | str]


def tags(station: Station) -> dict[str, str]:
    """The tags every derived point carries: sensor_id, zone, site."""
    where = station.location
    return {"sensor_id": station.sensor_id, "zone": where.zone, "site": where.site}


def aqi_point(item: AqiStation, time_ns: int) -> str | None:
    """`city_aqi` for one station at the whole hour `time_ns`; None without an AQI."""
    result = item.aqi
    if result is None or result.aqi is None or result.level is None:
        return None
    fields: Fields = {
        "aqi": float(result.aqi),
        "level": float(result.level),
        "estimate": float(result.estimate),
    }
    if result.dominant is not None:
        fields["dominant"] = result.dominant
    subs = {s.pollutant: s.aqi for s in result.sub_indices}
    for w in item.windows:
        if w.average is None:
            continue
        fields[f"{w.pollutant}_avg"] = w.average
        if w.pollutant in subs:
            fields[f"{w.pollutant}_aqi"] = float(subs[w.pollutant])
        fields[f"{w.pollutant}_hours"] = float(w.hours_with_data)
    return encode_point(AQI, tags(item), fields, time_ns)


def _level_fields(item: WaterStation) -> Fields:
    level = item.level
    if level is None:
        return {}
    fields: Fields = {"level": level.value_m, "level_age_s": level.newest.age_s}
    fields["stale"] = float(level.newest.stale)
    if level.status is not None:
        fields["status_rank"] = float(status_rank(level.status.status))
        fields["status"] = level.status.status
    fields.update(level.thresholds)
    if level.status is not None and level.status.next_threshold is not None:
        fields["next_threshold"] = level.status.next_threshold
        if level.status.margin_m is not None:
            fields["margin_m"] = level.status.margin_m
    if level.rise is not None:
        fields["rise_m_per_h"] = level.rise.rate_m_per_h
    return fields


def _do_fields(item: WaterStation) -> Fields:
    do = item.do
    if do is None:
        return {}
    fields: Fields = {"do": do.value_mg_l}
    if item.level is None:  # stale says how old the level is; without one, the DO
        fields["stale"] = float(do.newest.stale)
    if do.water_class is not None:
        fields["water_class"] = float(do.water_class)
    if do.status is not None and do.status.minimum_mg_l is not None:
        fields["do_min"] = do.status.minimum_mg_l
        fields["do_below"] = float(do.status.state == "below")
    return fields


def water_point(item: WaterStation, time_ns: int) -> str | None:
    """`city_water` for one station at the whole minute `time_ns`; None without a reading."""
    fields = {**_level_fields(item), **_do_fields(item)}
    return encode_point(WATER, tags(item), fields, time_ns) if fields else None


def traffic_point(item: TrafficStation, time_ns: int) -> str | None:
    """`city_traffic` for one detector at the whole minute `time_ns`; None without a reading."""
    if item.newest is None:
        return None
    fields: Fields = {}
    if item.congestion is not None:
        fields["severity"] = float(item.congestion.severity)
        fields["level"] = item.congestion.level
        if item.congestion.ratio is not None:
            fields["ratio"] = item.congestion.ratio
    for name in ("speed", "occupancy", "count"):
        if name in item.values:
            fields[name] = item.values[name]
    if item.free_flow_kmh is not None:
        fields["free_flow"] = item.free_flow_kmh
    fields["stale"] = float(item.newest.stale)
    return encode_point(TRAFFIC, tags(item), fields, time_ns)


def station_point(snap: Snapshot, time_ns: int) -> str:
    """`city_station` for one registered (not retired) station at the whole minute `time_ns`."""
    s = snap.sensor
    fields: Fields = {}
    if s.latitude is not None and s.longitude is not None:
        fields.update(latitude=float(s.latitude), longitude=float(s.longitude))
    fields["online"] = float(snap.online)
    if snap.seen_ns is not None:
        fields["age_s"] = (time_ns - snap.seen_ns) / 1e9
    fields.update(state=float(snap.state), status=s.status, name_th=s.name_th, name_en=s.name_en)
    station_tags = {"sensor_id": s.id, "zone": s.zone, "site": s.site, "kind": s.kind}
    return encode_point(STATION, station_tags, fields, time_ns)
