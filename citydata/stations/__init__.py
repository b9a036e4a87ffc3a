"""Judgments of stations from their readings, one module per kind of station: the Thai AQI of
air stations now and hour by hour (`aqi`, averaging rule in `aqi_windows`), water level and DO
(`water`), congestion (`traffic`); what they share in `base`. The indices themselves are the
pure calculations of citydata.aqi, citydata.water and citydata.traffic."""
