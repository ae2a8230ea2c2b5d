"""The MQTT sink (``--mqtt mqtt://[user:pass@]host[:port]/prefix``), and the connection it shares with the
Home Assistant sink (:mod:`facecam.sinks.homeassistant`): paho-mqtt, QoS 1, reconnecting on its own."""

from __future__ import annotations

import logging
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Callable

from facecam.errors import FacecamError
from facecam.sinks.base import FORGET, NOTIFY, DeliveryError, Event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MqttTarget:
    """``mqtt[s]://[user:pass@]host[:port]/prefix``, parsed (``option`` names the option in errors)."""

    host: str
    port: int
    prefix: str
    tls: bool = False
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str, option: str = "--mqtt", default_prefix: str = "facecam") -> "MqttTarget":
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("mqtt", "mqtts") or not parsed.hostname:
            raise FacecamError(f"{option}: expected mqtt://[user:pass@]host[:port]/prefix (or mqtts:// for TLS)")
        try:
            port = parsed.port
        except ValueError:
            raise FacecamError(f"{option}: the port is not a number between 1 and 65535") from None
        prefix = parsed.path.strip("/") or default_prefix
        if any(ch in prefix for ch in "+#\0"):
            raise FacecamError(f"{option}: the topic prefix may not contain + # or NUL")
        tls = parsed.scheme == "mqtts"
        return cls(parsed.hostname, port or (8883 if tls else 1883), prefix, tls,
                   urllib.parse.unquote(parsed.username) if parsed.username else None,
                   urllib.parse.unquote(parsed.password) if parsed.password else None)

    def describe(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}/{self.prefix}"


def topic_name(name: str) -> str:
    """A person's name as one MQTT topic level (wildcards ``+``/``#`` and ``/`` become ``_``)."""
    return "".join("_" if ch in "+#/\0" else ch for ch in name)


class MqttConnection:
    """A paho-mqtt client that connects in the background and reconnects on its own. ``available``: a
    topic that says ``online`` / ``offline`` (retained; the broker says ``offline`` through the last will
    when facecam dies). ``on_connect(connection)`` runs on paho's thread after each (re)connection (it may
    come before the constructor returns)."""

    def __init__(self, target: MqttTarget, available: str, name: str, *,
                 on_connect: Callable[["MqttConnection"], None] | None = None,
                 ack_timeout_s: float = 5.0, client_id: str | None = None):
        import paho.mqtt.client as mqtt  # noqa: PLC0415 - only when an MQTT sink is used

        self.target, self.available, self.name = target, available, name
        self.ack_timeout_s = float(ack_timeout_s)
        self.on_connect = on_connect
        self._mqtt = mqtt
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or "", protocol=mqtt.MQTTv311)
        if target.username is not None:
            client.username_pw_set(target.username, target.password)
        if target.tls:
            client.tls_set()
        client.will_set(available, "offline", qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._connected
        client.connect_async(target.host, target.port, keepalive=30)
        client.loop_start()
        self._client = client

    def _connected(self, client, _userdata, _flags, reason_code, _properties=None) -> None:
        if reason_code.is_failure:
            log.warning("facecam: MQTT broker %s refused the connection: %s", self.name, reason_code)
            return
        client.publish(self.available, "online", qos=1, retain=True)
        if self.on_connect is not None:
            try:
                self.on_connect(self)
            except Exception as error:  # noqa: BLE001 - an exception here would end paho's network thread
                log.warning("facecam: MQTT %s: after connecting: %s: %s", self.name, type(error).__name__, error)

    def publish(self, messages: list[tuple[str, bytes | str, bool]]) -> None:
        """Publish ``(topic, payload, retained)`` at QoS 1 and wait for the broker's acknowledgements
        (:class:`DeliveryError` when not connected, refused, or not acknowledged in ``ack_timeout_s``)."""
        if not self._client.is_connected():
            raise DeliveryError(f"not connected to {self.name}")
        infos = [self._client.publish(topic, payload, qos=1, retain=retain) for topic, payload, retain in messages]
        deadline = time.monotonic() + self.ack_timeout_s
        for info in infos:
            if info.rc != self._mqtt.MQTT_ERR_SUCCESS:
                raise DeliveryError(f"{self.name}: {self._mqtt.error_string(info.rc)}")
            try:
                info.wait_for_publish(max(deadline - time.monotonic(), 0.01))
            except (RuntimeError, ValueError) as error:
                raise DeliveryError(f"{self.name}: {error}") from None
            if not info.is_published():
                raise DeliveryError(f"{self.name}: no acknowledgement within {self.ack_timeout_s:g} s")

    def publish_soon(self, messages: list[tuple[str, bytes | str, bool]]) -> None:
        """Queue messages without waiting (paho's thread: after a reconnection)."""
        for topic, payload, retain in messages:
            self._client.publish(topic, payload, qos=1, retain=retain)

    def close(self) -> None:
        try:
            if self._client.is_connected():
                self._client.publish(self.available, "offline", qos=1, retain=True).wait_for_publish(1.0)
        except (RuntimeError, ValueError):
            pass
        self._client.disconnect()
        self._client.loop_stop()


class MqttSink:
    """Publishes arrivals to an MQTT broker.

    Topics (Frigate / Double Take style, which Home Assistant users know):

    * ``prefix/events``: every arrival, the webhook's JSON (not retained);
    * ``prefix/person/<name>``: the latest arrival of that person (retained JSON), and
      ``prefix/person/<name>/snapshot`` its JPEG (retained raw bytes, for an MQTT image);
      both cleared (an empty retained message) when the person is removed from the gallery;
    * ``prefix/unknown`` and ``prefix/unknown/snapshot``: the same for the latest unknown face;
    * ``prefix/available``: ``online`` / ``offline`` (retained, and the last will): Home Assistant's
      availability topic.
    """

    stages = frozenset({NOTIFY, FORGET})

    def __init__(self, target: MqttTarget, *, client_id: str | None = None, ack_timeout_s: float = 5.0):
        self.target = target
        self.available = f"{target.prefix}/available"
        self.connection = MqttConnection(target, self.available, target.describe(), ack_timeout_s=ack_timeout_s,
                                         client_id=client_id)

    @classmethod
    def from_url(cls, url: str, **options) -> "MqttSink":
        return cls(MqttTarget.parse(url), **options)

    @staticmethod
    def describe_url(url: str) -> str:
        return MqttTarget.parse(url).describe()

    def describe(self) -> str:
        return self.target.describe()

    def send(self, event: Event) -> None:
        if event.stage == FORGET:
            base = f"{self.target.prefix}/person/{topic_name(event.person)}"
            self.connection.publish([(base, b"", True), (f"{base}/snapshot", b"", True)])
            return
        sighting = event.sighting
        base = (f"{self.target.prefix}/person/{topic_name(sighting.name)}" if sighting.name is not None
                else f"{self.target.prefix}/unknown")
        self.connection.publish([(base, event.body, True), (f"{base}/snapshot", sighting.snapshot, True),
                                 (f"{self.target.prefix}/events", event.body, False)])

    def close(self) -> None:
        self.connection.close()
