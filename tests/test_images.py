"""facecam.images against a corpus of bad and odd photos, all generated in tmp_path.

Every test checks the real outcome: the returned array's shape, dtype and pixel
values, or an ImageError whose one-line message names the file and the reason.
"""

from __future__ import annotations

import errno
import io
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from facecam.errors import FacecamError, ImageError
from facecam.images import (
    IMAGE_EXTENSIONS,
    MAX_FILE_BYTES,
    MAX_PIXELS,
    MAX_SIDE,
    MIN_SIDE,
    is_image_name,
    read_image,
    read_image_bytes,
)

REPO = Path(__file__).resolve().parents[1]
OBAMA = REPO / "tests" / "data" / "people" / "obama.jpg"
needs_obama = pytest.mark.skipif(not OBAMA.is_file(), reason=f"{OBAMA} is not on this machine")

RED, GREEN, BLUE, YELLOW = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)


# --- Generators -------------------------------------------------------------------------


def quadrants(height: int, width: int) -> np.ndarray:
    """RGB image: top-left red, top-right green, bottom-left blue, bottom-right yellow.

    No two of the 8 EXIF orientations give the same picture, and the large flat
    areas survive JPEG compression.
    """
    image = np.zeros((height, width, 3), np.uint8)
    h2, w2 = height // 2, width // 2
    image[:h2, :w2], image[:h2, w2:], image[h2:, :w2], image[h2:, w2:] = RED, GREEN, BLUE, YELLOW
    return image


def quadrant_colours(bgr: np.ndarray) -> list[tuple[int, int, int]]:
    """The RGB colour at the centre of each quadrant (TL, TR, BL, BR) of a BGR image."""
    h, w = bgr.shape[:2]
    points = [(h // 4, w // 4), (h // 4, 3 * w // 4), (3 * h // 4, w // 4), (3 * h // 4, 3 * w // 4)]
    return [tuple(int(v) for v in bgr[y, x, ::-1]) for y, x in points]


def assert_colours(actual, expected, tolerance=12):
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected):
        assert max(abs(a - b) for a, b in zip(got, want)) <= tolerance, (actual, expected)


def encode_pil(rgb_or_image, fmt: str, **options) -> bytes:
    image = rgb_or_image if isinstance(rgb_or_image, Image.Image) else Image.fromarray(rgb_or_image)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def encode_cv(bgr: np.ndarray, ext: str) -> bytes:
    ok, encoded = cv2.imencode(ext, bgr)
    assert ok
    return encoded.tobytes()


def exif_with_orientation(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def write_big_png(path: Path, width: int, height: int, row: bytes, color_type: int) -> None:
    """A valid 8-bit PNG whose rows all equal ``row``, written in a few MB of memory.

    One block of rows is deflated once, ended with a full flush (which resets the
    compressor, so the piece can be repeated as is), and repeated; the adler32 is
    computed as a running sum. A 20000x20000 image takes well under a second.
    """
    line = b"\x00" + row  # filter type 0 per row
    rows_per_block = max(1, min(height, 8_000_000 // len(line)))
    full, rest = divmod(height, rows_per_block)

    def raw_deflate(rows: int) -> bytes:
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        return compressor.compress(line * rows) + compressor.flush(zlib.Z_FULL_FLUSH)

    block = line * rows_per_block
    adler = 1
    for _ in range(full):
        adler = zlib.adler32(block, adler)
    adler = zlib.adler32(line * rest, adler)
    stream = (b"\x78\x9c" + raw_deflate(rows_per_block) * full + (raw_deflate(rest) if rest else b"")
              + b"\x03\x00" + struct.pack(">I", adler))  # empty final block, then adler32
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", stream)
                     + png_chunk(b"IEND", b""))


def jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def flat_grey_jpeg(width: int, height: int, sof: int = 0xC0, scan: bool = True) -> bytes:
    """A valid grey baseline JPEG (every pixel 128) of any size, about width*height/256 bytes.

    Hand-written: one component, Huffman tables with a single 1-bit code each, so
    every 8x8 block is "DC difference 0, end of block" = two 0 bits.
    """
    header = [b"\xff\xd8", jpeg_segment(0xDB, b"\x00" + b"\x01" * 64),
              jpeg_segment(sof, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00"),
              jpeg_segment(0xC4, b"\x00" + bytes([1] + [0] * 15) + b"\x00"),
              jpeg_segment(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\x00"),
              jpeg_segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")]
    if not scan:
        return b"".join(header) + b"\x00" + b"\xff\xd9"
    bits = 2 * ((width + 7) // 8) * ((height + 7) // 8)
    whole, rest = divmod(bits, 8)
    data = b"\x00" * whole + (bytes([(1 << (8 - rest)) - 1]) if rest else b"")  # pad with 1 bits
    return b"".join(header) + data + b"\xff\xd9"


def assert_image_error(call, *fragments: str) -> str:
    """Run ``call``; it must raise ImageError with one line containing every fragment."""
    with pytest.raises(ImageError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message and "\r" not in message, message
    for fragment in fragments:
        assert fragment.lower() in message.lower(), (fragment, message)
    return message


def assert_contract(image: np.ndarray) -> None:
    assert isinstance(image, np.ndarray)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.flags.c_contiguous and image.flags.writeable
    assert MIN_SIDE <= min(image.shape[:2]) and max(image.shape[:2]) <= MAX_SIDE


MEASURE = r"""
import json, sys
import cv2, numpy
from facecam.errors import ImageError
from facecam.images import read_image

def status_mb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024

# VmHWM is the peak RSS of this process image. (ru_maxrss is not usable here:
# Linux carries the parent's peak over fork and exec, so a child of a big
# pytest process starts with the parent's peak.) Reset it to the current RSS.
try:
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
except OSError:
    pass
before = status_mb("VmHWM")
try:
    image = read_image(sys.argv[1])
    outcome = {"shape": list(image.shape), "dtype": str(image.dtype),
               "min": int(image.min()), "max": int(image.max()),
               "corners": [image[0, 0].tolist(), image[-1, -1].tolist()]}
except ImageError as error:
    outcome = {"error": str(error)}
outcome["peak_growth_mb"] = status_mb("VmHWM") - before
print(json.dumps(outcome))
"""


def read_in_subprocess(path: Path) -> dict:
    """read_image(path) in a fresh Python, with the growth of its peak memory (MB)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


needs_proc = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="measures memory with /proc")


# --- Real photos and names ----------------------------------------------------------------


@needs_obama
def test_real_photo_matches_opencv_and_is_contiguous():
    image = read_image(OBAMA)
    assert image.shape == (1137, 910, 3) and image.dtype == np.uint8
    assert image.flags.c_contiguous
    np.testing.assert_array_equal(image, cv2.imread(str(OBAMA), cv2.IMREAD_COLOR))
    np.testing.assert_array_equal(read_image(str(OBAMA)), image)


@needs_obama
@pytest.mark.parametrize("relative", ["José Müller/foto.jpg", "李雷.jpg", "Ünïcödé ☺ name.JPG"])
def test_non_ascii_paths(tmp_path, relative):
    path = tmp_path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(OBAMA.read_bytes())
    image = read_image(path)
    assert image.shape == (1137, 910, 3)
    np.testing.assert_array_equal(image, read_image(OBAMA))


def test_non_ascii_png_path(tmp_path):
    path = tmp_path / "李雷.png"
    path.write_bytes(encode_pil(quadrants(40, 60), "PNG"))
    assert quadrant_colours(read_image(path)) == [RED, GREEN, BLUE, YELLOW]


def test_missing_non_ascii_file_is_named(tmp_path):
    path = tmp_path / "José Müller" / "foto.jpg"
    assert_image_error(lambda: read_image(path), "José Müller", "foto.jpg", "not found")


def test_bytes_from_camera():
    frame = cv2.cvtColor(quadrants(480, 640), cv2.COLOR_RGB2BGR)
    image = read_image_bytes(encode_cv(frame, ".jpg"), "camera frame")
    assert image.shape == (480, 640, 3)
    assert np.abs(image.astype(int) - frame).mean() < 2
    np.testing.assert_array_equal(read_image_bytes(bytearray(encode_cv(frame, ".png")), "camera"), frame)
    with pytest.raises(TypeError):
        read_image_bytes(frame, "camera frame")


def test_error_is_a_facecam_error_and_one_line_even_for_odd_names(tmp_path):
    path = tmp_path / "bad\nname\t.jpg"
    path.write_bytes(b"")
    message = assert_image_error(lambda: read_image(path), "bad\\nname\\t.jpg", "empty")
    assert issubclass(ImageError, FacecamError)
    assert message.startswith(str(tmp_path))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs a file system that takes any bytes")
def test_undecodable_file_name_is_escaped(tmp_path):
    path = os.fsencode(tmp_path) + b"/caf\xe9.jpg"  # Latin-1 bytes, not UTF-8
    with open(path, "wb") as file:
        file.write(b"hello")
    message = assert_image_error(lambda: read_image(path), "caf\\xe9.jpg")
    message.encode("utf-8")  # printable: no lone surrogates


# --- Not a photo at all ----------------------------------------------------------------------


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    assert_image_error(lambda: read_image(path), "empty.jpg", "empty (0 bytes)")
    assert_image_error(lambda: read_image_bytes(b"", "camera"), "camera", "empty")


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("Remember to buy milk.\nAnd bread — ünïcode too.\n", encoding="utf-8")
    assert_image_error(lambda: read_image(path), "notes.jpg", "text file", "save it as JPEG")


def test_random_binary_named_jpg(tmp_path):
    path = tmp_path / "noise.jpg"
    path.write_bytes(bytes(range(256)) * 8)
    assert_image_error(lambda: read_image(path), "noise.jpg", "not a JPEG, PNG, BMP or WebP image")


@pytest.mark.parametrize("content, kind", [
    (b"GIF89a" + b"\x00" * 64, "GIF"),
    (b"II*\x00" + b"\x00" * 64, "TIFF"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64, "HEIC"),
    (b"%PDF-1.7\n" + b"\x00" * 64, "PDF"),
])
def test_other_formats_named_jpg_are_refused_by_name(tmp_path, content, kind):
    path = tmp_path / "photo.jpg"
    path.write_bytes(content)
    assert_image_error(lambda: read_image(path), "photo.jpg", kind)


def test_real_gif_named_jpg(tmp_path):
    path = tmp_path / "anim.jpg"
    path.write_bytes(encode_pil(quadrants(40, 40), "GIF"))
    assert_image_error(lambda: read_image(path), "anim.jpg", "GIF image")


def test_directory_named_jpg(tmp_path):
    path = tmp_path / "x.jpg"
    path.mkdir()
    assert_image_error(lambda: read_image(path), "x.jpg", "folder")


def test_missing_file(tmp_path):
    assert_image_error(lambda: read_image(tmp_path / "gone.png"), "gone.png", "not found")


@pytest.mark.skipif(not hasattr(os, "symlink") or sys.platform == "win32", reason="needs symbolic links")
def test_symbolic_link_loop(tmp_path):
    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    os.symlink(b, a)
    os.symlink(a, b)
    assert_image_error(lambda: read_image(a), "a.jpg", "link loop")
    assert_image_error(lambda: read_image(b), "b.jpg", "link loop")
    self_loop = tmp_path / "self.jpg"
    os.symlink(self_loop, self_loop)
    assert_image_error(lambda: read_image(self_loop), "self.jpg", "link loop")


@pytest.mark.skipif(not hasattr(os, "symlink") or sys.platform == "win32", reason="needs symbolic links")
def test_dangling_and_good_symbolic_links(tmp_path):
    dangling = tmp_path / "dangling.jpg"
    os.symlink(tmp_path / "nowhere.jpg", dangling)
    assert_image_error(lambda: read_image(dangling), "dangling.jpg", "link to a missing file")
    target = tmp_path / "real.png"
    target.write_bytes(encode_pil(quadrants(40, 40), "PNG"))
    link = tmp_path / "link.png"
    os.symlink(target, link)
    assert read_image(link).shape == (40, 40, 3)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_not_opened(tmp_path):
    path = tmp_path / "pipe.jpg"
    os.mkfifo(path)  # opening it would block forever
    assert_image_error(lambda: read_image(path), "pipe.jpg", "not a regular file")


def test_unreadable_file(tmp_path, monkeypatch):
    path = tmp_path / "secret.png"
    path.write_bytes(encode_pil(quadrants(40, 40), "PNG"))
    real_open = open

    def denied(file, *args, **kwargs):  # chmod 0 does not stop root, which CI runs as: inject the refusal
        if Path(file) == path:
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", denied)
    assert_image_error(lambda: read_image(path), "secret.png", "permission denied")


def test_oversized_file_is_refused_without_reading(tmp_path):
    path = tmp_path / "huge.bmp"
    with open(path, "wb") as file:
        file.truncate(MAX_FILE_BYTES + 1)  # sparse: nothing is written to disk
    assert_image_error(lambda: read_image(path), "huge.bmp", "more than facecam reads")


# --- Truncated and damaged ------------------------------------------------------------------------


@needs_obama
@pytest.mark.parametrize("keep", [0.98, 0.6, 0.1])
def test_truncated_jpeg_is_refused(tmp_path, keep):
    data = OBAMA.read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[:int(len(data) * keep)])
    assert_image_error(lambda: read_image(path), "cut.jpg", "truncated", "copy the photo again")


@needs_obama
def test_jpeg_without_end_marker_is_refused(tmp_path):
    data = OBAMA.read_bytes()
    assert data.endswith(b"\xff\xd9")
    path = tmp_path / "noeoi.jpg"
    path.write_bytes(data[:-2])
    assert_image_error(lambda: read_image(path), "noeoi.jpg", "truncated", "end-of-image")


@needs_obama
def test_jpeg_cut_inside_its_header(tmp_path):
    path = tmp_path / "stub.jpg"
    path.write_bytes(OBAMA.read_bytes()[:120])
    assert_image_error(lambda: read_image(path), "stub.jpg", "truncated")
    path.write_bytes(b"\xff\xd8")
    assert_image_error(lambda: read_image(path), "stub.jpg", "truncated")


@needs_obama
def test_data_after_a_complete_jpeg_is_accepted(tmp_path):
    # Phones append their own data after the end-of-image marker.
    path = tmp_path / "trailer.jpg"
    path.write_bytes(OBAMA.read_bytes() + b"\x00" * 100 + b"SEFHtrailer\xff\xd8\xff\xe1")
    np.testing.assert_array_equal(read_image(path), read_image(OBAMA))


@needs_obama
def test_progressive_jpeg_complete_and_truncated(tmp_path):
    rgb = np.asarray(Image.open(OBAMA).convert("RGB"))
    data = encode_pil(rgb, "JPEG", progressive=True, quality=90)
    image = read_image_bytes(data, "prog.jpg")
    assert image.shape == (1137, 910, 3)
    assert np.abs(image.astype(int) - rgb[:, :, ::-1]).mean() < 3
    assert_image_error(lambda: read_image_bytes(data[:int(len(data) * 0.7)], "prog.jpg"), "prog.jpg", "truncated")


def test_truncated_png_webp_bmp_are_refused():
    bgr = cv2.cvtColor(quadrants(64, 80), cv2.COLOR_RGB2BGR)
    png, bmp = encode_cv(bgr, ".png"), encode_cv(bgr, ".bmp")
    webp = encode_pil(quadrants(64, 80), "WEBP", lossless=True)
    for data, kind in ((png, "PNG"), (webp, "WebP"), (bmp, "BMP")):
        assert read_image_bytes(data, f"ok.{kind}").shape == (64, 80, 3)
        for cut in (len(data) - 12, len(data) // 2, 30):
            assert_image_error(lambda: read_image_bytes(data[:cut], f"cut.{kind}"),
                               f"cut.{kind}", f"the {kind} file is truncated")


def test_corrupt_png_data_is_refused():
    data = bytearray(encode_cv(cv2.cvtColor(quadrants(64, 80), cv2.COLOR_RGB2BGR), ".png"))
    idat = data.find(b"IDAT")
    data[idat + 8:idat + 40] = b"\xaa" * 32  # damages data and breaks the CRC
    assert_image_error(lambda: read_image_bytes(bytes(data), "broken.png"), "broken.png", "damaged")


# --- Sizes -------------------------------------------------------------------------------------------


def test_one_pixel_image_is_refused_as_too_small(tmp_path):
    path = tmp_path / "dot.png"
    path.write_bytes(encode_cv(np.zeros((1, 1, 3), np.uint8), ".png"))
    assert_image_error(lambda: read_image(path), "dot.png", "1x1 pixels", "too small", "20x20")


def test_minimum_size_boundary():
    ok = read_image_bytes(encode_cv(np.full((MIN_SIDE, MIN_SIDE, 3), 7, np.uint8), ".png"), "ok")
    assert ok.shape == (MIN_SIDE, MIN_SIDE, 3) and (ok == 7).all()
    narrow = encode_cv(np.zeros((100, MIN_SIDE - 1, 3), np.uint8), ".jpg")
    assert_image_error(lambda: read_image_bytes(narrow, "narrow.jpg"), "narrow.jpg", "19x100", "too small")


@pytest.fixture(scope="module")
def huge_png(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("huge") / "huge.png"
    write_big_png(path, 20000, 20000, b"\x00" * 20000, color_type=0)
    assert path.stat().st_size < 2_000_000
    return path


def test_huge_png_is_refused_from_its_header(huge_png):
    assert_image_error(lambda: read_image(huge_png), "huge.png", "20000x20000 pixels", "400 megapixels",
                       f"{MAX_PIXELS // 1_000_000} megapixels", "resize it")


@needs_proc
def test_huge_png_memory_stays_bounded(huge_png):
    outcome = read_in_subprocess(huge_png)
    assert "20000x20000" in outcome["error"]
    assert outcome["peak_growth_mb"] < 300, outcome


@pytest.fixture(scope="module")
def wide_png(tmp_path_factory) -> Path:
    """9000x3000 RGB (27 megapixels): left half red, right half blue."""
    path = tmp_path_factory.mktemp("wide") / "wide.png"
    write_big_png(path, 9000, 3000, bytes(RED) * 4500 + bytes(BLUE) * 4500, color_type=2)
    return path


@needs_proc
def test_large_png_is_downscaled_to_max_side_in_bounded_memory(wide_png):
    outcome = read_in_subprocess(wide_png)
    assert outcome["shape"] == [1365, MAX_SIDE, 3] and outcome["dtype"] == "uint8"
    assert outcome["corners"] == [[0, 0, 255], [255, 0, 0]]  # BGR: red left, blue right
    # The full decode (81 MB) shows in the measurement, so the measurement works.
    assert 50 < outcome["peak_growth_mb"] < 300, outcome


def test_large_png_in_process_matches(wide_png):
    image = read_image(wide_png)
    assert image.shape == (1365, MAX_SIDE, 3)
    assert (image[:, :2040] == (0, 0, 255)).all() and (image[:, 2056:] == (255, 0, 0)).all()


@pytest.fixture(scope="module")
def huge_jpeg(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hugejpeg") / "huge.jpg"
    path.write_bytes(flat_grey_jpeg(20000, 20000))
    return path


def test_huge_baseline_jpeg_is_decoded_reduced(huge_jpeg):
    image = read_image(huge_jpeg)
    assert image.shape == (2500, 2500, 3)  # decoded at 1/8 by libjpeg
    assert (image == 128).all()


@needs_proc
def test_huge_baseline_jpeg_memory_stays_bounded(huge_jpeg):
    outcome = read_in_subprocess(huge_jpeg)
    assert outcome["shape"] == [2500, 2500, 3] and outcome["min"] == outcome["max"] == 128
    assert outcome["peak_growth_mb"] < 300, outcome


def test_huge_progressive_jpeg_is_refused_from_its_header():
    data = flat_grey_jpeg(20000, 20000, sof=0xC2, scan=False)
    assert_image_error(lambda: read_image_bytes(data, "prog.jpg"), "prog.jpg", "20000x20000",
                       "progressive JPEG", "baseline")


def test_jpeg_reduction_sizes():
    stored = quadrants(40, 5001)
    image = read_image_bytes(encode_pil(stored, "JPEG", quality=95), "wide.jpg")
    assert image.shape == (20, 2501, 3)  # 1/2 size, rounded up, as libjpeg does
    exact = read_image_bytes(encode_pil(quadrants(64, MAX_SIDE), "JPEG"), "edge.jpg")
    assert exact.shape == (64, MAX_SIDE, 3)  # not reduced at exactly MAX_SIDE


def test_jpeg_reduction_keeps_the_short_side_above_the_minimum():
    # Found by the fuzz test: reducing 8240x48 by 4 would give 2060x12, under MIN_SIDE.
    image = read_image_bytes(encode_pil(quadrants(48, 8240), "JPEG", quality=95), "strip.jpg")
    assert image.shape == (24, MAX_SIDE, 3)  # decoded at 1/2 (4120x24), then resized
    assert_colours(quadrant_colours(image)[:2], [RED, GREEN], tolerance=40)
    narrow = encode_pil(quadrants(30, 8240), "JPEG")  # 4096x15 at best
    assert_image_error(lambda: read_image_bytes(narrow, "narrow.jpg"), "8240x30", "too long and narrow")


def test_long_narrow_image_is_refused(tmp_path):
    path = tmp_path / "strip.png"
    write_big_png(path, 100_000, 30, b"\x80" * 100_000, color_type=0)
    assert_image_error(lambda: read_image(path), "strip.png", "100000x30", "too long and narrow")


# --- Pixel formats ---------------------------------------------------------------------------------------


def test_grayscale_png_and_jpeg_become_three_equal_channels():
    grey = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (24, 1))  # 24x64
    for ext in (".png", ".bmp"):
        image = read_image_bytes(encode_cv(grey, ext), "grey" + ext)
        assert image.shape == (24, 64, 3)
        for channel in range(3):
            np.testing.assert_array_equal(image[:, :, channel], grey)
    image = read_image_bytes(encode_cv(grey, ".jpg"), "grey.jpg")
    assert image.shape == (24, 64, 3)
    assert (image[:, :, 0] == image[:, :, 1]).all() and (image[:, :, 1] == image[:, :, 2]).all()


def test_one_bit_png():
    bits = Image.fromarray(np.where(quadrants(40, 40)[:, :, 0] > 0, 255, 0).astype(np.uint8)).convert("1")
    image = read_image_bytes(encode_pil(bits, "PNG"), "bits.png")
    assert image.shape == (40, 40, 3) and set(np.unique(image)) == {0, 255}
    assert (image[:20, :20] == 255).all() and (image[20:, :20] == 0).all()


SIXTEEN_BIT = np.concatenate([np.array([0, 1, 127, 128, 129, 385, 386, 32767, 32896, 65407, 65408, 65534, 65535],
                                       np.uint16), np.arange(0, 65536, 97, dtype=np.uint16)])


def scaled_16_to_8(values: np.ndarray) -> np.ndarray:
    return np.round(values.astype(np.float64) * 255 / 65535).astype(np.uint8)


def test_sixteen_bit_grey_png_is_scaled_not_truncated():
    grey = np.resize(SIXTEEN_BIT, (24, 40 * 28))
    image = read_image_bytes(encode_cv(grey, ".png"), "deep.png")
    assert image.shape == grey.shape + (3,) and image.dtype == np.uint8
    np.testing.assert_array_equal(image[:, :, 1], scaled_16_to_8(grey))
    assert not np.array_equal(image[:, :, 1], grey.astype(np.uint8))  # the low byte would be garbage


def test_sixteen_bit_colour_png_with_alpha():
    bgr = np.stack([np.resize(SIXTEEN_BIT, (30, 40)), np.resize(SIXTEEN_BIT[::-1], (30, 40)),
                    np.full((30, 40), 40000, np.uint16)], axis=2)
    image = read_image_bytes(encode_cv(bgr, ".png"), "deep-colour.png")
    np.testing.assert_array_equal(image, scaled_16_to_8(bgr))
    opaque = np.dstack([bgr, np.full((30, 40), 65535, np.uint16)])
    np.testing.assert_array_equal(read_image_bytes(encode_cv(opaque, ".png"), "deep-rgba.png"),
                                  scaled_16_to_8(bgr))


def over_white(bgr: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha.astype(np.float64)[..., None] / 255
    return np.round(bgr * a + 255 * (1 - a)).astype(np.uint8)


def test_rgba_png_is_composited_on_white():
    bgr = np.zeros((20, 256, 3), np.uint8)
    bgr[:] = (0, 100, 200)
    bgr[10:] = (0, 0, 0)  # fully transparent pixels are often black underneath
    alpha = np.tile(np.arange(256, dtype=np.uint8), (20, 1))
    image = read_image_bytes(encode_cv(np.dstack([bgr, alpha]), ".png"), "logo.png")
    np.testing.assert_array_equal(image, over_white(bgr, alpha))
    assert (image[:, 0] == 255).all()  # alpha 0: white, not black
    np.testing.assert_array_equal(image[:10, 255], np.tile([0, 100, 200], (10, 1)))  # alpha 255: the colour


def test_grey_alpha_and_palette_transparency_pngs():
    la = Image.fromarray(np.dstack([np.full((24, 24), 100, np.uint8),
                                    np.tile(np.array([0, 128, 255], np.uint8), (24, 8))]), "LA")
    image = read_image_bytes(encode_pil(la, "PNG"), "la.png")
    np.testing.assert_array_equal(image[0, :3], over_white(np.full((3, 3), 100), np.array([0, 128, 255])))
    palette = Image.new("P", (24, 24), 1)
    palette.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    palette.paste(0, (0, 0, 12, 24))
    image = read_image_bytes(encode_pil(palette, "PNG", transparency=0), "palette.png")
    assert (image[:, :12] == 255).all()  # transparent palette entry: white
    assert (image[:, 12:] == (30, 20, 10)).all()  # BGR of palette entry 1


def test_cmyk_jpeg_comes_out_in_the_right_colours(tmp_path):
    rgb = quadrants(64, 64)
    path = tmp_path / "print.jpg"
    path.write_bytes(encode_pil(Image.fromarray(rgb).convert("CMYK"), "JPEG", quality=95))
    assert Image.open(path).mode == "CMYK"
    image = read_image(path)
    assert image.shape == (64, 64, 3)
    assert_colours(quadrant_colours(image), [RED, GREEN, BLUE, YELLOW])


def test_webp_named_jpg_is_decoded_by_content(tmp_path):
    rgb = quadrants(40, 60)
    lossless = tmp_path / "really-webp.jpg"
    lossless.write_bytes(encode_pil(rgb, "WEBP", lossless=True))
    np.testing.assert_array_equal(read_image(lossless), rgb[:, :, ::-1])
    lossy = tmp_path / "lossy-webp.jpg"
    lossy.write_bytes(encode_pil(rgb, "WEBP", quality=90))
    assert_colours(quadrant_colours(read_image(lossy)), [RED, GREEN, BLUE, YELLOW], tolerance=20)
    assert read_image(lossy).shape == (40, 60, 3)


def test_webp_with_alpha_is_composited_on_white():
    rgba = np.dstack([quadrants(40, 40), np.full((40, 40), 255, np.uint8)])
    rgba[:20, :20, 3] = 0
    image = read_image_bytes(encode_pil(Image.fromarray(rgba, "RGBA"), "WEBP", lossless=True), "alpha.webp")
    assert (image[:20, :20] == 255).all()
    assert quadrant_colours(image)[1:] == [GREEN, BLUE, YELLOW]


def test_png_named_jpg_and_bmp_named_png(tmp_path):
    rgb = quadrants(40, 60)
    for name, data in (("png.jpg", encode_pil(rgb, "PNG")), ("bmp.png", encode_pil(rgb, "BMP"))):
        path = tmp_path / name
        path.write_bytes(data)
        np.testing.assert_array_equal(read_image(path), rgb[:, :, ::-1])


def test_top_down_bmp():
    rgb = quadrants(40, 60)
    data = bytearray(encode_pil(rgb, "BMP"))
    height_at = 22
    stored_height = struct.unpack_from("<i", data, height_at)[0]
    assert stored_height == 40
    # Rewrite as top-down: negative height, rows in reading order.
    offset = struct.unpack_from("<I", data, 10)[0]
    row = (60 * 3 + 3) // 4 * 4
    rows = [bytes(data[offset + i * row:offset + (i + 1) * row]) for i in range(40)]
    data[offset:] = b"".join(reversed(rows))
    struct.pack_into("<i", data, height_at, -40)
    np.testing.assert_array_equal(read_image_bytes(bytes(data), "topdown.bmp"), rgb[:, :, ::-1])


# --- EXIF orientation ------------------------------------------------------------------------------------------


def test_opencv_orientation_behaviour_this_module_relies_on():
    """Documents OpenCV 5.0: IMREAD_COLOR and IMREAD_REDUCED_* apply EXIF orientation;
    IMREAD_IGNORE_ORIENTATION and IMREAD_UNCHANGED do not. facecam.images always
    decodes with one of the latter and turns the image itself."""
    data = np.frombuffer(encode_pil(quadrants(20, 40), "JPEG", exif=exif_with_orientation(6)), np.uint8)
    assert cv2.imdecode(data, cv2.IMREAD_COLOR).shape == (40, 20, 3)
    assert cv2.imdecode(data, cv2.IMREAD_REDUCED_COLOR_2).shape == (20, 10, 3)
    assert cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION).shape == (20, 40, 3)
    assert cv2.imdecode(data, cv2.IMREAD_REDUCED_COLOR_2 | cv2.IMREAD_IGNORE_ORIENTATION).shape == (10, 20, 3)
    assert cv2.imdecode(data, cv2.IMREAD_UNCHANGED).shape == (20, 40, 3)


def test_phone_photo_with_orientation_6_is_turned_upright(tmp_path):
    # A phone held upright stores the picture sideways and tags it "rotate 90 clockwise".
    stored = quadrants(60, 100)  # 100 wide, 60 tall as stored
    path = tmp_path / "IMG_0001.jpg"
    path.write_bytes(encode_pil(stored, "JPEG", quality=95, exif=exif_with_orientation(6)))
    image = read_image(path)
    assert image.shape == (100, 60, 3)
    # Turned clockwise: stored bottom-left comes to the top-left, and so on.
    assert_colours(quadrant_colours(image), [BLUE, RED, YELLOW, GREEN])
    expected = np.rot90(stored, k=-1)[:, :, ::-1]
    assert np.abs(image.astype(int) - expected).mean() < 3


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_every_orientation_matches_pillow_exactly(fmt, orientation):
    stored = quadrants(30, 50)
    options = {"lossless": True} if fmt == "WEBP" else {}
    data = encode_pil(stored, fmt, exif=exif_with_orientation(orientation), **options)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    image = read_image_bytes(data, f"o{orientation}.{fmt}")
    np.testing.assert_array_equal(image, expected[:, :, ::-1])
    swapped = orientation >= 5
    assert image.shape[:2] == ((50, 30) if swapped else (30, 50))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_in_jpeg(orientation):
    stored = quadrants(48, 80)
    data = encode_pil(stored, "JPEG", quality=95, exif=exif_with_orientation(orientation))
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    image = read_image_bytes(data, f"o{orientation}.jpg")
    assert image.shape == expected.shape
    assert np.abs(image.astype(int) - expected[:, :, ::-1]).mean() < 3


def test_orientation_with_reduced_jpeg_decoding(tmp_path):
    stored = quadrants(300, 5000)  # longer than MAX_SIDE: decoded at 1/2
    path = tmp_path / "panorama.jpg"
    path.write_bytes(encode_pil(stored, "JPEG", quality=90, exif=exif_with_orientation(6)))
    image = read_image(path)
    assert image.shape == (2500, 150, 3)
    assert_colours(quadrant_colours(image), [BLUE, RED, YELLOW, GREEN])


def test_damaged_exif_is_ignored():
    data = bytearray(encode_pil(quadrants(40, 60), "JPEG", exif=exif_with_orientation(6)))
    at = data.find(b"Exif\x00\x00") + 6
    data[at:at + 2] = b"XX"  # not a TIFF byte order any more
    image = read_image_bytes(bytes(data), "odd-exif.jpg")
    assert image.shape == (40, 60, 3)  # stored orientation kept
    assert_colours(quadrant_colours(image), [RED, GREEN, BLUE, YELLOW])


def test_large_metadata_before_the_size_header(tmp_path):
    data = encode_pil(quadrants(40, 60), "JPEG", exif=exif_with_orientation(8))
    padding = b"".join(jpeg_segment(0xEF, b"\x00" * 65000) for _ in range(3))  # 195 kB of APP15 before SOF
    path = tmp_path / "meta.jpg"
    path.write_bytes(data[:2] + padding + data[2:])
    assert read_image(path).shape == (60, 40, 3)


# --- Names and channel order ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, expected", [
    ("photo.jpg", True), ("photo.JPEG", True), ("a.b.png", True), ("x.bmp", True), ("x.WebP", True),
    ("known_faces/José/foto.jpg", True), (Path("李雷.png"), True),
    (".DS_Store", False), ("._photo.jpg", False), (".hidden.png", False), ("known_faces/ann/._x.jpg", False),
    ("photo.gif", False), ("photo.heic", False), ("photo.jpg.txt", False), ("jpg", False), ("", False),
    ("Thumbs.db", False), ("photo", False),
])
def test_is_image_name(name, expected):
    assert is_image_name(name) is expected


def test_image_extensions():
    assert IMAGE_EXTENSIONS == (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def test_no_tensorflow_or_qt_is_imported():
    code = ("import sys, facecam.images; "
            "print([m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'keras', 'torch', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6')])")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# --- Fuzzing ---------------------------------------------------------------------------------------------------------


def _seeds() -> list[bytes]:
    rgb = quadrants(32, 48)
    bgra = np.dstack([rgb[:, :, ::-1], np.full((32, 48), 200, np.uint8)])
    return [
        encode_pil(rgb, "JPEG", quality=80),
        encode_pil(rgb, "JPEG", progressive=True, exif=exif_with_orientation(6)),
        encode_pil(Image.fromarray(rgb).convert("CMYK"), "JPEG"),
        encode_cv(bgra, ".png"),
        encode_cv(rgb.astype(np.uint16) * 257, ".png"),
        encode_pil(rgb, "PNG", exif=exif_with_orientation(3)),
        encode_pil(rgb, "WEBP", lossless=True, exif=exif_with_orientation(8)),
        encode_pil(rgb, "WEBP", quality=50),
        encode_pil(rgb, "BMP"),
    ]


SEEDS = _seeds()


def _check_any_outcome(data: bytes) -> None:
    try:
        image = read_image_bytes(data, "fuzz.jpg")
    except ImageError as error:
        message = str(error)
        assert message.startswith("fuzz.jpg: ") and "\n" not in message
    else:
        assert_contract(image)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes_raise_only_image_error(data):
    _check_any_outcome(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512), st.sampled_from([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM", b"RIFF"]))
def test_random_bytes_behind_a_real_signature_raise_only_image_error(tail, signature):
    _check_any_outcome(signature + tail)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS),
       st.lists(st.tuples(st.integers(0, 2**20), st.integers(0, 255)), max_size=6),
       st.one_of(st.none(), st.integers(0, 2**20)))
def test_damaged_real_images_raise_only_image_error(seed, edits, cut):
    data = bytearray(seed)
    for position, value in edits:
        data[position % len(data)] = value
    if cut is not None:
        data = data[:cut % len(data)]
    _check_any_outcome(bytes(data))


def test_seeds_are_readable():
    for seed in SEEDS:
        assert_contract(read_image_bytes(seed, "seed"))
