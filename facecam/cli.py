"""The command line: ``python -m facecam COMMAND``. Thin over the core; ``main(argv) -> exit code``.

Exit codes: 0 success, 1 failure (one line on stderr: what went wrong, what to
do), 2 usage error.
"""

from __future__ import annotations

import argparse
import errno
import os
import shlex
import sys
from pathlib import Path
from typing import Sequence

from facecam import __version__, config, evaluate_command, learn_command, people_command, registry, watch
from facecam.sightings import command as sightings_command
from facecam.unknowns import command as unknowns_command
from facecam.console import Output, Progress, cosine_distance, reader_gone, stranger_rate
from facecam.db import add_db_option
from facecam.errors import DownloadError, FacecamError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


# ---------------------------------------------------------------- building the core

class Session:
    """Builds what a command needs, once: the recognizer (detector + embedder) and the gallery."""

    def __init__(self, args, out: Output):
        self.args, self.out = args, out
        self._recognizer = None
        self._gallery = None
        self._stores = None
        self.report = None  # the IndexReport of the gallery refresh, once gallery() ran
        self.uploaded: tuple[int, int] | None = None  # index --db: (photos sent, photos already there)

    @property
    def db_url(self) -> str | None:
        """The shared database in use (``--db`` or ``$FACECAM_DB``), or None: the local known_faces folder."""
        from facecam.db import db_url  # noqa: PLC0415

        return db_url(getattr(self.args, "db", None)) if hasattr(self.args, "db") else None

    @property
    def stores(self):
        """Where this command's people, sightings and unknown faces are kept (:func:`facecam.stores.open_stores`:
        the known_faces folder, or ``--db``); a read-only folder's note is said once."""
        if self._stores is None:
            from facecam.stores import open_stores  # noqa: PLC0415

            self._stores = open_stores(self.args.known_faces, self.db_url)
            if self._stores.note:
                self.out.message_once(f"facecam: note: {self._stores.note}")
        return self._stores

    def store(self):
        """The PostgreSQL store of ``--db`` (opened and migrated once)."""
        return self.stores.database()

    def close(self) -> None:
        if self._stores is not None:
            self._stores.close()

    @property
    def model(self) -> str:
        """``--model``, else the default model; while its weights are not downloaded, the built-in first-run
        model, said once on stderr with the way to get the default."""
        if self.args.model is None:
            self.args.model = registry.first_run_model(self.args.weights, self.args.model_dir)
            if self.args.model != registry.DEFAULT_MODEL:
                default = registry.model(registry.DEFAULT_MODEL)
                self.out.message_once(
                    f"facecam: {default.title} is not downloaded; using the built-in "
                    f"{registry.model(self.args.model).title} (to get {default.title}, {default.download_size}: "
                    f"facecam models --download {default.key})")
        return self.args.model

    def threshold(self) -> float:
        """The threshold in use; a saved one is announced once on stderr (where and when it was saved)."""
        choice = config.threshold_choice(self.model, self.args.threshold)
        note = choice.note()
        if note:
            self.out.message_once(f"facecam: {note}")
        return choice.value

    def decision(self):
        """What decides a name (:class:`facecam.openset.Decision`): ``--threshold``, ``--stranger-rate``, the
        saved setting, else the default target; a saved threshold is announced once, as by :meth:`threshold`."""
        if self.args.threshold is None and getattr(self.args, "stranger_rate", None) is None:
            self.threshold()  # the saved threshold's note, when there is one
        return config.decision_for(self.model, self.args.threshold,
                                   stranger_rate=getattr(self.args, "stranger_rate", None))

    def detector_options(self):
        from facecam.detector import DetectorOptions  # noqa: PLC0415

        try:
            return DetectorOptions(min_face_size=self.args.min_face_size, min_confidence=self.args.min_confidence)
        except ValueError as error:
            raise FacecamError(f"bad detector option: {error}") from None

    def detector(self):
        """The face detector alone (``enroll`` needs no embedding model), or the recognizer's once built."""
        if self._recognizer is not None:
            return self._recognizer.detector
        from facecam.detector import build_detector  # noqa: PLC0415

        return build_detector(self.args.detector, self.detector_options(), self.args.model_dir)

    def model_options(self) -> dict:
        """Per-model options for the model's factory (VGG-Face: which runtime runs it)."""
        return {"runtime": self.args.vgg_runtime} if self.model == "vgg-face" else {}

    def recognizer(self):
        if self._recognizer is None:
            from facecam.recognizer import build_recognizer  # noqa: PLC0415

            try:
                self._recognizer = build_recognizer(
                    self.model, self.args.weights, self.args.model_dir, threshold=self.args.threshold,
                    match_mode=self.args.match, detector_options=self.detector_options(), detector=self.args.detector,
                    **self.model_options(),
                    progress=Progress(f"downloading {self.model} model (bytes)", self.out.stderr))
            except DownloadError as error:
                if self.model == registry.FIRST_RUN_MODEL:
                    raise
                raise DownloadError(f"{error}; or use the built-in one: --model {registry.FIRST_RUN_MODEL}") from None
        return self._recognizer

    def gallery(self, quiet: bool = True):
        """The known_faces gallery, brought up to date (embeds only what is new)."""
        if self._gallery is None and self.db_url and self.args.command != "index":
            self._gallery = self._db_gallery()
        if self._gallery is None:
            recognizer = self.recognizer()
            gallery = self.stores.folder_gallery(recognizer)
            if gallery.cache_note:
                self.out.message(f"facecam: note: {gallery.cache_note}")
            report = gallery.refresh(recognizer.embed_photo, progress=Progress("indexing known_faces", self.out.stderr))
            for warning in report.warnings:
                self.out.message(f"facecam: warning: {warning}")
            if quiet and report.skipped:
                self.out.message(f"facecam: {len(report.skipped)} file(s) in {self.args.known_faces} skipped; "
                                 f"run '{self.command_line('index')}' to see which and why")
            self.report = report
            self._gallery = gallery
            if self.db_url:  # index --db: send the folder's photos and embeddings to the database
                from facecam.db.gallery import db_version, upload_folder  # noqa: PLC0415

                self.uploaded = upload_folder(self.store(), gallery, *db_version(recognizer))
        return self._gallery

    def _db_gallery(self):
        """The gallery kept in the database, read (and photos new to this model embedded) now."""
        recognizer = self.recognizer()
        gallery = self.stores.gallery(recognizer)
        report = gallery.refresh(recognizer.embed_photo, progress=Progress("embedding photos from the database",
                                                                           self.out.stderr))
        for file, reason in report.skipped:
            self.out.message(f"facecam: warning: photo {file} in the database skipped: {reason}")
        self.report = report
        return gallery

    def live_matrix(self):
        """The gallery in matching form for a long-running command (``watch``). With ``--db`` and a server
        that does not answer: an empty gallery (said once on stderr; nobody is named yet) and
        :meth:`follow_gallery` connects when the server answers."""
        from facecam.db import DatabaseUnreachable  # noqa: PLC0415

        try:
            return self.gallery().matrix()
        except DatabaseUnreachable as error:
            from facecam.matcher import GalleryMatrix  # noqa: PLC0415

            self.out.message(f"facecam: warning: {error}; nobody is named until it answers (trying again in the "
                             "background)")
            return GalleryMatrix.empty(self.recognizer().embedder.dim)

    def follow_gallery(self, on_change, on_error=None):
        """With ``--db``: a started :class:`facecam.db.gallery.GalleryFollower` that calls ``on_change(matrix)``
        when any instance enrolls someone (stop it at the end); None with the local folder. When the
        database did not answer at start (:meth:`live_matrix`), the follower connects first, retrying."""
        if not self.db_url:
            return None
        from facecam.db.gallery import GalleryFollower  # noqa: PLC0415

        recognizer = self.recognizer()
        if self._gallery is not None:
            return GalleryFollower(self._gallery, recognizer.embed_photo, on_change, on_error).start()

        stores = self.stores

        def connected(gallery):
            stores.adopt(gallery.store)  # closed with the session
            self._gallery = gallery
            self.out.message(f"facecam: {self.gallery_name} answers now; its people are named from now on")

        return GalleryFollower(None, recognizer.embed_photo, on_change, on_error,
                               connect=lambda: stores.open_db_gallery(recognizer), on_connected=connected).start()

    def save_photos(self, name: str, photos: list[Path]) -> list[str]:
        """New photos of ``name`` (each showing a face): copied into ``known_faces/<name>/`` (the files written),
        or with ``--db`` stored in the database, where every instance names the person (``db:<photo id>``)."""
        recognizer = self.recognizer()
        if self.db_url:
            from facecam.db.gallery import db_version, enroll_into  # noqa: PLC0415

            ids = enroll_into(self.store(), name, photos, recognizer.embed_photo, *db_version(recognizer))
            return [f"db:{i}" for i in ids]
        from facecam.gallery import enroll_photos  # noqa: PLC0415

        return [str(p) for p in enroll_photos(Path(self.args.known_faces), name, photos, recognizer.count_faces)]

    def command_line(self, command: str) -> str:
        """``facecam COMMAND`` on the same known_faces, model and detector as this command, to suggest to the user."""
        words = ["facecam", command, "--known-faces", str(self.args.known_faces)]
        if self.model != registry.DEFAULT_MODEL:
            words += ["--model", self.model]
        if getattr(self.args, "detector", registry.DEFAULT_DETECTOR) != registry.DEFAULT_DETECTOR:
            words += ["--detector", self.args.detector]
        return shlex.join(words)

    @property
    def gallery_name(self) -> str:
        """Where the people come from, for messages: the folder, or the database (password hidden)."""
        if self.db_url:
            return self.stores.where
        return str(self.args.known_faces)


# ---------------------------------------------------------------- commands

def _image_paths(inputs: Sequence[str]) -> list[Path]:
    from facecam.images import is_image_name  # noqa: PLC0415

    paths: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            try:
                os.scandir(path).close()
            except OSError as error:
                raise FacecamError(f"cannot read the folder {path} ({error.strerror or error}); give your user "
                                   "read permission on it (chmod u+rx) or name another folder") from None
            found = sorted(p for p in path.rglob("*") if p.is_file() and is_image_name(p.name)
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not found:
                raise FacecamError(f"no photos in folder {path}; facecam reads .jpg .jpeg .png .bmp .webp")
            paths.extend(found)
        else:
            paths.append(path)
    return paths


def _refused_photos(paths: list[Path], out: Output) -> dict[Path, FacecamError]:
    """The photos that are none (a text file named .jpg, an empty file...), each said on stderr now."""
    from facecam.images import check_photo  # noqa: PLC0415

    refused = {}
    for path in paths:
        try:
            check_photo(path)
        except FacecamError as error:
            refused[path] = error
            out.message(f"facecam: error: {error}")
    return refused


def _box(face_box) -> list[int]:
    return [int(round(v)) for v in face_box]


def cmd_identify(session: Session, args, out: Output) -> int:
    from facecam.images import read_image  # noqa: PLC0415

    paths = _image_paths(args.images)
    refused = _refused_photos(paths, out)  # said now, before any model loads
    if len(refused) < len(paths):  # no model is loaded for photos that are none
        recognizer = session.recognizer()
        recognizer.threshold = session.decision()
        gallery = session.gallery().matrix()
        decision = recognizer.decision_basis(gallery)
        if len(gallery) == 0:
            out.message(f"facecam: warning: nobody is enrolled in {session.gallery_name}; every face will be Unknown")
    failures = 0
    for path in paths:
        error = refused.get(path)
        if error is None:
            try:
                result = recognizer.recognize(read_image(path), gallery)
            except FacecamError as caught:
                error = caught
                out.message(f"facecam: error: {error}")
        if error is not None:
            failures += 1
            if out.as_json:  # one object per photo, also for one that could not be read
                out.result({"image": str(path), "error": str(error), "faces": []}, "")
            continue
        faces = [{"box": _box(face.box), "name": match.name,
                  "distance": round(match.distance, 4) if match.distance != float("inf") else None,
                  "threshold": round(match.threshold, 4), **({"unsure": True} if match.unsure else {})}
                 for face, match in zip(result.faces, result.matches)]
        out.result({"image": str(path), "faces": faces, "decision": decision},
                   f"{path}: " + (", ".join(map(_face_text, faces)) if faces else "no face found"))
    return EXIT_FAILURE if failures else EXIT_OK


def _face_text(face: dict) -> str:
    """``Ada Lovelace (0.31)``, ``Unknown (0.82)``, or ``Unknown`` when there was nobody to compare with."""
    if face.get("unsure"):
        return "? (too poor to judge)"
    name = face["name"] or "Unknown"
    return name if face["distance"] is None else f"{name} ({face['distance']})"


def _largest_embedding(recognizer, path: Path):
    from facecam.images import read_image  # noqa: PLC0415

    faces, embeddings = recognizer.faces_and_embeddings(read_image(path))
    if len(faces) == 0:
        raise FacecamError(f"no face found in {path}; use a photo where the face is clear and at least 40 pixels wide")
    return embeddings[0]


def cmd_verify(session: Session, args, out: Output) -> int:
    from facecam.matcher import cosine_distances  # noqa: PLC0415

    recognizer = session.recognizer()
    first = _largest_embedding(recognizer, Path(args.image1))
    second = _largest_embedding(recognizer, Path(args.image2))
    distance = float(cosine_distances(first[None], second[None])[0, 0])
    threshold = session.threshold()
    verified = distance <= threshold
    out.result({"verified": verified, "distance": round(distance, 4), "threshold": threshold, "model": session.model},
               f"{'same person' if verified else 'different people'} (distance {distance:.4f}, "
               f"threshold {threshold}, model {session.model})")
    return EXIT_OK


def cmd_embed(session: Session, args, out: Output) -> int:
    from facecam.images import read_image  # noqa: PLC0415

    recognizer = session.recognizer()
    faces, embeddings = recognizer.faces_and_embeddings(read_image(Path(args.image)))
    if len(faces) == 0:
        raise FacecamError(f"no face found in {args.image}; use a photo where the face is clear and at least "
                           "40 pixels wide")
    items = [{"box": _box(face.box), "embedding": [round(float(v), 6) for v in vector]}
             for face, vector in zip(faces, embeddings)]
    out.result({"image": args.image, "faces": items},
               f"{args.image}: {len(items)} face(s), {recognizer.embedder.dim}-d embeddings (use --json to get them)")
    return EXIT_OK


def cmd_index(session: Session, args, out: Output) -> int:
    gallery = session.gallery(quiet=False)
    report = session.report
    people = gallery.people()
    from facecam.learn import describe_counts, split_learned  # noqa: PLC0415

    split = {name: split_learned(paths) for name, paths in people.items()}  # (own photos, learned crops)
    if out.as_json:
        out.result({"known_faces": str(args.known_faces), "model": session.model, "people": {k: len(v) for k, v in people.items()},
                    "learned": {k: len(v[1]) for k, v in split.items() if v[1]},
                    "photos": report.photos, "no_face": report.no_face,
                    "embedded": report.embedded, "reused": report.reused,
                    "removed": report.removed, "skipped": [{"file": f, "reason": r} for f, r in report.skipped],
                    "several_faces": [{"file": f, "faces": n} for f, n in report.several_faces],
                    **({"sent": session.uploaded[0], "already_there": session.uploaded[1]}
                       if session.uploaded is not None else {})}, "")
    else:
        no_face = f", {_count(report.no_face, 'photo')} without a face" if report.no_face else ""
        lines = [f"{args.known_faces}: {_count(len(people), 'person', 'people')}, {_count(report.photos, 'photo')} "
                 f"with a face{no_face} ({report.embedded} read now, {report.reused} from the cache, "
                 f"{report.removed} removed)"]
        lines += [f"  {name}: {describe_counts(len(own), len(learned))}" for name, (own, learned) in split.items()]
        if session.uploaded is not None:
            lines.append(f"  sent to {session.gallery_name}: {_count(session.uploaded[0], 'photo')} "
                         f"({session.uploaded[1]} already there)")
        lines += [f"  skipped {f}: {r}" for f, r in report.skipped]
        lines += [f"  note: {f} has {n} faces; the largest was used" for f, n in report.several_faces]
        out.result({}, "\n".join(lines))
    if report.photos == 0 and report.skipped:
        out.message(f"facecam: error: no photo in {args.known_faces} could be used; see the reasons above")
        return EXIT_FAILURE
    return EXIT_OK


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def cmd_enroll(session: Session, args, out: Output) -> int:
    from facecam.gallery import check_person_name, enroll_photos  # noqa: PLC0415
    from facecam.recognizer import count_faces  # noqa: PLC0415

    name = check_person_name(args.name)  # refuse a bad name before loading any model
    agreed_by = _consent(args, name)     # the setting consent_required: who agreed, asked before anything is written
    if session.db_url:
        return _enroll_db(session, args, out, name, agreed_by)
    detector = session.detector()  # only the detector: checking for a face needs no embedding model
    written = enroll_photos(Path(args.known_faces), name, [Path(p) for p in args.images],
                            lambda path: count_faces(detector, path))
    consent = _record_consent(args, name, agreed_by)
    out.result({"name": name, "files": [str(p) for p in written], **consent},
               f"enrolled {name}: {len(written)} photo(s) saved in {Path(args.known_faces) / name}")
    return EXIT_OK


def _consent(args, name: str) -> str | None:
    """Who agreed to ``name``'s enrolment: ``--consent-by``, else asked on a terminal when the setting
    consent_required is on (EnrollError, one line, when nobody is named); None when consent is not asked for."""
    from facecam.consent import check_agreed_by  # noqa: PLC0415

    if args.consent_by is None and not config.consent_required():
        return None
    if args.consent_by is None and sys.stdin.isatty():
        args.consent_by = input(f"Consent is required: who agreed to {name}'s enrolment (their name)? ")
    return check_agreed_by(args.consent_by)


def _record_consent(args, name: str, agreed_by: str | None) -> dict:
    if agreed_by is None:
        return {}
    from facecam.consent import record_consent  # noqa: PLC0415

    return {"consent": record_consent(Path(args.known_faces), name, agreed_by, how="enroll")}


def _enroll_db(session: Session, args, out: Output, name: str, agreed_by: str | None = None) -> int:
    """``enroll --db``: the photos' face thumbnails and embeddings go to the database (every instance on it
    names the person within seconds); nothing is written to a local folder."""
    from facecam.db.gallery import db_version, enroll_into  # noqa: PLC0415

    recognizer = session.recognizer()
    ids = enroll_into(session.store(), name, [Path(p) for p in args.images], recognizer.embed_photo,
                      *db_version(recognizer))
    consent = _record_consent(args, name, agreed_by)   # kept in the local folder (the database has no place for it)
    out.result({"name": name, "photos": ids, "db": True, **consent},
               f"enrolled {name}: {len(ids)} photo(s) stored in {session.gallery_name}")
    return EXIT_OK


def cmd_models(session: Session, args, out: Output) -> int:
    from facecam import models  # noqa: PLC0415
    from facecam.embedders import chosen_weights  # noqa: PLC0415

    if args.download:
        path = models.ensure_model_file(registry.model_file(args.download), args.model_dir,
                                        progress=Progress(f"downloading {args.download}", out.stderr))
        out.message(f"{args.download}: {path}")
    for spec in registry.model_files():
        is_model = spec.key in registry.MODELS  # --weights and the weights variable name a model's file
        chosen = chosen_weights(spec.key, args.weights if spec.key == args.model else None) if is_model else None
        row = models.file_status(spec, args.model_dir, chosen)
        state = f"ok ({row['source']})" if row["valid"] else (row["reason"] or "invalid")
        out.result(row, f"{row['key']:9} {state:30} {row['path']}")
    from facecam.embedders import vgg_openvino  # noqa: PLC0415

    runtime = vgg_openvino.resolve_runtime(args.vgg_runtime)
    out.message(f"vgg-face runs on {vgg_openvino.describe_runtime(runtime)} ({runtime})")
    return EXIT_OK


def cmd_window_help(session: Session, args, out: Output) -> int:
    """``facecam window`` is started by :mod:`facecam.__main__` (the window lives in facecam.gui)."""
    raise FacecamError("the window starts with 'facecam window' (or 'facecam-window')")


def check_inputs(args) -> None:
    """Photos and video files named on the command line exist, and the photos look like photos, checked before
    any model loads (FacecamError if not). A camera number or a stream address (``rtsp://...``) is not checked
    here."""
    named = [getattr(args, key, None) for key in ("image", "image1", "image2")] + list(getattr(args, "images", None) or [])
    sources = getattr(args, "source", None) if getattr(args, "command", None) == "watch" else None  # sightings filters
    for source in sources if isinstance(sources, list) else [sources]:
        if isinstance(source, str) and not source.strip().isdigit() and "://" not in source \
                and not source.strip().lower().startswith("folder:"):   # a snapshot folder: checked when opened
            named.append(source)
    for item in named:
        if item is not None and not Path(item).exists():
            raise FacecamError(f"{item}: no such file or folder; check the path")
    from facecam.images import check_photo  # noqa: PLC0415

    photos = [getattr(args, key, None) for key in ("image", "image1", "image2")]
    if getattr(args, "command", None) == "enroll":
        photos += args.images
    for item in photos:  # (identify's photos: each said, the others still identified; see cmd_identify)
        if item is not None:
            check_photo(item)
    if getattr(args, "known_faces", None) is not None:  # a folder facecam may not read: one line, before any model
        from facecam.stores import check_readable  # noqa: PLC0415

        check_readable(Path(args.known_faces))


# ---------------------------------------------------------------- parser
# Each command gets only the options it uses: the model options (every command that runs a model), the gallery
# and matching options (commands that name people), --json (commands with a result).

def _add_common(parser: argparse.ArgumentParser) -> None:
    """The model and detector options: every command that runs a model."""
    parser.add_argument("--model", choices=list(registry.MODELS), default=None,
                        help=f"embedding model (default: {registry.DEFAULT_MODEL} once downloaded, until then the "
                             f"built-in {registry.FIRST_RUN_MODEL})")
    parser.add_argument("--detector", choices=list(registry.DETECTORS), default=registry.DEFAULT_DETECTOR,
                        help=f"face detector (default: {registry.DEFAULT_DETECTOR}; yunet is lighter)")
    _add_model_files(parser)
    parser.add_argument("--min-face-size", type=int, default=20, metavar="PX", help="smallest face to find (default 20)")
    parser.add_argument("--min-confidence", type=float, default=None, metavar="P",
                        help="detector confidence needed (default: 0.9 with mtcnn, 0.85 with yunet)")


def _add_model_files(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", metavar="PATH", help="use this local model file instead of the model folder")
    parser.add_argument("--vgg-runtime", choices=("auto", "tensorflow", "openvino-bf16", "openvino-f32"),
                        default=None, help="how VGG-Face runs (default: $FACECAM_VGG_RUNTIME, else auto: "
                                           "the fastest with exact embeddings on this CPU)")
    parser.add_argument("--model-dir", metavar="DIR", help="folder for model files (default: the user cache; "
                        "or FACECAM_MODEL_DIR)")


def _add_gallery(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--known-faces", type=Path, default=config.DEFAULT_KNOWN_FACES, metavar="DIR",
                        help="the gallery folder: a sub-folder of photos per person (default: ./known_faces)")


def _add_threshold(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threshold", type=cosine_distance, metavar="T",
                        help="cosine distance above which a face is Unknown (default: the saved one, else per model)")


def _add_stranger_rate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stranger-rate", type=stranger_rate, metavar="R",
                        help="the share of strangers that may be given a name, e.g. 1/1000; the threshold then "
                             "follows the number of people enrolled (default: the saved one, else 1/100; "
                             "--threshold overrides it)")


def _add_match(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--match", choices=config.MATCH_MODES, default=None,
                        help="compare with each person's mean embedding (default) or their nearest photo")


def _add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")


MODEL, GALLERY, THRESHOLD, MATCH, JSON = _add_common, _add_gallery, _add_threshold, _add_match, _add_json
NAMING = (MODEL, GALLERY, THRESHOLD, _add_stranger_rate, MATCH, JSON)  # the options of a command that names people
DB = add_db_option  # the shared PostgreSQL store: commands that read or write people, embeddings or sightings


def DB_ACCEPTED(parser: argparse.ArgumentParser) -> None:  # noqa: N802 - named like the other option groups
    """``--db`` on a command that uses no gallery (``verify``): accepted, so that the same options or
    ``$FACECAM_DB`` work for every command; it compares the photos it is given and opens no database."""
    parser.add_argument("--db", metavar="URL", default=None,
                        help="accepted for symmetry with the other commands; verify compares two photos and does not "
                             "use the database")


class _SourceOption(argparse.Action):
    """``facecam watch clip.mp4``: the video is an option; say which (a usage error, exit 2)."""

    def __call__(self, parser, namespace, values, option_string=None):
        if values is not None:
            parser.error(f"the video or camera is given with --source: use --source {shlex.quote(values)}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facecam", description="Recognise people in photos and video.")
    parser.set_defaults(threshold=None, stranger_rate=None, match=None, json=False)  # what a command without those options uses
    parser.add_argument("--version", action="version", version=f"facecam {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name, help_text, handler, options, description=None):
        sub = commands.add_parser(name, help=help_text, description=description or help_text)
        for add in options:
            add(sub)
        sub.set_defaults(handler=handler)
        return sub

    sub = command("identify", "name the faces in photos (JSON Lines with --json)", cmd_identify, (*NAMING, DB))
    sub.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR")
    sub = command("verify", "are two photos the same person?", cmd_verify, (MODEL, THRESHOLD, JSON, DB_ACCEPTED))
    sub.add_argument("image1")
    sub.add_argument("image2")
    sub = command("embed", "print the embedding of each face in a photo", cmd_embed, (MODEL, JSON))
    sub.add_argument("image")
    command("index", "build or refresh the known_faces cache and list what was skipped", cmd_index,
            (MODEL, GALLERY, JSON, DB))
    sub = command("enroll", "copy photos of a person into known_faces/NAME/ (with --db: into the database)", cmd_enroll, (MODEL, GALLERY, JSON, DB))
    sub.add_argument("name", metavar="NAME")
    sub.add_argument("images", nargs="+", metavar="IMAGE")
    sub.add_argument("--consent-by", metavar="WHO", help="who agreed to this enrolment (recorded with the date beside "
                     "the person; required when the setting consent_required is on: asked on a terminal)")
    sub = command("models", "where the model files are, and whether they are present and valid", cmd_models,
                  (_add_model_files, JSON))
    sub.add_argument("--model", choices=list(registry.MODELS), default=registry.DEFAULT_MODEL,
                     help=f"the model --weights is for (default: {registry.DEFAULT_MODEL})")
    sub.add_argument("--download", choices=[spec.key for spec in registry.model_files()],
                     help="download this model file now")
    sub = command("watch", watch.HELP, watch.run_watch, (*NAMING, DB), watch.DESCRIPTION)
    watch.add_options(sub)
    sub.add_argument("source_given", nargs="?", action=_SourceOption, help=argparse.SUPPRESS)
    sub = command("evaluate", evaluate_command.HELP, evaluate_command.run_evaluate, (*NAMING, DB),
                  evaluate_command.DESCRIPTION)
    evaluate_command.add_options(sub)
    sub = command("sightings", sightings_command.HELP, sightings_command.run_sightings, (GALLERY, JSON, DB),
                  sightings_command.__doc__.splitlines()[0])
    sightings_command.add_options(sub)
    unknowns_command.add_command(commands, lambda parser: [add(parser) for add in (*NAMING, DB)])
    learn_command.add_command(commands, GALLERY, JSON)
    people_command.add_command(commands, lambda parser: [add(parser) for add in (MODEL, GALLERY, JSON, DB)])
    sub = commands.add_parser("window", help="open the window (the same as facecam-window; "
                              "'facecam window --help' for its options)", add_help=False)
    sub.add_argument("window_args", nargs=argparse.REMAINDER)
    sub.set_defaults(handler=cmd_window_help)
    return parser


def main(argv: Sequence[str] | None = None, stdout=None, stderr=None) -> int:
    try:
        code = _main(argv, stdout, stderr)
        (stdout or sys.stdout).flush()  # what is still buffered meets a closed pipe here, not in Python's exit
        return code
    except BrokenPipeError:  # the reader of the output went away (``| head``): the command ends quietly
        return reader_gone()


def _main(argv: Sequence[str] | None, stdout, stderr) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    out = Output(getattr(args, "json", False), stdout, stderr)
    warning = config.settings_warning()
    if warning:
        out.message(f"facecam: warning: {warning}")
    if hasattr(args, "notify_on"):   # watch: a notification endpoint it would refuse, before models and the source
        from facecam.sightings.live import check_notify  # noqa: PLC0415
        from facecam.sinks import urls_from_args  # noqa: PLC0415

        try:
            check_notify(urls_from_args(args), args.notify_on, args.cooldown)
        except FacecamError as error:
            out.message(f"facecam: error: {error}")
            return EXIT_USAGE
    session = Session(args, out)
    try:
        check_inputs(args)
        return int(args.handler(session, args, out) or 0)
    except FacecamError as error:
        out.message(f"facecam: error: {getattr(error, 'cli', error)}")  # CameraError: the CLI's action, no button
        return EXIT_FAILURE
    except OSError as error:
        if error.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        from facecam.stores import permission_message  # noqa: PLC0415

        out.message(f"facecam: error: {permission_message(error)}")
        return EXIT_FAILURE
    except KeyboardInterrupt:
        out.message("facecam: interrupted; work done so far is saved")
        return EXIT_FAILURE
    except MemoryError:
        out.message("facecam: error: out of memory; try smaller photos or close other programs")
        return EXIT_FAILURE
    finally:
        session.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
