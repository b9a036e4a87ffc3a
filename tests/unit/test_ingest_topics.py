"""Which topic an HTTP post is published on: the route's filter filled in, and only a route
that the collector's first-match rule gives the topic back to."""

from __future__ import annotations

import pytest

from api.routers.ingest import choose_route, fill_topic
from citydata.routes import NATIVE, Route

SC = Route(topic="luftdaten/+", format="sensor_community", kind="air")


@pytest.mark.parametrize(
    ("route", "kind", "topic"),
    [
        (NATIVE, "air", "sensors/air/air-1"),
        (Route(topic="sensors/+/+"), "water", "sensors/water/air-1"),
        (Route(topic="sensors/air/+"), None, "sensors/air/air-1"),  # no kind needed
        (Route(topic="city/+/x/+", kind_level=1), "traffic", "city/traffic/x/air-1"),
        (Route(topic="#", format="sensor_community", kind="air"), None, "air-1"),
        (SC, None, "luftdaten/air-1"),
        (
            Route(topic="luftdaten/#", format="sensor_community", kind="air"),
            None,
            "luftdaten/air-1",
        ),
        (NATIVE, None, None),  # the kind level cannot be filled
        (Route(topic="city/+/+", kind_level=1), None, None),
    ],
)
def test_fill_topic(route: Route, kind: str | None, topic: str | None) -> None:
    assert fill_topic(route, "air-1", kind) == topic


def test_the_first_route_of_the_format_is_chosen_with_its_kind() -> None:
    by_level = Route(topic="city/+/+", kind_level=1)
    chosen = choose_route([SC, by_level, NATIVE], "native", "w-1", "water")
    assert chosen is not None
    route, topic = chosen
    assert topic == "city/water/w-1"
    assert route.kind == "water" and route.topic == "city/+/+"  # as the collector reads it


def test_a_route_shadowed_by_an_earlier_one_is_passed_over() -> None:
    catch_all = Route(topic="luftdaten/#")  # native, and first: it would take luftdaten/...
    later = Route(topic="http/sc/+", format="sensor_community", kind="air")
    assert choose_route([catch_all, SC], "sensor_community", "esp8266-1", None) is None
    chosen = choose_route([catch_all, SC, later], "sensor_community", "esp8266-1", None)
    assert chosen is not None and chosen[1] == "http/sc/esp8266-1"


def test_no_route_for_the_format_or_an_unmatchable_topic() -> None:
    assert choose_route([NATIVE], "sensor_community", "esp8266-1", None) is None
    # '#' does not match topics starting with '$', so no route takes them.
    everything = Route(topic="#", format="sensor_community", kind="air")
    assert choose_route([everything], "sensor_community", "$SYS", None) is None
