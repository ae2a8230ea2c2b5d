"""Issue 18 item 7: an unknown face's events say who it is among strangers. Real clips of lfw40 photos, real
MTCNN + SFace, `facecam watch` with a real webhook server, the suite's mosquitto broker (`--mqtt` and
`--homeassistant`): a stranger passes camera A once, then camera B twice (other photos of them each time),
another stranger passes B once. The stranger's first arrival gets the id its cluster then has in `facecam
unknowns`; each later arrival carries that cluster and the earlier visits across both cameras (count, first and
last seen, cameras); the other stranger is a cluster of their own. The sightings log keeps the cluster too."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime

import pytest

from clips import Actor, lfw40_photo, lfw40_visitors, make_lfw40_gallery, one_face_photos, write_clip
from servers import Subscriber, WebhookServer, shared_broker_port

FPS = 15.0   # every frame is processed (no --realtime): the result does not depend on the machine's load


@pytest.fixture(scope="module")
def runs(tmp_path_factory, model_dir, detector):
    from facecam.sinks.homeassistant import slug

    folder = tmp_path_factory.mktemp("strangers")
    visitors, enrolled = lfw40_visitors()
    stranger, other = [p for p in visitors if p not in enrolled][:2]
    known_person = enrolled[0]
    first = one_face_photos([stranger], detector)[0]
    second = one_face_photos([stranger], detector, first=first + 1)[0]
    third = one_face_photos([stranger], detector, first=second + 1)[0]
    other_photo, known_photo = one_face_photos([other, known_person], detector)
    clip_a, clip_b = folder / "a.avi", folder / "b.avi"
    write_clip(clip_a, (Actor(known_person, known_photo, 0.4, 2.8, 110, 240, sway_px=12, period_s=4.0),
                        Actor(stranger, first, 0.8, 3.2, 420, 240, sway_px=12, period_s=4.0)),
               seconds=4.2, fps=FPS, enrolled=[known_person], load_photo=lfw40_photo)
    write_clip(clip_b, (Actor(stranger, second, 0.4, 2.8, 110, 240, sway_px=12, period_s=4.0),
                        Actor(other, other_photo, 0.8, 3.2, 500, 240, sway_px=12, period_s=4.0),
                        Actor(stranger, third, 6.6, 9.0, 320, 240, sway_px=12, period_s=4.0)),   # gone 3.8 s between
               seconds=10.0, fps=FPS, enrolled=[known_person], load_photo=lfw40_photo)
    known = make_lfw40_gallery(folder / "known_faces", [known_person] + enrolled[1:6])
    port, own_broker = shared_broker_port(folder)
    prefix, ha_prefix = f"facecam-strangers-{uuid.uuid4().hex[:8]}", f"ha-strangers-{uuid.uuid4().hex[:8]}"
    cameras = {"a": f"back door {uuid.uuid4().hex[:4]}", "b": f"front door {uuid.uuid4().hex[:4]}"}
    subscriber = Subscriber(port, [f"{prefix}/events"] + [f"facecam/ha/camera/{slug(c)}/unknown" for c in cameras.values()])
    webhook = WebhookServer()
    from facecam.cli import main
    import io

    outputs = {}
    try:
        for key, clip in (("a", clip_a), ("b", clip_b)):
            stdout, stderr = io.StringIO(), io.StringIO()
            code = main(["watch", "--model", "sface", "--model-dir", str(model_dir), "--known-faces", str(known),
                         "--source", str(clip), "--source-name", cameras[key], "--cooldown", "0",
                         "--notify", webhook.url, "--mqtt", f"mqtt://127.0.0.1:{port}/{prefix}",
                         "--homeassistant", f"mqtt://127.0.0.1:{port}/{ha_prefix}"], stdout=stdout, stderr=stderr)
            assert code == 0, stderr.getvalue()
            outputs[key] = stdout.getvalue()
        time.sleep(0.5)
    finally:
        subscriber.close()
        webhook.close()
        if own_broker is not None:
            own_broker.stop()
    yield {"known": known, "webhook": webhook.events(), "mqtt": subscriber, "prefix": prefix, "cameras": cameras,
           "clips": {"a": str(clip_a), "b": str(clip_b)}, "known_person": known_person}


def unknown_arrivals(events: list[dict]) -> list[dict]:
    return sorted((e for e in events if e["type"] == "unknown"), key=lambda e: e["time"])


def check_strangers(events: list[dict], run) -> None:
    cameras = run["cameras"]
    known = [e for e in events if e["type"] == "known"]
    assert [e["name"] for e in known] == [run["known_person"]] and known[0]["seen_before"] is None
    arrivals = unknown_arrivals(events)
    assert [e["source"] for e in arrivals] == [cameras["a"], cameras["b"], cameras["b"], cameras["b"]], arrivals
    a1, b1, other, b2 = sorted(arrivals, key=lambda e: (e["source"] != cameras["a"], e["t"]))
    # the stranger's first arrival: a new stranger, with the id their cluster gets
    assert a1["cluster"] and a1["seen_before"] == {"visits": 0, "last_7_days": 0, "first": None, "last": None,
                                                  "cameras": []}
    # back on camera B: the same cluster, one earlier visit (on camera A)
    assert b1["cluster"] == a1["cluster"], (a1, b1)
    seen = b1["seen_before"]
    assert (seen["visits"], seen["last_7_days"], seen["cameras"]) == (1, 1, [cameras["a"]])   # the --source-name
    assert datetime.fromisoformat(seen["first"]) <= datetime.fromisoformat(seen["last"]) \
        <= datetime.fromisoformat(b1["time"])
    # the other stranger is somebody else
    assert other["cluster"] not in (None, a1["cluster"]) and other["seen_before"]["visits"] == 0
    # the stranger's third visit: two before, on both cameras (the second one counted before it was stored)
    assert b2["cluster"] == a1["cluster"] and b2["seen_before"]["visits"] == 2
    assert b2["seen_before"]["cameras"] == sorted([cameras["a"], cameras["b"]])
    assert b2["seen_before"]["first"] == seen["first"]


def test_webhook_events_carry_the_cluster_and_earlier_visits(runs):
    check_strangers(runs["webhook"], runs)


def test_mqtt_events_carry_the_same(runs):
    events = [json.loads(payload) for _, payload in runs["mqtt"].on(f"{runs['prefix']}/events")]
    check_strangers(events, runs)
    assert {e["cluster"] for e in events} == {e["cluster"] for e in runs["webhook"]}


def test_home_assistant_unknown_person_events_carry_the_same(runs):
    from facecam.sinks.homeassistant import slug

    fired = [json.loads(payload) for camera in runs["cameras"].values()
             for _, payload in runs["mqtt"].on(f"facecam/ha/camera/{slug(camera)}/unknown")]
    webhook = unknown_arrivals(runs["webhook"])
    assert sorted((f["camera"], f["cluster"], f["seen_before"]["visits"]) for f in fired) == \
        sorted((e["source"], e["cluster"], e["seen_before"]["visits"]) for e in webhook)
    assert all(f["event_type"] == "unknown_person" for f in fired)


def test_the_clusters_are_the_ones_the_unknowns_store_and_the_log_keep(runs, cli):
    code, out, err = cli("unknowns", "--known-faces", runs["known"], "--model", "sface", "--json")
    assert code == 0, err
    clusters = {c["id"]: c for c in json.loads(out)["clusters"]}
    stranger = unknown_arrivals(runs["webhook"])[0]["cluster"]
    assert clusters[stranger]["faces"] == 3               # the stranger's three visits, one cluster with their id
    assert len(clusters) == 2
    code, out, err = cli("sightings", "--known-faces", runs["known"], "--unknown", "--json")
    assert code == 0, err
    logged = sorted((row["source"], row["cluster"]) for row in map(json.loads, out.splitlines()))
    assert logged == sorted((e["source"], e["cluster"]) for e in unknown_arrivals(runs["webhook"]))


def test_one_strangers_visits_in_the_log_and_in_history(runs, cli):
    stranger = unknown_arrivals(runs["webhook"])[0]["cluster"]
    code, out, err = cli("sightings", "--known-faces", runs["known"], "--stranger", stranger, "--json")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 3 and {r["cluster"] for r in rows} == {stranger} and {r["type"] for r in rows} == {"unknown"}
    from facecam.gui.history_panel import STRANGER, HistoryFilter, HistoryReader

    reader = HistoryReader(runs["known"])
    try:
        everyone, choices = reader.read(HistoryFilter())
        others = {row.sighting.cluster for row in everyone if row.sighting.name is None} - {stranger}
        assert len(others) == 1 and set(choices) >= {STRANGER + stranger, STRANGER + others.pop()}
        theirs, _ = reader.read(HistoryFilter(cluster=stranger))
        assert sorted(row.sighting.id for row in theirs) == sorted(r["id"] for r in rows)
    finally:
        reader.close()
