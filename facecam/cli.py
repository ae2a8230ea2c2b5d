"""The command line: ``python -m facecam COMMAND``. Thin over the core; ``main(argv) -> exit code``.

Exit codes: 0 success, 1 failure (one line on stderr: what went wrong, what to
do), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Sequence

from facecam import config
from facecam.errors import FacecamError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


# ---------------------------------------------------------------- output helpers

class Output:
    """Where the command writes: results on stdout, messages and progress on stderr."""

    def __init__(self, as_json: bool, stdout=None, stderr=None):
        self.as_json = as_json
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr

    def result(self, obj: dict, human: str) -> None:
        print(json.dumps(obj, ensure_ascii=False) if self.as_json else human, file=self.stdout, flush=True)

    def message(self, text: str) -> None:
        print(text, file=self.stderr, flush=True)


class Progress:
    """done/total and rate on stderr: rewritten in place on a terminal, a line every few seconds otherwise."""

    def __init__(self, label: str, stream, every_s: float = 5.0):
        self.label, self.stream, self.every_s = label, stream, every_s
        self.start = time.monotonic()
        self.last = 0.0
        self.tty = hasattr(stream, "isatty") and stream.isatty()

    def __call__(self, done: int, total, _item=None) -> None:
        now = time.monotonic()
        if not self.tty and now - self.last < self.every_s and done != total:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-6)
        text = f"{self.label}: {done}/{total if total is not None else '?'} ({rate:.1f}/s)"
        if self.tty:
            print("\r" + text, end="\n" if done == total else "", file=self.stream, flush=True)
        else:
            print(text, file=self.stream, flush=True)


# ---------------------------------------------------------------- building the core

class Session:
    """Builds what a command needs, once: the recognizer (detector + embedder) and the gallery."""

    def __init__(self, args, out: Output):
        self.args, self.out = args, out
        self._recognizer = None
        self._gallery = None
        self.report = None  # the IndexReport of the gallery refresh, once gallery() ran

    @property
    def model(self) -> str:
        return self.args.model

    def threshold(self) -> float:
        return config.threshold_for(self.model, self.args.threshold)

    def recognizer(self):
        if self._recognizer is None:
            from facecam.detector import DetectorOptions  # noqa: PLC0415
            from facecam.recognizer import build_recognizer  # noqa: PLC0415

            try:
                options = DetectorOptions(min_face_size=self.args.min_face_size,
                                          min_confidence=self.args.min_confidence)
            except ValueError as error:
                raise FacecamError(f"bad detector option: {error}") from None
            self._recognizer = build_recognizer(
                self.model, self.args.weights, self.args.model_dir, threshold=self.args.threshold,
                match_mode=self.args.match, detector_options=options,
                progress=Progress(f"downloading {self.model} model (bytes)", self.out.stderr))
        return self._recognizer

    def gallery(self, quiet: bool = True):
        """The known_faces gallery, brought up to date (embeds only what is new)."""
        if self._gallery is None:
            from facecam.gallery import Gallery  # noqa: PLC0415

            recognizer = self.recognizer()
            gallery = Gallery.for_recognizer(self.args.known_faces, recognizer)
            report = gallery.refresh(recognizer.embed_photo, progress=Progress("indexing known_faces", self.out.stderr))
            for warning in report.warnings:
                self.out.message(f"facecam: warning: {warning}")
            if quiet and report.skipped:
                self.out.message(f"facecam: {len(report.skipped)} file(s) in {self.args.known_faces} skipped; "
                                 "run 'python -m facecam index' to see which and why")
            self.report = report
            self._gallery = gallery
        return self._gallery


# ---------------------------------------------------------------- commands

def _image_paths(inputs: Sequence[str]) -> list[Path]:
    from facecam.images import is_image_name  # noqa: PLC0415

    paths: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and is_image_name(p.name)
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not found:
                raise FacecamError(f"no photos in folder {path}; facecam reads .jpg .jpeg .png .bmp .webp")
            paths.extend(found)
        else:
            paths.append(path)
    return paths


def _box(face_box) -> list[int]:
    return [int(round(v)) for v in face_box]


def cmd_identify(session: Session, args, out: Output) -> int:
    from facecam.images import read_image  # noqa: PLC0415

    paths = _image_paths(args.images)
    recognizer = session.recognizer()
    gallery = session.gallery().matrix()
    if len(gallery) == 0:
        out.message(f"facecam: warning: nobody is enrolled in {args.known_faces}; every face will be Unknown")
    failures = 0
    for path in paths:
        try:
            result = recognizer.recognize(read_image(path), gallery)
        except FacecamError as error:
            failures += 1
            out.message(f"facecam: error: {error}")
            continue
        faces = [{"box": _box(face.box), "name": match.name,
                  "distance": round(match.distance, 4) if match.distance != float("inf") else None}
                 for face, match in zip(result.faces, result.matches)]
        human = f"{path}: " + (", ".join(
            f"{f['name'] or 'Unknown'} ({f['distance']})" for f in faces) if faces else "no face found")
        out.result({"image": str(path), "faces": faces}, human)
    return EXIT_FAILURE if failures else EXIT_OK


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
    items = [{"box": _box(face.box), "embedding": [round(float(v), 6) for v in vector]}
             for face, vector in zip(faces, embeddings)]
    out.result({"image": args.image, "faces": items},
               f"{args.image}: {len(items)} face(s), {recognizer.embedder.dim}-d embeddings (use --json to get them)")
    return EXIT_OK


def cmd_index(session: Session, args, out: Output) -> int:
    gallery = session.gallery(quiet=False)
    report = session.report
    people = gallery.people()
    if out.as_json:
        out.result({"known_faces": str(args.known_faces), "model": session.model, "people": {k: len(v) for k, v in people.items()},
                    "photos": report.photos, "embedded": report.embedded, "reused": report.reused,
                    "removed": report.removed, "skipped": [{"file": f, "reason": r} for f, r in report.skipped],
                    "several_faces": [{"file": f, "faces": n} for f, n in report.several_faces]}, "")
    else:
        lines = [f"{args.known_faces}: {_count(len(people), 'person', 'people')}, {_count(report.photos, 'photo')} "
                 f"({report.embedded} embedded now, {report.reused} from the cache, {report.removed} removed)"]
        lines += [f"  {name}: {_count(len(paths), 'photo')}" for name, paths in people.items()]
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

    name = check_person_name(args.name)  # refuse a bad name before loading any model
    recognizer = session.recognizer()
    written = enroll_photos(Path(args.known_faces), name, [Path(p) for p in args.images], recognizer.count_faces)
    out.result({"name": name, "files": [str(p) for p in written]},
               f"enrolled {name}: {len(written)} photo(s) saved in {Path(args.known_faces) / name}")
    return EXIT_OK


def cmd_models(session: Session, args, out: Output) -> int:
    from facecam import models  # noqa: PLC0415

    if args.download:
        path = models.ensure_model_file(models.get_model(args.download), args.model_dir,
                                        progress=Progress(f"downloading {args.download}", out.stderr))
        out.message(f"{args.download}: {path}")
    rows = models.model_status(args.model_dir)
    for row in rows:
        state = "ok" if row["valid"] else (row["reason"] or "invalid")
        out.result(row, f"{row['key']:9} {state:30} {row['path']}")
    return EXIT_OK


# ---------------------------------------------------------------- parser

def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--known-faces", type=Path, default=config.DEFAULT_KNOWN_FACES, metavar="DIR",
                        help="the gallery folder: a sub-folder of photos per person (default: ./known_faces)")
    parser.add_argument("--model", choices=sorted(config.MODELS), default=config.DEFAULT_MODEL,
                        help="embedding model (default: vgg-face)")
    parser.add_argument("--weights", metavar="PATH", help="use this local model file instead of the model folder")
    parser.add_argument("--model-dir", metavar="DIR", help="folder for model files (default: the user cache; "
                        "or FACECAM_MODEL_DIR)")
    parser.add_argument("--threshold", type=cosine_distance, metavar="T",
                        help="cosine distance above which a face is Unknown (default: per model)")
    parser.add_argument("--match", choices=("nearest", "mean"), default=None,
                        help="compare with each person's mean embedding (default) or their nearest photo")
    parser.add_argument("--min-face-size", type=int, default=20, metavar="PX", help="smallest face to find (default 20)")
    parser.add_argument("--min-confidence", type=float, default=0.9, metavar="P",
                        help="detector confidence needed (default 0.9)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def number_between(low: float, high: float, what: str):
    """An argparse type: a number strictly between ``low`` and ``high`` (``what`` names it in the message)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not low < value < high:
            raise argparse.ArgumentTypeError(f"expected {what} between {low:g} and {high:g}, got {value:g}")
        return value

    return parse


cosine_distance = number_between(0.0, 2.0, "a cosine distance")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facecam", description="Recognise people in photos and video.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name, help_text, handler):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        _add_common(sub)
        sub.set_defaults(handler=handler)
        return sub

    sub = command("identify", "name the faces in photos (JSON Lines with --json)", cmd_identify)
    sub.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR")
    sub = command("verify", "are two photos the same person?", cmd_verify)
    sub.add_argument("image1")
    sub.add_argument("image2")
    sub = command("embed", "print the embedding of each face in a photo", cmd_embed)
    sub.add_argument("image")
    command("index", "build or refresh the known_faces cache and list what was skipped", cmd_index)
    sub = command("enroll", "copy photos of a person into known_faces/NAME/", cmd_enroll)
    sub.add_argument("name", metavar="NAME")
    sub.add_argument("images", nargs="+", metavar="IMAGE")
    sub = command("models", "where the model files are, and whether they are present and valid", cmd_models)
    sub.add_argument("--download", choices=sorted(config.MODELS), help="download this model now")
    for extra in _extra_commands():
        extra(commands, _add_common)
    return parser


def _extra_commands():
    """Commands that live in their own modules (watch, evaluate), registered if present."""
    hooks = []
    for module_name in ("facecam.watch", "facecam.evaluate", "facecam.unknowns.command"):
        try:
            module = __import__(module_name, fromlist=["add_command"])
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise  # a broken import inside the module must not hide the command silently
            continue
        if hasattr(module, "add_command"):
            hooks.append(module.add_command)
    return hooks


def main(argv: Sequence[str] | None = None, stdout=None, stderr=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    out = Output(getattr(args, "json", False), stdout, stderr)
    session = Session(args, out)
    try:
        return int(args.handler(session, args, out) or 0)
    except FacecamError as error:
        out.message(f"facecam: error: {error}")
        return EXIT_FAILURE
    except KeyboardInterrupt:
        out.message("facecam: interrupted; work done so far is saved")
        return EXIT_FAILURE
    except MemoryError:
        out.message("facecam: error: out of memory; try smaller photos or close other programs")
        return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
