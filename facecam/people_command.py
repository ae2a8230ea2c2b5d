"""``facecam people``: the people facecam knows, and their data.

    facecam people export ARCHIVE [--name NAME]     the gallery (or one person and all facecam holds on them) in one file
    facecam people import ARCHIVE [--merge|--replace]  an archive into known_faces, or into the database (--db)

The work is in :mod:`facecam.archive` (export and import); this module only declares the subcommands.
"""

from __future__ import annotations

HELP = "back up, move or export the people facecam knows (export, import)"


def add_command(commands, add_options) -> None:
    """``add_options(parser)``: the shared options of a command that reads the gallery (model, known_faces, --db,
    --json), given to each subcommand."""
    from facecam import archive  # noqa: PLC0415

    sub = commands.add_parser("people", help=HELP, description=__doc__.splitlines()[0])
    actions = sub.add_subparsers(dest="people_action", metavar="ACTION", required=True)
    for name, text, add, handler in (
            ("export", "write the people (photos, learned crops) to one archive file; --name: one person and "
                       "everything facecam holds on them", archive.add_export_options, archive.run_export),
            ("import", "read an archive into known_faces, or into the database with --db (merge by default)",
             archive.add_import_options, archive.run_import)):
        parser = actions.add_parser(name, help=text, description=text)
        add_options(parser)
        add(parser)
        parser.set_defaults(handler=handler)
