"""The window's set of cameras without Qt (facecam.camera_set): unique names, the selection when a camera goes, each
camera's state and its reconnection waits, and one visits subscriber following several sessions (real LiveSessions
and visit events from a real VisitTracker round)."""

from __future__ import annotations

import numpy as np

from facecam.camera_set import Camera, CameraSet, Sessions
from facecam.live_session import LiveSession


def camera(name: str) -> Camera:
    return Camera("0", LiveSession(name))


def test_names_stay_unique_and_the_selection_moves_to_a_neighbour():
    cameras = CameraSet()
    door = cameras.add(camera("door"))
    assert cameras.selected is door
    assert cameras.unique_name("door") == "door (2)"
    second = cameras.add(camera(cameras.unique_name("door")))
    assert cameras.unique_name("door") == "door (3)" and cameras.unique_name("door", exclude=door) == "door"
    yard = cameras.add(camera("yard"))
    cameras.select(second)
    cameras.remove(second)
    assert cameras.selected is yard and cameras.names() == ["door", "yard"]
    cameras.remove(yard)
    assert cameras.selected is door
    matrix = object()
    cameras.set_matrix(matrix)
    assert door.session.matrix is matrix and cameras.gallery() is matrix
    late = cameras.add(camera("late"))
    assert late.session.matrix is matrix        # a camera added later matches the same gallery


def test_state_and_reconnection_waits():
    cam = camera("door")
    assert cam.state() == "failed"             # nothing opened
    cam.source = object()
    assert cam.state() == "opening" and cam.state(paused=True) == "paused"
    cam.last_frame = object()
    assert cam.state() == "live"
    cam.source_problem = "stream lost"
    assert cam.state() == "failed"
    waits = [cam.plan_reconnect(now=100.0) for _ in range(7)]
    assert waits == [1.0, 2.0, 5.0, 10.0, 30.0, 30.0, 30.0] and cam.retry_at == 130.0
    assert cam.state() == "reconnecting"
    cam.retry_at, cam.source_problem, cam.source_ended = None, "End of video file a.mp4.", True
    assert cam.state() == "ended"
    for t in (10.0, 10.2, 10.4, 11.3):
        cam.took_frame(t)
    assert cam.fps(now=11.35) == 2.0             # the frames of the last second


def test_one_subscriber_follows_every_session_and_the_ones_added_later(sface_recognizer):
    """Three cameras' sessions recognising a real photo (MTCNN + SFace): the subscriber hears the visits of the
    two it follows, each under its camera's name, and nothing of the one removed or after unfollow."""
    import cv2

    from clips import LFW10
    from facecam.matcher import GalleryMatrix
    from facecam.motion import MotionOptions
    from facecam.types import Frame

    image = np.full((480, 640, 3), 90, np.uint8)
    image[115:365, 195:445] = cv2.imread(str(LFW10 / "Tony_Blair" / "Tony_Blair_0005.jpg"))
    events = []
    first, second, third = LiveSession("a"), LiveSession("b"), LiveSession("c")
    sessions = Sessions([first, second])
    sessions.follow(events.append)
    sessions.add(third)
    sessions.remove(second)
    pipelines = []
    for session in (first, second, third):
        session.set_matrix(GalleryMatrix.empty(sface_recognizer.embedder.dim))
        pipelines.append(session.start(sface_recognizer, motion=MotionOptions(enabled=False)))
    for seq in (1, 2, 3):
        for pipeline in pipelines:
            pipeline.process(Frame(seq, seq / 10, image.copy()))
    assert {event.visit.source for event in events} == {"a", "c"} and len(events) >= 4
    sessions.unfollow()
    heard = len(events)
    for pipeline in pipelines:
        pipeline.process(Frame(4, 0.4, image.copy()))
    assert len(events) == heard and len(sessions) == 2 and sessions.first() is first
