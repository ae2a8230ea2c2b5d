"""Notifications: tell the event sinks (webhooks, MQTT, Home Assistant: :mod:`facecam.sinks`) when someone
arrives, never slowing the video.

::

    notifier = Notifier([WebhookSink("https://example.org/hook"), MqttSink.from_url("mqtt://host/facecam")],
                        NotifyRule.parse(["known", "unknown"]), cooldown_s=60)
    recorder = SightingRecorder("door", listeners=[notifier])   # offers each arrival
    ...
    notifier.close(timeout=5)

* **Rules**: ``known``, ``unknown`` and/or people's names (default: every arrival), and
  a cooldown per person (default 60 s): one arrival is one event, not one per re-check
  or per broken track. An unknown face's cooldown is its cluster's when it has one (given
  at its arrival while unknown faces are collected: :mod:`facecam.unknowns.strangers`),
  else none (two strangers are two events).
* **Visits and forgetting**: the sinks that follow visits (``stages`` holds
  ``arrived``/``updated``/``ended``: Home Assistant's "who is in view") get every stage of
  every visit, past the rule and the cooldown; :meth:`Notifier.forget` tells the sinks
  that keep something about a person (retained topics, entities) to drop it.
* **Never blocking**: :meth:`Notifier.offer` only appends to each sink's bounded queue
  (``max_queue``, default 100); when a queue is full its oldest event is dropped and
  counted. Each sink sends from its own thread: a dead webhook does not hold back MQTT.
* **Retries**: a failed send is retried with exponential backoff (0.5 s, 1 s, 2 s...,
  at most ``max_backoff_s``) up to ``max_attempts`` times, then counted as failed; an
  HTTP 4xx answer (other than 408 and 429) is final at once. Events that waited are
  sent when the endpoint is back.
* Credentials (``user:pass@`` in a URL, the webhook's path and query, which often carry a
  token) never appear in messages or logs: sinks are described as ``scheme://host:port``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

from facecam.sightings.model import Sighting
from facecam.sinks.base import NOTIFY, VISIT_STAGES, DeliveryError, Event, Sink
from facecam.sinks.mqtt import MqttSink, MqttTarget, topic_name
from facecam.sinks.webhook import WebhookSink

__all__ = ["DEFAULT_COOLDOWN_S", "DEFAULT_MAX_QUEUE", "Delivery", "DeliveryError", "DeliveryStats", "Event",
           "MqttSink", "MqttTarget", "Notifier", "NotifyRule", "Sink", "WebhookSink", "topic_name"]

log = logging.getLogger(__name__)

DEFAULT_COOLDOWN_S = 60.0
DEFAULT_MAX_QUEUE = 100


# ---------------------------------------------------------------- rules

@dataclass(frozen=True)
class NotifyRule:
    """Which arrivals to tell: ``known`` people, ``unknown`` faces, and/or these ``names``."""

    known: bool = True
    unknown: bool = True
    names: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, items: list[str] | None) -> "NotifyRule":
        """From ``--notify-on`` values (each comma-separated): ``known``, ``unknown`` or names. None: everyone."""
        if not items:
            return cls()
        tokens = [token.strip() for item in items for token in item.split(",") if token.strip()]
        if not tokens:
            raise ValueError("--notify-on: expected known, unknown or people's names")
        lowered = {token.lower() for token in tokens}
        return cls(known="known" in lowered, unknown="unknown" in lowered,
                   names=frozenset(t for t in tokens if t.lower() not in ("known", "unknown")))

    def wants(self, sighting: Sighting) -> bool:
        if sighting.name is None:
            return self.unknown
        return self.known or sighting.name in self.names


# ---------------------------------------------------------------- delivery

@dataclass
class DeliveryStats:
    sent: int = 0
    failed: int = 0     # given up after retries, or refused
    dropped: int = 0    # pushed out of a full queue
    unsent: int = 0     # still waiting when the program closed
    retries: int = 0
    last_error: str = ""


class Delivery:
    """One sink's thread and bounded queue (see the module notes)."""

    def __init__(self, sink: Sink, *, max_queue: int = DEFAULT_MAX_QUEUE, max_attempts: int = 6,
                 backoff_s: float = 0.5, max_backoff_s: float = 30.0):
        if max_queue < 1 or max_attempts < 1:
            raise ValueError("max_queue and max_attempts: expected 1 or more")
        self.sink = sink
        self.max_queue, self.max_attempts = int(max_queue), int(max_attempts)
        self.backoff_s, self.max_backoff_s = float(backoff_s), float(max_backoff_s)
        self.stats = DeliveryStats()
        self._queue: deque[Event] = deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._busy = False
        self._failing = False
        self._last_failed = False
        self._thread = threading.Thread(target=self._run, name=f"facecam-notify {sink.describe()}", daemon=True)
        self._thread.start()

    def put(self, event: Event) -> None:
        """Queue ``event`` (never blocks): a full queue drops its oldest event."""
        with self._cond:
            if len(self._queue) >= self.max_queue:
                self._queue.popleft()
                self.stats.dropped += 1
            self._queue.append(event)
            self._cond.notify()

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + (1 if self._busy else 0)

    def close(self, timeout: float = 5.0) -> None:
        """Give queued events up to ``timeout`` seconds to go out, then stop (what is left counts as unsent).
        An endpoint whose last try failed is not waited for."""
        deadline = time.monotonic() + max(timeout, 0.0)
        while self.pending and not self._last_failed and time.monotonic() < deadline:
            time.sleep(0.02)
        self._stop.set()
        with self._cond:
            self.stats.unsent += len(self._queue)
            self._queue.clear()
            self._cond.notify_all()
        self._thread.join(max(deadline - time.monotonic(), 0.5))
        self.sink.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                while not self._queue and not self._stop.is_set():
                    self._cond.wait(0.5)
                if self._stop.is_set():
                    return
                event = self._queue.popleft()
                self._busy = True
            try:
                self._deliver(event)
            finally:
                with self._cond:
                    self._busy = False

    def _deliver(self, event: Event) -> None:
        for attempt in range(self.max_attempts):
            if attempt:
                self.stats.retries += 1
                if self._stop.wait(min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s)):
                    self.stats.unsent += 1  # closing
                    return
            try:
                self.sink.send(event)
            except DeliveryError as error:
                self.stats.last_error, self._last_failed = str(error), True
                if error.final:
                    break
                continue
            except Exception as error:  # noqa: BLE001 - a sink bug must not kill the thread
                self.stats.last_error, self._last_failed = f"{type(error).__name__}: {error}", True
                continue
            self._last_failed = False
            self.stats.sent += 1
            self._failing = False
            return
        self.stats.failed += 1
        if not self._failing:  # one line when an endpoint starts failing, not one per event
            log.warning("facecam: notifications to %s fail: %s; they are counted in the summary",
                        self.sink.describe(), self.stats.last_error)
        self._failing = True


class Notifier:
    """Applies the rule and the cooldown, and hands each arrival to every sink's :class:`Delivery`."""

    def __init__(self, sinks: list[Sink], rule: NotifyRule | None = None, *, cooldown_s: float = DEFAULT_COOLDOWN_S,
                 max_queue: int = DEFAULT_MAX_QUEUE, clock=time.monotonic, **delivery_options):
        if cooldown_s < 0:
            raise ValueError(f"cooldown_s: expected 0 or more, got {cooldown_s}")
        self.rule = rule or NotifyRule()
        self.cooldown_s = float(cooldown_s)
        self.clock = clock
        self.deliveries = [Delivery(sink, max_queue=max_queue, **delivery_options) for sink in sinks]
        self.offered = 0
        self.suppressed = 0
        self._last: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def __call__(self, sighting: Sighting, stage: str) -> None:
        """A :class:`~facecam.sightings.recorder.SightingRecorder` listener: arrivals are offered; every stage
        of a visit goes (unfiltered) to the sinks that follow visits (Home Assistant's "who is in view")."""
        if stage == "arrived":
            self.offer(sighting)
        if stage in VISIT_STAGES:
            self._put(Event.of(sighting, stage))

    def forget(self, name: str) -> None:
        """``name`` was removed from the gallery: the sinks that keep something about people drop it
        (MQTT's retained topics, Home Assistant's entities), after the events already queued."""
        self._put(Event.forget(name))

    def _put(self, event: Event) -> None:
        for delivery in self.deliveries:
            if event.stage in delivery.sink.stages:
                delivery.put(event)

    def offer(self, sighting: Sighting) -> bool:
        """Queue the arrival for every sink unless the rule or the cooldown says no; True when queued."""
        if not self.rule.wants(sighting):
            return False
        key = ("known", sighting.name) if sighting.name is not None else (
            ("cluster", sighting.cluster) if sighting.cluster else ("visit", sighting.id))
        now = self.clock()
        with self._lock:
            self.offered += 1
            last = self._last.get(key)
            if last is not None and now - last < self.cooldown_s:
                self.suppressed += 1
                return False
            self._last[key] = now
        self._put(Event.of(sighting, NOTIFY))
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Flush for at most ``timeout`` seconds in all, then stop every sink."""
        deadline = time.monotonic() + timeout
        for delivery in self.deliveries:
            delivery.close(max(deadline - time.monotonic(), 0.0))

    def summary(self) -> dict:
        """Counts per sink (``watch --summary``)."""
        return {"events": self.offered - self.suppressed, "suppressed_by_cooldown": self.suppressed,
                "sinks": {d.sink.describe(): {"sent": d.stats.sent, "failed": d.stats.failed,
                                              "dropped": d.stats.dropped, "unsent": d.stats.unsent,
                                              "retries": d.stats.retries}
                          for d in self.deliveries}}
