"""``python -m facecam watch``: the live pipeline without a window.

Label a recorded video, or keep a log of who passed a camera::

    python -m facecam watch --source clip.mp4 --output labelled.mp4 --events events.jsonl
    python -m facecam watch --source 0 --realtime --events door.jsonl

Without ``--realtime`` every frame of a file is processed in order, as fast as
the machine can (detection on every frame). With ``--realtime`` (always, for a
camera or stream) the file plays at its own rate and the pipeline runs exactly
as in the window: recognition works on the newest frame in the background, and
every frame is written with the latest boxes and names.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from facecam.errors import CameraError, FacecamError


def add_command(commands, add_common) -> None:
    sub = commands.add_parser("watch", help="run the live pipeline on a camera, file or stream, without a window",
                              description=__doc__.splitlines()[0])
    add_common(sub)
    sub.add_argument("--source", default="0", help="camera index, video file or rtsp/http URL (default: 0)")
    sub.add_argument("--realtime", action="store_true",
                     help="pace a file at its own fps and drop what the pipeline cannot keep up with")
    sub.add_argument("--output", type=Path, metavar="VIDEO", help="write the annotated video (.mp4 or .avi)")
    sub.add_argument("--events", type=Path, metavar="JSONL", help="one JSON line per output frame")
    sub.add_argument("--summary", type=Path, metavar="JSON", help="frame counts, fps and latencies at the end")
    sub.add_argument("--max-frames", type=int, metavar="N", help="stop after N output frames")
    sub.add_argument("--live-min-face-size", type=int, default=40, metavar="PX",
                     help="smallest face the live detector looks for (default 40: faster than 20)")
    sub.add_argument("--no-unknowns", action="store_true",
                     help="do not keep unknown faces for 'facecam unknowns' (the setting \"unknowns\": false: never)")
    sub.set_defaults(handler=run_watch)


def run_watch(session, args, out) -> int:
    from facecam.annotate import FaceAnnotator, Label  # noqa: PLC0415
    from facecam.pipeline import LivePipeline  # noqa: PLC0415
    from facecam.sources import open_source  # noqa: PLC0415

    args.min_face_size = max(args.min_face_size, args.live_min_face_size)
    recognizer = session.recognizer()
    gallery = session.gallery().matrix()
    recognizer.warm_up()
    pipeline = LivePipeline(recognizer, lambda: gallery)
    unknowns = _collect_unknowns(args, recognizer, pipeline, out)
    annotator = FaceAnnotator(show_distances=True)
    source = open_source(args.source, realtime=args.realtime)
    if not source.wait_opened(timeout=15):
        source.stop()
        raise source.error or CameraError(f"cannot open {args.source}: no answer within 15 s; check the source")
    writer = None
    events = open(args.events, "w", encoding="utf-8") if args.events else None
    frames_out = 0
    first_label: dict[int, float] = {}  # track id -> source seconds from its first detection to its first label
    errors: list[str] = []
    pipeline.on_error = lambda error: errors.append(str(error))
    started = time.monotonic()
    last_seq = None
    try:
        realtime = source.realtime
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
                    writer = _open_writer(args.output, source.fps, frame.bgr_frame.shape)
                writer.write(annotator.annotate(frame.bgr_frame, labels))
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
            if args.max_frames and frames_out >= args.max_frames:
                break
    finally:
        pipeline.stop(timeout=2.0)
        source.stop()
        if unknowns is not None:
            unknowns.close()
        if writer is not None:
            writer.release()
        if events is not None:
            events.close()
    wall = time.monotonic() - started
    if source.error is not None:
        raise source.error
    latencies = list(first_label.values())
    summary = {
        "frames_in": source.frames_read, "frames_out": frames_out,
        "fps_out": round(frames_out / wall, 2) if wall > 0 else 0.0, "source_fps": round(source.fps, 2),
        "first_label_latency_s": {"median": round(statistics.median(latencies), 3) if latencies else None,
                                  "max": round(max(latencies), 3) if latencies else None},
        "embeddings_computed": pipeline.stats.embeddings_computed, "wall_s": round(wall, 2),
        "recognition_rounds": pipeline.stats.rounds, "model": recognizer.model,
        "embedder_traces": getattr(recognizer.embedder, "trace_count", None),
        "unknown_sightings": unknowns.stored if unknowns is not None else None,
    }
    if args.summary is not None:
        args.summary.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    out.result(summary, f"{frames_out} frames written of {source.frames_read} read, {summary['fps_out']} fps "
                        f"(source {summary['source_fps']}); first label after {summary['first_label_latency_s']['median']} s "
                        f"(median); {pipeline.stats.embeddings_computed} embeddings")
    if errors:
        out.message(f"facecam: warning: {len(errors)} recognition round(s) failed; first: {errors[0]}")
    return 0


def _collect_unknowns(args, recognizer, pipeline, out):
    """Unknown faces kept for 'facecam unknowns' (issue 8), unless turned off: the collection, or None."""
    from facecam.unknowns.live import UnknownsCollection, collection_enabled, open_store  # noqa: PLC0415

    if not collection_enabled(args.no_unknowns):
        return None
    try:
        store = open_store(args.known_faces, recognizer.model, recognizer.embedder.dim)
    except FacecamError as error:
        out.message(f"facecam: warning: {error}; unknown faces are not kept this run")
        return None
    for warning in store.warnings:
        out.message(f"facecam: warning: {warning}")
    collection = UnknownsCollection(store, str(args.source), recognizer, pipeline.gallery,
                                    on_error=lambda error: out.message(f"facecam: warning: {error}"))
    pipeline.listeners.append(collection)
    return collection


def _open_writer(path: Path, fps: float, shape):
    import cv2  # noqa: PLC0415

    height, width = shape[:2]
    codec = "MJPG" if path.suffix.lower() == ".avi" else "mp4v"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (width, height))
    if not writer.isOpened():
        raise FacecamError(f"cannot write video {path}; use a .mp4 or .avi name in a writable folder")
    return writer
