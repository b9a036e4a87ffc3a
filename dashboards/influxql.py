"""An InfluxQL query for Grafana's InfluxDB datasource, as a typed SDK dataquery.

grafana-foundation-sdk has builders for many datasources but not InfluxDB; this is the model
and builder it would generate: a raw InfluxQL query (`rawQuery`), its result format and the
legend alias. Grafana's InfluxDB plugin reads exactly these keys from a panel target.
"""

from __future__ import annotations

import typing

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard

ResultFormat = typing.Literal["time_series", "table", "logs"]


class Query(cogvariants.Dataquery):
    """A target of the InfluxDB datasource in InfluxQL mode."""

    def __init__(
        self,
        query: str = "",
        ref_id: str = "A",
        alias: str | None = None,
        result_format: ResultFormat = "time_series",
        datasource: dashboard.DataSourceRef | None = None,
        hide: bool | None = None,
    ) -> None:
        self.query = query
        self.ref_id = ref_id
        self.alias = alias
        self.result_format = result_format
        self.datasource = datasource
        self.hide = hide

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "query": self.query,
            "rawQuery": True,
            "refId": self.ref_id,
            "resultFormat": self.result_format,
        }
        if self.alias is not None:
            payload["alias"] = self.alias
        if self.datasource is not None:
            payload["datasource"] = self.datasource
        if self.hide is not None:
            payload["hide"] = self.hide
        return payload


class InfluxQL(cogbuilder.Builder[cogvariants.Dataquery]):
    """Builds a `Query`: `InfluxQL("SELECT ...").ref_id("B").alias("$tag_sensor_id")`."""

    def __init__(self, query: str) -> None:
        self._internal = Query(query=query)

    def build(self) -> Query:
        return self._internal

    def ref_id(self, ref_id: str) -> typing.Self:
        self._internal.ref_id = ref_id
        return self

    def alias(self, alias: str) -> typing.Self:
        """The legend: `$tag_<tag>` and `$col` are replaced by Grafana."""
        self._internal.alias = alias
        return self

    def result_format(self, result_format: ResultFormat) -> typing.Self:
        self._internal.result_format = result_format
        return self

    def datasource(self, ref: dashboard.DataSourceRef) -> typing.Self:
        self._internal.datasource = ref
        return self
