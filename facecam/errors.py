"""facecam's exceptions: one line that says what went wrong and what to do.

Every error the user can meet is a :class:`FacecamError`; the command line prints
``str(error)`` on one line (or the error's ``cli`` text, where the window's action differs) and exits 1,
the window shows it in a dialog.
"""

from __future__ import annotations


class FacecamError(Exception):
    """Base of every error facecam reports to a person (message: what happened, what to do)."""


class ImageError(FacecamError):
    """A photo could not be read (missing, not an image, too large, truncated)."""


class ModelError(FacecamError):
    """A model file is missing, damaged, of the wrong layout, or could not be downloaded."""


class DownloadError(ModelError):
    """A model download failed (network, HTTP status, checksum)."""


class IndistinctModelError(ModelError):
    """The model file loads, but gives every face nearly the same embedding: it cannot tell anyone apart,
    so nobody may be named with it (raised when a gallery is indexed)."""


class GalleryError(FacecamError):
    """The known_faces folder or its cache cannot be used."""


class EnrollError(GalleryError):
    """A person or photo could not be enrolled (bad name, no face, disk full)."""


class CameraError(FacecamError):
    """A video source could not be opened or stopped delivering frames.

    ``str(error)`` names the window's action (its Retry button); where the command line has another action
    (``watch`` has no button), ``cli`` is the same message with it, which the command line prints instead."""

    def __init__(self, message: str, cli: str | None = None):
        super().__init__(message)
        self.cli = cli or message
