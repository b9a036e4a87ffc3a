"""An alert rule as operators write it (YAML, or JSON through the API), checked strictly: the
model and the checks of its parts together. Reading a file of rules and recipients, and
reporting every problem at its place, is citydata.alerts.rulefile.

A rule selects sensors (kind, zone, site, ids), reads one value per sensor each cycle (a metric
with a window aggregate, a station judgment of `citydata.stations`, or a platform health
figure), fires when its `when` condition has held for `for`, and resolves when its `clear`
condition holds (hysteresis; without one, when `when` no longer holds). docs/alerts.md is the
reference.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    Tag,
    field_validator,
    model_validator,
)

from citydata.kinds import all_kinds
from citydata.timeutil import parse_duration
from citydata.water import M2_PERIOD_H, THRESHOLDS, Threshold

_NS = 1_000_000_000
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"


Loc = tuple[int | str, ...]


class RulesError(Exception):
    """Rules or recipients are invalid; `problems` holds one line per problem, with its place,
    and `located` the same as (place, message), the place as a path into the data (for the
    API's 422 answers)."""

    def __init__(self, problems: list[str], located: list[tuple[Loc, str]] | None = None) -> None:
        self.problems = problems
        self.located = located if located is not None else [((), p) for p in problems]
        super().__init__("invalid alert rules:\n" + "\n".join(f"  - {p}" for p in problems))


def _duration(value: object) -> object:
    """A duration as text (`30m`, `1h30m`) or seconds; zero allowed (`0s` or 0)."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 30m or 1h, not true/false")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("must not be negative")
        return float(value)
    if isinstance(value, str):
        if value.strip() in ("0", "0s", "0m", "0h"):
            return 0.0
        return parse_duration(value) / _NS
    raise ValueError("must be a duration such as 30m, 1h or 24h")


def _text_duration(seconds: float) -> str:
    """Seconds as the shortest text `parse_duration` reads back (90 -> 90s, 5400 -> 90m)."""
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


# Seconds inside, text such as "30m" in the rule's JSON and YAML form.
Duration = Annotated[
    float, BeforeValidator(_duration), PlainSerializer(_text_duration, return_type=str)
]
RuleName = Annotated[str, Field(pattern=NAME_PATTERN, description="lowercase words joined by -")]


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


Names = Annotated[list[str], BeforeValidator(_as_list)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Select(StrictModel):
    """Which sensors a rule watches; every field given must match (empty: any)."""

    kind: str | None = None
    zone: Names = Field(default_factory=list)
    site: Names = Field(default_factory=list)
    ids: Names = Field(default_factory=list)

    @field_validator("kind")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        if value is not None and value not in all_kinds():
            raise ValueError(f"unknown kind {value!r}; known: {', '.join(sorted(all_kinds()))}")
        return value

    @property
    def empty(self) -> bool:
        return not (self.kind or self.zone or self.site or self.ids)


Aggregate = Literal["last", "mean_1h", "mean_8h", "mean_24h"]
AGGREGATE_S: dict[str, float | None] = {
    "last": None,
    "mean_1h": 3600.0,
    "mean_8h": 8 * 3600.0,
    "mean_24h": 24 * 3600.0,
}


class MetricValue(StrictModel):
    """A metric of the selected kind: its newest reading (`last`, within the kind's offline
    limit) or its mean over the last 1, 8 or 24 hours."""

    metric: str
    aggregate: Aggregate = "last"


Index = Literal[
    "aqi",
    "aqi_level",
    "water_status",
    "water_margin",
    "do_margin",
    "congestion",
    "water_rise",
    "offline",
]
# The kind each station judgment is made for (offline: any kind).
INDEX_KIND: dict[str, str | None] = {
    "aqi": "air",
    "aqi_level": "air",
    "water_status": "water",
    "water_margin": "water",
    "do_margin": "water",
    "water_rise": "water",
    "congestion": "traffic",
    "offline": None,
}
INDEX_HELP: dict[str, str] = {
    "aqi": "the station's Thai AQI (hourly, 24-h PM averages), as GET /aqi",
    "aqi_level": "the station's Thai AQI level, 1 (very good) to 5 (affects health)",
    "water_status": "0 normal, 1 watch, 2 warning, 3 critical, 4 over the bank",
    "water_margin": "level minus the station's `threshold` line, m (>= 0: at or above it)",
    "do_margin": "dissolved oxygen minus the station's water-class minimum, mg/L (< 0: below)",
    "water_rise": "tide-aware rate of rise, m/h (same tide phase, as GET /water/status)",
    "congestion": "0 free-flowing, 1 moderate, 2 heavy, 3 stop-and-go",
    "offline": "1 when the sensor is silent past its offline limit, else 0",
}


class IndexValue(StrictModel):
    """A station judgment made by `citydata.stations` (the same as the API's)."""

    index: Index
    threshold: Threshold | None = None

    @model_validator(mode="after")
    def _threshold(self) -> IndexValue:
        if self.index == "water_margin" and self.threshold is None:
            raise ValueError(f"water_margin needs a threshold: one of {', '.join(THRESHOLDS)}")
        if self.index != "water_margin" and self.threshold is not None:
            raise ValueError("threshold is only for the water_margin index")
        return self


Check = Literal[
    "collector_silent", "influx_alarm", "influxdb_unreachable", "spool_fill", "deadletters"
]
CHECK_HELP: dict[str, str] = {
    "collector_silent": "seconds since a collector last recorded its health",
    "influx_alarm": "1 while InfluxDB refuses a collector's writes (credentials), else 0",
    "influxdb_unreachable": "1 while the alerts service cannot query InfluxDB, else 0",
    "spool_fill": "a collector's disk spool, % of CITYDATA_COLLECTOR_SPOOL_MAX_BYTES",
    "deadletters": "messages a collector dead-lettered over `window`",
}


class PlatformValue(StrictModel):
    """A health figure of the platform itself, one subject per collector (or InfluxDB)."""

    platform: Check
    window: Duration = 300.0

    @field_validator("window")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be a positive duration")
        return value


def _keys(value: Any) -> Mapping[str, Any] | frozenset[str]:
    """The keys of a mapping or a model: what tells the union members apart (none for text,
    numbers, lists: those match no member and get the union's error)."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, BaseModel):
        return frozenset(type(value).model_fields)
    return frozenset()


def _value_tag(value: Any) -> str | None:
    keys = _keys(value)
    for tag in ("metric", "index", "platform"):
        if tag in keys:
            return f"<{tag}>"
    return None


Value = Annotated[
    Annotated[MetricValue, Tag("<metric>")]
    | Annotated[IndexValue, Tag("<index>")]
    | Annotated[PlatformValue, Tag("<platform>")],
    Discriminator(
        _value_tag,
        custom_error_type="value_source",
        custom_error_message="must name one of metric, index or platform",
    ),
]

Op = Literal[">", ">=", "<", "<="]


class Compare(StrictModel):
    """`value op threshold`, e.g. `{op: ">=", value: 4}`."""

    op: Op
    value: float = Field(allow_inf_nan=False)

    def holds(self, x: float) -> bool:
        v = self.value
        return {">": x > v, ">=": x >= v, "<": x < v, "<=": x <= v}[self.op]


class Outside(StrictModel):
    """Outside a range, ends excluded: `{outside: [6.5, 8.5]}` holds for 6.4 and 8.6."""

    outside: tuple[float, float]

    @field_validator("outside")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not value[0] < value[1]:
            raise ValueError("must be [low, high] with low < high")
        return value

    def holds(self, x: float) -> bool:
        return x < self.outside[0] or x > self.outside[1]


class Rise(StrictModel):
    """The value rose by at least `rise` over `over` (now minus then)."""

    rise: float = Field(gt=0, allow_inf_nan=False)
    over: Duration

    @field_validator("over")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value < 60:
            raise ValueError("must be at least 1m")
        return value

    def holds(self, change: float) -> bool:
        return change >= self.rise


def _condition_tag(value: Any) -> str | None:
    keys = _keys(value)
    for key, tag in (("op", "<compare>"), ("outside", "<outside>"), ("rise", "<rise>")):
        if key in keys:
            return tag
    return None


Condition = Annotated[
    Annotated[Compare, Tag("<compare>")]
    | Annotated[Outside, Tag("<outside>")]
    | Annotated[Rise, Tag("<rise>")],
    Discriminator(
        _condition_tag,
        custom_error_type="condition",
        custom_error_message="must be {op, value}, {outside: [low, high]} or {rise, over}",
    ),
]
ClearCondition = Annotated[
    Annotated[Compare, Tag("<compare>")] | Annotated[Outside, Tag("<outside>")],
    Discriminator(
        _condition_tag,
        custom_error_type="condition",
        custom_error_message="must be {op, value} or {outside: [low, high]}",
    ),
]

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
# What a message template may name; citydata.alerts.messages fills them.
PLACEHOLDERS = frozenset(
    {
        "name",
        "sensor_id",
        "value",
        "unit",
        "zone",
        "site",
        "threshold",
        "detail",
        "rule",
        "severity",
        "time",
        "title",
    }
)


def _template(value: object) -> object:
    if not isinstance(value, str):
        return value  # the str type then says what is wrong
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(value) if f is not None]
    except ValueError as exc:
        raise ValueError(f"is not a valid template: {exc}") from None
    unknown = sorted({f for f in fields if f not in PLACEHOLDERS})
    if unknown:
        raise ValueError(
            f"names unknown placeholders {', '.join('{' + u + '}' for u in unknown)}; "
            f"known: {', '.join('{' + p + '}' for p in sorted(PLACEHOLDERS))}"
        )
    return value


Template = Annotated[str, Field(min_length=1, max_length=2000), BeforeValidator(_template)]


class Rule(StrictModel):
    """One alert rule (docs/alerts.md)."""

    name: RuleName
    title_th: str = Field(min_length=1, max_length=200)
    title_en: str = Field(min_length=1, max_length=200)
    select: Select = Field(default_factory=Select)
    value: Value
    when: Condition
    clear: ClearCondition | None = None
    for_: Duration = Field(0.0, alias="for")
    severity: Severity = "warning"
    labels: dict[Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,31}$")], str] = Field(
        default_factory=dict
    )
    message_th: Template
    message_en: Template
    recipients: Annotated[list[str], Field(min_length=1)]
    repeat: Duration | None = None
    enabled: bool = True

    @property
    def kind(self) -> str | None:
        """The kind of sensor this rule judges (None: any kind, or the platform)."""
        if isinstance(self.value, IndexValue):
            return INDEX_KIND[self.value.index] or self.select.kind
        return self.select.kind

    @property
    def platform(self) -> bool:
        return isinstance(self.value, PlatformValue)

    @model_validator(mode="after")
    def _coherent(self) -> Rule:
        problems = [*self._source_problems(), *self._condition_problems()]
        if self.repeat is not None and self.repeat < 60:
            problems.append("repeat: must be at least 1m (or left out for no reminders)")
        if problems:
            raise ValueError("\n".join(problems))  # one "place: message" a line
        return self

    def _source_problems(self) -> list[str]:
        value, select = self.value, self.select
        if isinstance(value, PlatformValue):
            return [] if select.empty else ["select: a platform rule selects no sensors"]
        if isinstance(value, IndexValue):
            wanted = INDEX_KIND[value.index]
            if wanted and select.kind not in (None, wanted):
                return [f"select.kind: the {value.index} index judges {wanted} stations"]
            return []
        if select.kind is None:
            return ["select.kind: a metric rule must name the kind of its sensors"]
        metrics = all_kinds()[select.kind].by_name
        if value.metric not in metrics:
            known = ", ".join(sorted(metrics))
            return [f"value.metric: {select.kind} has no metric {value.metric!r}; known: {known}"]
        return []

    def _condition_problems(self) -> list[str]:
        when, value = self.when, self.value
        problems = []
        if isinstance(when, Rise):
            if not isinstance(value, MetricValue) or value.aggregate != "last":
                problems.append("when: a rise is judged on a metric's last value")
            elif (
                self.select.kind == "water"
                and value.metric == "level"
                and when.over < M2_PERIOD_H * 3600
            ):
                problems.append(
                    "when.over: the Tha Chin's level rises and falls with the tide twice a "
                    f"day; judge a rise over at least {M2_PERIOD_H} h (one tide cycle), or "
                    "use the tide-aware index water_rise"
                )
        if self.clear is not None and not isinstance(when, Rise) and _overlap(when, self.clear):
            problems.append("clear: overlaps when (a value would both fire and clear)")
        return problems


def _interval(c: Compare) -> tuple[float, float, bool, bool]:
    """The values `c` holds for: (low, high, low included, high included)."""
    inf = float("inf")
    return {
        ">": (c.value, inf, False, False),
        ">=": (c.value, inf, True, False),
        "<": (-inf, c.value, False, False),
        "<=": (-inf, c.value, False, True),
    }[c.op]


def _pieces(c: Compare | Outside) -> list[tuple[float, float, bool, bool]]:
    if isinstance(c, Compare):
        return [_interval(c)]
    low, high = c.outside
    return [_interval(Compare(op="<", value=low)), _interval(Compare(op=">", value=high))]


def _overlap(a: Compare | Outside, b: Compare | Outside) -> bool:
    for lo1, hi1, li1, hi1in in _pieces(a):
        for lo2, hi2, li2, hi2in in _pieces(b):
            lo, hi = max(lo1, lo2), min(hi1, hi2)
            if lo < hi:
                return True
            if lo == hi:
                low_in = li1 if lo1 == lo else True
                low_in = low_in and (li2 if lo2 == lo else True)
                high_in = (hi1in if hi1 == hi else True) and (hi2in if hi2 == hi else True)
                if low_in and high_in:
                    return True
    return False
