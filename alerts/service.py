"""The alerts service: the evaluator heard after each derived-series cycle, and the dispatcher
delivering the outbox in threads of its own, so a slow channel never holds up a cycle.

A notice refused for good (a bad token, LINE's monthly quota) is kept in the history as
`undelivered` and reported to the engineers: the recipients of the platform rules, on every
other channel."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from alerts.channels import Sender, senders
from alerts.dispatch import Dispatcher
from citydata.alerts.evaluate import Evaluator
from citydata.alerts.notice import CHANNELS, Channel, Notice, Outcome
from citydata.alerts.rulefile import load_rules
from citydata.alerts.rules import RulesError
from citydata.alerts.store import AlertStore, Event, LoadResult, NewNotice
from citydata.influx import InfluxClient
from citydata.registry import Registry
from citydata.settings import Settings

log = logging.getLogger(__name__)
REPORT_EVERY_NS = 3600 * 1_000_000_000  # at most one report per channel and problem an hour


def load_file(settings: Settings, store: AlertStore) -> LoadResult | None:
    """The rules file of the settings loaded into the store (None when none is set);
    RulesError when it is invalid."""
    if settings.alerts_rules_file is None:
        return None
    result = store.load(load_rules(settings.alerts_rules_file))
    log.info(
        "alert rules from %s: %d added, %d updated, %d unchanged, %d removed, %d kept as "
        "changed through the API; %d recipients",
        settings.alerts_rules_file,
        len(result.added),
        len(result.updated),
        len(result.unchanged),
        len(result.removed),
        len(result.kept),
        result.recipients,
    )
    return result


@dataclass
class AlertsService:
    """What `citydata alerts run` and `citydata derive --alerts` run beside the cycle."""

    store: AlertStore
    evaluator: Evaluator
    dispatcher: Dispatcher
    senders: Mapping[Channel, Sender]
    # when each (channel, status) was last reported to the engineers: a revoked token fails
    # every queued notice, and the engineers need to hear it once an hour, not once each
    reported: dict[tuple[str, str], int] = field(default_factory=dict)
    now: Callable[[], int] = time.time_ns  # the dispatcher's clock

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(
            target=self.dispatcher.run, args=(stop,), name="alerts-delivery", daemon=True
        )
        thread.start()
        return thread

    def close(self) -> None:
        for sender in self.senders.values():
            sender.close()

    def report(self, notice: Notice, outcome: Outcome) -> None:
        """A notice refused for good: into the history, and to the engineers on the other
        channels (once an hour per channel and problem)."""
        rule = str(notice.payload.get("rule", ""))
        where = f"{notice.channel}:{notice.address}"
        th = f"ส่งข้อความทาง {notice.channel} ไม่สำเร็จ ({outcome.status}): {outcome.error}"
        en = f"could not deliver over {notice.channel} ({outcome.status}): {outcome.error}"
        log.error(
            "alert notice %d to %s not delivered (%s): %s",
            notice.id,
            where,
            outcome.status,
            outcome.error,
        )
        now = self.now()
        event = Event(now, rule or "delivery", where, "undelivered", "warning", None, th, en)
        subject = f"[citydata] {en[:150]}"
        text = f"{th}\n{en}\n{notice.subject}"
        body = {
            "rule": rule,
            "transition": "undelivered",
            "channel": notice.channel,
            "status": outcome.status,
            "error": outcome.error,
            "subject": notice.subject,
        }
        last = self.reported.get((notice.channel, outcome.status))
        report = []
        if last is None or now - last >= REPORT_EVERY_NS:
            self.reported[(notice.channel, outcome.status)] = now
            report = [
                NewNotice(channel, address, subject, text, body)
                for channel, address in self._engineers()
                if channel != notice.channel and channel in self.senders
            ]
        self.store.apply([], [], [event], report, now)
        if report:
            self.dispatcher.wake()

    def _engineers(self) -> list[tuple[Channel, str]]:
        recipients = self.store.recipients()
        names = {n for s in self.store.rules() if s.rule.platform for n in s.rule.recipients}
        found: dict[tuple[Channel, str], None] = {}
        for name in sorted(names):
            who = recipients.get(name)
            for channel in CHANNELS if who else ():
                for address in getattr(who, channel):
                    found[(channel, address)] = None
        return list(found)


def build(settings: Settings, influx: InfluxClient, registry: Registry) -> AlertsService:
    """The service for these settings: the rules file loaded (RulesError when invalid), the
    configured channels, the evaluator and the dispatcher."""
    store = AlertStore(registry)
    load_file(settings, store)
    configured = senders(settings)
    missing = [c for c in CHANNELS if c not in configured]
    if missing:
        log.warning(
            "alert channels not configured, their recipients get nothing: %s (see docs/alerts.md)",
            ", ".join(missing),
        )
    dispatcher = Dispatcher(store, configured, retry_max_s=settings.alerts_retry_max_s)
    evaluator = Evaluator(
        store,
        influx,
        channels=configured.keys(),
        spool_max_bytes=float(settings.collector_spool_max_bytes),
        on_queued=dispatcher.wake,
    )
    service = AlertsService(store, evaluator, dispatcher, configured)
    dispatcher.on_problem = service.report
    return service


__all__ = ["AlertsService", "RulesError", "build", "load_file"]
