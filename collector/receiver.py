"""The collector's MQTT receive path: paho's client, reading the socket in large chunks.

paho-mqtt reads one packet per wake-up of its network thread, with a `select` and three
`recv` calls per packet (the first byte, the length, the rest), then builds an `MQTTMessage`
and matches its topic against the per-topic callbacks before `on_message` sees it. Profiled
under a full broker queue, that was most of the collector's main process (docs/durability.md,
"Receive path"). `BulkReceiver` keeps everything of paho (connecting, TLS, keep-alive,
reconnects, subscriptions, the packet queue that carries the acknowledgements) but replaces
its reading: one `recv` of up to `READ_SIZE` bytes per wake-up, split into packets here. A
QoS 1 PUBLISH, the collector's every reading, goes straight to `on_qos1(topic, payload, mid,
properties)`; every other packet (CONNACK, SUBACK, PINGRESP, DISCONNECT, a QoS 0 or 2 PUBLISH)
is handed to paho's own handler exactly as paho's reader would.

It relies on paho 2.x internals (`loop_read`, `_sock`, `_in_packet`, `_packet_handle`,
`_loop_rc_handle`); pyproject pins paho-mqtt below 3, and tests/unit/test_receiver.py checks
them, packet boundaries at every byte included.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.exception import MalformedPacket, MQTTException
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger(__name__)

READ_SIZE = 256 * 1024  # bytes per recv: a few hundred readings
_PUBLISH_QOS1 = 0x32  # PUBLISH (3 << 4) with QoS 1 (1 << 1); the low bit is RETAIN
OnQos1 = Callable[[str, bytes, int, Properties | None], None]


def _packet(command: int = 0, body: bytearray | None = None) -> Any:
    """paho's record of the packet being read: empty, or `body` read whole after `command`."""
    return {
        "command": command,
        "have_remaining": int(body is not None),
        "remaining_count": [],
        "remaining_mult": 1,
        "remaining_length": 0 if body is None else len(body),
        "packet": bytearray() if body is None else body,
        "to_process": 0,
        "pos": 0,
    }


class BulkReceiver(mqtt.Client):
    """A paho MQTT 5 client whose network thread reads in chunks; QoS 1 PUBLISH packets go to
    `on_qos1` (set it before connecting), acknowledged later by the caller (manual acks)."""

    on_qos1: OnQos1 | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._bulk: bytearray = bytearray()
        self._bulk_sock: object | None = None

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        sock = self._sock
        if sock is None:
            return MQTTErrorCode.MQTT_ERR_NO_CONN
        if sock is not self._bulk_sock:  # a new connection: nothing of the old one is valid
            self._bulk_sock = sock
            self._bulk = bytearray()
        try:
            data = sock.recv(READ_SIZE)
        except (BlockingIOError, ssl.SSLWantReadError):
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        except ssl.SSLWantWriteError:
            self._call_socket_register_write()
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        except OSError as err:
            log.debug("failed to receive on socket: %s", err)
            return self._loop_rc_handle(MQTTErrorCode.MQTT_ERR_CONN_LOST)
        if not data:
            return self._loop_rc_handle(MQTTErrorCode.MQTT_ERR_CONN_LOST)
        self._bulk += data
        with self._msgtime_mutex:
            self._last_bytes_received = mqtt.time_func()
        rc = self._split()
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return self._loop_rc_handle(rc)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _split(self) -> MQTTErrorCode:
        """Handle every whole packet in the buffer; keep the rest for the next read."""
        buf = self._bulk
        n = len(buf)
        pos = 0
        on_qos1 = self.on_qos1
        rc = MQTTErrorCode.MQTT_ERR_SUCCESS
        while pos + 2 <= n:
            # Fixed header: the type and flags byte, then the remaining length (1-4 bytes).
            i = pos + 1
            length = 0
            shift = 0
            while True:
                if i >= n:
                    del buf[:pos]
                    return rc
                byte = buf[i]
                i += 1
                length |= (byte & 0x7F) << shift
                if not byte & 0x80:
                    break
                shift += 7
                if shift > 21:
                    return MQTTErrorCode.MQTT_ERR_PROTOCOL
            end = i + length
            if end > n:
                break
            first = buf[pos]
            if first & 0xFE == _PUBLISH_QOS1 and on_qos1 is not None:
                rc = self._publish(buf, i, end, on_qos1)
            else:
                rc = self._to_paho(first, buf[i:end])
            pos = end
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                break
        del buf[:pos]
        return rc

    def _publish(self, buf: bytearray, i: int, end: int, on_qos1: OnQos1) -> MQTTErrorCode:
        """topic length, topic, packet id, properties (MQTT 5), payload."""
        try:
            if end - i < 5:
                raise MalformedPacket("PUBLISH too short")
            topic_end = i + 2 + (buf[i] << 8 | buf[i + 1])
            topic = buf[i + 2 : topic_end].decode("utf-8")
            mid = buf[topic_end] << 8 | buf[topic_end + 1]
            p = topic_end + 2
            props: Properties | None = None
            if buf[p]:  # a properties length other than 0 (one byte when there are none)
                props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
                _, used = props.unpack(buf[p:end])  # type: ignore[no-untyped-call]
                p += used
            else:
                p += 1
            if p > end or topic_end > end:
                raise MalformedPacket("PUBLISH lengths overrun the packet")
        except (MalformedPacket, MQTTException, UnicodeDecodeError, IndexError) as exc:
            log.error("malformed PUBLISH from the broker: %s", exc)
            return MQTTErrorCode.MQTT_ERR_PROTOCOL
        on_qos1(topic, bytes(buf[p:end]), mid, props)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _to_paho(self, first: int, body: bytearray) -> MQTTErrorCode:
        """Any other packet, through paho's handler as its own reader gives it."""
        self._in_packet = _packet(first, body)
        try:
            rc: MQTTErrorCode = self._packet_handle()
        except MalformedPacket as exc:
            log.error("malformed packet from the broker: %s", exc)
            rc = MQTTErrorCode.MQTT_ERR_PROTOCOL
        self._in_packet = _packet()
        return rc
