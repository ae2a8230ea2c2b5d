"""Sightings: who came, when, and who was told.

A **sighting** is one track's visit, from the face's first frame to its track's end
(:class:`~facecam.sightings.model.Sighting`; the unknown-faces collector uses the same
unit). The live pipeline's tracks become sightings in
:class:`~facecam.sightings.recorder.SightingRecorder` (a pipeline listener), which hands
each one to the log (:mod:`facecam.sightings.store`, SQLite by default) and to the
notifications (:mod:`facecam.sightings.notify`: webhooks, MQTT).

Qt-free and TensorFlow-free; the window and ``watch`` wire it the same way
(:mod:`facecam.sightings.live`); the log is chosen by :func:`facecam.stores.open_stores`.
"""

from facecam.sightings.model import Sighting, SightingQuery, parse_since
from facecam.sightings.store import SightingLog, SightingStore

__all__ = ["Sighting", "SightingLog", "SightingQuery", "SightingStore", "parse_since"]
