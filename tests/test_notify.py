"""Notifications against real servers: rules and cooldown, a webhook that fails, hangs or refuses and then
comes back, an MQTT broker (mosquitto) that goes away and comes back, and `watch --realtime` with dead
endpoints (the video keeps its pace, the visits are still logged)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta

import cv2
import pytest

from clips import SHORT_SCENE, make_gallery, write_clip
from facecam.sightings import Sighting
from facecam.sightings.notify import MqttSink, MqttTarget, Notifier, NotifyRule, WebhookSink
from facecam.sightings.recorder import face_snapshot
from servers import Broker, Subscriber, WebhookServer, free_port, wait_until

from tests.conftest import PEOPLE


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    photo = cv2.imread(str(PEOPLE / "obama.jpg"))
    height, width = photo.shape[:2]
    return face_snapshot(photo, (width * 0.3, height * 0.2, width * 0.4, height * 0.5))


def arrival(jpeg: bytes, name: str | None, cluster: str | None = None) -> Sighting:
    now = datetime.now().astimezone()
    return Sighting(id=uuid.uuid4().hex, source="door", started=now, ended=now + timedelta(seconds=1),
                    t_start=3.25, t_end=4.25, name=name, cluster=cluster, distance=0.31 if name else 0.82,
                    box=(10, 20, 90, 100), snapshot=jpeg)


def test_rules_and_cooldown(jpeg):
    assert NotifyRule.parse(None) == NotifyRule(True, True, frozenset())
    rule = NotifyRule.parse(["unknown,Ada Lovelace"])
    assert rule.wants(arrival(jpeg, None)) and rule.wants(arrival(jpeg, "Ada Lovelace"))
    assert not rule.wants(arrival(jpeg, "Grace Hopper"))
    assert NotifyRule.parse(["known"]).wants(arrival(jpeg, "Grace Hopper"))
    assert not NotifyRule.parse(["known"]).wants(arrival(jpeg, None))
    server = WebhookServer()
    notifier = Notifier([WebhookSink(server.url)], cooldown_s=60)
    try:
        offered = [notifier.offer(arrival(jpeg, "Ada")), notifier.offer(arrival(jpeg, "Ada")),   # cooldown
                   notifier.offer(arrival(jpeg, None)), notifier.offer(arrival(jpeg, None)),     # two strangers
                   notifier.offer(arrival(jpeg, None, "c1")), notifier.offer(arrival(jpeg, None, "c1"))]
        assert offered == [True, False, True, True, True, False]
        notifier.close(timeout=10)
        events = server.events()
        assert [(e["type"], e["name"], e["cluster"]) for e in events] == [
            ("known", "Ada", None), ("unknown", None, None), ("unknown", None, None), ("unknown", None, "c1")]
        assert events[0]["t"] == 3.25 and events[0]["box"] == [10, 20, 90, 100] and events[0]["distance"] == 0.31
        assert datetime.fromisoformat(events[0]["time"]).tzinfo is not None
        assert notifier.summary()["suppressed_by_cooldown"] == 2
    finally:
        server.close()


def test_webhook_that_fails_then_recovers_gets_the_waiting_events(jpeg):
    server = WebhookServer(mode="fail")
    notifier = Notifier([WebhookSink(server.url, timeout_s=1.0)], cooldown_s=0, backoff_s=0.1, max_backoff_s=0.4,
                        max_attempts=50)
    try:
        for name in ("Ada", "Grace"):
            notifier.offer(arrival(jpeg, name))
        assert wait_until(lambda: server.attempts >= 3)
        assert server.events() == []
        server.mode = "ok"
        stats = notifier.deliveries[0].stats
        # the server has the event a moment before the sink counts the answer: wait for both
        assert wait_until(lambda: len(server.events()) == 2 and stats.sent == 2)
        assert [e["name"] for e in server.events()] == ["Ada", "Grace"]
        assert stats.sent == 2 and stats.retries >= 2 and stats.failed == 0 and "503" in stats.last_error
    finally:
        notifier.close(0)
        server.close()


def test_hanging_and_refusing_webhooks_never_block_and_drop_with_a_count(jpeg):
    hanging = WebhookServer(mode="hang", hang_s=3.0)
    refused = f"http://127.0.0.1:{free_port()}/hook"
    notifier = Notifier([WebhookSink(hanging.url, timeout_s=0.5), WebhookSink(refused)], cooldown_s=0,
                        max_queue=3, backoff_s=0.05, max_backoff_s=0.1, max_attempts=2)
    try:
        started = time.perf_counter()
        for n in range(20):
            notifier.offer(arrival(jpeg, f"person {n}"))
        elapsed = time.perf_counter() - started
        assert elapsed < 5.0, elapsed    # no waiting on either endpoint: waiting for the 0.5 s timeout would be >= 10 s
        hang, refuse = notifier.deliveries
        assert wait_until(lambda: refuse.pending == 0)
        assert refuse.stats.sent == 0 and refuse.stats.failed + refuse.stats.dropped == 20
        assert "refused" in refuse.stats.last_error.lower()
        assert hang.stats.dropped >= 15                       # only a few wait; the rest are counted
        hanging.mode = "ok"                                  # the endpoint is back: the waiting ones go out
        assert wait_until(lambda: "person 19" in [e["name"] for e in hanging.events()], timeout=20)
        assert len(hanging.events()) <= 4                    # the newest ones waited; the rest were dropped
    finally:
        notifier.close(0)
        hanging.close()


def test_mqtt_broker_that_goes_away_and_comes_back(jpeg, tmp_path):
    broker = Broker(tmp_path).start()
    prefix = "home/facecam"
    subscriber = Subscriber(broker.port, [f"{prefix}/#"])
    sink = MqttSink.from_url(f"mqtt://127.0.0.1:{broker.port}/{prefix}")
    notifier = Notifier([sink], cooldown_s=0, backoff_s=0.2, max_backoff_s=1.0, max_attempts=60)
    try:
        assert wait_until(lambda: subscriber.on(f"{prefix}/available"))
        notifier.offer(arrival(jpeg, "Ada Lovelace"))
        assert wait_until(lambda: len(subscriber.on(f"{prefix}/events")) == 1)
        broker.stop()
        started = time.perf_counter()
        notifier.offer(arrival(jpeg, None))                   # waits while the broker is away
        elapsed = time.perf_counter() - started
        assert elapsed < 1.5, elapsed    # no wait for the broker (it is back 2 s later at the earliest)
        time.sleep(2.0)
        broker.start()
        assert wait_until(lambda: len({json.loads(p)["type"] for _, p in subscriber.on(f"{prefix}/events")}) == 2,
                          timeout=30)
        notifier.offer(arrival(jpeg, "Grace Hopper"))
        assert wait_until(lambda: any(json.loads(p)["name"] == "Grace Hopper"
                                      for _, p in subscriber.on(f"{prefix}/events")), timeout=30)
        assert subscriber.on(f"{prefix}/person/Ada Lovelace")
        assert subscriber.on(f"{prefix}/unknown/snapshot")[-1][1] == jpeg
        stats = notifier.deliveries[0].stats
        assert stats.failed == 0 and stats.dropped == 0 and stats.retries >= 1
    finally:
        notifier.close(2)
        subscriber.close()
        broker.stop()


def test_mqtt_url_parsing_keeps_credentials_out_of_messages():
    target = MqttTarget.parse("mqtt://ha%40home:s3cret@broker.lan:1884/door/cam")
    assert (target.host, target.port, target.prefix, target.username, target.password) == (
        "broker.lan", 1884, "door/cam", "ha@home", "s3cret")
    assert "s3cret" not in target.describe() and "s3cret" not in repr(target)
    assert MqttTarget.parse("mqtts://h").port == 8883 and MqttTarget.parse("mqtt://h").prefix == "facecam"
    assert WebhookSink("https://user:pw@hooks.example/t0ken?k=1").describe() == "https://hooks.example:443"


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dead")
    clip = folder / "clip.avi"
    truth = write_clip(clip, SHORT_SCENE, seconds=6.0)
    return clip, truth, make_gallery(folder / "known_faces")


@pytest.mark.parametrize("option, url, said", [
    ("--notify", "ftp://hooks.example/x", "--notify: expected an http:// or https:// URL with a host"),
    ("--mqtt", "http://broker.lan", "--mqtt: expected mqtt://"),
    ("--cooldown", "-1", "--cooldown: expected 0 or more seconds"),
])
def test_watch_refuses_a_bad_notification_option_before_loading_a_model_or_opening_the_source(
        cli, short_clip, tmp_path, option, url, said):
    clip, _, _ = short_clip
    known = make_gallery(tmp_path / "known_faces")
    summary = tmp_path / "summary.json"
    code, out, err = cli("watch", "--known-faces", known, "--model-dir", tmp_path / "models", "--source", clip,
                         "--summary", summary, option, url)
    assert code == 2 and out == "" and err.count("\n") == 1, (code, out, err)    # a usage error, one line
    assert err.startswith(f"facecam: error: {said}"), err
    assert "VGG-Face" not in err and not (known / ".facecam").exists()        # no model chosen, nothing indexed
    assert not summary.exists()                                               # the video never ran


def test_watch_with_dead_endpoints_keeps_the_video_and_the_log(cli, model_dir, short_clip, tmp_path):
    clip, truth, known = short_clip
    hanging = WebhookServer(mode="hang", hang_s=30.0)
    summary_file = tmp_path / "summary.json"
    try:
        code, out, err = cli("watch", "--model", "sface", "--model-dir", model_dir, "--known-faces", known,
                             "--source", clip, "--realtime", "--summary", summary_file,
                             "--notify", hanging.url, "--notify", f"http://127.0.0.1:{free_port()}/x",
                             "--mqtt", f"mqtt://user:hunter2@127.0.0.1:{free_port()}/facecam")
    finally:
        hanging.close()
    assert code == 0, err
    assert "hunter2" not in out + err
    summary = json.loads(summary_file.read_text())
    # the display never waited: one wait on the 30 s hang would leave only the frames before the first arrival
    assert summary["frames_out"] >= len(truth) // 3, summary
    sightings = summary["sightings"]
    assert sightings["visits"] == 3                                # the visits are logged all the same
    sinks = sightings["notifications"]["sinks"]
    assert all(s["sent"] == 0 for s in sinks.values()) and sightings["notifications"]["events"] == 3
    code, out, _ = cli("sightings", "--known-faces", known, "--json")
    names = sorted((json.loads(line)["name"] or "Unknown") for line in out.splitlines())
    assert names == ["George_W_Bush", "Tony_Blair", "Unknown"]
