"""Why a query of the data cannot be answered as asked (the API answers each as a 422 problem).

    QueryError(ValueError)     `field` names the argument at fault; None: the query as a whole
    ├── UnknownMetric          a metric the sensor's kind does not have
    ├── RangeTooLarge          a time range, or the points it would give, over the limit
    └── WrongKind              a sensor of another kind than the question is about

An unknown sensor is the registry's `SensorNotFound`.
"""

from __future__ import annotations


class QueryError(ValueError):
    """A query the data cannot answer as asked; `field` names the argument at fault."""

    def __init__(self, msg: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(msg)


class UnknownMetric(QueryError):
    """One or more metric names that the sensor's kind does not have."""


class RangeTooLarge(QueryError):
    """A time range (or the points it would give) larger than the query allows."""


class WrongKind(QueryError):
    """A sensor of another kind than the question is about (an AQI of a water sensor)."""
