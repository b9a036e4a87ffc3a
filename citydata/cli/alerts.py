"""`citydata alerts check|load|run|test|list`: alert rules, the alerts service, its channels."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from citydata.cli._common import SETTINGS_HELP, stop_on_signals

if TYPE_CHECKING:
    from citydata.cli._common import Subparsers
    from citydata.settings import Settings

log = logging.getLogger(__name__)

RUN_HELP = """Every whole minute, judge every station through citydata (as `citydata derive`
does, without writing the derived series again), evaluate every enabled alert rule, keep each
rule and subject's state in the registry database, write the transitions to InfluxDB
(measurement `alerts`), and deliver the messages (LINE, e-mail, webhook) from a persisted
outbox. Loads CITYDATA_ALERTS_RULES_FILE first when it is set. Where `citydata derive` runs
anyway, `citydata derive --alerts` does both in one process instead. docs/alerts.md."""


def add_commands(subparsers: Subparsers) -> None:
    p = subparsers.add_parser(
        "alerts",
        help="alert rules: check and load them, run the alerts service, test a channel",
        description="Alert rules (YAML; deploy/alerts.yaml ships Lam Phaya's), their "
        "evaluation and delivery. docs/alerts.md is the reference.",
    )
    sub = p.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    c = sub.add_parser(
        "check",
        help="validate rules files without running anything",
        description="Check rules files: every problem is listed with its file, line and place "
        "(rules[3].for). Exit status 1 when any file has a problem.",
    )
    c.add_argument("files", nargs="+", type=Path, metavar="FILE")
    c.set_defaults(func=cmd_check)
    ld = sub.add_parser(
        "load",
        help="load a rules file into the registry database",
        description="Make the registry database hold the file's recipients and rules. Rules "
        "changed through the API since are kept; file rules no longer in the file are removed.",
        epilog=SETTINGS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ld.add_argument("file", type=Path, metavar="FILE")
    ld.set_defaults(func=cmd_load)
    r = sub.add_parser(
        "run",
        help="run the alerts service (evaluation every minute, delivery)",
        description=RUN_HELP,
        epilog=SETTINGS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument(
        "--once", action="store_true", help="evaluate the current minute, deliver, and exit"
    )
    r.set_defaults(func=cmd_run)
    t = sub.add_parser(
        "test",
        help="send a test message over one channel",
        description="Send a short test message (Thai and English) to every address of the "
        "channel, or of --to's recipients, right away (not through the outbox), and print what "
        "each answered: to check a token, a password or a LINE group id.",
        epilog=SETTINGS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument("--channel", required=True, choices=["line", "email", "webhook"])
    t.add_argument("--to", action="append", metavar="RECIPIENT", help="only these recipients")
    t.set_defaults(func=cmd_test)
    ls = sub.add_parser(
        "list", help="alerts pending or firing now", description="Alerts pending or firing now."
    )
    ls.set_defaults(func=cmd_list)


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    from citydata.alerts.rulefile import load_rules
    from citydata.alerts.rules import RulesError

    status = 0
    for path in args.files:
        try:
            found = load_rules(path)
        except RulesError as exc:
            status = 1
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            continue
        print(f"{path}: {len(found.rules)} rules, {len(found.recipients)} recipients: valid")
    return status


def cmd_load(settings: Settings, args: argparse.Namespace) -> int:
    from citydata.alerts.rulefile import load_rules
    from citydata.alerts.rules import RulesError
    from citydata.alerts.store import AlertStore
    from citydata.registry import Registry

    try:
        found = load_rules(args.file)
    except RulesError as exc:
        print(f"citydata alerts load: {exc}", file=sys.stderr)
        return 1
    with Registry.from_settings(settings) as registry:
        done = AlertStore(registry).load(found)
    for label, names in (
        ("added", done.added),
        ("updated", done.updated),
        ("unchanged", done.unchanged),
        ("removed", done.removed),
        ("kept (changed through the API)", done.kept),
    ):
        if names:
            print(f"{label}: {', '.join(names)}")
    print(f"{len(found.rules)} rules and {done.recipients} recipients loaded from {args.file}")
    return 0


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from citydata.cli.derive import alerts_service, live
    from citydata.derived.deriver import Deriver
    from citydata.influx import InfluxClient
    from citydata.registry import Registry

    stop = stop_on_signals()
    with InfluxClient.from_settings(settings) as influx, Registry.from_settings(settings) as reg:
        service = alerts_service(settings, influx, reg)
        if service is None:
            return 2
        try:
            deriver = Deriver(influx, reg, settings.aqi_above_200, write=False)
            return live(deriver, args.once, stop, service)
        finally:
            service.close()


def cmd_test(settings: Settings, args: argparse.Namespace) -> int:
    from alerts.channels import senders
    from citydata.alerts.notice import Notice
    from citydata.alerts.store import AlertStore
    from citydata.registry import Registry

    sender = senders(settings).get(args.channel)
    if sender is None:
        print(
            f"citydata alerts test: the {args.channel} channel is not configured "
            "(docs/alerts.md, Channels)",
            file=sys.stderr,
        )
        return 2
    with Registry.from_settings(settings) as registry:
        recipients = AlertStore(registry).recipients()
    unknown = sorted(set(args.to or ()) - set(recipients))
    if unknown:
        print(f"citydata alerts test: unknown recipients: {', '.join(unknown)}", file=sys.stderr)
        return 2
    addresses = sorted(
        {
            a
            for name, who in recipients.items()
            if not args.to or name in args.to
            for a in getattr(who, args.channel)
        }
    )
    if not addresses:
        print(
            f"citydata alerts test: no {args.channel} address among the recipients "
            "(load a rules file first: citydata alerts load FILE)",
            file=sys.stderr,
        )
        return 2
    import uuid

    failed = 0
    subject = "[citydata] ทดสอบการแจ้งเตือน / alert test"
    text = "ข้อความทดสอบจากระบบแจ้งเตือน citydata\nA test message from the citydata alerts."
    try:
        for i, address in enumerate(addresses):
            notice = Notice(
                i,
                args.channel,
                address,
                subject,
                text,
                {"rule": "test", "transition": "test"},
                str(uuid.uuid4()),
            )
            outcome = sender.send(notice)
            print(f"{address}: {outcome.status}{': ' + outcome.error if outcome.error else ''}")
            failed += outcome.status != "sent"
    finally:
        sender.close()
    return 1 if failed else 0


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    from citydata.alerts.store import AlertStore
    from citydata.registry import Registry
    from citydata.timeutil import as_datetime

    with Registry.from_settings(settings) as registry:
        states = AlertStore(registry).states()
    if not states:
        print("no alert is pending or firing")
    for (rule, subject), s in sorted(states.items()):
        since = as_datetime(s.since_ns).isoformat().replace("+00:00", "Z")
        ack = f", acknowledged by {s.ack_by}" if s.ack_by else ""
        print(f"{s.state:8} {rule:24} {subject:24} value {s.value} since {since}{ack}")
    return 0
