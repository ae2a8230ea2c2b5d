"""Consent on enrolment (issue 22): off by default; with the setting ``consent_required`` enrolment records who
agreed and when, owner-only beside the person; ``people list`` reports who has none. Real lfw40 photos, the real
detector (enroll checks each photo for a face)."""

from __future__ import annotations

import json
import stat

from clips import LFW40, make_lfw40_gallery, lfw40_visitors

from facecam import config


def photos(person: str, n: int = 2) -> list:
    return sorted((LFW40 / person).glob("*.jpg"))[:n]


def test_consent_is_asked_recorded_beside_the_person_and_reported_when_missing(cli, tmp_path):
    _, enrolled = lfw40_visitors()
    ada, bob, cy = enrolled[:3]
    kf = make_lfw40_gallery(tmp_path / "kf", [cy], photos=(1,))        # put there by hand: no consent recorded
    code, _, err = cli("enroll", "--known-faces", kf, "--detector", "yunet", ada, *photos(ada))
    assert code == 0, err                                               # off by default: nothing asked
    code, out, _ = cli("people", "list", "--json", "--known-faces", kf)
    result = json.loads(out)
    assert result["consent_required"] is False and "without_consent" not in result

    config.save_settings({config.CONSENT_KEY: True})
    code, out, err = cli("enroll", "--known-faces", kf, "--detector", "yunet", bob, *photos(bob))
    assert code == 1 and out == "" and "--consent-by" in err and len(err.strip().splitlines()) == 1
    assert not (kf / bob).exists()                                      # refused before anything was written
    code, out, err = cli("enroll", "--json", "--known-faces", kf, "--detector", "yunet", "--consent-by",
                         "Bob's guardian", bob, *photos(bob))
    assert code == 0, err
    record = json.loads(out)["consent"]
    assert record["agreed_by"] == "Bob's guardian" and record["at"][:4].isdigit() and record["how"] == "enroll"
    saved = kf / bob / ".consent.json"
    assert json.loads(saved.read_text()) == record and stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert sorted(p.name for p in kf.iterdir() if not p.name.startswith(".")) == sorted([ada, bob, cy])

    code, out, err = cli("people", "list", "--json", "--known-faces", kf)
    result = json.loads(out)
    assert code == 0 and result["without_consent"] == sorted([ada, cy]), result
    assert {p["name"]: p["consent"] for p in result["people"]}[bob] == record
    code, out, _ = cli("people", "--known-faces", kf)
    assert f"{bob}: 2 photos, 0 visit(s), agreed by Bob's guardian on {record['at'][:10]}" in out
    assert f"2 without recorded consent: {', '.join(sorted([ada, cy]))}" in out
    code, out, err = cli("index", "--json", "--model", "sface", "--detector", "yunet", "--known-faces", kf)
    assert code == 0 and ".consent" not in out, err                     # the gallery never reads it as a photo
