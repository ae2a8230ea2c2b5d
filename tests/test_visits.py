"""The one visit model (issue 18): a live session's visit tracker on the real pipeline (MTCNN + SFace, real photos)
turns rounds into arrived / updated / renamed / ended events that every consumer shares, and the session ends
the visits when the source ends or changes, so no consumer keeps a visit open on its own."""

from __future__ import annotations

import numpy as np

from facecam.images import read_image
from facecam.live_session import LiveSession
from facecam.sightings.recorder import SightingRecorder
from facecam.types import Frame
from facecam.unknowns.collect import UnknownCollector
from facecam.visits import Arrived, Ended, Renamed, Updated

from tests.conftest import PEOPLE, gallery_of


def test_one_tracker_tells_every_consumer_the_same_visits(sface_recognizer):
    biden_only = gallery_of(sface_recognizer, {"Joe Biden": "biden2.jpg"})          # Obama a stranger
    both = gallery_of(sface_recognizer, {"Joe Biden": "biden2.jpg", "Barack Obama": "obama.jpg"})
    clock = [2_000_000.0]
    session = LiveSession("hall", clock=lambda: clock[0])
    session.set_matrix(biden_only)
    pipeline = session.start(sface_recognizer)
    events: list = []
    sightings: list = []
    strangers: list = []
    recorder = SightingRecorder("ignored", [lambda s, stage: sightings.append((stage, s))])
    collector = UnknownCollector("ignored", strangers.append)
    session.subscribe(events.append)
    session.subscribe(recorder.on_visit, recorder.close)
    session.subscribe(collector.on_visit, collector.finish)
    two = read_image(PEOPLE / "two_people.jpg")

    def feed(t):
        clock[0] = 2_000_000.0 + t + 0.05
        pipeline.process(Frame(int(round(t * 10)) + 1, t, two))

    for step in range(12):
        feed(step / 10)
    arrived = [e.visit for e in events if isinstance(e, Arrived)]
    assert sorted(v.name or "" for v in arrived) == ["", "Joe Biden"]
    assert all(v.source == "hall" and v.first_t == 0.0 and abs(v.started - 2_000_000.05) < 1e-6 for v in arrived)
    assert {type(e) for e in events} <= {Arrived, Updated}
    # one visit per track id, one arrival each, every round an event for each of them
    assert len({e.visit.id for e in events}) == 2 and len({e.visit.track for e in events}) == 2
    assert sum(isinstance(e, Updated) for e in events) == 2 * 12 - 2
    # the recorder's sightings are the tracker's visits: same ids, times and names
    assert sorted((s.id, s.name) for stage, s in sightings if stage == "arrived") == \
        sorted((v.id, v.name) for v in arrived)

    session.source_ended()                 # the file's end: both visits end now, with their whole length
    ended = [e.visit for e in events if isinstance(e, Ended)]
    assert sorted(v.id for v in ended) == sorted(v.id for v in arrived)
    assert all(v.last_t == 1.1 and v.duration_s == 1.1 and abs(v.ended - v.started - 1.1) < 1e-6 for v in ended)
    logged = [s for stage, s in sightings if stage == "ended"]
    assert sorted(round(s.duration_s, 6) for s in logged) == [1.1, 1.1]
    assert len(strangers) == 1 and strangers[0]().source == "hall"        # Obama, never named: a stranger
    feed(1.2)                              # a round still in flight on the last frame: not a new visit
    assert len({e.visit.id for e in events}) == 2

    # the next source: new visits under its name; Obama enrolled meanwhile, so the vote renames him
    session.set_source_name("porch")
    pipeline.reset()                       # (the window does it too: a new source, a new clock)
    feed(0.0)
    session.set_matrix(both)
    for step in range(1, 36):              # re-checked about once a second: the vote turns at the second
        feed(step / 10)
    new = [e for e in events if e.visit.source == "porch"]
    renamed = [e for e in new if isinstance(e, Renamed)]
    assert renamed and renamed[0].old_name is None and renamed[0].visit.name == "Barack Obama"
    assert renamed[0].visit.names == frozenset({None, "Barack Obama"})       # contested: never learned from
    assert [s.name for stage, s in sightings if stage == "updated" and s.source == "porch"
            and s.name == "Barack Obama"]                                   # the log follows the new name
    assert session.close() == []
    assert sorted(e.visit.source for e in events if isinstance(e, Ended)) == ["hall", "hall", "porch", "porch"]
    assert recorder.open_visits() == [] and recorder.errors == []
    assert len(strangers) == 1             # renamed Obama was someone at some point: not kept as a stranger


def test_a_failing_subscriber_is_reported_and_the_others_still_hear(sface_recognizer):
    gallery = gallery_of(sface_recognizer, {"Barack Obama": "obama.jpg"})
    session = LiveSession("cam")
    session.set_matrix(gallery)
    pipeline = session.start(sface_recognizer)
    heard: list = []

    def broken(_event):
        raise OSError("disk full")

    session.subscribe(broken)
    session.subscribe(heard.append)
    photo = read_image(PEOPLE / "obama-480p.jpg")
    for step in range(3):
        pipeline.process(Frame(step + 1, step * 0.1, photo))
    second = session.start(sface_recognizer)   # a new model: a new pipeline, the open visit ends
    assert [type(e).__name__ for e in heard] == ["Updated", "Arrived", "Updated", "Ended"]
    pipeline.process(Frame(4, 0.3, photo))     # the retired pipeline's last round is not told
    assert len(heard) == 4
    second.process(Frame(5, 0.4, np.full_like(photo, 128)))
    errors = session.close()
    assert errors == ["OSError: disk full"] * 4
