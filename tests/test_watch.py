"""`watch`: the live pipeline without a window, on a video built from real photos, with real SFace."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from clips import SHORT_SCENE, make_gallery, score_events, write_clip

SECONDS = 6.0


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("watch")
    clip = folder / "clip.avi"
    truth = write_clip(clip, SHORT_SCENE, seconds=SECONDS)
    known = make_gallery(folder / "known_faces")
    return clip, truth, known


def run_watch(cli, model_dir, scene, tmp_path, *extra):
    clip, truth, known = scene
    events, summary = tmp_path / "events.jsonl", tmp_path / "summary.json"
    code, out, err = cli("watch", "--model", "sface", "--model-dir", model_dir, "--known-faces", known,
                         "--source", clip, "--events", events, "--summary", summary, *extra)
    assert code == 0, err
    return [json.loads(line) for line in events.read_text().splitlines()], json.loads(summary.read_text())


def test_every_frame_labelled_right_offline(cli, model_dir, scene, tmp_path):
    clip, truth, _ = scene
    output = tmp_path / "labelled.avi"
    events, summary = run_watch(cli, model_dir, scene, tmp_path, "--output", output)
    assert summary["frames_in"] == summary["frames_out"] == len(truth) == len(events)
    assert [e["frame"] for e in events] == list(range(len(truth)))
    assert events[30]["t"] == pytest.approx(1.0, abs=1e-3)
    score = score_events(events, truth)
    assert set(score["first_label_latency_s"]) == {"Tony_Blair", "George_W_Bush", "stranger"}
    # offline every frame is processed: each enrolled person's first label is already their name
    assert score["first_right_latency_s"] == {p: s for p, s in score["first_label_latency_s"].items() if p != "stranger"}
    assert score["label_accuracy"] >= 0.99, score["wrong"]
    assert score["frames_scored"] > 200
    # while all three are on screen: the two enrolled people by name, the stranger Unknown, stable ids
    middle = [e for e in events if 3.5 <= e["t"] <= 4.5]
    for event in middle:
        names = sorted((f["name"] or "Unknown") for f in event["faces"])
        assert names == ["George_W_Bush", "Tony_Blair", "Unknown"], event
    assert len({f["track"] for e in middle for f in e["faces"]}) == 3
    assert all(f["distance"] is not None and 0 <= f["distance"] <= 2 for e in middle for f in e["faces"])
    # embeddings only for new faces and the once-a-second re-checks, not every frame
    assert 3 <= summary["embeddings_computed"] <= 3 * SECONDS * 1.5 + 6
    # the annotated video: every frame, same size, green (known) boxes drawn on it
    capture = cv2.VideoCapture(str(output))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    assert len(frames) == len(truth) and frames[0].shape == (480, 640, 3)
    green = (frames[120][:, :, 1] > 170) & (frames[120][:, :, 0] < 60) & (frames[120][:, :, 2] < 60)
    assert green.sum() > 200


def test_the_summary_counts_the_visits_not_the_writes_of_the_log(cli, model_dir, scene, tmp_path):
    clip, truth, known = scene
    known = shutil.copytree(known, tmp_path / "known_faces", ignore=shutil.ignore_patterns("sightings.sqlite*"))
    _, summary = run_watch(cli, model_dir, (clip, truth, known), tmp_path)
    code, out, err = cli("sightings", "--known-faces", known, "--json")
    names = sorted((json.loads(line)["name"] or "Unknown") for line in out.splitlines())
    assert code == 0 and names == ["George_W_Bush", "Tony_Blair", "Unknown"], err   # three people, one visit each
    logged = summary["sightings"]
    assert logged["visits"] == 3
    assert logged["writes"] >= logged["visits"]  # a visit is written when it starts, as it changes, when it ends
    assert "logged" not in logged                # the old name, which counted the writes


def test_realtime_keeps_every_frame_and_names_people(cli, model_dir, scene, tmp_path):
    clip, truth, _ = scene
    events, summary = run_watch(cli, model_dir, scene, tmp_path, "--realtime")
    assert summary["frames_in"] == len(truth) and summary["source_fps"] == 30.0
    # display never waits for the models: most frames shown (idle: 80 % or more; bench/bench_live.py)
    assert summary["frames_out"] >= 0.5 * len(truth), summary
    # Recognition never runs more rounds than there are frames (on an idle machine SFace keeps up with
    # every one); that stale frames are dropped when it cannot keep up is test_pipeline's job.
    assert 0 < summary["recognition_rounds"] <= summary["frames_out"]
    score = score_events(events, truth)
    assert {"Tony_Blair", "George_W_Bush"} <= set(score["first_right_latency_s"])
    assert score["label_accuracy"] >= 0.97, score["wrong"]


def test_missing_and_corrupt_sources_fail_with_one_line(cli, model_dir, scene, tmp_path):
    _, _, known = scene
    code, _, err = cli("watch", "--model", "sface", "--model-dir", model_dir, "--known-faces", known,
                       "--source", tmp_path / "nope.mp4")
    last = err.strip().splitlines()[-1]
    assert code == 1 and last.startswith("facecam: error: ") and "nope.mp4" in last
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    code, _, err = cli("watch", "--model", "sface", "--model-dir", model_dir, "--known-faces", known,
                       "--source", corrupt)
    last = err.strip().splitlines()[-1]
    assert code == 1 and last.startswith("facecam: error: ") and "corrupt.mp4" in last
    import threading

    assert [t.name for t in threading.enumerate() if t.name.startswith("facecam-")] == []   # none left running


# ---------------------------------------------------------------- issue 12: the output codec, progress on a terminal

def test_mp4_output_is_h264_where_opencv_can_else_said_once(cli, model_dir, scene, tmp_path):
    from facecam.watch import h264_fourcc

    _, _, known = scene
    output = tmp_path / "labelled.mp4"
    code, out, err = cli("watch", "--model", "sface", "--model-dir", model_dir, "--known-faces", known,
                         "--source", scene[0], "--output", output, "--max-frames", 20)
    assert code == 0, err
    capture = cv2.VideoCapture(str(output))
    fourcc = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode("latin-1").lower()
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    assert frames == 20
    notes = [line for line in err.splitlines() if "H.264" in line]
    if h264_fourcc() is None:  # this OpenCV build has no H.264 encoder (opencv-python-headless from PyPI)
        assert fourcc in ("mp4v", "fmp4") and len(notes) == 1 and notes[0].startswith("facecam: note: ")
    else:
        assert fourcc in ("avc1", "h264") and notes == []
    # nothing but facecam's own lines on stderr (OpenCV's and FFmpeg's probe complaints are hushed)
    assert all(line.startswith("facecam: ") for line in err.splitlines()), err


class _Terminal:
    """A stderr that says it is a terminal, keeping what is written."""

    def __init__(self):
        import io

        self.buffer = io.StringIO()

    def write(self, text):
        return self.buffer.write(text)

    def flush(self):
        pass

    def isatty(self):
        return True


def test_watch_on_a_file_shows_progress_on_a_terminal_only(model_dir, scene, tmp_path):
    import io

    from facecam.cli import main

    clip, truth, known = scene
    args = ["watch", "--model", "sface", "--model-dir", str(model_dir), "--known-faces", str(known),
            "--source", str(clip), "--max-frames", "60"]
    terminal = _Terminal()
    assert main(args, stdout=io.StringIO(), stderr=terminal) == 0
    text = terminal.buffer.getvalue()
    assert f"\rfacecam: watch {clip.name}: 60/60 (" in text and " fps)" in text  # the total: --max-frames
    assert "s left" in text or text.count("\r") == 1  # a machine fast enough may finish within one redraw
    assert text.endswith("\n")
    plain = io.StringIO()
    assert main(args, stdout=io.StringIO(), stderr=plain) == 0
    assert "watch" not in plain.getvalue() and "\r" not in plain.getvalue()  # (indexing may say a line)


def test_opencv_and_ffmpeg_say_nothing_of_their_own_on_stderr(model_dir, scene, tmp_path):
    """A damaged MJPEG clip (FFmpeg's "[mjpeg @ 0x...] error y=11") and a file that is no video ("moov atom not
    found"): only facecam's own lines reach stderr. A real process: OpenCV writes to the file descriptor."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    _, _, known = scene
    photo = cv2.imread(str(Path(__file__).parent / "data" / "lfw10" / "Tony_Blair" / "Tony_Blair_0001.jpg"))
    clip = tmp_path / "mjpeg.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, photo.shape[1::-1])
    for _ in range(20):
        writer.write(photo)
    writer.release()
    data = bytearray(clip.read_bytes())
    data[len(data) // 3: len(data) // 3 + 4000] = bytes(4000)        # frames damaged in the middle
    clip.write_bytes(bytes(data))
    not_video = tmp_path / "damaged.mp4"
    not_video.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    env = {**os.environ, "FACECAM_CONFIG_DIR": str(tmp_path / "config")}
    env.pop("OPENCV_FFMPEG_LOGLEVEL", None)
    env.pop("OPENCV_LOG_LEVEL", None)
    for source, code in ((clip, 0), (not_video, 1)):
        done = subprocess.run([sys.executable, "-m", "facecam", "watch", "--model", "sface", "--model-dir",
                               str(model_dir), "--detector", "yunet", "--known-faces", str(known), "--source",
                               str(source), "--no-sightings", "--no-unknowns"],
                              capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == code, done.stderr
        assert [line for line in done.stderr.splitlines() if not line.startswith("facecam: ")] == [], source
