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
skimmed: grabbed, not decoded (``VideoSource.skim``; the summary's ``frames_skimmed``).

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
from facecam.retention import add_options as add_retention_options
from facecam.sightings.live import LiveSightings, add_live_options

HELP = "run the live pipeline on a camera, file or stream, without a window"
DESCRIPTION = ("Run the live pipeline without a window: label a recorded video (every frame, or at its own rate "
               "with --realtime), or keep a log of who passed a camera.")
H264_FOURCCS = ("avc1", "H264")  # the names OpenCV builds give their H.264 encoder, in the order tried


def add_options(sub) -> None:
    """The options only ``watch`` has (the shared ones are added by the command line)."""
    sub.add_argument("--source", default="0", help="camera index, video file or rtsp/http URL (default: 0)")
    sub.add_argument("--realtime", action="store_true",
                     help="pace a file at its own fps and drop what the pipeline cannot keep up with")
    sub.add_argument("--output", type=Path, metavar="VIDEO",
                     help="write the annotated video (.mp4: H.264 where OpenCV can, else MPEG-4; .avi: MJPEG)")
    sub.add_argument("--events", type=Path, metavar="JSONL", help="one JSON line per output frame")
    sub.add_argument("--summary", type=Path, metavar="JSON", help="frame counts, fps and latencies at the end")
    sub.add_argument("--max-frames", type=int, metavar="N", help="stop after N output frames")
    sub.add_argument("--no-motion-gate", action="store_true",
                     help="detect faces on every round even in an empty, still scene (default: while nobody is "
                          "tracked, detection waits for motion, with a check every 3 s; the setting "
                          "\"motion_gate\": false turns it off for good)")
    sub.add_argument("--blur-strangers", action="store_true",
                     help="blur every face that is not a named person (Unknown, \"?\", not recognised yet) in the "
                          "--output video and in the snapshots logged and sent (the setting \"blur_strangers\": true: "
                          "always)")
    sub.add_argument("--live-min-face-size", type=int, default=40, metavar="PX",
                     help="smallest face the live detector looks for (default 40: faster than 20)")
    add_live_options(sub)
    add_retention_options(sub)   # --unknowns-keep-days, --learned-keep-days (visits: --keep-days)
    sub.add_argument("--no-unknowns", action="store_true",
                     help="do not keep unknown faces for 'facecam unknowns' (the setting \"unknowns\": false: never)")
    sub.add_argument("--learn", action="store_true",
                     help="get better with use: clear, good sightings of a person add a crop to "
                          "known_faces/NAME/.learned/ (at most 10; 'facecam learned clear' removes them; "
                          "the setting \"learn\": true keeps it on)")


def run_watch(session, args, out) -> int:
    from facecam.annotate import FaceAnnotator, Label  # noqa: PLC0415
    from facecam.blur import blur_enabled, blur_faces, stranger_boxes  # noqa: PLC0415
    from facecam.live_session import LiveSession  # noqa: PLC0415
    from facecam.motion import motion_options  # noqa: PLC0415
    from facecam.sources import display_name, open_source  # noqa: PLC0415

    from facecam import config  # noqa: PLC0415
    from facecam.sealed import check_key  # noqa: PLC0415

    check_key(config.load_settings())   # "encrypt_snapshots": true without FACECAM_KEY: stop before writing anything
    args.min_face_size = max(args.min_face_size, args.live_min_face_size)
    codec = _output_codec(args.output, out) if args.output is not None else None  # before any thread starts
    recognizer = session.recognizer()
    recognizer.threshold = session.decision()
    # the pipeline, its visits and what follows them, under the source's name (never a password: sources.display_name)
    live = LiveSession(display_name(args.source, getattr(args, "source_name", None)))
    live.set_matrix(session.live_matrix())  # replaced whole when the shared database's gallery changes
    recognizer.warm_up()
    pipeline = live.start(recognizer, motion=motion_options(args.no_motion_gate))
    gallery_errors: list[str] = []
    live.follow_gallery(session.follow_gallery, lambda error: gallery_errors.append(str(error)))
    annotator = FaceAnnotator(show_distances=True)
    blur = args.blur_strangers = blur_enabled(getattr(args, "blur_strangers", False))  # the recorder reads it too
    source = open_source(args.source, realtime=args.realtime, name=getattr(args, "source_name", None))
    if not source.wait_opened(timeout=15):
        source.stop()
        live.close()
        raise source.error or CameraError(f"cannot open {source.spec.describe()}: no answer within 15 s; "
                                          "check the source")
    retention = _retention(args, session, live, out)
    sightings = LiveSightings.from_args(args, source_name=source.name)  # the visits log and notifications
    live.subscribe(sightings.on_visit, sightings.close)
    # the collection's writer thread starts once the source is open: a source that fails leaves no thread behind
    unknowns = _collect_unknowns(args, recognizer, live, out, retention)
    if unknowns is not None:   # an unknown arrival's events say which stranger it is, and their earlier visits
        sightings.recorder.strangers = unknowns.strangers
    learning = _learn(args, session, recognizer, live, out)
    writer = None
    events = open(args.events, "w", encoding="utf-8", buffering=1) if args.events else None  # a line at a time
    frames_out = 0
    first_label: dict[int, float] = {}  # track id -> source seconds from its first detection to its first label
    errors: list[str] = []
    pipeline.on_error = lambda error: errors.append(str(error))
    progress = Progress(f"watch {source.name}", out.stderr, rate_unit=" fps", terminal_only=True)
    total = _frame_count(args.source) if out.terminal and source.spec.kind == "file" else None
    if total and args.max_frames:
        total = min(total, args.max_frames)
    started = time.monotonic()
    last_seq = None
    closing: list[str] = []
    try:
        realtime = source.realtime
        if realtime and args.output is None and events is None and not args.max_frames and pipeline.gate is not None:
            # nothing shows every frame: while the pipeline dozes, the source decodes only the frames it looks at
            idle_every_s = 1.0 / pipeline.gate.options.idle_fps
            pipeline.on_doze = lambda dozing: source.skim(idle_every_s if dozing else None)
        if realtime:
            pipeline.start()
        while True:
            frame = source.latest(after_seq=last_seq, timeout=0.5)
            if frame is None:
                if source.done:
                    break
                continue
            last_seq = frame.seq
            if realtime:
                pipeline.submit(frame)
            else:
                pipeline.process(frame)
            tracks = pipeline.tracks_at(frame.t_source)
            for track in tracks:
                if track.recognised and track.id not in first_label:
                    first_label[track.id] = frame.t_source - track.first_seen
            labels = [Label.from_track(track) for track in tracks]
            if args.output is not None:
                if writer is None:
                    writer = _open_writer(args.output, codec, source.fps, frame.bgr_frame.shape)
                shown = blur_faces(frame.bgr_frame, stranger_boxes(pipeline.strangers_at(frame.t_source))) \
                    if blur else frame.bgr_frame
                writer.write(annotator.annotate(shown, labels))
            if events is not None:
                events.write(json.dumps({
                    "frame": frame.seq - 1, "t": round(frame.t_source, 4),
                    "faces": [{"track": label.track_id, "box": [int(round(v)) for v in label.box],
                               "name": None if label.pending else label.name,
                               "distance": None if label.pending or label.distance is None
                               else round(label.distance, 4),
                               **({"pending": True} if label.pending else {})} for label in labels],
                }, ensure_ascii=False) + "\n")
            frames_out += 1
            progress(frames_out + source.frames_skimmed, total)
            if args.max_frames and frames_out >= args.max_frames:
                break
    finally:
        progress.finish()
        live.request_stop()
        source.stop()
        closing = live.close()     # the pipeline and the gallery follower stop, the open visits end; the log,
        # the unknowns and learning are written
        if writer is not None:
            writer.release()
        if events is not None:
            events.close()
    wall = time.monotonic() - started
    if source.error is not None:
        raise source.error
    latencies = list(first_label.values())
    summary = {
        "frames_in": source.frames_read, "frames_out": frames_out, "frames_skimmed": source.frames_skimmed,
        "fps_out": round(frames_out / wall, 2) if wall > 0 else 0.0, "source_fps": round(source.fps, 2),
        "first_label_latency_s": {"median": round(statistics.median(latencies), 3) if latencies else None,
                                  "max": round(max(latencies), 3) if latencies else None},
        "embeddings_computed": pipeline.stats.embeddings_computed, "wall_s": round(wall, 2),
        "recognition_rounds": pipeline.stats.rounds, "idle_rounds": pipeline.stats.idle_rounds,
        "motion_gate": pipeline.gate is not None, "blur_strangers": blur, "model": recognizer.model,
        "embedder_traces": getattr(recognizer.embedder, "trace_count", None),
        "sightings": sightings.summary(),
        "unknown_sightings": unknowns.stored if unknowns is not None else None,
        **({"unknown_sightings_sent_after_outage": unknowns.store.flushed}
           if unknowns is not None and unknowns.store.flushed else {}),
        "learned": len(learning.learned) if learning is not None else None,
    }
    if args.summary is not None:
        args.summary.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    out.result(summary, f"{frames_out} frames written of {source.frames_read} read, {summary['fps_out']} fps "
                        f"(source {summary['source_fps']}); first label after {summary['first_label_latency_s']['median']} s "
                        f"(median); {pipeline.stats.embeddings_computed} embeddings")
    for warning in sightings.warnings() + (unknowns.store.warnings[unknowns.warned:] if unknowns is not None else []):
        out.message(f"facecam: warning: {warning}")
    if errors:
        out.message(f"facecam: warning: {len(errors)} recognition round(s) failed; first: {errors[0]}")
    if closing:
        out.message(f"facecam: warning: visits: {len(closing)} error(s); first: {closing[0]}")
    if gallery_errors:
        out.message(f"facecam: warning: the shared gallery could not be refreshed {len(gallery_errors)} time(s) "
                    f"(the last gallery stayed in use); first: {gallery_errors[0]}")
    return 0


def _retention(args, session, live, out):
    """Each kind of data's limit (:mod:`facecam.retention`) applied now to what the folder holds, and learned crops
    swept while running; the :class:`facecam.retention.Retention` in use."""
    from facecam.retention import Retention, RetentionSweeper, enforce  # noqa: PLC0415

    retention = Retention.from_args(args)
    if not session.db_url and not session.stores.read_only:   # the database's stores apply theirs as they connect
        enforce(session.stores, retention)
        sweeper = RetentionSweeper(args.known_faces, retention)
        live.subscribe(sweeper.on_visit, sweeper.close)
    return retention


def _collect_unknowns(args, recognizer, live, out, retention=None):
    """Unknown faces kept for 'facecam unknowns' (issue 8), unless turned off: the collection, or None."""
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
    collection = UnknownsCollection(store, live.source_name, recognizer, live.gallery,
                                    on_error=lambda error: out.message(f"facecam: warning: {error}"))
    collection.warned = len(store.warnings)  # the rest (e.g. sightings still waiting for the database) at the end
    live.subscribe(collection.on_visit, collection.close)
    return collection


def _learn(args, session, recognizer, live, out):
    """``--learn`` (or the setting ``"learn": true``): clear sightings add learned crops, and the gallery in use
    is refreshed after each (so later visits are matched with them). None when off, or with ``--db``."""
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
        live.set_matrix(gallery.matrix())

    learning = Learning(args.known_faces, live.gallery, on_learned=learned,
                        on_error=lambda error: out.message(f"facecam: warning: learning: {error}"))
    live.subscribe(learning.on_visit, learning.close)
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
