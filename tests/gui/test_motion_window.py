"""The window and the motion gate (issue 20): on a still, noisy room the status says recognition is idle and
detection runs only the safety checks; --no-motion-gate (WindowOptions.motion_gate=False) detects every round.
A real clip (tests/motion_clips.py), the real SFace recognizer."""

from __future__ import annotations

from motion_clips import write_clip

from .helpers import EVENT_TIMEOUT_MS


def test_a_still_room_shows_idle_and_costs_only_the_safety_detections(make_window, qtbot, tmp_path):
    clip = tmp_path / "still.avi"
    write_clip(clip, 12.0, fps=15.0)
    window = make_window(source=clip)
    qtbot.waitUntil(lambda: window.pipeline is not None and window.pipeline.stats.idle_rounds >= 20,
                    timeout=90_000)
    qtbot.waitUntil(lambda: "recognition idle" in window.status_text(), timeout=EVENT_TIMEOUT_MS)
    stats = window.pipeline.stats
    assert stats.rounds <= 1 + 12 // 3 + 1 and stats.idle_rounds > 4 * stats.rounds


def test_without_the_gate_every_round_detects(make_window, qtbot, tmp_path):
    clip = tmp_path / "still.avi"
    write_clip(clip, 6.0, fps=15.0)
    window = make_window(source=clip, motion_gate=False)
    qtbot.waitUntil(lambda: window.pipeline is not None and window.pipeline.stats.rounds >= 12, timeout=90_000)
    assert window.pipeline.gate is None and window.pipeline.stats.idle_rounds == 0
    assert "recognition idle" not in window.status_text()
