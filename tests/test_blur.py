"""Blurring strangers (issue 22): `watch --blur-strangers` on a clip of real lfw40 photos with an enrolled person
and a stranger side by side, with real SFace and YuNet, a real HTTP server taking the webhook.

The measure of detail is the variance of the Laplacian (3x3) of the face's grey levels: the blur leaves nothing
finer than a cell (1/6 of the face box grown by a quarter on each side, about 25 pixels on these 100-pixel faces),
on which a 3x3 Laplacian is close to 0, while eyes, brows, nostrils and lips give a face tens to hundreds. The
bound for "blurred" is a tenth of the same region's detail on the source video (measured: about a hundredth
to a fiftieth, with the codec's noise); "intact" is at least half of it (measured: about 0.8-1.0, what a second
MJPEG encoding keeps).
"""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from clips import Actor, lfw40_photo, lfw40_visitors, make_lfw40_gallery, one_face_photos, read_frames, write_clip
from servers import WebhookServer

FPS = 15.0
SECONDS = 4.0
BLURRED = 0.1     # at most this share of the source's detail is left on a stranger's face
INTACT = 0.5      # at least this share stays on a named person's face
INNER = 30        # the measured square: the pasted photo's centre +- INNER pixels (inside the face, inside its box)


def detail(bgr: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image: how much fine detail there is."""
    return float(cv2.Laplacian(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def centre(frame: np.ndarray, x: int, y: int, half: int = INNER) -> np.ndarray:
    return frame[y - half:y + half, x - half:x + half]


@pytest.fixture(scope="module")
def blurred_run(tmp_path_factory, model_dir, detector):
    from facecam.cli import main

    folder = tmp_path_factory.mktemp("blur")
    visitors, enrolled = lfw40_visitors()
    person, stranger = enrolled[0], next(p for p in visitors if p not in enrolled)
    photos = one_face_photos([person, stranger], detector)
    scene = (Actor(person, photos[0], 0.2, SECONDS, 170, 240, sway_px=10, period_s=4.0),
             Actor(stranger, photos[1], 0.2, SECONDS, 470, 240, sway_px=10, period_s=4.0))
    clip = folder / "pair.avi"
    write_clip(clip, scene, seconds=SECONDS, fps=FPS, enrolled=(person,), load_photo=lfw40_photo)
    known = make_lfw40_gallery(folder / "known_faces", [person])
    output, events, summary = folder / "out.avi", folder / "events.jsonl", folder / "summary.json"
    webhook = WebhookServer()
    try:
        code = main(["watch", "--model", "sface", "--detector", "yunet", "--model-dir", str(model_dir),
                     "--known-faces", str(known), "--source", str(clip), "--output", str(output),
                     "--events", str(events), "--summary", str(summary), "--notify", webhook.url,
                     "--blur-strangers", "--no-unknowns"])
        assert code == 0
    finally:
        webhook.close()   # the notifier is closed (and its queue sent) when watch returns
    return SimpleNamespace(scene=scene, clip=clip, output=output, known=known, person=person, stranger=stranger,
                           events=[json.loads(line) for line in events.read_text().splitlines()],
                           summary=json.loads(summary.read_text()), hooks=webhook.events())


def test_output_video_blurs_the_stranger_and_keeps_the_person(blurred_run):
    run = blurred_run
    assert run.summary["blur_strangers"] is True
    source, written = read_frames(run.clip), read_frames(run.output)
    assert len(source) == len(written) == len(run.events)
    named = [e for e in run.events if any(f["name"] == run.person for f in e["faces"])]
    assert len(named) > len(run.events) // 2      # the person was recognised (else "intact" would prove nothing)
    ratios: dict[str, list[float]] = {run.person: [], run.stranger: []}
    for before, after, event in zip(source, written, run.events):
        t = before.t_source
        shown = {f["name"] for f in event["faces"]}
        for actor in run.scene:
            if not actor.enter_s + 1 / FPS <= t < actor.leave_s:
                continue
            if actor.person == run.person and run.person not in shown:
                continue    # not named on this frame yet (pending): blurred like a stranger, rightly
            x = int(round(actor.x + actor.sway_px * np.sin(2 * np.pi * (t - actor.enter_s) / actor.period_s)))
            ratios[actor.person].append(detail(centre(after.bgr_frame, x, actor.y))
                                        / detail(centre(before.bgr_frame, x, actor.y)))
    person, stranger = np.array(ratios[run.person]), np.array(ratios[run.stranger])
    print(f"detail kept: {run.person} ({len(person)} frames) median {np.median(person):.3f} min {person.min():.3f}; "
          f"{run.stranger} ({len(stranger)} frames) median {np.median(stranger):.4f} max {stranger.max():.4f}")
    assert len(stranger) >= len(source) - 2 * FPS * 0.2 - 2
    assert stranger.max() < BLURRED, "a frame shows the stranger's face sharp"
    assert person.min() >= INTACT, "a frame shows the named person's face blurred"


def test_webhook_and_history_snapshots_blur_the_stranger_only(blurred_run):
    from facecam.sightings import SightingQuery
    from facecam.sightings.recorder import face_snapshot
    from facecam.stores import open_sighting_store

    run = blurred_run
    source = read_frames(run.clip)
    by_type = {e["type"]: e for e in run.hooks}
    assert set(by_type) == {"known", "unknown"} and by_type["known"]["name"] == run.person, run.hooks
    store = open_sighting_store(run.known, retention_days=None)
    try:
        logged = {s.kind: s for s in store.query(SightingQuery(snapshots=True))}
    finally:
        store.close()
    for kind, bound in (("known", INTACT), ("unknown", BLURRED)):
        event = by_type[kind]
        frame = source[int(round(event["t"] * FPS))].bgr_frame
        reference = cv2.imdecode(np.frombuffer(face_snapshot(frame, event["box"]), np.uint8), cv2.IMREAD_COLOR)
        for where, jpeg in (("webhook", base64.b64decode(event["snapshot"])), ("History", logged[kind].snapshot)):
            sent = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            h, w = sent.shape[:2]
            inner = min(h, w) // 5      # the snapshot is the face box and a quarter around: its centre is the face
            ratio = detail(centre(sent, w // 2, h // 2, inner)) / detail(centre(reference, w // 2, h // 2, inner))
            print(f"{where} {kind}: detail kept {ratio:.4f}")
            assert (ratio >= bound) if kind == "known" else (ratio < bound), f"{where} {kind} snapshot: {ratio:.4f}"


def test_blur_faces_on_a_real_photo():
    from facecam.blur import blur_faces

    photo = lfw40_photo(Actor(lfw40_visitors()[0][0], 4, 0, 1, 0, 0))
    frame = cv2.copyMakeBorder(photo, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=(110, 110, 110))
    kept = frame.copy()
    box = (90.0, 90.0, 100.0, 100.0)               # the face, in the middle of the 200-pixel photo
    out = blur_faces(frame, [box, (900, 900, 50, 50), (-80, -80, 40, 40), (0, 0, float("nan"), 5)])
    assert np.array_equal(frame, kept)             # the input is untouched
    face = (slice(100, 180), slice(100, 180))
    assert detail(out[face]) < BLURRED * detail(frame[face])
    assert np.array_equal(out[:60, :], frame[:60, :]) and np.array_equal(out[:, :60], frame[:, :60])  # outside: same
    assert abs(float(out[face].mean()) - float(frame[face].mean())) < 10   # the face's tone stays, its detail goes
    assert blur_faces(frame, []) is frame


def test_only_named_faces_stay_sharp():
    from facecam.blur import stranger_boxes

    tracks = [SimpleNamespace(box=(1, 2, 3, 4), votes=2, name="Ada"),     # named: kept
              SimpleNamespace(box=(5, 6, 7, 8), votes=2, name=None),      # Unknown
              SimpleNamespace(box=(9, 9, 9, 9), votes=0, name=None),      # not recognised yet, or "?"
              SimpleNamespace(box=(3, 3, 3, 3), votes=0, name="Ada")]     # verifying: its name not shown
    assert stranger_boxes(tracks) == [(5.0, 6.0, 7.0, 8.0), (9.0, 9.0, 9.0, 9.0), (3.0, 3.0, 3.0, 3.0)]


def test_the_setting_turns_it_on():
    from facecam.blur import blur_enabled

    assert not blur_enabled(settings={}) and blur_enabled(True, settings={})
    assert blur_enabled(settings={"blur_strangers": True}) and not blur_enabled(settings={"blur_strangers": "yes"})
