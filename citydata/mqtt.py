"""paho-mqtt 2.x clients configured from `CITYDATA_MQTT_URL`, and the MQTT wire contract every
program shares (the receive-time user property, "no matching subscribers")."""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

if TYPE_CHECKING:
    from citydata.settings import Settings

_PUBACK = struct.Struct("!BBH")  # fixed header 0x40, remaining length 2, packet id


def ack_many(client: mqtt.Client, mids: Sequence[int]) -> None:
    """Acknowledge QoS 1 messages (manual-ack mode), in one write for the lot.

    `client.ack()` queues one packet and wakes the network thread once per message, which
    costs the collector a tenth of its intake at full rate. Consecutive PUBACK packets are a
    valid byte stream, so they are queued as one through paho's packet queue; if a paho
    version lacks it, each message is acknowledged with `ack()`.
    """
    queue = getattr(client, "_packet_queue", None)
    if queue is None:
        for mid in mids:
            client.ack(mid, 1)
        return
    if mids:
        packet = b"".join([_PUBACK.pack(mqtt.PUBACK, 2, mid) for mid in mids])
        queue(mqtt.PUBACK, packet, 0, 1)


class MQTTConnectError(ConnectionError):
    """The broker could not be reached or refused us in time."""


NO_MATCHING_SUBSCRIBERS = 0x10  # MQTT 5 PUBACK: accepted, but no one will ever get it
RECEIVED_PROPERTY = "citydata-received-ns"  # MQTT 5 user property: keep the first receive time


def received_properties(received_ns: int) -> Properties:
    """PUBLISH properties carrying `received_ns` as the time the collector stores a reading
    without its own time at (a replayed dead letter, a post to the HTTP API)."""
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.UserProperty = (RECEIVED_PROPERTY, str(received_ns))
    return props


def refused(reason: Any) -> bool:
    """True for a PUBACK reason saying the message will not reach a subscriber: a failure,
    or "no matching subscribers" (the broker then drops it)."""
    return bool(reason.is_failure) or reason.value == NO_MATCHING_SUBSCRIBERS


class Refusals:
    """Which published messages the broker refused, by message id. `on_publish` is the paho
    callback: paho calls it before it marks the message published, so whoever sees the message
    published finds its reason here with `take(mid)` (None when the broker took it)."""

    def __init__(self) -> None:
        self._reasons: dict[int, ReasonCode] = {}
        self._lock = threading.Lock()

    def on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode, props: Any
    ) -> None:
        with self._lock:
            if refused(reason):
                self._reasons[mid] = reason
            else:  # a refusal nobody took must not stick to a reused message id
                self._reasons.pop(mid, None)

    def take(self, mid: int) -> ReasonCode | None:
        with self._lock:
            return self._reasons.pop(mid, None)


class _ClosedOnFailedHandshake(ssl.SSLSocket):
    """An SSL socket that closes itself when its handshake fails. paho 2.2 drops the socket
    of a refused handshake without closing it, so each reconnect to a broker we do not trust
    would hold a file descriptor until the garbage collector found it."""

    def do_handshake(self, block: bool = False) -> None:
        try:
            super().do_handshake(block)
        except BaseException:
            self.close()
            raise


@dataclass(frozen=True)
class TLSFiles:
    """The files an mqtts:// client uses: the CA bundle that signs the broker's certificate
    (None: the system's CAs) and an optional client certificate with its key."""

    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None

    @classmethod
    def of(cls, settings: Settings) -> TLSFiles:
        """CITYDATA_MQTT_CA_FILE, CITYDATA_MQTT_CLIENT_CERT and CITYDATA_MQTT_CLIENT_KEY."""
        return cls(settings.mqtt_ca_file, settings.mqtt_client_cert, settings.mqtt_client_key)

    def context(self) -> ssl.SSLContext:
        """TLS 1.2 or later, the broker's certificate verified against the CA file and its
        host name checked; there is deliberately no way to turn either check off."""
        ctx = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=str(self.ca_file) if self.ca_file else None
        )
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.sslsocket_class = _ClosedOnFailedHandshake
        if self.client_cert is not None:
            ctx.load_cert_chain(self.client_cert, self.client_key)
        return ctx


def make_client(
    url: str,
    client_id: str,
    *,
    manual_ack: bool = False,
    tls: TLSFiles | None = None,
    client_class: type[mqtt.Client] = mqtt.Client,
) -> tuple[mqtt.Client, str, int]:
    """A paho client (MQTT 5) for `url` (mqtt:// or mqtts://, optional user:pass@), with the
    host and port to connect to. Reconnects back off from 1 s to 60 s. With `manual_ack`, QoS 1
    messages are acknowledged only by `client.ack(mid, qos)`. An mqtts:// client verifies the
    broker with `tls` (`TLSFiles.of(settings)`); TLS files given for a plain mqtt:// URL are an
    error rather than silently unused. `client_class`: paho's Client or a subclass of it
    (the collector's collector.receiver.BulkReceiver)."""
    parts = urlsplit(url)
    tls = tls or TLSFiles()
    if parts.scheme != "mqtts" and tls != TLSFiles():
        raise ValueError(f"TLS files given for a plain {parts.scheme}:// URL; use mqtts://")
    client = client_class(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=manual_ack,
    )
    if parts.username:
        client.username_pw_set(unquote(parts.username), unquote(parts.password or ""))
    if parts.scheme == "mqtts":
        client.tls_set_context(tls.context())
    client.reconnect_delay_set(min_delay=1, max_delay=60)
    port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    return client, parts.hostname or "localhost", port


def connect(client: mqtt.Client, host: str, port: int, timeout: float = 30.0) -> None:
    """Connect and start the network thread, returning once connected.

    connect_async before loop_start: a blocking connect() followed by loop_start() leaks the
    socket pair the first one made (paho replaces it without closing it).
    """
    client.connect_async(host, port)
    client.loop_start()
    deadline = time.monotonic() + timeout
    while not client.is_connected():
        if time.monotonic() > deadline:
            client.loop_stop()
            why = tls_problem(getattr(client, "_ssl_context", None), host, port)
            raise MQTTConnectError(f"cannot connect to MQTT broker {host}:{port}{why}")
        time.sleep(0.01)


_BROKER_REFUSALS = {  # OpenSSL's names of the alerts a broker sends, as an operator reads them
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the broker requires a client certificate "
    "(CITYDATA_MQTT_CLIENT_CERT, CITYDATA_MQTT_CLIENT_KEY)",
    "TLSV1_ALERT_UNKNOWN_CA": "the broker does not trust the CA of our client certificate",
    "SSLV3_ALERT_BAD_CERTIFICATE": "the broker refused our client certificate",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "the broker says our client certificate has expired",
    "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE": "the broker refused our client certificate: not "
    "one for a TLS client",
    "TLSV1_ALERT_PROTOCOL_VERSION": "the broker offers no TLS version we accept (1.2 or later)",
}


def tls_problem(context: ssl.SSLContext | None, host: str, port: int) -> str:
    """Why a TLS handshake with the broker fails (": TLS: certificate has expired"), or "".

    paho retries a failed handshake without saying why; one handshake of our own, with the
    client's own context, finds the reason an operator needs (wrong CA, expired certificate,
    host name not in the certificate, client certificate refused)."""
    if context is None:
        return ""
    try:
        with (
            socket.create_connection((host, port), timeout=5) as sock,
            context.wrap_socket(sock, server_hostname=host) as tls,
        ):
            tls.settimeout(1)  # TLS 1.3 refuses a client certificate after the handshake
            tls.recv(1)
    except ssl.SSLCertVerificationError as exc:
        return f": TLS: the broker's certificate is not trusted: {exc.verify_message}"
    except ssl.SSLError as exc:
        reason = str(exc.reason or exc)
        refusal = _BROKER_REFUSALS.get(reason, "the broker refused the handshake")
        return f": TLS: {refusal} ({reason})"
    except OSError:
        return ""
    return ""


def close(client: mqtt.Client) -> None:
    """Disconnect, stop the network thread and close the client's sockets now.

    paho closes its wake-up socket pair only when the client is garbage-collected; a client
    caught in a reference cycle (callbacks bound to an object holding the client) would leave
    it open until the cycle collector runs, and Python then warns about unclosed sockets.
    """
    client.disconnect()
    client.loop_stop()
    reset = getattr(client, "_reset_sockets", None)
    if reset is not None:
        reset()
