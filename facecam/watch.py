"""The ``watch`` command: the live pipeline without a window.

Label a recorded video, or keep a log of who passed a camera::

    facecam watch --source clip.mp4 --output labelled.mp4 --events events.jsonl
    facecam watch --source 0 --realtime --events door.jsonl

Without ``--realtime`` every frame of a file is processed in order, as fast as
the machine can (detection on every frame). With ``--realtime`` (always, for a
camera or stream) the file plays at its own rate and the pipeline runs exactly
as in the window: recognition works on the newest frame in the background, and
every frame is written with the latest boxes and names. With nothing written (no ``--output``, no
``--events``, no ``--max-frames``), an empty, still room's frames that the dozing pipeline does not look at are
skimmed: grabbed, not decoded (``VideoSource.skim``; the summary's ``frames_skimmed``; an MJPEG file or stream
is then read as compressed packets throughout, ``open_source(..., skims=True)``).

``--output`` writes H.264 where the OpenCV build can (probed once at run time),
else MPEG-4 part 2, said once on stderr. On a terminal, a file shows its
progress (frames, fps, time left) on stderr; off a terminal nothing is drawn.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import tempfile
import time
from functools import lru_cache
from pathlib import Path

from facecam.console import Progress
from facecam.errors import CameraError, FacecamError
from facecam.motion import SAFETY_S
from facecam.retention import add_options as add_retention_options
from facecam.sightings.live import LiveSightings, add_live_options

HELP = "run the live pipeline on a camera, file or stream, without a window"
DESCRIPTION = ("Run the live pipeline without a window: label a recorded video (every frame, or at its own rate "
               "with --realtime), or keep a log of who passed a camera.")
H264_FOURCCS = ("avc1", "H264")  # the names OpenCV builds give their H.264 encoder, in the order tried


def add_options(sub) -> None:
    """The options only ``watch`` has (the shared ones are added by the command line)."""
    sub.add_argument("--source", action="append", metavar="SOURCE",
                     help="camera index, video file, rtsp/http URL, or a folder a doorbell drops snapshots into "
                          "(folder:PATH, or the folder's path); repeat it to watch several in one process, on one "
                          "set of models (default: 0)")
    sub.add_argument("--realtime", action="store_true",
                     help="pace a file at its own fps and drop what the pipeline cannot keep up with")
    sub.add_argument("--output", type=Path, metavar="VIDEO",
                     help="write the annotated video (.mp4: H.264 where OpenCV can, else MPEG-4; .avi: MJPEG); with "
                          "several sources one video each, numbered in the order of --source (out-1.mp4, out-2.mp4)")
    sub.add_argument("--events", type=Path, metavar="JSONL",
                     help="one JSON line per output frame (each with its source's name)")
    sub.add_argument("--summary", type=Path, metavar="JSON",
                     help="frame counts, fps and latencies at the end (in all, and per source)")
    sub.add_argument("--max-frames", type=int, metavar="N", help="stop after N output frames (of each source)")
    sub.add_argument("--no-motion-gate", action="store_true",
                     help="detect faces on every round even in an empty, still scene (default: while nobody is "
                          f"tracked, detection waits for motion, with a check every {SAFETY_S:.0f} s; the setting "
                          "\"motion_gate\": false turns it off for good)")
    sub.add_argument("--blur-strangers", action="store_true",
                     help="blur every face that is not a named person (Unknown, \"?\", not recognised yet) in the "
                          "--output video and in the snapshots logged and sent (the setting \"blur_strangers\": true: "
                          "always)")
    sub.add_argument("--live-min-face-size", type=int, default=40, metavar="PX",
                     help="smallest face the live detector looks for (default 40: faster than 20)")
    add_live_options(sub, several_sources=True)
    add_retention_options(sub)   # --unknowns-keep-days, --learned-keep-days (visits: --keep-days)
    sub.add_argument("--no-unknowns", action="store_true",
                     help="do not keep unknown faces for 'facecam unknowns' (the setting \"unknowns\": false: never)")
    sub.add_argument("--learn", action="store_true",
                     help="get better with use: clear, good sightings of a person add a crop to "
                          "known_faces/NAME/.learned/ (at most 10; 'facecam learned clear' removes them; "
                          "the setting \"learn\": true keeps it on)")


class Camera:
    """One source of a ``watch``: its capture (reopened after a loss when several are watched), live session and
    pipeline on the shared models, and the loop that writes its frames, events and counts."""

    def __init__(self, index: int, spec: str, name: str, several: bool, args, models, matrix, motion):
        from facecam.live_session import LiveSession  # noqa: PLC0415

        self.index, self.spec, self.name, self.several, self.args = index, spec, name, several, args
        self.live = LiveSession(name)
        self.live.set_matrix(matrix)
        self.round_errors: list[str] = []
        self.pipeline = self.live.start(models.for_camera(index), motion=motion,
                                        on_error=lambda error: self.round_errors.append(str(error)))
        self.source = None
        self.frames_read_before = 0       # frames read by the captures a reconnection replaced
        self.frames_out = 0
        self.first_label: dict[int, float] = {}   # track id -> source seconds from first detection to first label
        self.error = None                 # what ended this source (a file that cannot be read; one camera)
        self.reconnects = 0
        self.writer = None
        self.output = None
        if args.output is not None:
            self.output = args.output if not several else \
                args.output.with_name(f"{args.output.stem}-{index + 1}{args.output.suffix}")
        self.started = self.ended = None

    @property
    def frames_in(self) -> int:
        return self.frames_read_before + (self.source.frames_read if self.source is not None else 0)

    @property
    def frames_skimmed(self) -> int:
        """Frames grabbed but not decoded while the pipeline dozed (this source's capture; :meth:`VideoSource.skim`)."""
        return self.source.frames_skimmed if self.source is not None else 0

    @property
    def skims(self) -> bool:
        """Nothing shows every frame (no ``--output``, ``--events``, ``--max-frames``) and the motion gate is on: a
        realtime source skims while the pipeline dozes (:meth:`VideoSource.skim`)."""
        args = self.args
        return args.output is None and args.events is None and not args.max_frames and self.pipeline.gate is not None

    def open(self, out):
        """Open the source and wait for it (15 s); the source, or None after a failure (``error`` says why)."""
        from facecam.sources import open_source  # noqa: PLC0415

        source = open_source(self.spec, realtime=self.args.realtime, name=self.name, skims=self.skims)
        source.on_warning = lambda message: out.message(f"facecam: warning: {self.name}: {message}")
        self.source = source
        if source.wait_opened(timeout=15):
            return source
        source.stop()
        self.error = source.error or CameraError(f"cannot open {source.spec.describe()}: no answer within 15 s; "
                                                 "check the source")
        return None

    def run(self, out, frame_out, stop, progress=None, total=None) -> None:
        """Frames until the source ends, ``--max-frames`` or ``stop``; a lost camera or stream of several is
        opened again (after 1, 2, 5, 10, then every 30 s) while the others go on."""
        self.started = time.monotonic()
        tries = 0
        try:
            while not stop.is_set():
                if self.source is None:                     # (a single source is opened before: see run_watch)
                    if self.open(out) is None:
                        if not self._again(out, stop, tries):
                            return
                        tries += 1
                        continue
                    if tries or self.reconnects:
                        out.message(f"facecam: {self.name} is back")
                    tries = 0
                    self.live.set_source_name(self.name)   # visits again (after source_ended)
                if self._frames(frame_out, stop, progress, total):
                    return                                  # --max-frames
                error = self.source.error
                if error is None or stop.is_set():
                    return                                  # a file's end, or stopped
                self.error = error
                self.live.source_ended()
                if not self._again(out, stop, tries):
                    return
                tries += 1
        finally:
            self.ended = time.monotonic()

    def _again(self, out, stop, tries: int) -> bool:
        """After ``error``: wait and try again (a camera or stream of several), else False (the error stands)."""
        source = self.source
        if not (self.several and source is not None and source.spec.live):
            return False
        from facecam.sources import reconnect_delay  # noqa: PLC0415

        wait = reconnect_delay(tries)
        what = str(self.error).split(";")[0]     # what went wrong; what to do is: nothing, it is tried again
        out.message(f"facecam: warning: {self.name}: {what}; trying again in {wait:g} s")
        self.reconnects += 1
        self.error = None
        if source is not None:
            source.stop()
            self.frames_read_before += source.frames_read
            self.source = None
        return not stop.wait(wait)

    def _frames(self, frame_out, stop, progress, total) -> bool:
        """The frame loop of one opened source; True when ``--max-frames`` is reached."""
        source, pipeline, args = self.source, self.pipeline, self.args
        realtime = source.realtime
        if realtime and self.skims:
            # nothing shows every frame: while the pipeline dozes, the source decodes only the frames it looks at
            idle_every_s = 1.0 / pipeline.gate.options.idle_fps
            pipeline.on_doze = lambda dozing: source.skim(idle_every_s if dozing else None)
        if realtime:
            pipeline.start()
        last_seq = None
        while not stop.is_set():
            frame = source.latest(after_seq=last_seq, timeout=0.5)
            if frame is None:
                if source.done:
                    return False
                continue
            last_seq = frame.seq
            if realtime:
                pipeline.submit(frame)
            else:
                pipeline.process(frame)
            tracks = pipeline.tracks_at(frame.t_source)
            for track in tracks:
                if track.recognised and track.id not in self.first_label:
                    self.first_label[track.id] = frame.t_source - track.first_seen
            frame_out(self, frame, tracks)
            self.frames_out += 1
            if progress is not None:
                progress(self.frames_out + source.frames_skimmed, total)
            if args.max_frames and self.frames_out >= args.max_frames:
                return True
        return False

    def summary(self, turns: dict, waited: dict) -> dict:
        wall = (self.ended or time.monotonic()) - (self.started or time.monotonic())
        latencies = list(self.first_label.values())
        stats = self.pipeline.stats
        return {
            "source": self.name, "frames_in": self.frames_in, "frames_out": self.frames_out,
            "frames_skimmed": self.frames_skimmed,
            "fps_out": round(self.frames_out / wall, 2) if wall > 0 else 0.0,
            "source_fps": round(self.source.fps, 2) if self.source is not None else None,
            "first_label_latency_s": _latency(latencies),
            "embeddings_computed": stats.embeddings_computed, "recognition_rounds": stats.rounds,
            "idle_rounds": stats.idle_rounds,
            "model_turns": {model: counts.get(self.index, 0) for model, counts in turns.items()},
            "most_turns_waited": waited,
            **({"reconnects": self.reconnects} if self.reconnects else {}),
            **({"output": str(self.output)} if self.output is not None and self.several else {}),
            **({"error": str(getattr(self.error, "cli", self.error))} if self.error is not None else {}),
        }


def _latency(latencies: list[float]) -> dict:
    return {"median": round(statistics.median(latencies), 3) if latencies else None,
            "max": round(max(latencies), 3) if latencies else None}


def source_names(sources: list[str], names: list[str] | None) -> list[str]:
    """Each source's display name (``--source-name`` in order, else :func:`facecam.sources.display_name`), made
    unique: a name given twice gets " (2)", " (3)" after it (the logs tell the cameras apart)."""
    from facecam.sources import display_name, unique_name  # noqa: PLC0415

    names = list(names or [])
    found: list[str] = []
    for index, spec in enumerate(sources):
        found.append(unique_name(display_name(spec, names[index] if index < len(names) else None), found))
    return found


def run_watch(session, args, out) -> int:
    import threading  # noqa: PLC0415

    from facecam import config  # noqa: PLC0415
    from facecam.annotate import FaceAnnotator, Label  # noqa: PLC0415
    from facecam.blur import blur_enabled, blur_faces, stranger_boxes  # noqa: PLC0415
    from facecam.motion import motion_options  # noqa: PLC0415
    from facecam.sealed import check_key  # noqa: PLC0415
    from facecam.shared_models import SharedModels  # noqa: PLC0415
    from facecam.sources import parse_source  # noqa: PLC0415

    specs = args.source or ["0"]
    given_names = args.source_name or []
    if len(given_names) > len(specs):
        out.message(f"facecam: error: {len(given_names)} --source-name for {len(specs)} --source; give at most one "
                    "name per source, in the same order")
        return 2
    for spec in specs:     # a missing file or a malformed address: one line before any model loads
        parse_source(spec)
    check_key(config.load_settings())   # "encrypt_snapshots": true without FACECAM_KEY: stop before writing anything
    several = len(specs) > 1
    names = source_names(specs, given_names)
    blur = args.blur_strangers = blur_enabled(getattr(args, "blur_strangers", False))  # the recorder reads it too
    args.min_face_size = max(args.min_face_size, args.live_min_face_size)
    codec = _output_codec(args.output, out) if args.output is not None else None  # before any thread starts
    recognizer = session.recognizer()
    recognizer.threshold = session.decision()
    models = SharedModels(recognizer)      # one detector and one embedder for every source, in fair turns
    matrix = session.live_matrix()         # replaced whole when the shared database's gallery changes
    recognizer.warm_up()
    motion = motion_options(args.no_motion_gate)
    cameras = [Camera(i, spec, name, several, args, models, matrix, motion)
               for i, (spec, name) in enumerate(zip(specs, names))]
    gallery_errors: list[str] = []
    closing: list[str] = []

    def new_matrix(matrix) -> None:
        for camera in cameras:
            camera.live.set_matrix(matrix)

    follower = None
    sweeper = sightings = unknowns = learning = None
    events = None
    stop = threading.Event()
    started = time.monotonic()
    try:
        if not several:    # one source: it must open (else the error, at once, as always)
            camera = cameras[0]
            if camera.open(out) is None:
                raise camera.error
        follower = session.follow_gallery(new_matrix, lambda error: gallery_errors.append(str(error)))
        # the visits log and notifications, the unknown faces and learning: one of each for every source (each
        # visit carries its source's name); their threads start once a source is open
        lives = [camera.live for camera in cameras]
        retention, sweeper = _retention(args, session, lives)
        sightings = LiveSightings.from_args(args, source_name=names[0])
        for live in lives:
            live.subscribe(sightings.on_visit)
        unknowns = _collect_unknowns(args, recognizer, lives, out, retention)
        if unknowns is not None:   # an unknown arrival's events say which stranger it is, and their earlier visits
            sightings.recorder.strangers = unknowns.strangers
        learning = _learn(args, session, recognizer, lives, new_matrix, out)
        annotator = FaceAnnotator(show_distances=True)
        events = open(args.events, "w", encoding="utf-8", buffering=1) if args.events else None  # a line at a time
        lock = threading.Lock()

        def frame_out(camera: Camera, frame, tracks) -> None:
            labels = [Label.from_track(track) for track in tracks]
            if camera.output is not None:
                if camera.writer is None:
                    camera.writer = _open_writer(camera.output, codec, camera.source.fps, frame.bgr_frame.shape)
                shown = blur_faces(frame.bgr_frame, stranger_boxes(camera.pipeline.strangers_at(frame.t_source))) \
                    if blur else frame.bgr_frame
                camera.writer.write(annotator.annotate(shown, labels))
            if events is not None:
                line = json.dumps({
                    "source": camera.name, "frame": frame.seq - 1, "t": round(frame.t_source, 4),
                    "faces": [{"track": label.track_id, "box": [int(round(v)) for v in label.box],
                               "name": None if label.pending else label.name,
                               "distance": None if label.pending or label.distance is None
                               else round(label.distance, 4),
                               **({"pending": True} if label.pending else {})} for label in labels],
                }, ensure_ascii=False) + "\n"
                with lock:
                    events.write(line)

        if not several:
            camera = cameras[0]
            progress = Progress(f"watch {camera.name}", out.stderr, rate_unit=" fps", terminal_only=True)
            total = _frame_count(camera.spec) if out.terminal and camera.source.spec.kind == "file" else None
            if total and args.max_frames:
                total = min(total, args.max_frames)
            try:
                camera.run(out, frame_out, stop, progress, total)
            finally:
                progress.finish()
        else:
            threads = [threading.Thread(target=camera.run, args=(out, frame_out, stop), daemon=True,
                                        name=f"facecam-watch {camera.name}") for camera in cameras]
            for thread in threads:
                thread.start()
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.5)   # Ctrl-C reaches the main thread between joins
    finally:
        stop.set()
        for camera in cameras:
            camera.live.request_stop()
            if camera.source is not None:
                camera.source.stop()
        if follower is not None:
            follower.stop()
        for camera in cameras:   # each pipeline stops, its open visits end
            closing += camera.live.close()
        for follower_of_visits in (sweeper, sightings, unknowns, learning):  # then the log, unknowns, learning written
            if follower_of_visits is not None:
                try:
                    follower_of_visits.close()
                except Exception as error:  # noqa: BLE001 - the others still close
                    closing.append(f"{type(error).__name__}: {error}")
        for camera in cameras:
            if camera.writer is not None:
                camera.writer.release()
        if events is not None:
            events.close()
    wall = time.monotonic() - started
    failed = [camera for camera in cameras if camera.error is not None]
    if not several and failed:
        raise failed[0].error
    turns = models.turns()
    per_source = [camera.summary(turns, models.waited(camera.index)) for camera in cameras]
    latencies = [s for camera in cameras for s in camera.first_label.values()]
    frames_out = sum(camera.frames_out for camera in cameras)
    summary = {
        "frames_in": sum(camera.frames_in for camera in cameras), "frames_out": frames_out,
        "frames_skimmed": sum(camera.frames_skimmed for camera in cameras),
        "fps_out": round(frames_out / wall, 2) if wall > 0 else 0.0,
        "source_fps": round(sum(camera.source.fps for camera in cameras if camera.source is not None), 2),
        "first_label_latency_s": _latency(latencies),
        "embeddings_computed": sum(camera.pipeline.stats.embeddings_computed for camera in cameras),
        "wall_s": round(wall, 2),
        "recognition_rounds": sum(camera.pipeline.stats.rounds for camera in cameras),
        "idle_rounds": sum(camera.pipeline.stats.idle_rounds for camera in cameras),
        "motion_gate": cameras[0].pipeline.gate is not None, "blur_strangers": blur, "model": recognizer.model,
        "embedder_traces": getattr(recognizer.embedder, "trace_count", None),
        "sightings": sightings.summary(),
        "unknown_sightings": unknowns.stored if unknowns is not None else None,
        **({"unknown_sightings_sent_after_outage": unknowns.store.flushed}
           if unknowns is not None and unknowns.store.flushed else {}),
        "learned": len(learning.learned) if learning is not None else None,
        "sources": per_source,
    }
    if args.summary is not None:
        args.summary.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    what = f"{len(cameras)} sources: " if several else ""
    out.result(summary, f"{what}{frames_out} frames written of {summary['frames_in']} read, {summary['fps_out']} fps "
                        f"(source {summary['source_fps']}); first label after "
                        f"{summary['first_label_latency_s']['median']} s (median); "
                        f"{summary['embeddings_computed']} embeddings")
    for warning in sightings.warnings() + (unknowns.store.warnings[unknowns.warned:] if unknowns is not None else []):
        out.message(f"facecam: warning: {warning}")
    round_errors = [f"{camera.name}: {error}" for camera in cameras for error in camera.round_errors]
    if round_errors:
        out.message(f"facecam: warning: {len(round_errors)} recognition round(s) failed; first: {round_errors[0]}")
    if closing:
        out.message(f"facecam: warning: visits: {len(closing)} error(s); first: {closing[0]}")
    if gallery_errors:
        out.message(f"facecam: warning: the shared gallery could not be refreshed {len(gallery_errors)} time(s) "
                    f"(the last gallery stayed in use); first: {gallery_errors[0]}")
    for camera in failed:
        out.message(f"facecam: error: {camera.name}: {getattr(camera.error, 'cli', camera.error)}")
    return 1 if failed else 0


def _retention(args, session, lives):
    """Each kind of data's limit (:mod:`facecam.retention`) applied now to what the folder holds, and learned crops
    swept while running (one sweeper following every source's visits; closed by the caller): the
    :class:`facecam.retention.Retention` in use and the sweeper (None with the database or a read-only folder)."""
    from facecam.retention import Retention, RetentionSweeper, enforce  # noqa: PLC0415

    retention = Retention.from_args(args)
    sweeper = None
    if not session.db_url and not session.stores.read_only:   # the database's stores apply theirs as they connect
        enforce(session.stores, retention)
        sweeper = RetentionSweeper(args.known_faces, retention)
        for live in lives:
            live.subscribe(sweeper.on_visit)
    return retention, sweeper


def _collect_unknowns(args, recognizer, lives, out, retention=None):
    """Unknown faces kept for 'facecam unknowns' (issue 8), unless turned off: one collection for every source
    (each visit carries its source's name), or None. Closed by the caller after the sources' visits ended."""
    from facecam.db import db_url  # noqa: PLC0415
    from facecam.unknowns.live import UnknownsCollection, collection_enabled, open_store  # noqa: PLC0415

    if not collection_enabled(args.no_unknowns):
        return None
    try:  # with --db: the store every instance on the database shares
        store = open_store(args.known_faces, recognizer.model, recognizer.embedder.dim,
                           retention.unknowns_settings() if retention is not None else None,
                           db_url=db_url(getattr(args, "db", None)), live=True)
    except FacecamError as error:
        out.message(f"facecam: warning: {error}; unknown faces are not kept this run")
        return None
    for warning in store.warnings:
        out.message(f"facecam: warning: {warning}")
    collection = UnknownsCollection(store, lives[0].source_name, recognizer, lives[0].gallery,
                                    on_error=lambda error: out.message(f"facecam: warning: {error}"))
    collection.warned = len(store.warnings)  # the rest (e.g. sightings still waiting for the database) at the end
    for live in lives:
        live.subscribe(collection.on_visit)
    return collection


def _learn(args, session, recognizer, lives, new_matrix, out):
    """``--learn`` (or the setting ``"learn": true``): clear sightings add learned crops, and the gallery in use
    is refreshed after each (so later visits are matched with them, on every source). None when off, or with
    ``--db``. Closed by the caller after the sources' visits ended."""
    from facecam.learn import Learning, learning_enabled  # noqa: PLC0415

    if not learning_enabled(getattr(args, "learn", False)):
        return None
    if session.db_url:
        out.message("facecam: note: --learn keeps crops in a known_faces folder; with --db nothing is learned")
        return None
    if session.stores.read_only:
        out.message(f"facecam: note: --learn writes into {args.known_faces}, which is read-only; nothing is learned")
        return None
    gallery = session.gallery()

    def learned(_name, _path) -> None:  # the writer thread: embed the new crop, use the gallery with it
        gallery.refresh(recognizer.embed_photo)
        new_matrix(gallery.matrix())

    learning = Learning(args.known_faces, lives[0].gallery, on_learned=learned,
                        on_error=lambda error: out.message(f"facecam: warning: learning: {error}"))
    for live in lives:
        live.subscribe(learning.on_visit)
    return learning


def _open_writer(path: Path, codec: str, fps: float, shape):
    import cv2  # noqa: PLC0415

    height, width = shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (width, height))
    if not writer.isOpened():
        raise FacecamError(f"cannot write video {path}; use a .mp4 or .avi name in a writable folder")
    return writer


def _output_codec(path: Path, out) -> str:
    """The fourcc for ``path``: MJPG for .avi; for .mp4 H.264 when this OpenCV build can write it, else mp4v
    (MPEG-4 part 2, which many browsers and phones do not play), said once on stderr."""
    if path.suffix.lower() == ".avi":
        return "MJPG"
    codec = h264_fourcc()
    if codec is None:
        out.message("facecam: note: this OpenCV build cannot write H.264, so the video is MPEG-4 part 2 (mp4v), "
                    f"which some players refuse; convert it with: ffmpeg -i {path} -c:v libx264 out.mp4")
        return "mp4v"
    return codec


@lru_cache(maxsize=1)
def h264_fourcc() -> str | None:
    """The first of :data:`H264_FOURCCS` this OpenCV build can write to an .mp4, or None (probed once, on a
    small file in a temporary folder, with OpenCV's and FFmpeg's complaints about missing encoders hushed)."""
    import cv2  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="facecam-codec-") as folder, _quiet_stderr():
        for codec in H264_FOURCCS:
            probe = os.path.join(folder, f"probe-{codec}.mp4")
            writer = cv2.VideoWriter(probe, cv2.VideoWriter_fourcc(*codec), 10.0, (64, 64))
            try:
                if writer.isOpened():
                    writer.write(np.zeros((64, 64, 3), np.uint8))
                    return codec
            finally:
                writer.release()
    return None


@contextlib.contextmanager
def _quiet_stderr():
    """Send file descriptor 2 to /dev/null for a moment (FFmpeg writes to it directly, below Python)."""
    import cv2  # noqa: PLC0415

    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        cv2.utils.logging.setLogLevel(level)


def _frame_count(source: str) -> int | None:
    """The frame count a video file declares (None when it does not say)."""
    import cv2  # noqa: PLC0415

    capture = cv2.VideoCapture(str(source))
    try:
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    finally:
        capture.release()
    return count if count > 0 else None
