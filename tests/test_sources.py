"""VideoSource on real video files written here, and on fault-injecting fake backends."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from facecam import sources
from facecam.errors import CameraError
from facecam.sources import DEFAULT_FPS, SourceSpec, open_source, parse_source
from facecam.types import Frame
from servers import wait_until as until

PHOTO = Path("/work/shared/facedata/face_recognition/examples/obama.jpg")
N_FRAMES = 45
FPS = 60.0
SIZE = (320, 240)
BITS = 8

# Codecs this OpenCV build (FFmpeg backend) writes and reads back: MJPG/.avi and
# mp4v/.mp4 (also XVID/.avi). avc1/H.264 cannot be written here (no encoder).
CODECS = [("MJPG", ".avi"), ("mp4v", ".mp4")]


def _encode_index(frame: np.ndarray, index: int) -> None:
    for b in range(BITS):
        value = 255 if index >> b & 1 else 0
        frame[4:20, 4 + b * 20:20 + b * 20] = value


def decode_index(frame: np.ndarray) -> int:
    gray = frame.mean(axis=2)
    bits = [gray[8:16, 8 + b * 20:16 + b * 20].mean() > 127 for b in range(BITS)]
    return sum(1 << b for b, bit in enumerate(bits) if bit)


def write_video(path: Path, fourcc: str, n: int = N_FRAMES, fps: float = FPS) -> Path:
    photo = cv2.imread(str(PHOTO))
    assert photo is not None, f"test photo missing: {PHOTO}"
    face = cv2.resize(photo, (128, 160), interpolation=cv2.INTER_AREA)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, SIZE)
    assert writer.isOpened(), f"this OpenCV cannot write {fourcc} to {path.suffix}"
    for i in range(n):
        frame = np.full((SIZE[1], SIZE[0], 3), 90, np.uint8)
        x = 10 + (4 * i) % (SIZE[0] - 140)
        frame[50:210, x:x + 128] = face
        _encode_index(frame, i)
        cv2.putText(frame, str(i), (250, 232), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("videos")
    return {fourcc: write_video(folder / f"clip_{fourcc}{ext}", fourcc) for fourcc, ext in CODECS}


def drain(source, sleep_s: float = 0.0, limit_s: float = 10.0) -> list[Frame]:
    got, last = [], None
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        frame = source.latest(after_seq=last, timeout=0.5)
        if frame is None:
            if source.done:
                break
            continue
        got.append(frame)
        last = frame.seq
        if sleep_s:
            time.sleep(sleep_s)
    return got


# ---------------------------------------------------------------- real files


@pytest.mark.parametrize("fourcc", [c for c, _ in CODECS])
def test_offline_mode_delivers_every_frame_in_order(videos, fourcc):
    source = open_source(videos[fourcc], realtime=False)
    try:
        assert source.wait_opened(30)
        assert source.fps == pytest.approx(FPS)
        assert source.frame_size == SIZE
        frames = drain(source, sleep_s=0.002)
        assert [f.seq for f in frames] == list(range(1, N_FRAMES + 1))
        assert [decode_index(f.bgr_frame) for f in frames] == list(range(N_FRAMES))
        ts = [f.t_source for f in frames]
        assert np.all(np.diff(ts) > 0) and ts[-1] == pytest.approx((N_FRAMES - 1) / FPS, abs=0.02)
        assert source.ended and source.error is None and source.done
        assert source.frames_read == N_FRAMES and source.frames_dropped == 0
    finally:
        assert source.stop()


def test_realtime_mode_drops_frames_for_a_slow_consumer_and_gives_the_newest(videos):
    source = open_source(videos["MJPG"])  # realtime is the default
    try:
        got, last = [], None
        while True:
            read_before = source.frames_read
            frame = source.latest(after_seq=last, timeout=1.0)
            if frame is None:
                assert source.done
                break
            # newest: every frame read before the call but one (being paced) was published
            assert frame.seq >= read_before - 1
            assert decode_index(frame.bgr_frame) == frame.seq - 1
            got.append(frame)
            last = frame.seq
            time.sleep(0.1)  # a slow model: ~6 source frames per take at 60 fps
        seqs = [f.seq for f in got]
        assert all(b > a for a, b in zip(seqs, seqs[1:]))
        assert max(b - a for a, b in zip(seqs, seqs[1:])) > 1
        assert 4 <= len(got) < N_FRAMES // 2
        assert source.frames_dropped > 0
        assert source.frames_dropped + len(got) == source.frames_read == N_FRAMES
        assert source.ended and source.error is None
    finally:
        source.stop()


def test_realtime_file_plays_at_its_frame_rate_and_ends(videos):
    source = open_source(videos["mp4v"])
    start = time.monotonic()
    try:
        frames = drain(source)
        elapsed = time.monotonic() - start
        assert elapsed >= 0.8 * (N_FRAMES - 1) / FPS  # paced like a camera, not as fast as decoding
        assert len(frames) >= N_FRAMES * 0.6  # a quick consumer gets most
        assert source.ended and source.error is None
        asked = time.monotonic()
        assert source.latest(after_seq=frames[-1].seq, timeout=30.0) is None  # returns at once, not after 30 s
        assert time.monotonic() - asked < 15.0   # not the 30 s timeout (idle: at once)
        assert source.latest().seq == frames[-1].seq  # the last frame stays available
    finally:
        source.stop()


def test_frames_are_read_only(videos):
    with open_source(videos["MJPG"], realtime=False) as source:
        frame = source.latest(timeout=5)
        assert frame is not None
        with pytest.raises(ValueError):
            frame.bgr_frame[0, 0] = 1


def test_missing_file_raises_at_once(tmp_path):
    start = time.monotonic()
    with pytest.raises(CameraError, match="not found"):
        open_source(tmp_path / "missing.mp4")
    with pytest.raises(CameraError, match="snapshot folder not found"):
        open_source(f"folder:{tmp_path / 'missing'}")
    with pytest.raises(CameraError, match="not a video file"):
        open_source("/dev/null")
    assert time.monotonic() - start < 2.5   # raised, not after the 5 s open timeout (idle: at once)


def test_corrupt_file_gives_camera_error_quickly(tmp_path):
    path = tmp_path / "broken.mp4"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    source = open_source(path)
    try:
        assert not source.wait_opened(30)
        assert "did not answer" not in str(source.error)   # the decoder's answer, not the 5 s open timeout
        assert isinstance(source.error, CameraError)
        assert "broken.mp4" in str(source.error) and "\n" not in str(source.error)
        assert source.done and source.latest(timeout=1) is None
        with pytest.raises(CameraError):
            source.check()
    finally:
        source.stop()


def test_camera_that_does_not_exist():
    source = open_source(97)  # the test machine has no webcam at all
    try:
        assert not source.wait_opened(30)
        assert "camera 97 could not be opened" in str(source.error)
    finally:
        source.stop()


def test_stream_that_never_answers_times_out_without_blocking_the_caller():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)  # accepts connections (in the kernel backlog) and never answers
    port = server.getsockname()[1]
    try:
        start = time.monotonic()
        source = open_source(f"http://user:secret@127.0.0.1:{port}/video.mjpg", open_timeout_s=1.0)
        assert time.monotonic() - start < 1.0  # the open runs on the capture thread, not for its 1 s timeout
        assert not source.wait_opened(30)       # the source gave up by itself (the message below), idle: 3.5 s
        message = str(source.error)
        assert "did not answer" in message and "secret" not in message
        source.stop()
    finally:
        server.close()


# ---------------------------------------------------------------- fake backends


class FakeCapture:
    """A capture that yields numbered frames and then fails, blocks, or goes on."""

    def __init__(self, *, fail_after=None, block_after=None, fail_every=None, opened=True, period=0.005):
        self.fail_after, self.block_after, self.fail_every = fail_after, block_after, fail_every
        self.opened, self.period = opened, period
        self.reads = 0
        self.unblock = threading.Event()
        self.released = threading.Event()

    def isOpened(self):
        return self.opened

    def get(self, prop):
        return {cv2.CAP_PROP_FPS: 0.0, cv2.CAP_PROP_FRAME_WIDTH: 64, cv2.CAP_PROP_FRAME_HEIGHT: 48}.get(prop, 0.0)

    def read(self):
        self.reads += 1
        if self.block_after is not None and self.reads > self.block_after:
            self.unblock.wait(30)
            return False, None
        if self.fail_after is not None and self.reads > self.fail_after:
            return False, None
        if self.fail_every and self.reads % self.fail_every == 0:
            return False, None
        time.sleep(self.period)
        return True, np.full((48, 64, 3), self.reads % 256, np.uint8)

    def release(self):
        self.released.set()


def test_camera_that_stops_delivering_frames_reports_the_disconnect():
    fake = FakeCapture(fail_after=5)
    source = open_source("0", backend=lambda spec: fake, max_failed_reads=10)
    try:
        assert source.wait_opened(30)
        assert source.fps == DEFAULT_FPS  # the fake reports 0: unknown
        drain(source, limit_s=3)
        assert str(source.error) == "camera stopped delivering frames; check the cable and press Retry"
        assert source.frames_read == 5 and not source.ended
        assert fake.released.wait(30)
    finally:
        source.stop()


def test_occasional_failed_reads_are_tolerated():
    fake = FakeCapture(fail_every=3)
    source = open_source(0, backend=lambda spec: fake)
    try:
        assert until(lambda: source.frames_read > 10) and source.error is None
        assert source.latest() is not None
    finally:
        assert source.stop()


def test_camera_read_that_blocks_is_reported_and_stop_still_returns_in_time():
    fake = FakeCapture(block_after=3)
    source = open_source(0, backend=lambda spec: fake, read_timeout_s=0.2)
    try:
        assert source.latest(timeout=30) is not None
        time.sleep(0.1)
        start = time.monotonic()
        assert source.stop(timeout=1.0) is False  # the thread is stuck in read()
        assert time.monotonic() - start < 5.0   # its 1 s timeout, not the read (blocked until unblocked)
        assert source.done and source.latest(after_seq=3, timeout=1) is None
    finally:
        fake.unblock.set()
    assert fake.released.wait(30)  # the thread released the capture once read() returned
    assert until(lambda: not source.running)


def test_stalled_camera_is_reported_by_the_watchdog(monkeypatch):
    monkeypatch.setattr(sources, "_WATCHDOG_GRACE_S", 0.3)  # 1 s in production
    fake = FakeCapture(block_after=2)
    source = open_source(0, backend=lambda spec: fake, read_timeout_s=0.2)
    try:
        drain(source, limit_s=4)
        assert "camera stopped delivering frames" in str(source.error)
    finally:
        fake.unblock.set()
        source.stop()


def test_backend_that_hangs_in_open_is_reported_after_the_timeout(monkeypatch):
    monkeypatch.setattr(sources, "_WATCHDOG_GRACE_S", 0.3)  # 1 s in production
    release = threading.Event()

    def hanging_factory(spec: SourceSpec):
        release.wait(10)
        return FakeCapture()

    start = time.monotonic()
    source = open_source("rtsp://10.0.0.1/cam", backend=hanging_factory, open_timeout_s=0.2)
    try:
        assert time.monotonic() - start < 5.0   # the open runs on the capture thread, not the factory's 10 s
        assert not source.wait_opened(30)       # given up by itself (the message below), not released
        assert time.monotonic() - start > 0.5 - 0.05   # after the open timeout and the watchdog's grace
        assert "did not answer" in str(source.error)
    finally:
        release.set()
        source.stop()


def test_camera_index_not_opened_and_backend_exception():
    source = open_source(3, backend=lambda spec: FakeCapture(opened=False))
    assert not source.wait_opened(1) and "camera 3 could not be opened" in str(source.error)
    source.stop()

    def broken(spec):
        raise RuntimeError("driver exploded")

    source = open_source(0, backend=broken)
    assert not source.wait_opened(1) and "driver exploded" in str(source.error)
    source.stop()


def test_stop_is_quick_with_a_healthy_source_and_live_sources_stay_realtime():
    fake = FakeCapture(period=0.01)
    source = open_source(0, backend=lambda spec: fake, realtime=False)
    assert source.realtime  # a camera cannot be paused
    assert source.latest(timeout=1) is not None
    assert until(lambda: source.frames_dropped > 0)  # nobody took the frames: overwritten
    assert source.stop(timeout=30.0)
    assert fake.released.is_set() and not source.running   # (idle: at once)


def test_parse_source():
    assert parse_source(0) == SourceSpec("camera", 0)
    assert parse_source(" 2 ").target == 2 and parse_source("2").kind == "camera"
    spec = parse_source("rtsp://admin:hunter2@192.168.1.5:554/stream1")
    assert spec.kind == "stream" and spec.live and "hunter2" not in spec.describe()
    assert parse_source("HTTPS://cam.local/mjpg").kind == "stream"
    for bad in (-1, True, "", "ftp://x/y.mp4"):
        with pytest.raises(CameraError):
            parse_source(bad)


def test_file_url_and_pathlike(videos):
    path = videos["MJPG"]
    assert parse_source(path).kind == "file"
    assert parse_source("file://" + os.fspath(path)) == parse_source(path)


def test_pause_holds_a_file_where_it_is_and_resume_goes_on_from_there(videos):
    source = open_source(videos["MJPG"])  # 45 frames at 60 fps: 0.75 s of video
    try:
        first = source.latest(timeout=2.0)
        assert first is not None
        time.sleep(0.1)
        assert source.pause() and source.paused
        time.sleep(0.05)  # a read in progress finishes
        held = source.frames_read
        time.sleep(0.8)  # longer than the whole clip: without the hold it would have ended
        assert source.frames_read <= held + 1 and not source.done
        shown = source.latest()
        source.resume()
        assert not source.paused
        frames = drain(source)
        assert source.ended and source.error is None
        # the video went on from the held frame: every index after it, none skipped by the pause
        indices = [decode_index(f.bgr_frame) for f in frames]
        assert frames[0].seq <= shown.seq + 2 and indices[-1] == N_FRAMES - 1
        assert frames[0].t_source - shown.t_source < 0.1
    finally:
        source.stop()


def test_a_camera_cannot_be_paused():
    source = open_source(0, backend=lambda spec: FakeCapture(period=0.01))
    try:
        assert not source.pause() and not source.paused
        assert source.latest(timeout=1) is not None
    finally:
        source.stop()


class CountingCapture:
    """A real ``cv2.VideoCapture`` that counts its decoding calls: ``read`` (decode and convert), ``grab``
    (take the next frame) and ``retrieve`` (convert the grabbed one)."""

    def __init__(self, spec):
        self.capture = sources.opencv_capture(spec)
        self.calls = {"read": 0, "grab": 0, "retrieve": 0}

    def __getattr__(self, name):
        method = getattr(self.capture, name)
        if name not in self.calls:
            return method

        def counted(*args):
            self.calls[name] += 1
            return method(*args)
        return counted


def skim_then_read_all(source) -> list:
    """Start ``source`` skimming one frame each 3 frames' time, back to every frame from frame 22: its frames."""
    source.skim(3 / FPS)
    source.start()
    got, last = [], None
    try:
        while (frame := source.latest(after_seq=last, timeout=5)) is not None:
            got.append(frame)
            last = frame.seq
            if frame.seq >= 22 and source._skim_s is not None:
                source.skim(None)
    finally:
        source.stop()
    return got


def test_a_skimmed_file_decodes_only_the_frames_it_publishes(tmp_path):
    """skim(): one frame each 3 frames' time is retrieved and published, the others only grabbed (counted, their
    seq skipped); the published frames are the right ones, at their own times; skim(None): every frame again."""
    path = write_video(tmp_path / "clip.avi", "MJPG")
    backend: list[CountingCapture] = []
    source = open_source(path, realtime=False, start=False,
                         backend=lambda spec: backend.append(CountingCapture(spec)) or backend[0])
    got = skim_then_read_all(source)
    seqs = [frame.seq for frame in got]
    skimmed = [seq for seq in seqs if seq <= 22]
    assert skimmed == list(range(1, 23, 3)), seqs                     # 1, 4, 7, ... 22
    after = seqs[len(skimmed):]
    assert after[-1] == N_FRAMES and len(after) >= N_FRAMES - 22 - 3   # every frame again (one may be in flight)
    for frame in got:
        assert decode_index(frame.bgr_frame) == frame.seq - 1
        assert frame.t_source == pytest.approx((frame.seq - 1) / FPS, abs=1e-3)
    calls = backend[0].calls
    assert calls["grab"] + calls["read"] == N_FRAMES + 1 and source.frames_read == N_FRAMES   # + the end's read
    assert calls["retrieve"] + calls["read"] - 1 == len(got)   # decoded: only the frames published (the end: none)
    assert source.frames_skimmed == N_FRAMES - len(got) >= 14


def test_a_backend_without_grab_is_never_skimmed():
    fake = FakeCapture(fail_after=20, period=0.0)
    source = open_source("0", backend=lambda spec: fake, start=False)
    source.skim(10.0)
    source.start()
    try:
        frames = drain(source, limit_s=5)
    finally:
        source.stop()
    assert source.frames_read == 20 and source.frames_skimmed == 0 and frames   # every frame read was published


def decoded_frames(path: Path, packets: bool) -> list[np.ndarray]:
    """Every frame of ``path``: FFmpeg's decode, or (``packets``) each compressed packet decoded by ``cv2.imdecode``."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    assert not packets or capture.set(cv2.CAP_PROP_FORMAT, -1)
    frames = []
    while capture.grab():
        ok, image = capture.retrieve()
        assert ok
        frames.append(cv2.imdecode(image, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION) if packets else image)
    capture.release()
    return frames


@pytest.mark.parametrize("fourcc", [c for c, _ in CODECS])
@pytest.mark.parametrize("skims", [True, False])
def test_an_mjpeg_file_that_will_be_skimmed_is_decoded_from_its_packets_one_way_throughout(videos, fourcc, skims):
    """open_source(skims=True): a realtime MJPEG file is read as compressed packets (grab() decodes nothing), and
    every frame it publishes, skimmed or not, is libjpeg-turbo's decode of its packet, never FFmpeg's (the two
    differ on this clip: one source never mixes them); an mp4v file, or any file opened without skims, is decoded by
    FFmpeg as before."""
    ffmpeg = decoded_frames(videos[fourcc], False)
    packets = decoded_frames(videos[fourcc], True) if fourcc == "MJPG" else None
    if packets is not None:
        assert len(packets) == len(ffmpeg) == N_FRAMES
        assert any(np.any(a != b) for a, b in zip(ffmpeg, packets))
    expected = packets if skims and fourcc == "MJPG" else ffmpeg
    source = open_source(videos[fourcc], skims=skims, start=False)
    got = skim_then_read_all(source)
    assert len(got) >= 10 and any(frame.seq > 22 for frame in got) and source.frames_skimmed >= 5
    for frame in got:
        assert np.array_equal(frame.bgr_frame, expected[frame.seq - 1]), frame.seq
        assert frame.t_source == pytest.approx((frame.seq - 1) / FPS, abs=1e-3)
