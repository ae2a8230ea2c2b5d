"""``facecam people``: the people facecam knows, and their data.

    facecam people [list] [--json]                    per person: photos, learned crops, visits, last seen (and consent)
    facecam people forget NAME [--yes]                delete everything of NAME (asks first on a terminal)
    facecam people export ARCHIVE [--name NAME]       the gallery (or one person and all facecam holds on them) in one file
    facecam people import ARCHIVE [--merge|--replace] an archive into known_faces, or into the database (--db)

List and forget need no model. With ``--db`` the database's people and visits are included (and forgotten).
``forget`` also tells Home Assistant and MQTT to drop the person when ``--homeassistant`` / ``--mqtt`` (or
FACECAM_HOMEASSISTANT / FACECAM_MQTT) name the broker. The work is :mod:`facecam.forget`'s (retention:
:mod:`facecam.retention`) and :mod:`facecam.archive`'s (export and import); this module declares the subcommands.
"""

from __future__ import annotations

import argparse
import sys

from facecam import config

HELP = "list, forget, back up or move the people facecam holds data on (list, forget, export, import)"


def add_command(commands, add_options) -> None:
    """``add_options(parser)``: the shared options of a command that reads the gallery (model, known_faces, --db,
    --json), given to ``people`` and to each subcommand (before or after the action)."""
    from facecam import archive  # noqa: PLC0415

    sub = commands.add_parser("people", help=HELP, description=__doc__.splitlines()[0])
    add_options(sub)
    sub.set_defaults(handler=run_people, people_action="list")
    actions = sub.add_subparsers(dest="people_action", metavar="ACTION")
    for name, text, add, handler in (
            ("list", "per person: photos, learned crops, visits, last seen, consent", None, run_people),
            ("forget", "delete everything of a person: photos, learned crops, cached embeddings, visits and "
                       "snapshots, unknown faces that are them, the database's rows, Home Assistant's entity",
             _add_forget_options, run_people),
            ("export", "write the people (photos, learned crops) to one archive file; --name: one person and "
                       "everything facecam holds on them", archive.add_export_options, archive.run_export),
            ("import", "read an archive into known_faces, or into the database with --db (merge by default)",
             archive.add_import_options, archive.run_import)):
        parser = actions.add_parser(name, help=text, description=text)
        add_options(parser)
        for option in parser._actions:  # noqa: SLF001 - given before the action, a shared option is not reset by it
            if option.option_strings and option.dest != "help":
                option.default = argparse.SUPPRESS
        if add is not None:
            add(parser)
        parser.set_defaults(handler=handler)


def _add_forget_options(parser) -> None:
    from facecam.sinks import add_sink_options  # noqa: PLC0415

    parser.add_argument("name", metavar="NAME")
    parser.add_argument("--yes", action="store_true", help="do not ask (scripts)")
    add_sink_options(parser.add_argument_group("tell these to drop the person too"))


def run_people(session, args, out) -> int:
    if args.people_action == "forget":
        return _forget(session, args, out)
    return _list(session, out)


def _list(session, out) -> int:
    from facecam.consent import describe  # noqa: PLC0415
    from facecam.forget import people_overview  # noqa: PLC0415
    from facecam.learn import describe_counts  # noqa: PLC0415

    people = people_overview(session.stores)
    required = config.consent_required()
    missing = [p.name for p in people if p.consent is None and p.photos + p.learned > 0]
    lines = []
    for person in people:
        seen = f", last seen {person.last_seen.replace('T', ' ')}" if person.last_seen else ""
        consent = f", {describe(person.consent)}" if required or person.consent else ""
        lines.append(f"{person.name}: {describe_counts(person.photos, person.learned)}, {person.visits} visit(s)"
                     f"{seen}{consent}")
    if required and missing:
        lines.append(f"{len(missing)} without recorded consent: {', '.join(missing)}")
    result = {"people": [p.as_dict() for p in people], "consent_required": required}
    if required:
        result["without_consent"] = missing
    out.result(result, "\n".join(lines) or f"nobody in {session.gallery_name}")
    return 0


def _forget(session, args, out) -> int:
    from facecam.forget import forget_person, person_known  # noqa: PLC0415
    from facecam.gallery import check_person_name  # noqa: PLC0415

    name = check_person_name(args.name)
    stores = session.stores
    if not person_known(stores, name):
        from facecam.errors import FacecamError  # noqa: PLC0415

        raise FacecamError(f"nobody called {name!r} in {session.gallery_name}; 'facecam people list' shows who is there")
    if not args.yes:
        if not sys.stdin.isatty():
            out.message(f"facecam: error: not a terminal, so nothing to confirm with: add --yes to forget {name}")
            return 2
        answer = input(f"Forget {name} everywhere (photos, learned crops, visits, snapshots, unknown faces"
                       f"{', the database' if stores.db_url else ''})? This cannot be undone. [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            out.message("facecam: nothing forgotten")
            return 1
    notifier = _notifier(args)
    try:
        report = forget_person(stores, name, notifier=notifier)
    finally:
        if notifier is not None:
            notifier.close(10.0)
    for warning in report.warnings:
        out.message(f"facecam: warning: {warning}")
    out.result(report.as_dict(), report.text())
    return 0


def _notifier(args):
    """The Home Assistant / MQTT sinks named on the command line (or their environment variables), or None."""
    from facecam.sightings.live import build_notifier  # noqa: PLC0415
    from facecam.sinks import urls_from_args  # noqa: PLC0415

    return build_notifier(urls_from_args(args), None)
