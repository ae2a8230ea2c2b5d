"""Read any photo safely: one upright 8-bit BGR array, or one :class:`ImageError` line.

Users drop anything into ``known_faces``, so every file is treated as hostile.
:func:`read_image` reads the bytes itself (non-ASCII paths work on every OS) and
:func:`read_image_bytes` decodes them with ``cv2.imdecode``:

1. The format is found from the content (a WebP named ``.jpg`` is a WebP), and
   only JPEG, PNG, BMP and WebP are decoded. Other known formats (HEIC, TIFF,
   GIF, PDF, text...) are refused by name.
2. The header is parsed here, in Python, *before* anything is decoded: width,
   height, EXIF orientation, JPEG coding, and whether the file is complete. The
   pixel limits below are applied to the header's numbers, so a 20000x20000 PNG
   (a few hundred kB on disk, 1.2 GB decoded) is refused without allocating it.
3. JPEGs are decoded at 1/2, 1/4 or 1/8 size when large (libjpeg's DCT scaling,
   ``IMREAD_REDUCED_COLOR_*``): memory stays small even for 200-megapixel phone
   photos. PNG, BMP and WebP cannot be decoded reduced (OpenCV decodes them in
   full and then resizes), so they are limited to :data:`MAX_PIXELS`.
4. The result is normalised: 16-bit -> 8-bit by rounding ``v / 257`` (scaling,
   not truncating); grey -> 3 channels; alpha -> composited on white (a
   transparent background shows as white, as in a photo viewer, instead of
   whatever colour the hidden pixels hold); CMYK JPEG -> BGR (OpenCV's libjpeg
   conversion); longest side at most :data:`MAX_SIDE`.
5. EXIF orientation (JPEG APP1, PNG ``eXIf``, WebP ``EXIF``) is applied here:
   decoding always uses ``IMREAD_IGNORE_ORIENTATION`` and this module turns the
   image upright itself. OpenCV 5.0 does apply EXIF orientation with
   ``IMREAD_COLOR`` (also with ``IMREAD_REDUCED_*``) but not with
   ``IMREAD_UNCHANGED``, which 16-bit and alpha need; doing it in one place keeps
   every format and every reduction correct, whatever OpenCV version is installed.

Choices for damaged or odd files (each refusal is an ``ImageError`` naming the
file, what is wrong, and what to do):

* Truncated files are refused (a JPEG without its end-of-image marker after the
  scan data, a PNG without ``IEND``, a WebP or BMP shorter than its header
  says). A viewer shows such a photo with a grey or missing bottom part;
  enrolling a half-grey face would silently poison the gallery, and copying the
  photo again fixes it. Data *after* a complete image (phones append some) is
  fine.
* Images smaller than :data:`MIN_SIDE` on a side are refused: no face can be
  found in them (the detector's smallest face is 20 pixels), and "too small"
  is a clearer answer than "no face found".
* Damage *inside* a complete file is left to the decoders: libpng refuses
  CRC errors, libjpeg decodes corrupt JPEG data with a warning on stderr (as
  viewers do), and whatever they refuse becomes "damaged; save it again".
* Colour profiles (ICC) are ignored, as OpenCV does.

The way back is here too: :func:`encode_jpeg`, how facecam writes every JPEG it keeps (enrolled
webcam photos, unknown faces' crops, sighting snapshots).

Nothing here imports TensorFlow or Qt; all functions are pure (no global state).
"""

from __future__ import annotations

import errno
import os
import re
import stat
import struct
from dataclasses import dataclass
from typing import Union

import cv2
import numpy as np

from facecam.errors import ImageError
from facecam.sealed import unseal

PathLike = Union[str, "os.PathLike[str]"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

# --- Size limits: every limit facecam applies to a photo is here. ---------------

#: Smallest width or height accepted (pixels). The face detector (MTCNN) finds
#: faces of 20 pixels and more, so a smaller image cannot contain one.
MIN_SIDE = 20

#: Longest side of a returned image (pixels). Larger photos are scaled down
#: (aspect ratio kept): faces in a 4096-pixel photo are already far above what
#: detection needs, and it bounds the memory and time spent on one photo.
#: JPEGs are decoded directly at 1/2, 1/4 or 1/8 size, the smallest reduction
#: that is at most this long, so their longest side usually ends between
#: ``MAX_SIDE / 2`` and ``MAX_SIDE`` (a reduction never takes the short side
#: below :data:`MIN_SIDE`; what is still too long is then resized); other
#: formats are resized to exactly this.
MAX_SIDE = 4096

#: Largest image (width x height) that is decoded with a full-size buffer:
#: every PNG, BMP and WebP (OpenCV decodes them in full, then resizes), and
#: progressive JPEGs (libjpeg keeps all their coefficients; they can still be
#: decoded reduced) and lossless ones (no reduced decoding). 50 megapixels is
#: about 150 MB as 8-bit BGR, 400 MB as 16-bit RGBA, the worst case; larger
#: ones are refused before decoding.
MAX_PIXELS = 50_000_000

#: Largest baseline (sequential) JPEG, in pixels. These decode at 1/8 size in
#: small memory; the limit is OpenCV's own (``CV_IO_MAX_IMAGE_PIXELS``, 2**30).
MAX_JPEG_PIXELS = 1 << 30

#: Largest file read (bytes). A 50-megapixel BMP is 150 MB; larger files are
#: refused before reading them into memory.
MAX_FILE_BYTES = 256 * 1024 * 1024

_FORMATS = "JPEG, PNG, BMP or WebP"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SIGNATURE = b"\xff\xd8\xff"
_BMP_HEADER_SIZES = (12, 16, 40, 52, 56, 64, 108, 124)
# A marker outside entropy-coded data: 0xFF then anything but stuffing (00),
# a restart marker (D0-D7) or a fill byte (FF).
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
# SOFn markers: C0-CF except DHT (C4), JPG (C8) and DAC (CC).
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Sequential (non-progressive, lossy) JPEG: libjpeg decodes it row by row.
_SEQUENTIAL_SOF = frozenset({0xC0, 0xC1, 0xC9})
# Lossless JPEG: libjpeg cannot decode it at reduced size.
_LOSSLESS_SOF = frozenset({0xC3, 0xC7, 0xCB, 0xCF})
_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8)})


@dataclass(frozen=True)
class _Header:
    format: str  # "JPEG", "PNG", "WebP" or "BMP"
    width: int  # as stored, before EXIF orientation
    height: int
    orientation: int = 1  # EXIF orientation 1..8
    coding: str = ""  # JPEG only: "sequential", "progressive" or "lossless"


@dataclass(frozen=True)
class _Plan:
    reduce: int  # 1, 2, 4 or 8: JPEG DCT scaling
    decoded: tuple[int, int]  # (width, height) that cv2.imdecode returns
    final: tuple[int, int]  # (width, height) before orientation


# --- Public API ------------------------------------------------------------------


def is_image_name(name: PathLike) -> bool:
    """True if ``name``'s file name ends in one of :data:`IMAGE_EXTENSIONS` (any case).

    Hidden files are not images: ``.DS_Store``, and macOS's ``._photo.jpg``
    resource forks, start with a dot.
    """
    base = os.path.basename(os.fsdecode(os.fspath(name)).rstrip("/\\"))
    base = base.rsplit("\\", 1)[-1]
    if not base or base.startswith("."):
        return False
    return base.lower().endswith(IMAGE_EXTENSIONS)


def read_image(path: PathLike) -> np.ndarray:
    """The photo at ``path`` as an upright 8-bit BGR ``(H, W, 3) uint8`` array.

    The file's bytes are read with ``open`` and decoded by content, see
    :func:`read_image_bytes`. Raises :class:`ImageError` (one line naming the
    file and the reason) for anything that is not a readable photo: missing,
    folder, link loop, empty, too large, truncated, damaged, not an image.
    """
    name = _display(path)
    _checked_stat(path, name)
    return read_image_bytes(_read(path, name, MAX_FILE_BYTES + 1), name)


def check_photo(path: PathLike) -> None:
    """A quick look before any model loads: ``path`` is a regular file of a readable size whose first bytes are
    those of a JPEG, PNG, WebP or BMP photo. Raises the :class:`ImageError` :func:`read_image` would (a text
    file named ``.jpg``, a folder, an empty file...); the whole photo is read and checked when it is used."""
    name = _display(path)
    _checked_stat(path, name)
    head = _read(path, name, 16)
    if head.startswith((_JPEG_SIGNATURE, _PNG_SIGNATURE, b"BM")) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return
    _parse_header(head, name)  # raises what it is instead
    raise ImageError(f"{name}: is not a {_FORMATS} image; save it as JPEG or PNG and try again")


def read_image_bytes(data: bytes, name: str) -> np.ndarray:
    """The encoded photo ``data`` as an upright 8-bit BGR ``(H, W, 3) uint8`` array.

    ``name`` is only used in error messages (a file name, or e.g. "camera
    frame"). The result is C-contiguous and writable, each side at least
    :data:`MIN_SIDE` and the longest at most :data:`MAX_SIDE`. Any problem
    with the data raises :class:`ImageError`; only a ``data`` that is not
    bytes-like raises ``TypeError``.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"read_image_bytes: expected bytes, got {type(data).__name__}")
    name = _display(name)
    data = unseal(bytes(data), name)   # a learned crop kept encrypted (FACECAM_KEY): KeyProblem, an ImageError
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"{name}: is {_mb(len(data))}, more than facecam reads "
                         f"({_mb(MAX_FILE_BYTES)}); save the photo smaller")
    header = _parse_header(data, name)
    plan = _plan(header, name)
    image = _decode(data, name, header, plan)
    return np.ascontiguousarray(_upright(image, header.orientation))


def encode_jpeg(bgr_image: np.ndarray, quality: int = 95) -> bytes:
    """``bgr_image`` encoded as JPEG at ``quality`` (1-100): how facecam writes every photo, crop and
    snapshot it keeps. ImageError if OpenCV cannot encode it."""
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(bgr_image), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ImageError("cannot encode the image as JPEG")
    return data.tobytes()


# --- Reading files -----------------------------------------------------------------


def _checked_stat(path: PathLike, name: str) -> os.stat_result:
    """``os.stat(path)`` for a regular file of acceptable size, else ImageError.

    Checked before ``open`` so that a FIFO or device named ``x.jpg`` is never
    opened (opening a FIFO blocks; reading ``/dev/zero`` never ends).
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if _is_link(path):
            raise ImageError(f"{name}: is a symbolic link to a missing file; "
                             "delete the link or point it at a photo") from None
        raise ImageError(f"{name}: file not found; check the folder and file name") from None
    except OSError as error:
        raise _os_error(name, error) from None
    except ValueError:  # embedded NUL character
        raise ImageError(f"{name}: is not a valid file name (it contains a NUL character); "
                         "rename the file") from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageError(f"{name}: is a folder, not a photo file; give the path of a photo inside it")
    if not stat.S_ISREG(info.st_mode):
        raise ImageError(f"{name}: is not a regular file (a device, pipe or socket); "
                         "use a JPEG, PNG, BMP or WebP photo")
    if info.st_size > MAX_FILE_BYTES:
        raise ImageError(f"{name}: is {_mb(info.st_size)}, more than facecam reads "
                         f"({_mb(MAX_FILE_BYTES)}); save the photo smaller")
    if info.st_size == 0:
        raise ImageError(f"{name}: is empty (0 bytes); copy the photo again")
    return info


def _read(path: PathLike, name: str, limit: int) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read(limit)
    except IsADirectoryError:
        raise ImageError(f"{name}: is a folder, not a photo file; give the path of a photo inside it") from None
    except OSError as error:
        raise _os_error(name, error) from None


def _os_error(name: str, error: OSError) -> ImageError:
    if error.errno == errno.ELOOP or getattr(error, "winerror", None) == 1921:
        return ImageError(f"{name}: is a symbolic link that leads back to itself (a link loop); "
                          "delete the link or point it at a photo")
    if isinstance(error, PermissionError):
        return ImageError(f"{name}: permission denied; make the file readable for your user")
    if isinstance(error, FileNotFoundError):
        return ImageError(f"{name}: file not found; check the folder and file name")
    reason = error.strerror or type(error).__name__
    return ImageError(f"{name}: could not be read ({reason}); check the disk and try again")


def _is_link(path: PathLike) -> bool:
    try:
        return os.path.islink(path)
    except (OSError, ValueError):
        return False


# --- Headers --------------------------------------------------------------------------


def _parse_header(data: bytes, name: str) -> _Header:
    """Size, orientation and coding of the whole file ``data``, checking that it is complete."""
    if not data:
        raise ImageError(f"{name}: is empty (0 bytes); copy the photo again")
    if data.startswith(_JPEG_SIGNATURE):
        return _parse_jpeg(data, name)
    if data.startswith(_PNG_SIGNATURE):
        return _parse_png(data, name)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _parse_webp(data, name)
    if data[:2] == b"BM" and len(data) >= 18 and _u32le(data, 14) in _BMP_HEADER_SIZES:
        return _parse_bmp(data, name)
    if len(data) < 12:
        for signature, kind in ((_JPEG_SIGNATURE, "JPEG"), (_PNG_SIGNATURE, "PNG"),
                                (b"RIFF", "WebP"), (b"BM", "BMP")):
            if signature.startswith(data) or data.startswith(signature):
                raise _truncated(name, kind)
    kind = _other_kind(data)
    if kind is not None:
        raise ImageError(f"{name}: is {kind}, not a {_FORMATS} photo; "
                         "save it as JPEG or PNG and try again")
    raise ImageError(f"{name}: is not a {_FORMATS} image (its content is not a picture "
                     "facecam can read); save it as JPEG or PNG and try again")


def _other_kind(data: bytes) -> str | None:
    """A human name for a non-supported file type recognised by its first bytes."""
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "a GIF image"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "a TIFF or camera RAW image"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"):
            return "a HEIC image"
        if brand in (b"avif", b"avis"):
            return "an AVIF image"
        if brand == b"crx ":
            return "a camera RAW image"
        return "a video"
    if data[:12] in (b"\x00\x00\x00\x0cjP  \r\n\x87\n",) or data[:4] == b"\xff\x4f\xff\x51":
        return "a JPEG 2000 image"
    if data[:2] == b"\xff\x0a" or data[:12] == b"\x00\x00\x00\x0cJXL \r\n\x87\n":
        return "a JPEG XL image"
    if data[:4] == b"8BPS":
        return "a Photoshop document"
    if data[:5] == b"%PDF-":
        return "a PDF document"
    if data[:4] == b"PK\x03\x04":
        return "a ZIP archive"
    if data[:2] == b"\xff\xd8":
        return "a damaged JPEG (no marker after its start)"
    if _looks_like_text(data[:1024]):
        return "a text file"
    return None


def _looks_like_text(sample: bytes) -> bool:
    if not sample or any(byte < 0x20 and byte not in b"\t\n\r\f" for byte in sample):
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start >= len(sample) - 3  # a character cut at the sample's end
    return True


def _need(data: bytes, end: int, name: str, kind: str) -> None:
    if end > len(data):
        raise _truncated(name, kind)


def _truncated(name: str, kind: str, where: str = "") -> ImageError:
    return ImageError(f"{name}: the {kind} file is truncated{where}; "
                      "copy the photo again from where it came from")


def _damaged(name: str, kind: str, why: str) -> ImageError:
    return ImageError(f"{name}: the {kind} file is damaged ({why}); "
                      "open it in an image viewer and save it again")


def _parse_jpeg(data: bytes, name: str) -> _Header:
    pos = 2
    size = None
    coding = ""
    orientation = None
    while True:
        match = _JPEG_MARKER.search(data, pos)  # bytes between markers are skipped, as libjpeg does
        if match is None:
            raise _truncated(name, "JPEG", " (it ends before its image data)")
        marker = data[match.end() - 1]
        pos = match.end()
        if marker in _STANDALONE_MARKERS:
            continue
        if marker in (0xD8, 0xD9):
            raise _damaged(name, "JPEG", "it has no image data")
        _need(data, pos + 2, name, "JPEG")
        length = _u16be(data, pos)
        if length < 2:
            raise _damaged(name, "JPEG", "a marker segment has a bad length")
        if marker == 0xDA:  # start of scan: the header is over
            if size is None:
                raise _damaged(name, "JPEG", "its image data comes before its size")
            _need(data, pos + length, name, "JPEG")
            pos += length
            break
        _need(data, pos + length, name, "JPEG")
        if marker in _SOF_MARKERS and size is None:
            if length < 8:
                raise _damaged(name, "JPEG", "its size header is too short")
            height, width = _u16be(data, pos + 3), _u16be(data, pos + 5)
            if width == 0:
                raise _damaged(name, "JPEG", "its width is 0")
            if height == 0:
                raise ImageError(f"{name}: the JPEG gives its height after the image data "
                                 "(a DNL marker), which facecam cannot read; save it again as JPEG")
            size = (width, height)
            coding = ("sequential" if marker in _SEQUENTIAL_SOF else
                      "lossless" if marker in _LOSSLESS_SOF else "progressive")
        elif marker == 0xE1 and orientation is None and data[pos + 2:pos + 8] == b"Exif\x00\x00":
            orientation = _exif_orientation(data[pos + 8:pos + length])
        pos += length
    _check_jpeg_end(data, pos, name)
    return _Header("JPEG", size[0], size[1], orientation or 1, coding)


def _check_jpeg_end(data: bytes, pos: int, name: str) -> None:
    """Walk the scans after the first SOS until EOI; refuse if the file ends first."""
    while True:
        match = _JPEG_MARKER.search(data, pos)
        if match is None:
            raise _truncated(name, "JPEG", " (it ends before its end-of-image marker)")
        marker = data[match.end() - 1]
        pos = match.end()
        if marker == 0xD9:
            return
        if marker in _STANDALONE_MARKERS or marker == 0xD8:
            continue
        if pos + 2 > len(data):
            raise _truncated(name, "JPEG", " (it ends before its end-of-image marker)")
        pos += _u16be(data, pos)  # DHT, SOS, DRI... between progressive scans


def _parse_png(data: bytes, name: str) -> _Header:
    pos = 8
    _need(data, pos + 8 + 13, name, "PNG")
    length, kind = struct.unpack_from(">I4s", data, pos)
    if kind != b"IHDR" or length < 13:
        raise _damaged(name, "PNG", "it does not start with its IHDR header")
    width, height = struct.unpack_from(">II", data, pos + 8)
    if width == 0 or height == 0 or width > 0x7FFFFFFF or height > 0x7FFFFFFF:
        raise _damaged(name, "PNG", f"its size {width}x{height} is invalid")
    orientation = 1
    seen_image_data = False
    while True:
        _need(data, pos + 8, name, "PNG")
        length, kind = struct.unpack_from(">I4s", data, pos)
        if length > 0x7FFFFFFF:
            raise _damaged(name, "PNG", "a chunk has a bad length")
        end = pos + 12 + length
        if kind == b"IDAT":
            seen_image_data = True
        elif kind == b"IEND":
            if not seen_image_data:
                raise _damaged(name, "PNG", "it has no image data")
            break
        elif kind == b"eXIf" and not seen_image_data:
            _need(data, end, name, "PNG")
            orientation = _exif_orientation(data[pos + 8:pos + 8 + length])
        if end > len(data):
            raise _truncated(name, "PNG", " (it ends before its IEND chunk)")
        pos = end
    return _Header("PNG", width, height, orientation)


def _parse_webp(data: bytes, name: str) -> _Header:
    file_end = 8 + _u32le(data, 4)
    if len(data) < file_end:
        raise _truncated(name, "WebP", f" (it has {len(data)} of its {file_end} bytes)")
    pos = 12
    size = None
    orientation = 1
    while pos + 8 <= file_end:
        _need(data, pos + 8, name, "WebP")
        kind, length = data[pos:pos + 4], _u32le(data, pos + 4)
        body = pos + 8
        if kind == b"VP8X":
            _need(data, body + 10, name, "WebP")
            size = (1 + int.from_bytes(data[body + 4:body + 7], "little"),
                    1 + int.from_bytes(data[body + 7:body + 10], "little"))
        elif kind == b"VP8 " and size is None:
            _need(data, body + 10, name, "WebP")
            if data[body + 3:body + 6] != b"\x9d\x01\x2a":
                raise _damaged(name, "WebP", "its VP8 image header is invalid")
            size = (_u16le(data, body + 6) & 0x3FFF, _u16le(data, body + 8) & 0x3FFF)
        elif kind == b"VP8L" and size is None:
            _need(data, body + 5, name, "WebP")
            if data[body] != 0x2F:
                raise _damaged(name, "WebP", "its lossless image header is invalid")
            bits = _u32le(data, body + 1)
            size = ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        elif kind == b"EXIF":
            _need(data, body + length, name, "WebP")
            exif = data[body:body + length]
            orientation = _exif_orientation(exif[6:] if exif.startswith(b"Exif\x00\x00") else exif)
        if body + length > len(data):
            raise _truncated(name, "WebP", f" (it has {len(data)} of its {body + length} bytes)")
        pos = body + length + (length & 1)
    if size is None:
        raise _damaged(name, "WebP", "it has no image")
    if size[0] == 0 or size[1] == 0:
        raise _damaged(name, "WebP", f"its size {size[0]}x{size[1]} is invalid")
    return _Header("WebP", size[0], size[1], orientation)


def _parse_bmp(data: bytes, name: str) -> _Header:
    header_size = _u32le(data, 14)
    if header_size == 12:
        _need(data, 26, name, "BMP")
        width, height = _u16le(data, 18), _u16le(data, 20)
        bits, compression = _u16le(data, 24), 0
    else:
        _need(data, 34, name, "BMP")
        width, height = struct.unpack_from("<ii", data, 18)
        bits, compression = _u16le(data, 28), _u32le(data, 30)
        height = abs(height)  # negative: rows stored top-down
    if width <= 0 or height <= 0:
        raise _damaged(name, "BMP", f"its size {width}x{height} is invalid")
    if compression in (0, 3, 6) and bits in (1, 4, 8, 16, 24, 32):
        row_bytes = (width * bits + 31) // 32 * 4
        needed = _u32le(data, 10) + row_bytes * height
        if len(data) < needed:
            raise _truncated(name, "BMP", f" (it has {len(data)} of its {needed} bytes)")
    return _Header("BMP", width, height)


def _exif_orientation(tiff: bytes) -> int:
    """The Orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF block; 1 if absent or unreadable.

    A damaged EXIF block does not make the photo unreadable: viewers ignore it too.
    """
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return 1
    order = "<" if tiff[:2] == b"II" else ">"
    if struct.unpack_from(order + "H", tiff, 2)[0] != 42:
        return 1
    ifd = struct.unpack_from(order + "I", tiff, 4)[0]
    if ifd + 2 > len(tiff):
        return 1
    count = struct.unpack_from(order + "H", tiff, ifd)[0]
    for index in range(min(count, (len(tiff) - ifd - 2) // 12)):
        entry = ifd + 2 + 12 * index
        tag, kind, number = struct.unpack_from(order + "HHI", tiff, entry)
        if tag != 0x0112:
            continue
        if kind == 3 and number >= 1:  # SHORT
            value = struct.unpack_from(order + "H", tiff, entry + 8)[0]
        elif kind == 4 and number >= 1:  # LONG, written by a few tools
            value = struct.unpack_from(order + "I", tiff, entry + 8)[0]
        else:
            return 1
        return value if 1 <= value <= 8 else 1
    return 1


# --- Decoding ---------------------------------------------------------------------------


def _plan(header: _Header, name: str) -> _Plan:
    """Check the header's size against the limits and choose the decode and output sizes."""
    width, height = header.width, header.height
    if min(width, height) < MIN_SIDE:
        raise ImageError(f"{name}: is {width}x{height} pixels, too small to hold a face "
                         f"(at least {MIN_SIDE}x{MIN_SIDE} needed); use a larger photo")
    pixels = width * height
    megapixels = f"{width}x{height} pixels ({pixels / 1e6:.0f} megapixels)"
    if header.coding == "sequential":
        if pixels > MAX_JPEG_PIXELS:
            raise ImageError(f"{name}: is {megapixels}, more than facecam reads from a JPEG "
                             f"({MAX_JPEG_PIXELS / 1e6:.0f} megapixels); save it smaller")
    elif pixels > MAX_PIXELS:
        what = f"a {header.coding} JPEG" if header.format == "JPEG" else f"a {header.format}"
        fix = "as a standard (baseline) JPEG" if header.format == "JPEG" else "as JPEG"
        raise ImageError(f"{name}: is {megapixels}, more than facecam decodes from {what} "
                         f"({MAX_PIXELS / 1e6:.0f} megapixels); resize it or save it {fix}")
    reduce = 1
    if header.coding in ("sequential", "progressive"):
        # Halve while the longest side is above MAX_SIDE, but never below MIN_SIDE.
        while (reduce < 8 and -(-max(width, height) // reduce) > MAX_SIDE
               and -(-min(width, height) // (2 * reduce)) >= MIN_SIDE):
            reduce *= 2
    decoded = (-(-width // reduce), -(-height // reduce))
    final = decoded
    longest = max(decoded)
    if longest > MAX_SIDE:
        scale = MAX_SIDE / longest
        final = (max(1, min(MAX_SIDE, round(decoded[0] * scale))),
                 max(1, min(MAX_SIDE, round(decoded[1] * scale))))
    if min(final) < MIN_SIDE:
        raise ImageError(f"{name}: is {width}x{height} pixels, too long and narrow to find a "
                         f"face in once scaled to {MAX_SIDE} pixels; crop it to the face")
    return _Plan(reduce, decoded, final)


def _decode(data: bytes, name: str, header: _Header, plan: _Plan) -> np.ndarray:
    if header.format == "JPEG":
        flags = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2,
                 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}[plan.reduce]
        flags |= cv2.IMREAD_IGNORE_ORIENTATION
    else:
        flags = cv2.IMREAD_UNCHANGED  # keeps 16 bits and alpha; never applies EXIF orientation
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error as error:
        if "memory" not in str(error).lower() and "allocate" not in str(error).lower():
            raise _damaged(name, header.format, "its image data cannot be decoded") from None
        raise _no_memory(name) from None
    except MemoryError:
        raise _no_memory(name) from None
    if image is None or image.size == 0 or image.ndim not in (2, 3):
        raise _damaged(name, header.format, "its image data cannot be decoded")
    if image.shape[0] * image.shape[1] > max(MAX_PIXELS, plan.decoded[0] * plan.decoded[1]):
        raise _damaged(name, header.format, "it decodes to a different size than its header says")
    if (image.shape[1], image.shape[0]) != plan.final:
        image = cv2.resize(image, plan.final, interpolation=cv2.INTER_AREA)
    return _to_bgr8(image, name, header.format)


def _to_bgr8(image: np.ndarray, name: str, kind: str) -> np.ndarray:
    """Any decoded 8/16-bit grey, grey+alpha, BGR or BGRA array as 8-bit BGR."""
    if image.dtype == np.uint16:
        image = cv2.convertScaleAbs(image, alpha=1.0 / 257.0)  # round(v * 255 / 65535)
    elif image.dtype != np.uint8:
        raise _damaged(name, kind, f"its samples are {image.dtype}, not 8 or 16 bit")
    channels = 1 if image.ndim == 2 else image.shape[2]
    if channels == 1:
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    if channels == 2:
        image = np.dstack([image[:, :, 0]] * 3 + [image[:, :, 1]])
        channels = 4
    if channels == 3:
        return image
    if channels == 4:
        return _over_white(image)
    raise _damaged(name, kind, f"it has {channels} colour channels")


def _over_white(bgra: np.ndarray) -> np.ndarray:
    """BGRA composited over a white background, exactly rounded: ``c*a/255 + 255*(1-a/255)``."""
    alpha = bgra[:, :, 3:4].astype(np.uint16)
    darkness = (255 - bgra[:, :, :3]).astype(np.uint16) * alpha  # at most 255*255: fits
    return (255 - (darkness + 127) // 255).astype(np.uint8)


def _no_memory(name: str) -> ImageError:
    return ImageError(f"{name}: there is not enough memory to decode it; "
                      "close other programs or resize the photo")


def _upright(image: np.ndarray, orientation: int) -> np.ndarray:
    """The stored image turned as EXIF ``orientation`` says, so that it shows upright."""
    if orientation == 2:
        return cv2.flip(image, 1)
    if orientation == 3:
        return cv2.rotate(image, cv2.ROTATE_180)
    if orientation == 4:
        return cv2.flip(image, 0)
    if orientation == 5:
        return cv2.transpose(image)
    if orientation == 6:
        return cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    if orientation == 7:
        return cv2.rotate(cv2.transpose(image), cv2.ROTATE_180)
    if orientation == 8:
        return cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return image


# --- Small helpers ---------------------------------------------------------------------------


def _display(name: PathLike | bytes) -> str:
    """``name`` as one printable line: control characters and undecodable bytes escaped."""
    try:
        text = os.fsdecode(os.fspath(name))
    except TypeError:
        text = str(name)
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char.isprintable():
            out.append(char)
        elif 0xDC80 <= ord(char) <= 0xDCFF:  # a byte that was not valid in the file system's encoding
            out.append(f"\\x{ord(char) - 0xDC00:02x}")
        else:
            out.append(char.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB"


def _u16be(data: bytes, pos: int) -> int:
    return (data[pos] << 8) | data[pos + 1]


def _u16le(data: bytes, pos: int) -> int:
    return data[pos] | (data[pos + 1] << 8)


def _u32le(data: bytes, pos: int) -> int:
    return struct.unpack_from("<I", data, pos)[0]


__all__ = [
    "IMAGE_EXTENSIONS", "MAX_FILE_BYTES", "MAX_JPEG_PIXELS", "MAX_PIXELS", "MAX_SIDE", "MIN_SIDE",
    "check_photo", "encode_jpeg", "is_image_name", "read_image", "read_image_bytes",
]
