"""Wiring for a live source (``watch`` and the window): recorder -> log writer + notifier.

::

    add_live_options(parser)                          # --source-name --notify-on, each sink's option ...
    live = LiveSightings.from_args(args, source_name=source.name)   # sources.VideoSource.name: never a password
    session.subscribe(live.on_visit, live.close)      # facecam.live_session.LiveSession's visits
    ...
    session.close()                                   # visits end, the log and the queues are flushed
    summary["sightings"] = live.summary()

The log is written by its own thread (:class:`SightingWriter`), so neither disk nor
network ever runs in the recognition thread.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable, Mapping

from facecam import config
from facecam.blur import blur_enabled
from facecam.errors import FacecamError
from facecam.sightings.model import Sighting
from facecam.sightings.notify import DEFAULT_COOLDOWN_S, Notifier, NotifyRule
from facecam.sightings.recorder import SightingRecorder
from facecam.db import db_url
from facecam.sightings.store import DEFAULT_RETENTION_DAYS, SightingStore
from facecam.sinks import add_sink_options, build_sinks, check_urls, urls_from_args
from facecam.source_names import redact_url
from facecam.stores import open_sighting_store

log = logging.getLogger(__name__)


class SightingWriter:
    """Saves sightings to a store from its own thread; a bounded queue (``max_queue``) that keeps
    only the newest version of each visit, so a slow disk costs memory for visits, not for updates.
    ``on_saved(sighting)`` is called on the writer's thread after each save (the window's History refreshes)."""

    def __init__(self, store: SightingStore, max_queue: int = 10_000,
                 on_saved: Callable[[Sighting], None] | None = None):
        self.store, self.max_queue, self.on_saved = store, int(max_queue), on_saved
        self.saved = self.dropped = 0  # writes (a visit is written as it starts, changes and ends), visits lost
        self.visits: set[str] = set()  # the ids of the visits written
        self.errors: list[str] = []
        self._pending: dict[str, Sighting] = {}
        self._order: deque[str] = deque()
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="facecam-sightings-log", daemon=True)
        self._thread.start()

    def __call__(self, sighting: Sighting, _stage: str = "") -> None:
        """A recorder listener: queue the newest version of the visit (never blocks)."""
        with self._cond:
            if sighting.id not in self._pending:
                if len(self._order) >= self.max_queue:
                    self._pending.pop(self._order.popleft(), None)
                    self.dropped += 1
                self._order.append(sighting.id)
            self._pending[sighting.id] = sighting
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._order and not self._stop:
                    self._cond.wait()
                if not self._order:
                    return
                sighting = self._pending.pop(self._order.popleft())
            self._save(sighting)

    def _save(self, sighting: Sighting, attempts: int = 5) -> None:
        """Save, retrying a failure (a log locked by another program, a full disk) a few times, 1 s apart."""
        for attempt in range(attempts):
            try:
                self.store.save(sighting)
                self.saved += 1
                self.visits.add(sighting.id)
            except Exception as error:  # noqa: BLE001 - reported once at the end, the video goes on
                if attempt == attempts - 1:
                    self.errors.append(f"{type(error).__name__}: {error}")
                else:
                    time.sleep(1.0)
                continue
            if self.on_saved is not None:
                try:
                    self.on_saved(sighting)
                except Exception as error:  # noqa: BLE001 - a listener's fault is not a lost sighting
                    self.errors.append(f"{type(error).__name__}: {error}")
            return

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (up to ``timeout``), then stop."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout)


def add_live_options(parser: argparse.ArgumentParser, several_sources: bool = False) -> None:
    """The sightings and notification options of a live command (``watch``; ``several_sources``: one
    ``--source-name`` per ``--source``, a list)."""
    group = parser.add_argument_group("sightings and notifications")
    group.add_argument("--source-name", metavar="NAME", **({"action": "append"} if several_sources else {}),
                       help="name of this camera in the logs, events and the window (default: \"camera 0\", the "
                            "file's name, or the stream's address without user, password and secret parameters)"
                            + ("; once per --source, in the same order" if several_sources else ""))
    group.add_argument("--no-sightings", action="store_true",
                       help="do not log visits in known_faces/.facecam/sightings.sqlite")
    group.add_argument("--keep-days", type=float, metavar="DAYS",
                       help=f"delete logged visits older than this (default: the setting sightings_keep_days, "
                            f"else {DEFAULT_RETENTION_DAYS:g})")
    add_sink_options(group)   # --notify, --mqtt, --homeassistant...: the registry of event sinks
    group.add_argument("--notify-on", action="append", metavar="WHO",
                       help="known, unknown, or people's names, comma-separated (default: every arrival)")
    group.add_argument("--cooldown", type=float, default=DEFAULT_COOLDOWN_S, metavar="S",
                       help=f"at most one event per person per S seconds (default {DEFAULT_COOLDOWN_S:g})")


def build_notifier(urls: Mapping[str, tuple[str, ...]], notify_on: list[str] | tuple[str, ...] | None,
                   cooldown_s: float = DEFAULT_COOLDOWN_S) -> Notifier | None:
    """The notifier of each registered sink's URLs (``{"webhooks": (...), "mqtt": (...), ...}``: see
    :func:`facecam.sinks.urls_from_args`), ``--notify-on`` and ``--cooldown`` (the window's notification
    settings too); None when there is nowhere to send. Raises FacecamError on a bad value."""
    rule = check_notify(urls, notify_on, cooldown_s)
    sinks = build_sinks(urls)
    return Notifier(sinks, rule, cooldown_s=cooldown_s) if sinks else None


def check_notify(urls: Mapping[str, tuple[str, ...]], notify_on: list[str] | tuple[str, ...] | None,
                 cooldown_s: float = DEFAULT_COOLDOWN_S) -> NotifyRule:
    """:func:`build_notifier`'s checks, nothing started or connected: every URL a sink takes, ``--notify-on``,
    ``--cooldown`` (``watch`` checks them before a model loads or the source opens); FacecamError (one line)."""
    try:
        rule = NotifyRule.parse(list(notify_on) if notify_on else None)
    except ValueError as error:
        raise FacecamError(str(error)) from None
    if cooldown_s < 0:
        raise FacecamError("--cooldown: expected 0 or more seconds")
    check_urls(urls)
    return rule


def keep_days(override: float | None = None, settings: dict | None = None) -> float:
    """Retention of the sightings log: ``--keep-days``, else the setting ``sightings_keep_days``, else 90
    (:func:`facecam.config.retention_days`)."""
    return config.retention_days("visits", override, settings)


class LiveSightings:
    """The recorder of one live source and what it feeds: the log writer and the notifier (``watch`` and the
    window alike). Subscribe :meth:`on_visit` to the live session's visits; ``on_saved(sighting)`` is called
    on the writer's thread after each save (the window's History refreshes)."""

    def __init__(self, recorder: SightingRecorder, store: SightingStore | None = None,
                 notifier: Notifier | None = None, on_saved: Callable[[Sighting], None] | None = None):
        self.recorder, self.store, self.notifier = recorder, store, notifier
        self.writer = SightingWriter(store, on_saved=on_saved) if store is not None else None
        self.forgotten: set[str] = set()   # people forgotten while running: their open visits are not logged
        if self.writer is not None:
            recorder.listeners.append(self._write)
        recorder.listeners.append(self._notify)

    @classmethod
    def from_args(cls, args, source_name: str, on_saved: Callable[[Sighting], None] | None = None
                  ) -> "LiveSightings":
        """Built from :func:`add_live_options`' options (and ``--known-faces``); ``source_name`` is the source's
        display name (``--source-name`` or what :func:`facecam.sources.display_name` makes of the source). One
        recorder follows the visits of several sources alike: each visit carries its source's name."""
        notifier = build_notifier(urls_from_args(args), args.notify_on, args.cooldown)
        store = None if args.no_sightings else open_sighting_store(
            Path(args.known_faces), retention_days=keep_days(args.keep_days), db_url=db_url(getattr(args, "db", None)),
            connect_later=True)  # a database down at start is connected when it answers (visits wait locally)
        recorder = SightingRecorder(redact_url(str(source_name)),  # VideoSource.name: never a password
                                    blur_strangers=blur_enabled(getattr(args, "blur_strangers", False)))
        return cls(recorder, store, notifier, on_saved)

    def on_visit(self, event) -> None:
        """A :class:`facecam.visits.VisitTracker` subscriber (the live session's visits)."""
        self.recorder.on_visit(event)

    def _write(self, sighting: Sighting, stage: str) -> None:
        if sighting.name is None or sighting.name not in self.forgotten:
            self.writer(sighting, stage)

    def forget(self, name: str, forgotten: bool = True) -> None:
        """``name`` was forgotten (``people forget``, the window's Forget...): a visit of theirs still open is not
        logged when it ends, and the sinks drop what they published about them; ``forgotten`` False: enrolled
        again, logged again."""
        if not forgotten:
            self.forgotten.discard(name)
            return
        self.forgotten.add(name)
        if self.notifier is not None:
            self.notifier.forget(name)

    def _notify(self, sighting: Sighting, stage: str) -> None:
        if sighting.name is not None and sighting.name in self.forgotten:
            return
        notifier = self.notifier
        if notifier is not None:
            notifier(sighting, stage)

    def set_notifier(self, notifier: Notifier | None) -> Notifier | None:
        """Notify with ``notifier`` from now on; returns the previous one (for the caller to close)."""
        old, self.notifier = self.notifier, notifier
        return old

    @property
    def listeners(self) -> list:
        """Pipeline listeners for a recorder on its own (without a live session's visits)."""
        return [self.recorder.on_round]

    def warnings(self) -> list[str]:
        found = list(self.store.warnings) if self.store is not None else []
        if self.writer is not None and self.writer.errors:
            found.append(f"{len(self.writer.errors)} sighting(s) could not be logged; first: {self.writer.errors[0]}")
        if self.recorder.errors:
            found.append(f"sightings: {len(self.recorder.errors)} error(s); first: {self.recorder.errors[0]}")
        return found

    def close(self, notify_timeout: float = 5.0) -> None:
        """End the open visits, write the log, give notifications up to ``notify_timeout`` s to go out."""
        self.recorder.close()
        if self.writer is not None:
            self.writer.close()
        if self.notifier is not None:
            self.notifier.close(notify_timeout)
        if self.store is not None:
            self.store.close()

    def summary(self) -> dict:
        out: dict = {"visits": len(self.writer.visits) if self.writer else 0,  # the visits in the log
                     "writes": self.writer.saved if self.writer else 0}    # the saves that wrote them
        if self.writer is not None and self.writer.dropped:
            out["not_logged"] = self.writer.dropped
        if self.store is not None and self.store.flushed:  # the shared database was away: logged locally, sent later
            out["sent_after_outage"] = self.store.flushed
        if self.notifier is not None:
            out["notifications"] = self.notifier.summary()
        return out
