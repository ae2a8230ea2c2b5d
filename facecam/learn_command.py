"""The ``learned`` command: list or clear the crops ``--learn`` kept (``known_faces/<name>/.learned/``).

    facecam learned [list] [--json]        who has learned crops, how many, where
    facecam learned clear NAME             delete NAME's learned crops (their own photos stay)
    facecam learned clear --all            delete everyone's

Needs no model: only files are read or deleted. The next refresh of the gallery (``index``, ``watch``,
the window's folder watcher) forgets the cleared crops.
"""

from __future__ import annotations

import argparse

from facecam.errors import FacecamError

HELP = "list or clear the face crops learned with --learn (known_faces/NAME/.learned/)"


def add_command(commands, add_gallery, add_json) -> None:
    sub = commands.add_parser("learned", help=HELP, description=__doc__.splitlines()[0])
    add_gallery(sub)
    add_json(sub)
    sub.set_defaults(handler=run_learned, learned_action="list")
    actions = sub.add_subparsers(dest="learned_action", metavar="ACTION")
    for name, text in (("list", "who has learned crops, how many, where"),
                       ("clear", "delete learned crops (the person's own photos stay)")):
        parser = actions.add_parser(name, help=text, description=text)
        add_gallery(parser)
        add_json(parser)
        for option in parser._actions:  # noqa: SLF001 - given before the action, a shared option is not reset by it
            if option.option_strings and option.dest != "help":
                option.default = argparse.SUPPRESS
        if name == "clear":
            parser.add_argument("name", nargs="?", metavar="NAME")
            parser.add_argument("--all", action="store_true", help="everyone's learned crops")


def run_learned(session, args, out) -> int:
    from facecam.learn import clear_learned, learned_people  # noqa: PLC0415

    root = args.known_faces
    if not root.is_dir():
        raise FacecamError(f"the known_faces folder {root} does not exist; check --known-faces")
    if args.learned_action == "clear":
        if bool(args.name) == bool(args.all):
            out.message("facecam: error: give a NAME or --all (not both), e.g. 'facecam learned clear \"Ada Lovelace\"'")
            return 2
        if args.name:
            from facecam.gallery import check_person_name  # noqa: PLC0415

            args.name = check_person_name(args.name)
        if args.name and not (root / args.name).is_dir():
            raise FacecamError(f"no person called {args.name!r} in {root}; 'facecam learned' lists who has learned crops")
        cleared = clear_learned(root, args.name)
        total = sum(cleared.values())
        out.result({"cleared": cleared},
                   f"cleared {total} learned crop(s)" + (f" of {args.name}" if args.name else "")
                   + "; the photos in known_faces are untouched")
        return 0
    people = learned_people(root)
    out.result({"people": {name: [str(p) for p in crops] for name, crops in people.items()}},
               "\n".join(f"{name}: {len(crops)} learned ({crops[0].parent})" for name, crops in people.items())
               or f"no learned crops in {root} (watch --learn, or the window's Tools > Learn from clear sightings)")
    return 0
