"""List the visits in the sightings log, newest first (a table, JSON lines, or CSV for a spreadsheet).

::

    facecam sightings --since 2h
    facecam sightings --since 2026-11-30 --person "Ada Lovelace" --csv > attendance.csv
    facecam sightings --unknown --json
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from facecam.errors import FacecamError

CSV_FIELDS = ("start", "end", "duration_s", "type", "name", "cluster", "source", "distance", "t_start", "id")


def _since(text: str):
    from facecam.sightings.model import parse_since  # noqa: PLC0415

    try:
        return parse_since(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


HELP = "list the visits in the sightings log, newest first"


def add_options(sub) -> None:
    """The options only ``sightings`` has (--known-faces and --json are added by the command line)."""
    sub.add_argument("--since", type=_since, metavar="WHEN",
                     help="visits that started since: 2h, 30m, 7d, today, 2026-11-30 or an ISO time")
    who = sub.add_mutually_exclusive_group()
    who.add_argument("--person", metavar="NAME", help="only this person's visits")
    who.add_argument("--unknown", action="store_true", help="only unknown faces")
    who.add_argument("--stranger", metavar="ID", help="only the visits of this stranger (a 'facecam unknowns' id)")
    sub.add_argument("--source", metavar="S", help="only this source (its --source-name)")
    sub.add_argument("--limit", type=int, metavar="N", help="at most N visits")
    sub.add_argument("--csv", action="store_true", help="CSV with a header row (opens in a spreadsheet)")
    sub.add_argument("--snapshots", type=Path, metavar="DIR",
                     help="also write each visit's face snapshot as DIR/<id>.jpg")
    forget = sub.add_mutually_exclusive_group()
    forget.add_argument("--forget", metavar="NAME", help="delete every logged visit of this person")
    forget.add_argument("--forget-all", action="store_true", help="delete the whole sightings log")


def run_sightings(session, args, out) -> int:
    from facecam.fileutil import atomic_write_bytes  # noqa: PLC0415
    from facecam.sightings.model import SightingQuery  # noqa: PLC0415
    stores = session.stores
    if not stores.has_sightings():
        out.message(f"facecam: no sightings logged yet in {args.known_faces}; 'facecam watch' logs them")
        return 0
    if args.limit is not None and args.limit < 1:
        raise FacecamError("--limit: expected 1 or more")
    store = stores.sightings(retention_days=None)
    if args.forget or args.forget_all:
        try:
            gone = store.forget(args.forget, everything=args.forget_all)
        finally:
            store.close()
        out.result({"deleted": gone}, f"{gone} visit(s) deleted")
        return 0
    try:
        for warning in store.warnings:
            out.message(f"facecam: warning: {warning}")
        sightings = store.query(SightingQuery(since=args.since, person=args.person, unknown=args.unknown,
                                              cluster=args.stranger, source=args.source, limit=args.limit,
                                              snapshots=args.snapshots is not None))
    finally:
        store.close()
    if args.snapshots is not None:
        for sighting in sightings:
            atomic_write_bytes(args.snapshots / f"{sighting.id}.jpg", sighting.snapshot, mode=0o600)
    rows = [s.row() for s in sightings]
    if args.csv:
        writer = csv.DictWriter(out.stdout, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    elif args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False), file=out.stdout)
    else:
        for row in rows:
            who = row["name"] or ("Unknown" + (f" ({row['cluster']})" if row["cluster"] else ""))
            distance = "" if row["distance"] is None else f"  distance {row['distance']:.3f}"
            print(f"{row['start'][:19].replace('T', ' ')}  {row['duration_s']:7.1f} s  {who}  [{row['source']}]"
                  f"{distance}", file=out.stdout)
        if not rows:
            out.message("facecam: no visits match")
    return 0
