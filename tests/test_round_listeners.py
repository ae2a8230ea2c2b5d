"""LivePipeline's listeners: every round's faces, tracks, embeddings and matches, on real photos (MTCNN + SFace).

The sightings log and the unknown-faces collector plug in here, so what a listener gets must be
what the round really computed.
"""

from __future__ import annotations

import numpy as np

from facecam.images import read_image
from facecam.pipeline import LivePipeline, RoundResult
from facecam.types import Frame

from tests.conftest import PEOPLE, gallery_of


def test_listeners_get_each_round_and_a_failing_one_is_reported(sface_recognizer):
    gallery = gallery_of(sface_recognizer, {"Barack Obama": "obama.jpg", "Joe Biden": "biden2.jpg"})
    results: list[RoundResult] = []
    errors: list[BaseException] = []

    def broken(_result):
        raise RuntimeError("listener failed")

    pipeline = LivePipeline(sface_recognizer, lambda: gallery, listeners=[broken, results.append],
                            on_error=errors.append)
    bgr_frame = read_image(PEOPLE / "two_people.jpg")
    pipeline.process(Frame(0, 0.0, bgr_frame))
    pipeline.process(Frame(1, 0.1, bgr_frame))

    assert [str(e) for e in errors] == ["listener failed", "listener failed"]
    assert len(results) == 2
    first, second = results
    assert len(first.faces) == 2 and first.rgb_frame.shape == bgr_frame.shape
    assert np.array_equal(first.rgb_frame, bgr_frame[:, :, ::-1])
    # Round 1 embeds both new faces; their tracks carry the matches the listener sees.
    assert sorted(first.embedded_ids) == sorted(t.id for t in first.tracks)
    assert first.embeddings.shape == (2, 128)
    assert np.allclose(np.linalg.norm(first.embeddings, axis=1), 1.0, atol=1e-4)
    assert sorted(m.name for m in first.matches) == ["Barack Obama", "Joe Biden"]
    by_id = {t.id: t for t in first.tracks}
    for track_id, face, match in zip(first.embedded_ids, first.embedded_faces, first.matches):
        assert by_id[track_id].name == match.name
        assert by_id[track_id].face.box == face.box
    # Round 2 (0.1 s later, same faces): nothing needs embedding yet, the same tracks go on.
    assert second.embedded_ids == () and second.embeddings.shape[0] == 0
    assert [t.id for t in second.tracks] == [t.id for t in first.tracks]
