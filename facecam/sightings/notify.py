"""Notifications: tell a webhook or an MQTT broker when someone arrives, never slowing the video.

::

    notifier = Notifier([WebhookSink("https://example.org/hook"), MqttSink.from_url("mqtt://host/facecam")],
                        NotifyRule.parse(["known", "unknown"]), cooldown_s=60)
    recorder = SightingRecorder("door", listeners=[notifier])   # offers each arrival
    ...
    notifier.close(timeout=5)

* **Rules**: ``known``, ``unknown`` and/or people's names (default: every arrival), and
  a cooldown per person (default 60 s): one arrival is one event, not one per re-check
  or per broken track. An unknown face's cooldown is its cluster's when it has one,
  else none (two strangers are two events).
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

import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from facecam.errors import FacecamError
from facecam.sightings.model import Sighting

log = logging.getLogger(__name__)

DEFAULT_COOLDOWN_S = 60.0
DEFAULT_MAX_QUEUE = 100


class DeliveryError(Exception):
    """A send failed; ``final`` when retrying cannot help (the endpoint refused the event itself)."""

    def __init__(self, message: str, final: bool = False):
        super().__init__(message)
        self.final = final


@dataclass(frozen=True)
class Event:
    """One arrival to send: the sighting and its JSON body (built once for every sink)."""

    sighting: Sighting
    body: bytes

    @classmethod
    def of(cls, sighting: Sighting) -> "Event":
        return cls(sighting, json.dumps(sighting.event(), ensure_ascii=False).encode("utf-8"))


class Sink(Protocol):
    """Where events go. ``send`` raises :class:`DeliveryError`; ``describe`` never shows credentials."""

    def send(self, event: Event) -> None: ...

    def describe(self) -> str: ...

    def close(self) -> None: ...


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
        """A :class:`~facecam.sightings.recorder.SightingRecorder` listener: arrivals are offered."""
        if stage == "arrived":
            self.offer(sighting)

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
        event = Event.of(sighting)
        for delivery in self.deliveries:
            delivery.put(event)
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


# ---------------------------------------------------------------- webhook

def _public(url: urllib.parse.SplitResult, default_port: int) -> str:
    return f"{url.scheme}://{url.hostname}:{url.port or default_port}"


class WebhookSink:
    """HTTP POST of the event's JSON to ``url`` (http or https), ``timeout_s`` per attempt."""

    def __init__(self, url: str, timeout_s: float = 5.0):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise FacecamError("--notify: expected an http:// or https:// URL with a host")
        self.url, self.timeout_s = url, float(timeout_s)
        self._name = _public(parsed, 443 if parsed.scheme == "https" else 80)

    def describe(self) -> str:
        return self._name

    def send(self, event: Event) -> None:
        request = urllib.request.Request(self.url, data=event.body, method="POST",
                                         headers={"Content-Type": "application/json", "User-Agent": "facecam"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read(65536)
        except urllib.error.HTTPError as error:
            raise DeliveryError(f"HTTP {error.code} from {self._name}",
                                final=400 <= error.code < 500 and error.code not in (408, 429)) from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise DeliveryError(f"{self._name}: {type(reason).__name__ if not str(reason) else reason}") from None

    def close(self) -> None:
        pass


# ---------------------------------------------------------------- MQTT

@dataclass(frozen=True)
class MqttTarget:
    """``mqtt[s]://[user:pass@]host[:port]/prefix``, parsed."""

    host: str
    port: int
    prefix: str
    tls: bool = False
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str) -> "MqttTarget":
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("mqtt", "mqtts") or not parsed.hostname:
            raise FacecamError("--mqtt: expected mqtt://[user:pass@]host[:port]/prefix (or mqtts:// for TLS)")
        try:
            port = parsed.port
        except ValueError:
            raise FacecamError("--mqtt: the port is not a number between 1 and 65535") from None
        prefix = parsed.path.strip("/") or "facecam"
        if any(ch in prefix for ch in "+#\0"):
            raise FacecamError("--mqtt: the topic prefix may not contain + # or NUL")
        tls = parsed.scheme == "mqtts"
        return cls(parsed.hostname, port or (8883 if tls else 1883), prefix, tls,
                   urllib.parse.unquote(parsed.username) if parsed.username else None,
                   urllib.parse.unquote(parsed.password) if parsed.password else None)

    def describe(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}/{self.prefix}"


def topic_name(name: str) -> str:
    """A person's name as one MQTT topic level (wildcards ``+``/``#`` and ``/`` become ``_``)."""
    return "".join("_" if ch in "+#/\0" else ch for ch in name)


class MqttSink:
    """Publishes to an MQTT broker with paho-mqtt (QoS 1), reconnecting on its own.

    Topics (Frigate / Double Take style, which Home Assistant users know):

    * ``prefix/events``: every arrival, the webhook's JSON (not retained);
    * ``prefix/person/<name>``: the latest arrival of that person (retained JSON), and
      ``prefix/person/<name>/snapshot`` its JPEG (retained raw bytes, for an MQTT image);
    * ``prefix/unknown`` and ``prefix/unknown/snapshot``: the same for the latest unknown face;
    * ``prefix/available``: ``online`` / ``offline`` (retained; the broker says ``offline``
      through the last will when facecam dies): Home Assistant's availability topic.
    """

    def __init__(self, target: MqttTarget, *, client_id: str | None = None, ack_timeout_s: float = 5.0):
        import paho.mqtt.client as mqtt  # noqa: PLC0415 - only when --mqtt is used

        self.target, self.ack_timeout_s = target, float(ack_timeout_s)
        self._mqtt = mqtt
        self.available = f"{target.prefix}/available"
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or "",
                             protocol=mqtt.MQTTv311)
        if target.username is not None:
            client.username_pw_set(target.username, target.password)
        if target.tls:
            client.tls_set()
        client.will_set(self.available, "offline", qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.connect_async(target.host, target.port, keepalive=30)
        client.loop_start()
        self._client = client

    @classmethod
    def from_url(cls, url: str, **options) -> "MqttSink":
        return cls(MqttTarget.parse(url), **options)

    def describe(self) -> str:
        return self.target.describe()

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties=None) -> None:
        if not reason_code.is_failure:
            client.publish(self.available, "online", qos=1, retain=True)
        else:
            log.warning("facecam: MQTT broker %s refused the connection: %s", self.describe(), reason_code)

    def send(self, event: Event) -> None:
        if not self._client.is_connected():
            raise DeliveryError(f"not connected to {self.describe()}")
        sighting = event.sighting
        base = (f"{self.target.prefix}/person/{topic_name(sighting.name)}" if sighting.name is not None
                else f"{self.target.prefix}/unknown")
        messages = [(base, event.body, True), (f"{base}/snapshot", sighting.snapshot, True),
                    (f"{self.target.prefix}/events", event.body, False)]
        infos = [self._client.publish(topic, payload, qos=1, retain=retain) for topic, payload, retain in messages]
        deadline = time.monotonic() + self.ack_timeout_s
        for info in infos:
            if info.rc != self._mqtt.MQTT_ERR_SUCCESS:
                raise DeliveryError(f"{self.describe()}: {self._mqtt.error_string(info.rc)}")
            try:
                info.wait_for_publish(max(deadline - time.monotonic(), 0.01))
            except (RuntimeError, ValueError) as error:
                raise DeliveryError(f"{self.describe()}: {error}") from None
            if not info.is_published():
                raise DeliveryError(f"{self.describe()}: no acknowledgement within {self.ack_timeout_s:g} s")

    def close(self) -> None:
        try:
            if self._client.is_connected():
                self._client.publish(self.available, "offline", qos=1, retain=True).wait_for_publish(1.0)
        except (RuntimeError, ValueError):
            pass
        self._client.disconnect()
        self._client.loop_stop()
