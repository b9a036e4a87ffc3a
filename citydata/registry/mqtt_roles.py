"""The roles of MQTT credentials, apart from their store, so that the `citydata` command's
parser can offer them without loading a database library."""

from __future__ import annotations

from enum import StrEnum


class MqttRole(StrEnum):
    """What a credential may do on the broker (the ACL gives each role its topics)."""

    device = "device"  # one registered sensor: publishes on its own topics only
    gateway = "gateway"  # a network server (TTN, ChirpStack): publishes on its topic filters
    collector = "collector"  # reads every route's topics, shared subscriptions too
    api = "api"  # publishes HTTP ingestion onto every route's topics
    simulator = "simulator"  # publishes on every route's topics, and the simulator's claims
