"""`citydata deadletters`: inspect and replay dead letters."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from citydata.cli._common import Subparsers
    from citydata.deadletters import DeadLetter
    from citydata.settings import Settings

REPLAY_HELP = (
    "publish dead letters to the broker again (with their first receive time), e.g. "
    "after registering a sensor or fixing a route; replayed ones move to "
    "deadletter/replayed/, and whatever fails again is dead-lettered anew"
)


def add_commands(subparsers: Subparsers) -> None:
    p = subparsers.add_parser("deadletters", help="inspect and replay dead letters")
    sub = p.add_subparsers(dest="dl_command", required=True, metavar="ACTION")
    text = "print dead letters, oldest first"
    d = sub.add_parser("list", help=text, description=text)
    _selection(d)
    d.add_argument("--limit", type=int, default=0, help="print at most N")
    d.set_defaults(func=cmd_deadletters_list)
    d = sub.add_parser("replay", help=REPLAY_HELP, description=REPLAY_HELP)
    _selection(d)
    d.add_argument("--dry-run", action="store_true", help="only count what would go")
    d.set_defaults(func=cmd_deadletters_replay)


def _selection(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--reason", action="append", help="only this reason code, e.g. unregistered (repeatable)"
    )
    p.add_argument("--topic", help="only topics starting with this")
    p.add_argument("--sensor", action="append", help="only this sensor id (repeatable)")
    p.add_argument("--id", action="append", help="only this dead letter (the first column of list)")


def _dead_letter_filter(args: argparse.Namespace) -> Callable[[DeadLetter], bool]:
    """The records a `deadletters` command selects by --reason, --topic, --sensor (the last
    topic level, or a sensor named in the record's errors, as device formats carry the id in
    the payload) and --id; the same selection as the API's /operations/deadletters."""
    from citydata.deadletters import Selection

    return Selection(
        reasons=args.reason or (),
        topic=args.topic,
        sensors=args.sensor or (),
        ids=args.id or (),
    )


def cmd_deadletters_list(settings: Settings, args: argparse.Namespace) -> int:
    from citydata.deadletters import DeadLetterStore, record_id

    wanted = _dead_letter_filter(args)
    shown = 0
    for rec in DeadLetterStore(settings.data_dir):
        if wanted(rec):
            print(
                f"{record_id(rec)}  {rec['time']}  {rec['reason']:<16} {rec['topic'] or '-'}  "
                f"{'; '.join(rec['errors'])[:160]}"
            )
            shown += 1
            if args.limit and shown >= args.limit:
                break
    print(f"{shown} dead letter(s)", file=sys.stderr)
    return 0


def cmd_deadletters_replay(settings: Settings, args: argparse.Namespace) -> int:
    from citydata.deadletters import DeadLetterStore
    from citydata.replay import replay, replayable

    wanted = _dead_letter_filter(args)
    if args.dry_run:
        n = sum(1 for rec in DeadLetterStore(settings.data_dir) if replayable(rec) and wanted(rec))
        print(f"would replay {n} dead letter(s)")
        return 0
    try:
        n = replay(settings, wanted)
    except (ConnectionError, TimeoutError) as exc:
        print(f"citydata deadletters replay: {exc}; the dead letters stay", file=sys.stderr)
        return 1
    print(f"replayed {n} dead letter(s); moved to {settings.data_dir / 'deadletter' / 'replayed'}")
    return 0
