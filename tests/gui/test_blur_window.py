"""The window's Tools > Blur strangers in snapshots (issue 22): the History's snapshot of the stranger is blurred,
the enrolled person's is not (the clip of real photos: Tony Blair enrolled, Vladimir Putin a stranger; real
MTCNN and SFace); the switch is remembered as the setting "blur_strangers". The measure and its bounds are
tests/test_blur.py's."""

from __future__ import annotations

import cv2
import numpy as np

from test_blur import BLURRED, INTACT, centre, detail


def frame_at(clip, t: float, fps: float = 30.0) -> np.ndarray:
    capture = cv2.VideoCapture(str(clip))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, int(round(t * fps)))
        ok, image = capture.read()
    finally:
        capture.release()
    assert ok
    return image


def test_history_snapshots_blur_the_stranger_and_the_switch_is_remembered(make_window, qtbot, gui_clip):
    from facecam import config
    from facecam.sightings.recorder import face_snapshot

    window = make_window(blur_strangers=True)     # facecam-window --blur-strangers
    assert window.blur_action.isChecked() and window.sightings.blur_strangers
    panel = window.history_panel

    def logged() -> dict:
        return {row.sighting.kind: row.sighting for row in panel.rows() if row.sighting.snapshot}

    qtbot.waitUntil(lambda: set(logged()) == {"known", "unknown"}, timeout=90_000)
    for kind, sighting in logged().items():
        shown = cv2.imdecode(np.frombuffer(sighting.snapshot, np.uint8), cv2.IMREAD_COLOR)
        # the sharp reference: the same face from the clip's frame at the visit's start, not blurred
        plain = face_snapshot(frame_at(gui_clip, sighting.t_start), sighting.box)
        reference = cv2.imdecode(np.frombuffer(plain, np.uint8), cv2.IMREAD_COLOR)
        h, w = shown.shape[:2]
        inner = min(h, w, *reference.shape[:2]) // 5
        ratio = detail(centre(shown, w // 2, h // 2, inner)) / detail(
            centre(reference, reference.shape[1] // 2, reference.shape[0] // 2, inner))
        print(f"History {kind}: detail kept {ratio:.3f}")
        assert (ratio >= INTACT) if kind == "known" else (ratio < BLURRED), f"{kind} snapshot: detail kept {ratio:.3f}"

    window.blur_action.trigger()                   # off: remembered for the window and watch
    assert not window.sightings.blur_strangers
    qtbot.waitUntil(lambda: config.load_settings().get("blur_strangers") is False, timeout=10_000)
    window.blur_action.trigger()
    qtbot.waitUntil(lambda: config.load_settings().get("blur_strangers") is True, timeout=10_000)
    assert window.sightings.blur_strangers
