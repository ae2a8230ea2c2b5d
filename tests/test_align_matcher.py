"""Alignment and matching: pure numpy, checked against OpenCV and by hand."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facecam.align import ARCFACE_112, AlignSpec, align_face, alignment_matrix
from facecam.matcher import GalleryMatrix, cosine_distances, match_embeddings, person_distances


def test_matrix_levels_the_eyes_and_hits_the_template():
    spec = AlignSpec.from_arcface(112)
    template = spec.template
    # A face rotated by 30 degrees, scaled by 2.5 and moved: the transform must undo all three.
    angle = np.deg2rad(30)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    landmarks = (template - 56) @ rot.T * 2.5 + [300, 200]
    matrix = alignment_matrix(landmarks, spec)
    mapped = np.c_[landmarks, np.ones(5)] @ matrix.T
    assert np.allclose(mapped, template, atol=1e-6)
    eyes = mapped[:2]
    assert abs(eyes[0, 1] - eyes[1, 1]) < abs(template[0, 1] - template[1, 1]) + 1e-6


def test_eyes_exactly_level_even_when_the_mouth_disagrees():
    spec = AlignSpec.from_arcface(224, 0.6)
    landmarks = np.array([[100, 120], [160, 100], [135, 140], [110, 180], [150, 170]], float)
    mapped = np.c_[landmarks, np.ones(5)] @ alignment_matrix(landmarks, spec).T
    template_slope = spec.template[1, 1] - spec.template[0, 1]
    assert mapped[1, 1] - mapped[0, 1] == pytest.approx(template_slope * np.linalg.norm(mapped[1] - mapped[0])
                                                        / np.linalg.norm(spec.template[1] - spec.template[0]), abs=1e-6)


def test_numpy_warp_matches_opencv():
    rng = np.random.default_rng(1)
    image = cv2.GaussianBlur(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8), (9, 9), 3)
    landmarks = np.array([[140, 100], [180, 104], [160, 125], [146, 150], [176, 152]], float)
    spec = AlignSpec.from_arcface(112)
    ours = align_face(image, landmarks, spec).astype(int)
    theirs = cv2.warpAffine(image, alignment_matrix(landmarks, spec), (112, 112)).astype(int)
    assert np.abs(ours - theirs)[4:-4, 4:-4].mean() < 1.5


def test_large_faces_are_prefiltered_not_aliased():
    # A fine checkerboard shrunk 8x must come out mid-grey, not a moire of black and white.
    board = ((np.indices((896, 896)).sum(axis=0) % 2) * 255).astype(np.uint8)
    image = np.dstack([board] * 3)
    landmarks = ARCFACE_112 * 8
    crop = align_face(image, landmarks, AlignSpec.from_arcface(112))
    assert crop.shape == (112, 112, 3)
    assert np.abs(crop[8:-8, 8:-8].astype(int) - 127).max() <= 3


def _masked_bilinear_crop(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The crop as the first alignment computed it (no box filter: the faces here are not shrunk 2x): each of a
    sample's four corners gathered where it lies inside the image, 0 elsewhere, summed in the same order."""
    inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    src = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5, np.ones(size * size)], axis=1) @ inverse.T
    sx, sy = src[:, 0] - 0.5, src[:, 1] - 0.5
    height, width = image.shape[:2]
    pixels = image.astype(np.float32)
    x0, y0 = np.floor(sx).astype(np.int64), np.floor(sy).astype(np.int64)
    fx, fy = (sx - x0).astype(np.float32)[:, None], (sy - y0).astype(np.float32)[:, None]
    out = np.zeros((size * size, 3), np.float32)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            xi, yi = x0 + dx, y0 + dy
            inside = (xi >= 0) & (xi < width) & (yi >= 0) & (yi < height)
            values = np.zeros_like(out)
            values[inside] = pixels[yi[inside], xi[inside]]
            out += values * (wx * wy)
    return np.clip(out + 0.5, 0, 255).reshape(size, size, 3).astype(np.uint8)


@pytest.mark.parametrize("centre", [(160, 120), (8, 10), (310, 235), (-40, 120), (900, 700)],
                         ids=["inside", "top-left corner", "bottom-right corner", "off the left", "off the image"])
def test_crop_equals_the_masked_bilinear_reference_inside_on_and_off_the_edges(centre):
    # The crop reads only the window its samples cover (with a black border) instead of masking every corner:
    # the same pixels as the reference, bit for bit, wherever the face lies, so gallery caches stay valid.
    image = np.random.default_rng(3).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    face = np.array([[-12, -8], [12, -10], [0, 4], [-9, 14], [9, 15]], float) * 1.4 + centre
    for spec in (AlignSpec.from_arcface(112), AlignSpec.from_arcface(224, 0.6)):
        matrix = alignment_matrix(face, spec)
        crop = align_face(image, face, spec)
        assert np.array_equal(crop, _masked_bilinear_crop(image, matrix, spec.size))
    if centre == (900, 700):
        assert not crop.any()  # wholly outside: black
    elif centre == (-40, 120):
        assert crop.any() and not crop[:, :40].any()  # the part left of the image is black


def unit(rows):
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_match_names_best_person_with_runner_up_and_unknown():
    gallery = GalleryMatrix.from_pairs(["ann", "bob", "ann"], unit([[1, 0, 0], [0, 1, 0], [0.8, 0.6, 0]]))
    matches = match_embeddings(unit([[0.9, 0.1, 0], [0, 0, 1]]), gallery, threshold=0.4, mode="nearest")
    first, second = matches
    assert first.name == "ann" and first.runner_up == "bob"
    expected = 1 - unit([[0.9, 0.1, 0]])[0] @ unit([[1, 0, 0]])[0]
    assert first.distance == pytest.approx(expected, abs=1e-6)
    assert first.runner_up_distance == pytest.approx(1 - unit([[0.9, 0.1, 0]])[0] @ [0, 1, 0], abs=1e-6)
    assert second.name is None and second.distance == pytest.approx(1.0) and second.best_name in ("ann", "bob")


def test_person_distances_nearest_and_mean_agree_with_brute_force():
    rng = np.random.default_rng(7)
    vectors = unit(rng.standard_normal((50, 16)))
    names = [f"p{i % 7}" for i in range(50)]
    gallery = GalleryMatrix.from_pairs(names, vectors)
    queries = unit(rng.standard_normal((5, 16)))
    nearest = person_distances(queries, gallery, "nearest")
    mean = person_distances(queries, gallery, "mean")
    for j, person in enumerate(gallery.names):
        rows = vectors[[n == person for n in names]]
        assert np.allclose(nearest[:, j], (1 - queries @ rows.T).min(axis=1), atol=1e-5)
        centre = rows.mean(axis=0)
        centre /= np.linalg.norm(centre)
        assert np.allclose(mean[:, j], 1 - queries @ centre, atol=1e-5)


def test_empty_gallery_gives_unknown_not_an_error():
    matches = match_embeddings(unit([[1, 0]]), GalleryMatrix.empty(2), threshold=0.5)
    assert len(matches) == 1 and matches[0].name is None


def test_dimension_mismatch_is_explained():
    gallery = GalleryMatrix.from_pairs(["a"], unit([[1, 0, 0]]))
    with pytest.raises(ValueError, match="expected 3-d embeddings"):
        match_embeddings(unit([[1, 0]]), gallery, 0.5)


def test_cosine_distance_range():
    d = cosine_distances(unit([[1, 0]]), unit([[1, 0], [-1, 0], [0, 1]]))
    assert np.allclose(d, [[0, 2, 1]])
