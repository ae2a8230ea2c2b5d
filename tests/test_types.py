"""facecam.types: the shared types, and the one colour swap (BGR -> RGB)."""

from __future__ import annotations

import numpy as np
import pytest

from facecam.types import Frame, bgr_to_rgb, rgb_to_bgr


def test_bgr_to_rgb_is_a_new_contiguous_array_with_red_and_blue_swapped():
    bgr = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    rgb = bgr_to_rgb(bgr)
    assert rgb.flags.c_contiguous and not np.shares_memory(rgb, bgr)
    np.testing.assert_array_equal(rgb[..., 0], bgr[..., 2])
    np.testing.assert_array_equal(rgb[..., 1], bgr[..., 1])
    np.testing.assert_array_equal(rgb[..., 2], bgr[..., 0])
    view = bgr[:, ::2]  # non-contiguous input
    assert bgr_to_rgb(view).flags.c_contiguous
    np.testing.assert_array_equal(bgr_to_rgb(view), view[..., ::-1])
    for bad in (np.zeros((4, 5), np.uint8), np.zeros((4, 5, 4), np.uint8)):
        with pytest.raises(ValueError, match="expected an"):
            bgr_to_rgb(bad)


def test_rgb_to_bgr_undoes_bgr_to_rgb():
    bgr = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    back = rgb_to_bgr(bgr_to_rgb(bgr))
    np.testing.assert_array_equal(back, bgr)
    assert not np.shares_memory(back, bgr)
    np.testing.assert_array_equal(rgb_to_bgr(bgr)[..., 0], bgr[..., 2])
    with pytest.raises(ValueError, match="expected an"):
        rgb_to_bgr(np.zeros((4, 5), np.uint8))


def test_frame_unpacks_as_seq_time_image():
    image = np.zeros((2, 3, 3), np.uint8)
    seq, t_source, bgr_frame = Frame(7, 0.25, image)
    assert (seq, t_source, bgr_frame is image) == (7, 0.25, True)
