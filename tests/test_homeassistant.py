"""Home Assistant MQTT discovery (`--homeassistant`), against the real mosquitto broker the suite starts: the
discovery configs Home Assistant's MQTT integration reads (``<prefix>/<component>/facecam/<object_id>/config``,
retained, with ``unique_id``, ``device``, ``state_topic``, availability; a ``sensor`` per person and per camera,
an ``event`` per camera with ``event_types``), the state payloads for a person named and an unknown face, and the
person's entity removed (empty retained config) when they are forgotten."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta

import cv2
import pytest

from facecam.sightings import Sighting
from facecam.sightings.notify import Notifier
from facecam.sightings.recorder import face_snapshot
from facecam.sinks import SINKS, check_urls
from facecam.sinks.homeassistant import HomeAssistantSink, slug
from facecam.types import iso
from servers import Subscriber, shared_broker_port, wait_until

from tests.conftest import PEOPLE


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    photo = cv2.imread(str(PEOPLE / "obama.jpg"))
    height, width = photo.shape[:2]
    return face_snapshot(photo, (width * 0.3, height * 0.2, width * 0.4, height * 0.5))


def visit(jpeg: bytes, camera: str, name: str | None, cluster: str | None = None) -> Sighting:
    now = datetime.now().astimezone()
    return Sighting(id=uuid.uuid4().hex, source=camera, started=now, ended=now + timedelta(seconds=2), t_start=1.0,
                    t_end=3.0, name=name, cluster=cluster, distance=0.3 if name else 0.8, box=(5, 5, 60, 60),
                    snapshot=jpeg)


def retained(subscriber: Subscriber) -> dict[str, bytes]:
    """The last message of each topic a newcomer got as retained."""
    found: dict[str, bytes] = {}
    for _, topic, payload, was_retained in subscriber.messages:
        if was_retained:
            found[topic] = payload
    return found


def test_discovery_configs_states_and_removal_after_forget(jpeg, tmp_path):
    port, broker = shared_broker_port(tmp_path)
    prefix = f"ha-test-{uuid.uuid4().hex[:8]}"              # a discovery prefix of its own on the shared broker
    camera, person = f"door {uuid.uuid4().hex[:6]}", f"Ada Lovelace {uuid.uuid4().hex[:6]}"
    person_state, in_view = f"facecam/ha/person/{slug(person)}", f"facecam/ha/camera/{slug(camera)}/in_view"
    unknown_topic = f"facecam/ha/camera/{slug(camera)}/unknown"
    person_config = f"{prefix}/sensor/facecam/person_{slug(person)}/config"
    view_config = f"{prefix}/sensor/facecam/camera_{slug(camera)}_in_view/config"
    event_config = f"{prefix}/event/facecam/camera_{slug(camera)}_unknown/config"
    live = Subscriber(port, [f"{prefix}/#", "facecam/ha/#"])
    notifier = Notifier([SINKS["homeassistant"].build(f"mqtt://127.0.0.1:{port}/{prefix}")], cooldown_s=0)
    try:
        assert wait_until(lambda: live.on("facecam/ha/available") and live.on("facecam/ha/available")[-1][1] == b"online")
        ada, stranger = visit(jpeg, camera, person), visit(jpeg, camera, None, cluster="c0ffee01")
        notifier(ada, "arrived")
        notifier(stranger, "arrived")
        assert wait_until(lambda: live.on(unknown_topic) and len(live.on(in_view)) == 2)

        # the configs, retained, as Home Assistant's MQTT discovery documents them
        late = Subscriber(port, [f"{prefix}/#", "facecam/ha/#"])
        assert wait_until(lambda: {person_config, view_config, event_config, person_state, in_view} <= set(retained(late)))
        configs = retained(late)
        device = {"identifiers": ["facecam"], "name": "facecam", "manufacturer": "facecam", "model": "face recognition"}
        assert json.loads(configs[person_config]) == {
            "name": f"{person} last seen", "unique_id": f"facecam_person_{slug(person)}", "state_topic": person_state,
            "value_template": "{{ value_json.camera }}", "json_attributes_topic": person_state,
            "icon": "mdi:account-eye", "device": device}
        assert json.loads(configs[view_config]) == {
            "name": f"{camera} in view", "unique_id": f"facecam_camera_{slug(camera)}_in_view", "state_topic": in_view,
            "value_template": "{{ value_json.state }}", "json_attributes_topic": in_view, "icon": "mdi:cctv",
            "availability_topic": "facecam/ha/available", "device": device}
        assert json.loads(configs[event_config]) == {
            "name": f"{camera} unknown person", "unique_id": f"facecam_camera_{slug(camera)}_unknown",
            "state_topic": unknown_topic, "event_types": ["unknown_person"], "icon": "mdi:account-question",
            "availability_topic": "facecam/ha/available", "device": device}
        late.close()

        # the states: who last saw Ada and when; who is in view; the unknown person's event (not retained)
        state = json.loads(live.on(person_state)[-1][1])
        assert state == {"camera": camera, "last_seen": iso(ada.ended), "arrived": iso(ada.started)}
        assert json.loads(live.on(in_view)[-1][1]) == {"state": f"{person}, 1 unknown", "people": [person],
                                                        "unknown": 1, "count": 2}
        fired = json.loads(live.on(unknown_topic)[-1][1])
        assert fired["event_type"] == "unknown_person" and fired["camera"] == camera and fired["cluster"] == "c0ffee01"
        assert unknown_topic not in retained(live)
        notifier(stranger, "ended")
        notifier(ada.updated(ended=ada.ended + timedelta(seconds=5)), "ended")
        assert wait_until(lambda: json.loads(live.on(in_view)[-1][1])["state"] == "nobody")
        assert json.loads(live.on(person_state)[-1][1])["last_seen"] == iso(ada.ended + timedelta(seconds=5))

        # forgotten: Ada's config and state are emptied (retained), so Home Assistant removes the entity
        notifier.forget(person)
        assert wait_until(lambda: live.on(person_config)[-1][1] == b"" and live.on(person_state)[-1][1] == b"")
        after = Subscriber(port, [f"{prefix}/#", "facecam/ha/#"])
        time.sleep(1.0)
        kept = retained(after)
        after.close()
        assert person_config not in kept and person_state not in kept
        assert {view_config, event_config} <= set(kept)       # the camera's entities stay
        stats = notifier.deliveries[0].stats
        assert stats.failed == 0 and stats.dropped == 0
    finally:
        notifier.close(5)
        live.close()
        if broker is not None:
            broker.stop()
    assert live.on("facecam/ha/available")[-1][1] == b"offline"


def test_homeassistant_option_is_checked_and_named_without_credentials():
    assert check_urls({"homeassistant": ("mqtt://ha:s3cret@broker.lan",)}) == [
        "homeassistant mqtt://broker.lan:1883/homeassistant"]
    from facecam.errors import FacecamError

    with pytest.raises(FacecamError, match="--homeassistant: expected mqtt://"):
        HomeAssistantSink.describe_url("http://broker.lan")
    assert slug("Ada Lovelace") != slug("ada_lovelace") and slug("Ada Lovelace").startswith("ada_lovelace_")


def test_configs_are_published_again_after_the_broker_lost_them(jpeg, tmp_path):
    from servers import Broker

    broker = Broker(tmp_path).start()                      # no persistence: a restart forgets retained messages
    camera = "garage"
    in_view_config = f"homeassistant/sensor/facecam/camera_{slug(camera)}_in_view/config"
    notifier = Notifier([HomeAssistantSink.from_url(f"mqtt://127.0.0.1:{broker.port}")], cooldown_s=0,
                        backoff_s=0.2, max_backoff_s=1.0, max_attempts=60)
    try:
        notifier(visit(jpeg, camera, None), "arrived")
        first = Subscriber(broker.port, ["homeassistant/#"])
        assert wait_until(lambda: first.on(in_view_config))
        first.close()
        broker.stop()
        broker.start()
        again = Subscriber(broker.port, ["homeassistant/#"])   # the sink reconnects and announces again
        assert wait_until(lambda: again.on(in_view_config))   # (retained, or live if it came after this subscribed)
        assert json.loads(again.on(in_view_config)[-1][1])["unique_id"] == f"facecam_camera_{slug(camera)}_in_view"
        again.close()
    finally:
        notifier.close(2)
        broker.stop()
