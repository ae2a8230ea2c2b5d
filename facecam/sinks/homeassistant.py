"""Home Assistant MQTT discovery (``--homeassistant mqtt://[user:pass@]host[:port][/discovery_prefix]``).

Home Assistant's MQTT integration creates an entity for each retained JSON config published on
``<discovery_prefix>/<component>/<node_id>/<object_id>/config`` (prefix ``homeassistant`` by default, node
``facecam``) and removes it when that topic gets an empty retained message. This sink publishes, on the same
broker Home Assistant uses, under one device "facecam":

* **per person** seen (``sensor``, object ``person_<slug>``): "<name> last seen"; its state is the camera
  that last saw them, its attributes ``camera``, ``last_seen`` and ``arrived`` (ISO times), on the retained
  state topic ``facecam/ha/person/<slug>``. No availability: the last sighting stays true while facecam is off.
  :meth:`facecam.sightings.notify.Notifier.forget` (a person removed from the gallery) empties the config and
  the state topic: the entity and its last state are gone;
* **per camera** (the source's name, ``sensor`` ``camera_<slug>_in_view``): "<camera> in view", who is in
  view now (``Ada Lovelace, 1 unknown`` or ``nobody``; attributes ``people``, ``unknown``, ``count``), from
  every visit's start, change and end; and (``event`` ``camera_<slug>_unknown``) "<camera> unknown person",
  event type ``unknown_person`` fired at each unknown arrival the rule and cooldown let through, with the
  stranger's ``cluster`` and ``seen_before`` (earlier visits, first and last seen, cameras). Both have the
  availability topic ``facecam/ha/available`` (``online``, and ``offline`` as the last will).

A slug is the name in lower case letters, digits and ``_``, then 6 hex digits of its SHA-1 (two names that
look alike stay two entities). Configs are published once per run when first needed, and again after each
reconnection; every state is retained except the events (Home Assistant's events are stateless).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading

from facecam.sinks.base import FORGET, NOTIFY, VISIT_STAGES, Event
from facecam.sinks.mqtt import MqttConnection, MqttTarget
from facecam.types import iso

NODE = "facecam"
STATE_BASE = "facecam/ha"
DEVICE = {"identifiers": ["facecam"], "name": "facecam", "manufacturer": "facecam", "model": "face recognition"}
UNKNOWN_EVENT = "unknown_person"


def slug(text: str) -> str:
    """A topic level and id part for ``text``: ``[a-z0-9_]``, and 6 hex digits of its SHA-1."""
    base = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40] or "x"
    return f"{base}_{hashlib.sha1(text.encode('utf-8')).hexdigest()[:6]}"


def _json(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


class HomeAssistantSink:
    """See the module notes."""

    stages = frozenset({NOTIFY, FORGET, *VISIT_STAGES})

    def __init__(self, target: MqttTarget, *, client_id: str | None = None, ack_timeout_s: float = 5.0):
        self.target = target
        self.discovery = target.prefix
        self.available = f"{STATE_BASE}/available"
        self._configs: dict[str, bytes] = {}        # published this run: re-sent after a reconnection
        self._in_view: dict[str, dict[str, str | None]] = {}   # camera -> {visit id: name (None: unknown)}
        self._lock = threading.Lock()
        self.connection = MqttConnection(target, self.available, self.describe(), on_connect=self._reannounce,
                                         ack_timeout_s=ack_timeout_s, client_id=client_id)

    @classmethod
    def from_url(cls, url: str, **options) -> "HomeAssistantSink":
        return cls(MqttTarget.parse(url, "--homeassistant", default_prefix="homeassistant"), **options)

    @staticmethod
    def describe_url(url: str) -> str:
        return f"homeassistant {MqttTarget.parse(url, '--homeassistant', 'homeassistant').describe()}"

    def describe(self) -> str:
        return f"homeassistant {self.target.describe()}"

    # ------------------------------------------------------------ topics and configs
    def config_topic(self, component: str, object_id: str) -> str:
        return f"{self.discovery}/{component}/{NODE}/{object_id}/config"

    @staticmethod
    def person_topic(name: str) -> str:
        return f"{STATE_BASE}/person/{slug(name)}"

    @staticmethod
    def camera_topic(camera: str, what: str) -> str:
        return f"{STATE_BASE}/camera/{slug(camera)}/{what}"

    def _person_config(self, name: str) -> tuple[str, dict]:
        state = self.person_topic(name)
        return self.config_topic("sensor", f"person_{slug(name)}"), {
            "name": f"{name} last seen", "unique_id": f"facecam_person_{slug(name)}", "state_topic": state,
            "value_template": "{{ value_json.camera }}", "json_attributes_topic": state, "icon": "mdi:account-eye",
            "device": DEVICE}

    def _camera_configs(self, camera: str) -> list[tuple[str, dict]]:
        in_view, unknown = self.camera_topic(camera, "in_view"), self.camera_topic(camera, "unknown")
        common = {"availability_topic": self.available, "device": DEVICE}
        return [(self.config_topic("sensor", f"camera_{slug(camera)}_in_view"), {
                    "name": f"{camera} in view", "unique_id": f"facecam_camera_{slug(camera)}_in_view",
                    "state_topic": in_view, "value_template": "{{ value_json.state }}",
                    "json_attributes_topic": in_view, "icon": "mdi:cctv", **common}),
                (self.config_topic("event", f"camera_{slug(camera)}_unknown"), {
                    "name": f"{camera} unknown person", "unique_id": f"facecam_camera_{slug(camera)}_unknown",
                    "state_topic": unknown, "event_types": [UNKNOWN_EVENT], "icon": "mdi:account-question",
                    **common})]

    def _announce(self, configs: list[tuple[str, dict]]) -> list[tuple[str, bytes, bool]]:
        """The config messages not yet published this run (recorded by :meth:`_published`)."""
        with self._lock:
            return [(topic, _json(payload), True) for topic, payload in configs if topic not in self._configs]

    def _published(self, messages: list[tuple[str, bytes, bool]]) -> None:
        with self._lock:
            for topic, payload, _ in messages:
                if topic.endswith("/config"):
                    if payload:
                        self._configs[topic] = payload
                    else:
                        self._configs.pop(topic, None)

    def _reannounce(self, connection: MqttConnection) -> None:
        """After a (re)connection (paho's thread): the configs again, in case the broker lost them."""
        with self._lock:
            configs = list(self._configs.items())
        connection.publish_soon([(topic, payload, True) for topic, payload in configs])

    # ------------------------------------------------------------ sending
    def send(self, event: Event) -> None:
        if event.stage == FORGET:
            topic, _ = self._person_config(event.person)
            messages = [(topic, b"", True), (self.person_topic(event.person), b"", True)]
        elif event.stage == NOTIFY:
            messages = self._arrival(event)
        else:
            messages = self._visit(event)
        if messages:
            self.connection.publish(messages)
            self._published(messages)

    def _arrival(self, event: Event) -> list:
        sighting = event.sighting
        if sighting.name is not None:   # a known person's sensor follows their visits (below)
            return []
        payload = sighting.event()
        fired = {"event_type": UNKNOWN_EVENT, "camera": sighting.source, "time": payload["time"],
                 "cluster": payload["cluster"], "seen_before": payload.get("seen_before"),
                 "distance": payload["distance"]}
        return self._announce(self._camera_configs(sighting.source)) + [
            (self.camera_topic(sighting.source, "unknown"), _json(fired), False)]

    def _visit(self, event: Event) -> list:
        sighting, camera = event.sighting, event.sighting.source
        view = self._in_view.setdefault(camera, {})
        if event.stage == "ended":
            view.pop(sighting.id, None)
        else:
            view[sighting.id] = sighting.name
        people = sorted({name for name in view.values() if name is not None})
        unknown = sum(1 for name in view.values() if name is None)
        shown = ", ".join(people + ([f"{unknown} unknown"] if unknown else [])) or "nobody"
        messages = self._announce(self._camera_configs(camera)) + [(self.camera_topic(camera, "in_view"), _json(
            {"state": shown[:255], "people": people, "unknown": unknown, "count": len(view)}), True)]
        if sighting.name is not None:
            messages += self._announce([self._person_config(sighting.name)]) + [(self.person_topic(sighting.name), _json(
                {"camera": camera, "last_seen": iso(sighting.ended), "arrived": iso(sighting.started)}), True)]
        return messages

    def close(self) -> None:
        self.connection.close()
