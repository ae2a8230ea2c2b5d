"""``facecam unknowns``: the faces the camera kept seeing but could not name, one entry per person.

    facecam unknowns [--json]             list the clusters, newest first
    facecam unknowns name ID NAME         save the cluster's best crops (at most 5) as photos of NAME
    facecam unknowns merge ID ID...       they are one person
    facecam unknowns forget ID... | --all delete them (and their crops)
    facecam unknowns ignore ID...         not a person: forget them and never collect that face again

Sightings are collected by ``watch`` (and the window) unless ``--no-unknowns`` or the setting
``"unknowns": false``; they live in ``known_faces/.facecam/unknowns/<model>/``, or with ``--db URL``
in that PostgreSQL database, shared by every instance on it (``name`` then enrolls into the database).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from facecam.errors import FacecamError
from facecam.types import iso


def add_command(commands, add_common) -> None:
    sub = commands.add_parser("unknowns", help="list, name, merge or forget the unknown faces seen by watch",
                              description=__doc__.splitlines()[0])
    add_common(sub)
    sub.set_defaults(handler=run_unknowns, unknowns_action="list", model=None)  # None: see model_in_use
    _model_help(sub)
    actions = sub.add_subparsers(dest="unknowns_action", metavar="ACTION")

    def action(name: str, help_text: str):
        parser = actions.add_parser(name, help=help_text, description=help_text)
        add_common(parser)
        for option in parser._actions:  # noqa: SLF001 - given before the action, a shared option is not reset by it
            if option.option_strings and option.dest != "help":
                option.default = argparse.SUPPRESS
        _model_help(parser)
        return parser

    parser = action("name", "save a cluster's best crops (at most 5) into known_faces/NAME/ as photos")
    parser.add_argument("id", metavar="ID")
    parser.add_argument("name", metavar="NAME")
    parser = action("merge", "make one cluster of several (the same person)")
    parser.add_argument("ids", nargs="+", metavar="ID")
    parser = action("forget", "delete clusters, their sightings and crops")
    parser.add_argument("ids", nargs="*", metavar="ID")
    parser.add_argument("--all", action="store_true", help="empty the unknowns store")
    parser = action("ignore", "not a person: forget clusters and never collect that face again")
    parser.add_argument("ids", nargs="+", metavar="ID")


def _model_help(parser) -> None:
    for option in parser._actions:  # noqa: SLF001 - the shared --model option, with this command's default
        if option.dest == "model":
            option.help = "the model whose unknown faces to use (default: the one used last in this known_faces)"


def cluster_json(cluster) -> dict:
    """The ``unknowns --json`` object of one cluster (``faces``: its sightings, i.e. visits)."""
    sightings = []
    for sighting in cluster.sightings:
        best = sighting.crops[0]
        sightings.append({"id": sighting.id, "source": sighting.source, "t": round(best.t, 3), "frame": best.frame,
                          "box": [int(round(v)) for v in best.box], "crop": str(best.path),
                          "time": iso(sighting.started, "seconds"), "quality": round(best.quality, 3)})
    return {"id": cluster.id, "faces": len(cluster.sightings), "first_seen": iso(cluster.first_seen, "seconds"),
            "last_seen": iso(cluster.last_seen, "seconds"), "sightings": sightings}


def _open(session, out, create: bool):
    """The unknowns store in use (``--db``: the shared one); None when there is no local one and ``create`` is False."""
    store = session.stores.unknowns(session.model, None, only_existing=not create)
    for warning in (store.warnings if store is not None else ()):
        out.message(f"facecam: warning: {warning}")
    return store


def model_in_use(known_faces: Path, default: str) -> tuple[str, list[str]]:
    """Without ``--model``: the model of the local store written last (the last ``watch`` or window session's),
    else ``default`` (the model a command without --model runs); and the other models that keep unknown faces
    there."""
    from facecam import registry  # noqa: PLC0415
    from facecam.unknowns.store import DB_NAME, store_folder  # noqa: PLC0415

    def written(model: str) -> float | None:
        files = [store_folder(known_faces, model) / name for name in (DB_NAME, DB_NAME + "-wal")]
        times = [f.stat().st_mtime for f in files if f.is_file()]
        return max(times) if times else None

    kept = {model: when for model in registry.MODELS if (when := written(model)) is not None}
    if not kept:
        return default, []
    latest = max(kept, key=kept.get)
    return latest, sorted(m for m in kept if m != latest)


def run_unknowns(session, args, out) -> int:
    if args.model is None:
        from facecam import registry  # noqa: PLC0415

        default = registry.first_run_model(getattr(args, "weights", None), getattr(args, "model_dir", None))
        args.model, others = (default, []) if session.db_url else model_in_use(Path(args.known_faces), default)
        for other in others:
            out.message(f"facecam: note: these are the unknown faces of {args.model} (the model used last); "
                        f"add --model {other} for those of {other}")
    action = args.unknowns_action or "list"
    if action == "forget" and bool(args.ids) == bool(args.all):
        out.message("facecam: error: give the ids of the clusters to forget, or --all (not both)")
        return 2
    if action == "merge" and len(set(args.ids)) < 2:
        out.message("facecam: error: merge needs two or more cluster ids")
        return 2
    store = _open(session, out, create=False)
    try:
        if action == "list":
            return _list(session, store, out)
        if store is None:
            if action == "forget" and args.all:
                out.result({"forgotten": 0}, "nothing to forget: no unknown faces are kept")
                return 0
            raise FacecamError(f"no unknown faces are kept for {session.model} in {args.known_faces}; "
                               "run 'facecam watch' first (it collects them)")
        if action == "name":
            return _name(session, store, args, out)
        if action == "merge":
            cluster = store.merge(args.ids)
            out.result(cluster_json(cluster), f"merged into {cluster.id}: {len(cluster.sightings)} sighting(s)")
            return 0
        if action == "ignore":
            count = store.ignore(args.ids)
            out.result({"ignored": count}, f"ignored {count} sighting(s): that face is not collected again")
            return 0
        count = store.forget_all() if args.all else store.forget(args.ids)
        out.result({"forgotten": count}, f"forgot {count} sighting(s)")
        return 0
    finally:
        if store is not None:
            store.close()


def _list(session, store, out) -> int:
    clusters = store.clusters() if store is not None else []
    if out.as_json:
        out.result({"clusters": [cluster_json(c) for c in clusters]}, "")
        return 0
    if not clusters:
        out.result({}, f"no unknown faces kept for {session.model} in {session.gallery_name}")
        return 0
    lines = [f"{len(clusters)} unknown {'person' if len(clusters) == 1 else 'people'} "
             f"({sum(len(c.sightings) for c in clusters)} sightings), newest first:"]
    for cluster in clusters:
        visits = len(cluster.sightings)
        sources = sorted({s.source for s in cluster.sightings})
        lines.append(f"  {cluster.id}  {visits} visit{'s' if visits != 1 else ''}  first {iso(cluster.first_seen, 'seconds')}  "
                     f"last {iso(cluster.last_seen, 'seconds')}  {', '.join(sources)}  {cluster.best_crops(1)[0].path}")
    lines.append("name one with: facecam unknowns name ID NAME")
    out.result({}, "\n".join(lines))
    return 0


def _name(session, store, args, out) -> int:
    from facecam.unknowns.naming import name_cluster  # noqa: PLC0415

    recognizer = session.recognizer()
    named = name_cluster(store, args.id, args.name, Path(args.known_faces), recognizer.count_faces,
                         save=session.save_photos)
    gallery = session.gallery()
    retired = store.retire_matching(gallery.matrix(), recognizer.decision, recognizer.match_mode)
    from facecam.unknowns.merged import record  # noqa: PLC0415

    record(Path(args.known_faces), retired)
    where = session.gallery_name if session.db_url else str(Path(args.known_faces) / named.name)
    out.result({"name": named.name, "cluster": named.cluster_id, "files": list(named.files),
                "retired": [{"id": i, "name": n} for i, n in retired]},
               f"named {named.cluster_id} {named.name}: {len(named.files)} photo(s) saved in {where}"
               + (f"; {len(retired)} other cluster(s) now recognised were retired" if retired else ""))
    return 0
