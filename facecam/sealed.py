"""Snapshots and crops encrypted at rest (issue 22): AES-256-GCM with a key from ``FACECAM_KEY``.

::

    data = seal(jpeg)                     # encrypted when FACECAM_KEY is set, else the JPEG as it was
    jpeg = unseal(data, "the snapshot")   # the JPEG back; data that was never sealed passes through

With ``FACECAM_KEY`` set, every face image facecam keeps is written encrypted: the sightings log's snapshots
(``sightings.sqlite`` and a ``--db`` instance's local outbox), the unknown faces' crops
(``.facecam/unknowns/<model>/crops``) and the learned crops (``<person>/.learned/``). Every reader goes through
:func:`unseal` (the sightings store, the unknowns store, :func:`facecam.images.read_image_bytes` for the
gallery), so ``facecam sightings``, History, Who's this? and the gallery read them as before. Files written
before the key was set stay readable as they are; the setting ``"encrypt_snapshots": true`` makes a live
command refuse to start without a key (:func:`check_key`), so nothing is written in the clear by mistake.

The key: 32 random bytes in URL-safe base64 (``facecam`` prints nothing of it; make one with
``python -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())"``), or any passphrase,
stretched with scrypt. A sealed file is ``MAGIC``, 4 bytes naming the key (a hash of it: the wrong key is told
apart from damage without trying), a 12-byte random nonce, and the AES-GCM ciphertext with its tag: it does not
start like a JPEG and decodes as nothing without the key. A wrong or missing key is one line
(:class:`KeyProblem`, exit 1); a lost key cannot be recovered, and facecam never writes it anywhere.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from functools import lru_cache

from facecam.errors import ImageError

KEY_ENV = "FACECAM_KEY"
MAGIC = b"FCSEALv1"
_KEY_ID = 4
_NONCE = 12
_HEADER = len(MAGIC) + _KEY_ID + _NONCE
_SALT = b"facecam snapshots and crops, v1"   # a passphrase's scrypt salt (the key itself needs none)


class KeyProblem(ImageError):
    """A sealed snapshot or crop cannot be opened: no key, another key, or damaged."""


def is_sealed(data: bytes) -> bool:
    """True for data written by :func:`seal` (a JPEG starts otherwise)."""
    return bytes(data[:len(MAGIC)]) == MAGIC


def is_sealed_file(path) -> bool:
    """True when the file at ``path`` starts as sealed data (False when it cannot be read)."""
    try:
        with open(path, "rb") as file:
            return is_sealed(file.read(len(MAGIC)))
    except OSError:
        return False


def key_set() -> bool:
    """True when ``FACECAM_KEY`` holds a key (facecam then encrypts what it writes)."""
    return bool(os.environ.get(KEY_ENV, "").strip())


def check_key(settings: dict) -> None:
    """For a command that writes snapshots or crops: KeyProblem when the setting ``"encrypt_snapshots": true``
    asks for encryption and there is no key."""
    if settings.get("encrypt_snapshots") is True and not key_set():
        raise KeyProblem(f'the setting "encrypt_snapshots" is on but {KEY_ENV} is not set; set {KEY_ENV} to your '
                         "key (docs/privacy.md), or turn the setting off")


def seal(data: bytes) -> bytes:
    """``data`` encrypted with the key of ``FACECAM_KEY``, or ``data`` unchanged when no key is set (or empty)."""
    text = os.environ.get(KEY_ENV, "").strip()
    if not text or not data:
        return data
    key = _key(text)
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415 - only when a key is set

    nonce = os.urandom(_NONCE)
    return MAGIC + _key_id(key) + nonce + AESGCM(key).encrypt(nonce, bytes(data), MAGIC)


def unseal(data: bytes, what: str = "a snapshot") -> bytes:
    """The plain bytes of ``data`` (written by :func:`seal`); data that was never sealed is returned as it is.
    KeyProblem (one line, ``what: why``) when no key is set, the key is another, or the data is damaged."""
    if not is_sealed(data):
        return data
    text = os.environ.get(KEY_ENV, "").strip()
    if not text:
        raise KeyProblem(f"{what}: encrypted, and {KEY_ENV} is not set; set {KEY_ENV} to the key it was written "
                         "with (without that key it cannot be read)")
    key = _key(text)
    if bytes(data[len(MAGIC):len(MAGIC) + _KEY_ID]) != _key_id(key):
        raise KeyProblem(f"{what}: encrypted with another key than {KEY_ENV}; set {KEY_ENV} to the key it was "
                         "written with (a lost key cannot be recovered)")
    from cryptography.exceptions import InvalidTag  # noqa: PLC0415
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415

    try:
        return AESGCM(key).decrypt(bytes(data[len(MAGIC) + _KEY_ID:_HEADER]), bytes(data[_HEADER:]), MAGIC)
    except (InvalidTag, ValueError):
        raise KeyProblem(f"{what}: damaged (its encryption does not check out); it cannot be read") from None


@lru_cache(maxsize=4)
def _key(text: str) -> bytes:
    """The 32-byte key of ``FACECAM_KEY``: 32 bytes in URL-safe base64 as they are, any other text through scrypt."""
    try:
        raw = base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4))
        if len(raw) == 32:
            return raw
    except (binascii.Error, UnicodeEncodeError, ValueError):
        pass
    return hashlib.scrypt(text.encode("utf-8"), salt=_SALT, n=2 ** 14, r=8, p=1, dklen=32)


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"facecam key id\0" + key).digest()[:_KEY_ID]
