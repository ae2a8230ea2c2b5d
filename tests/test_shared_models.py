"""Several cameras on one detector and one embedder (issue 20): turns are given fairly, counted, not timed.

The lock test drives :class:`FairLock` with threads and checks the order of the turns; the model test runs two
real pipelines (YuNet + SFace, real photos) on one shared recognizer: a busy camera embedding a room of 8 faces
round after round, and a quiet camera where one person arrives again and again. The quiet camera's calls wait
for at most one of the busy camera's turns, and both name their people right.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from clips import LFW40, lfw40_matrix, read_frames, room_people, room_scene, write_room_clip
from conftest import PEOPLE
from facecam.detector import DetectorOptions, build_detector
from facecam.pipeline import LivePipeline
from facecam.recognizer import Recognizer
from facecam.registry import MODELS
from facecam.shared_models import CameraModels, FairLock, SharedModels, camera_turns
from facecam.types import Frame


def wait_for(condition, what: str, limit: float = 60.0) -> None:
    """Poll ``condition`` (a deadlock shows as a failure, not a hang); no speed is asserted."""
    event = threading.Event()
    for _ in range(int(limit / 0.01)):
        if condition():
            return
        event.wait(0.01)
    raise AssertionError(f"never happened: {what}")


def test_a_fair_lock_gives_turns_round_robin_between_cameras():
    """While the lock is held, the busy camera queues 3 calls (3 threads), then two quiet cameras one each:
    the turns go busy, quiet 1, quiet 2, busy, busy (each camera in turn; a camera's own calls in order)."""
    lock = FairLock("test")
    order: list[str] = []
    lock.acquire()                                   # held by this thread (a camera of its own)

    def call(camera: str, label: str):
        with camera_turns(camera), lock:
            order.append(label)

    threads = []
    for camera, label in [("busy", "b1"), ("busy", "b2"), ("busy", "b3"), ("quiet1", "q1"), ("quiet2", "q2")]:
        thread = threading.Thread(target=call, args=(camera, label))
        thread.start()
        threads.append(thread)
        wait_for(lambda n=len(threads): len(lock._waiting) == n, f"{label} waiting")
    lock.release()
    for thread in threads:
        thread.join(10)
    assert order == ["b1", "q1", "q2", "b2", "b3"]
    assert lock.taken == {"busy": 3, "quiet1": 1, "quiet2": 1, ("thread", threading.get_ident()): 1}
    # the most turns others took while a call waited: quiet 2 waited for b1 and q1; busy's last call for 4
    assert lock.waited == {"busy": 4, "quiet1": 1, "quiet2": 2, ("thread", threading.get_ident()): 0}
    assert not lock.locked()
    with pytest.raises(RuntimeError):
        lock.release()


def test_a_camera_sees_the_recognizer_interface_and_settings_are_shared(sface):
    detector = build_detector("yunet", DetectorOptions(min_face_size=20))
    recognizer = Recognizer(detector, sface, MODELS["sface"].threshold)
    shared = SharedModels(recognizer)
    door = shared.for_camera("door")
    assert isinstance(door, CameraModels) and door.model == "sface" and door.embedder is sface
    door.threshold = 0.5                                 # the slider moves every camera's decision
    assert recognizer.threshold == pytest.approx(0.5)
    recognizer.threshold = MODELS["sface"].threshold
    photo = door.embed_photo(PEOPLE / "obama.jpg")       # a method: the camera's turns on both models
    assert photo.faces == 1 and photo.embedding.shape == (sface.dim,)
    assert shared.turns() == {"detector": {"door": 1}, "embedder": {"door": 1}}


@pytest.fixture(scope="module")
def two_cameras(tmp_path_factory, sface):
    """(shared models, gallery, the room frame with 8 people, the people, a frame of one of them, the name)."""
    detector = build_detector("yunet", DetectorOptions(min_face_size=40))
    recognizer = Recognizer(detector, sface, MODELS["sface"].threshold)
    people, photos = room_people(detector)
    gallery = lfw40_matrix(recognizer, people)
    clip = tmp_path_factory.mktemp("room") / "room.avi"
    write_room_clip(clip, room_scene(people, photos, enter_s=0.0, leave_s=1.0), seconds=0.1)
    room = read_frames(clip)[0]
    visitor = people[0]
    face = cv2.imread(str(LFW40 / visitor / f"{visitor}_{photos[0]:04d}.jpg"))
    canvas = np.full((480, 640, 3), 110, np.uint8)
    canvas[165:315, 245:395] = face                                         # one face, about 60 px
    canvas.flags.writeable = False
    return recognizer, gallery, room, people, canvas, visitor


def test_a_busy_camera_does_not_starve_a_quiet_cameras_arrival(two_cameras):
    recognizer, gallery, room, people, one_face, visitor = two_cameras
    recognizer.detect_turns, recognizer.embed_turns = FairLock("detector"), FairLock("embedder")  # fresh counts
    shared = SharedModels(recognizer)
    busy = LivePipeline(shared.for_camera("busy"), lambda: gallery)
    quiet = LivePipeline(shared.for_camera("quiet"), lambda: gallery)
    stop = threading.Event()
    busy_names: list[set] = []
    failures: list[BaseException] = []

    def busy_camera():        # a room of 8 arriving every round: a detection and 8 embeddings, again and again
        try:
            while not stop.is_set():
                busy.reset()
                busy.process(room)
                busy_names.append({track.name for track in busy.tracker.tracks()})
        except BaseException as error:  # noqa: BLE001 - shown by the assertion below
            failures.append(error)

    thread = threading.Thread(target=busy_camera)
    thread.start()
    try:
        wait_for(lambda: shared.turns()["embedder"].get("busy", 0) >= 3, "the busy camera embedding")
        quiet_names = []
        for arrival in range(5):                           # the same person walks in 5 times
            quiet.reset()
            quiet.process(Frame(arrival + 1, float(arrival), one_face))
            quiet_names.append([track.name for track in quiet.tracker.tracks()])
    finally:
        stop.set()
        thread.join(120)
    assert not failures, failures
    turns = shared.turns()
    assert turns["embedder"]["quiet"] == 5 and turns["detector"]["quiet"] == 5
    assert turns["embedder"]["busy"] >= 8 and busy_names and all(names == set(people) for names in busy_names)
    assert quiet_names == [[visitor]] * 5
    # each of the quiet camera's calls waited for at most one turn of the busy camera (a plain lock: up to 8)
    assert max(shared.waited("quiet").values()) <= 1, shared.waited("quiet")
