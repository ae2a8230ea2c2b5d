"""FaceAnnotator on a real photo: colours, labels, clipping, input untouched, non-ASCII names."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facecam.annotate import KNOWN_COLOUR, UNKNOWN_COLOUR, FaceAnnotator, Label, transliterate

PHOTO = Path("/work/shared/facedata/face_recognition/examples/obama.jpg")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    image = cv2.imread(str(PHOTO))
    assert image is not None, f"test photo missing: {PHOTO}"
    return cv2.resize(image, (480, 600), interpolation=cv2.INTER_AREA)  # 480 wide, 600 high


def colour_at(image, x, y):
    return tuple(int(v) for v in image[y, x])


def border_pixels(box):
    """Points on the middle of each side of an (x, y, w, h) box's outline."""
    x, y, w, h = box
    return [(x, y + h // 2), (x + w - 1, y + h // 2), (x + w // 2, y + h - 1)]


def test_known_box_has_the_known_colour_and_input_is_unchanged(photo):
    before = photo.copy()
    box = (120, 150, 220, 260)
    out = FaceAnnotator().annotate(photo, [Label(box, "Obama", 0.3, 1)])
    np.testing.assert_array_equal(photo, before)  # never modifies the input
    assert out is not photo and out.shape == photo.shape and out.dtype == np.uint8
    for x, y in border_pixels(box):
        assert colour_at(out, x, y) == KNOWN_COLOUR
    # the inside of the box is the photo, untouched
    np.testing.assert_array_equal(out[250:350, 180:280], photo[250:350, 180:280])
    # the label sits above the box: a band of the known colour right above the top edge
    band = out[box[1] - 12:box[1] - 3, box[0]:box[0] + 20].reshape(-1, 3)
    assert (np.abs(band.astype(int) - KNOWN_COLOUR).sum(axis=1) < 30).mean() > 0.5


def test_unknown_uses_the_other_colour(photo):
    box = (120, 150, 220, 260)
    out = FaceAnnotator().annotate(photo, [Label(box, None, 0.9, 2)])
    for x, y in border_pixels(box):
        assert colour_at(out, x, y) == UNKNOWN_COLOUR
    assert np.abs(np.subtract(KNOWN_COLOUR, UNKNOWN_COLOUR)).sum() > 200  # clearly different


def test_custom_colours_and_pending(photo):
    annotator = FaceAnnotator(known_colour=(255, 0, 0), pending_colour=(50, 50, 50))
    box = (50, 200, 100, 100)
    out = annotator.annotate(photo, [Label(box, "A"), Label((300, 200, 100, 100), pending=True)])
    assert colour_at(out, 50, 250) == (255, 0, 0)
    assert colour_at(out, 300, 250) == (50, 50, 50)


def test_read_only_input_is_fine(photo):
    frozen = photo.copy()
    frozen.flags.writeable = False  # frames from facecam.sources are read-only
    out = FaceAnnotator().annotate(frozen, [Label((10, 10, 50, 50), "A")])
    assert out.flags.writeable and not np.array_equal(out, frozen)


@pytest.mark.parametrize(
    "box",
    [
        (-60, 100, 200, 200),  # off the left
        (400, 500, 200, 200),  # off the right and the bottom
        (100, -80, 150, 200),  # off the top
        (-1e9, -1e9, 2e9, 2e9),  # covers everything
        (5000, 5000, 10, 10),  # entirely outside
        (float("nan"), 0, 10, 10),  # garbage is skipped
    ],
)
def test_boxes_partly_outside_are_clipped(photo, box):
    out = FaceAnnotator(show_distances=True).annotate(photo, [Label(box, "Someone with a long name", 0.25, 7)])
    assert out.shape == photo.shape


def test_clipped_box_draws_its_visible_edges(photo):
    out = FaceAnnotator().annotate(photo, [Label((-60, 100, 200, 200), "A")])
    assert colour_at(out, 139, 200) == KNOWN_COLOUR  # right edge inside the frame
    assert colour_at(out, 60, 299) == KNOWN_COLOUR  # bottom edge


def test_label_goes_inside_the_frame_when_the_box_touches_the_top(photo):
    box = (100, 0, 200, 200)
    out = FaceAnnotator().annotate(photo, [Label(box, "Top")])
    # the label patch is drawn at the top of the box, inside the frame
    patch = out[2:12, 110:130].reshape(-1, 3)
    assert (np.abs(patch.astype(int) - KNOWN_COLOUR).sum(axis=1) < 30).mean() > 0.5
    assert colour_at(out, 100, 150) == KNOWN_COLOUR  # the left edge is still drawn


def test_label_near_the_right_edge_stays_in_the_frame(photo):
    out = FaceAnnotator().annotate(photo, [Label((440, 300, 40, 40), "A rather long name indeed")])
    # the label was shifted left so that it ends at the right border
    row = out[300 - 6, :, :].astype(int)
    coloured = np.where(np.abs(row - KNOWN_COLOUR).sum(axis=1) < 30)[0]
    assert coloured.size and coloured.max() >= 475 and coloured.min() < 440


def test_text_options():
    a = FaceAnnotator()
    assert a.text_for(Label((0, 0, 1, 1), "Ann", 0.25, 3)) == "Ann"
    assert a.text_for(Label((0, 0, 1, 1), None, 0.9)) == "Unknown"
    assert a.text_for(Label((0, 0, 1, 1), pending=True)) == "..."
    b = FaceAnnotator(show_distances=True, show_track_ids=True)
    assert b.text_for(Label((0, 0, 1, 1), "Ann", 0.25, 3)) == "#3 Ann 0.25"
    # one convention: the cosine distance (the threshold's scale) for a name; no number for Unknown
    assert b.text_for(Label((0, 0, 1, 1), None, 0.812, 4)) == "#4 Unknown"
    assert not hasattr(b, "as_similarity")


def test_non_ascii_names(photo):
    unicode_annotator = FaceAnnotator()
    assert unicode_annotator.unicode_text  # this OpenCV 5 has cv2.FontFace
    assert unicode_annotator.text_for(Label((0, 0, 1, 1), "José 李小龍")) == "José 李小龍"
    ascii_annotator = FaceAnnotator(unicode_text=False)
    assert ascii_annotator.text_for(Label((0, 0, 1, 1), "José Straße")) == "Jose Strasse"
    for annotator in (unicode_annotator, ascii_annotator):
        out = annotator.annotate(photo, [Label((100, 200, 200, 200), "Zoë Łukasz Мария 李小龍", 0.2)])
        assert out.shape == photo.shape
    # the rendered glyphs differ: CJK is drawn, not replaced by question marks
    a = unicode_annotator.annotate(photo, [Label((100, 200, 200, 200), "李小龍")])
    b = unicode_annotator.annotate(photo, [Label((100, 200, 200, 200), "???")])
    assert not np.array_equal(a, b)


def test_transliterate():
    assert transliterate("Renée Ørsted-Müller") == "Renee Orsted-Muller"
    assert transliterate("Łódź") == "Lodz"
    assert transliterate("李") == "?"
    assert transliterate("plain") == "plain"


def test_label_from_track():
    from facecam.tracker import FaceTracker
    from facecam.types import Faces, Match

    tracker = FaceTracker()
    (track,) = tracker.update(Faces(np.array([[10, 20, 30, 40]]), np.zeros((1, 5, 2)), np.ones(1)), 0.0)
    assert Label.from_track(track) == Label((10.0, 20.0, 30.0, 40.0), None, None, track.id, pending=True)
    tracker.add_match(track.id, Match("Ann", 0.3, 0.68), 0.0)
    (label,) = [Label.from_track(t) for t in tracker.tracks()]
    assert (label.name, label.distance, label.pending) == ("Ann", pytest.approx(0.3), False)


def test_bad_input():
    with pytest.raises(ValueError):
        FaceAnnotator().annotate(np.zeros((10, 10), np.uint8), [])
    with pytest.raises(ValueError):
        FaceAnnotator(thickness=0)


def patch_share(image, rect, colour) -> float:
    """Share of the pixels of ``rect`` (x, y, w, h) that have the label background ``colour``."""
    x, y, w, h = rect
    region = image[y:y + h, x:x + w].reshape(-1, 3).astype(int)
    return float((np.abs(region - colour).sum(axis=1) < 30).mean())


def test_labels_of_faces_side_by_side_neither_overlap_nor_leave_the_frame(photo):
    """Two faces close together (a known one and a stranger) and one at the right edge: every label
    whole, inside the frame, over no other label; each is drawn where label_rects says."""
    annotator = FaceAnnotator(show_distances=True)
    labels = [Label((100, 200, 90, 90), "Someone with a long name", 0.31),
              Label((196, 205, 90, 90), None, 0.9),
              Label((420, 40, 80, 80), "Edge of the frame", 0.2)]
    rects = annotator.label_rects(photo.shape, labels)
    assert len(rects) == 3
    height, width = photo.shape[:2]
    for x, y, w, h in rects:
        assert x >= 0 and y >= 0 and x + w <= width and y + h <= height
    for i in range(3):
        for j in range(i + 1, 3):
            a, b = rects[i], rects[j]
            assert a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1], (a, b)
    out = annotator.annotate(photo, labels)
    # the pixels: each label's own background colour fills most of its rectangle (the text is the rest)
    assert patch_share(out, rects[0], KNOWN_COLOUR) > 0.6
    assert patch_share(out, rects[1], UNKNOWN_COLOUR) > 0.6
    assert patch_share(out, rects[2], KNOWN_COLOUR) > 0.6
    assert rects[2][0] + rects[2][2] == width  # pushed left to end at the right border, not cut


def test_labels_of_a_row_of_faces_at_the_top_edge_do_not_overlap():
    frame = np.full((240, 320, 3), 90, np.uint8)
    labels = [Label((10 + 40 * i, 0, 36, 36), None if i % 2 else f"Person {i}", 0.3) for i in range(7)]
    rects = FaceAnnotator(show_distances=True).label_rects(frame.shape, labels)
    assert len(rects) == 7
    for i, a in enumerate(rects):
        assert 0 <= a[0] and a[0] + a[2] <= 320 and 0 <= a[1] and a[1] + a[3] <= 240
        for b in rects[i + 1:]:
            assert a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1]
