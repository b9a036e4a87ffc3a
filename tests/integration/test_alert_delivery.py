"""From readings to delivered messages: the real evaluator and outbox, the real channels, a
real SMTP server (STARTTLS and a login), a fake LINE Messaging API that checks every push
against LINE's documented rules, and a webhook receiver that verifies signatures."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from alerts.channels import Sender, senders
from alerts.dispatch import Dispatcher
from alerts.service import AlertsService
from citydata.alerts.evaluate import Evaluator
from citydata.alerts.notice import CHANNELS, Channel
from citydata.influx import InfluxClient
from citydata.registry import Registry
from citydata.settings import load_settings
from citydata.timeutil import parse_rfc3339
from tests.alert_servers import (
    LINE_TOKEN,
    WEBHOOK_SECRET,
    Answer,
    FakeLine,
    MailServer,
    Receiver,
    secure,
    start_mail_server,
)
from tests.alerting import HOUR_NS, AlertCity, every, rules_text, shipped
from tests.helpers import make_station

pytestmark = pytest.mark.integration
T0 = parse_rfc3339("2026-11-01T00:00:00Z")
LINE_GROUP = "C" + "0123456789abcdef" * 2
OFFICER = "health.officer@lamphaya.go.th"
AIR = ("air-1", "air-2")
CLOCK = [time.time_ns()]  # the dispatcher's: notices are due from the evaluated (past) times


@dataclass
class Servers:
    line: FakeLine
    mail: MailServer
    hook: Receiver


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    controller, mail = start_mail_server(ca_file, **secure(ca))
    try:
        with FakeLine() as line, Receiver() as hook:
            yield Servers(line, mail, hook)
            assert not line.problems, f"pushes LINE would refuse: {line.problems}"
    finally:
        controller.stop()


@dataclass
class Delivery:
    city: AlertCity
    senders: dict[Channel, Sender]
    dispatcher: Dispatcher
    servers: Servers

    def later(self, seconds: float) -> None:
        """The delivery clock moves on (backoffs pass) without the test sleeping."""
        CLOCK[0] += int(seconds * 1e9)

    def deliver(self) -> None:
        for channel in CHANNELS:
            self.dispatcher.deliver(channel)

    def run(self, start_ns: int, end_ns: int, step_ns: int = HOUR_NS) -> None:
        """Cycles every `step_ns`, each followed by a delivery round (as `wake` makes it)."""
        for t in range(start_ns, end_ns + 1, step_ns):
            self.city.loop.step(t)
            self.deliver()

    def restart(self) -> None:
        """The service stopped and started again: new store, evaluator, dispatcher, senders."""
        for sender in self.senders.values():
            sender.close()
        self.city.restart()
        self.senders, self.dispatcher = _delivery(self.city, self.servers)

    def received(self) -> dict[str, list[str]]:
        """The transitions each server got (payload or subject), in order."""
        line = [body["messages"][0]["text"].split("\n")[0] for _, body in self.servers.line.pushes]
        mail = [str(m["Subject"]) for _, m, _ in self.servers.mail.mailbox.messages]
        hook = [body["transition"] for _, body in self.servers.hook.received]
        return {"line": line, "email": mail, "webhook": hook}


def _delivery(city: AlertCity, servers: Servers) -> tuple[dict[Channel, Sender], Dispatcher]:
    settings = load_settings(
        {},
        alerts_line_api_url=servers.line.url,
        alerts_line_token=LINE_TOKEN,
        alerts_smtp_url=servers.mail.url(),
        alerts_smtp_ca_file=servers.mail.ca_file,
        alerts_smtp_from="citydata@lamphaya.go.th",
        alerts_webhook_secret=WEBHOOK_SECRET,
        alerts_timeout_s=2,
    )
    built = senders(settings)
    assert set(built) == set(CHANNELS)
    dispatcher = Dispatcher(city.store, built, retry_max_s=60, now=lambda: CLOCK[0])
    city.evaluator = Evaluator(city.store, city.influx, channels=built.keys(), spool_max_bytes=1e9)
    return built, dispatcher


@pytest.fixture
def delivery(influx: InfluxClient, tmp_path: Path, servers: Servers) -> Iterator[Delivery]:
    with Registry.open(f"sqlite:///{tmp_path}/registry.db") as registry:
        city = AlertCity(influx, registry)
        city.add(*(make_station(sid, "air") for sid in AIR))

        def pm(t: int) -> dict[str, float]:
            haze = T0 + 24 * HOUR_NS <= t < T0 + 48 * HOUR_NS
            return {"pm25": 120.0 if haze else 20.0}

        for sid in AIR:
            city.write("air", sid, every(T0, T0 + 90 * HOUR_NS, 600), pm)
        recipients = {
            "health": {
                "lang": "th",
                "line": [LINE_GROUP],
                "email": [OFFICER],
                "webhook": [f"{servers.hook.url}/citydata"],
            }
        }
        city.rules(
            rules_text(shipped("aqi-level-4", repeat=None, recipients=["health"]), recipients)
        )
        built, dispatcher = _delivery(city, servers)
        done = Delivery(city, built, dispatcher, servers)
        yield done
        for sender in done.senders.values():
            sender.close()


def test_a_haze_episode_delivers_one_firing_and_one_resolved_message_on_every_channel(
    delivery: Delivery,
) -> None:
    delivery.run(T0 + 20 * HOUR_NS, T0 + 90 * HOUR_NS)
    got = delivery.received()
    title = "คุณภาพอากาศเริ่มมีผลกระทบต่อสุขภาพ"
    assert got["line"] == [f"[เตือน] {title}: 2 จุด", f"[กลับสู่ปกติ] {title}: 2 จุด"]
    assert got["email"] == got["line"]  # the Thai subject arrived intact
    assert got["webhook"] == ["firing", "resolved"]
    # Thai bodies intact: the stations named in one message, in Thai
    text = delivery.servers.line.pushes[0][1]["messages"][0]["text"]
    assert "สถานี air-1: AQI" in text and "สถานี air-2: AQI" in text
    _, mail, encrypted = delivery.servers.mail.mailbox.messages[0]
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None and "สถานี air-1: AQI" in body.get_content() and encrypted
    # one push to the group, as the recipient's LINE address says
    assert {body["to"] for _, body in delivery.servers.line.pushes} == {LINE_GROUP}
    statuses = {status for status, _ in delivery.city.store.notices()}
    assert statuses == {"sent"}


def test_a_channel_down_while_firing_delivers_after_recovery_once_and_blocks_no_other(
    delivery: Delivery,
) -> None:
    line = delivery.servers.line
    line.script.extend([Answer(503, {"message": "busy"})] * 2)
    delivery.run(T0 + 20 * HOUR_NS, T0 + 40 * HOUR_NS)  # firing by now; LINE is down
    assert delivery.received()["webhook"] == ["firing"]  # the other channels went on
    assert len(delivery.received()["email"]) == 1
    assert line.pushes == []
    pending = delivery.city.store.notices("pending")
    assert [n.channel for _, n in pending] == ["line"]
    delivery.later(3600)  # the backoff has passed; LINE is still down
    delivery.deliver()
    assert line.pushes == []
    delivery.later(3600)  # LINE is back
    delivery.deliver()
    assert len(line.pushes) == 1
    delivery.later(3600)
    delivery.deliver()
    assert len(line.pushes) == 1
    assert [status for status, _ in delivery.city.store.notices()] == ["sent"] * 3


def test_a_push_that_arrived_but_whose_answer_was_lost_is_not_delivered_twice(
    delivery: Delivery,
) -> None:
    """LINE took the push but the answer never came back (a crash, a dropped connection):
    the retry carries the same X-Line-Retry-Key, LINE answers 409, and the group saw one."""
    delivery.servers.line.script.append(Answer(500, {"message": "lost"}, accept=True))
    delivery.run(T0 + 20 * HOUR_NS, T0 + 40 * HOUR_NS)
    [(key, _)] = delivery.servers.line.pushes
    delivery.restart()  # and the service restarted in between, from the outbox
    delivery.later(3600)
    delivery.deliver()
    assert [k for k, _ in delivery.servers.line.pushes] == [key]
    assert {status for status, _ in delivery.city.store.notices()} == {"sent"}


def test_killed_mid_episode_and_restarted_it_sends_no_duplicate_and_misses_no_transition(
    delivery: Delivery,
) -> None:
    delivery.run(T0 + 20 * HOUR_NS, T0 + 30 * HOUR_NS)  # firing, told
    # killed after the evaluation stored its cycle, before delivering it
    delivery.city.loop.step(T0 + 31 * HOUR_NS)
    delivery.restart()
    delivery.run(T0 + 32 * HOUR_NS, T0 + 90 * HOUR_NS)
    got = delivery.received()
    assert [len(got[c]) for c in ("line", "email", "webhook")] == [2, 2, 2]
    assert got["webhook"] == ["firing", "resolved"]


def test_a_quota_refusal_is_reported_to_the_engineers_and_not_retried(
    delivery: Delivery,
) -> None:
    city = delivery.city
    service = AlertsService(
        city.store, city.evaluator, delivery.dispatcher, delivery.senders, now=lambda: CLOCK[0]
    )
    delivery.dispatcher.on_problem = service.report
    engineers = {"lang": "both", "webhook": [f"{delivery.servers.hook.url}/engineers"]}
    recipients = {
        "health": {"lang": "th", "line": [LINE_GROUP]},
        "engineers": engineers,
    }
    rules = shipped("aqi-level-4", repeat=None, recipients=["health"])
    rules += shipped("collector-silent", recipients=["engineers"])
    city.rules(rules_text(rules, recipients))
    monthly = Answer(429, {"message": "You have reached your monthly limit."})
    delivery.servers.line.script.append(monthly)
    delivery.run(T0 + 20 * HOUR_NS, T0 + 40 * HOUR_NS)
    assert delivery.servers.line.pushes == []
    [(status, _)] = [(s, n) for s, n in city.store.notices() if n.channel == "line"]
    assert status == "quota"
    assert delivery.dispatcher.paused_until("line") is not None
    [report] = [b for _, b in delivery.servers.hook.received if b["transition"] == "undelivered"]
    assert report["transition"] == "undelivered" and report["status"] == "quota"
    assert city.store.history(rule="aqi-level-4")[0].transition == "undelivered"
