"""Right-click a face on the video: "This is..." (enroll this crop under a name) and "Not <name>".

"Not <name>" (a wrong label): the face is found again on the frame shown, embedded, and kept as an
unknown sighting (it appears in "Who's this?"), and its track is recognised afresh without that
name (:meth:`facecam.pipeline.LivePipeline.reject`). Detection and embedding run in a worker
thread. The hit test (click to face) is :meth:`facecam.annotate.FaceAnnotator.label_at`: a click
inside a face's box or on its label.
"""

from __future__ import annotations

from typing import Callable

from PyQt5.QtCore import QObject, QPoint, pyqtSignal
from PyQt5.QtWidgets import QMenu, QWidget

from facecam.annotate import Label
from facecam.gui.enroll_dialog import face_crop, save_photos
from facecam.gui.name_dialog import ask_name_dialog
from facecam.gui.workers import run_task


class FaceMenu(QObject):
    """Builds the menu for the face under a click and does what its entries say.

    ``window`` gives ``last_frame``, ``current_labels``, ``annotator``, ``recognizer``, ``pipeline``,
    ``known_faces``, ``people_names()`` and ``unknowns`` (an UnknownsControl). ``saved(name, paths)``
    once a crop was enrolled; ``message(text)`` for the status bar.
    """

    saved = pyqtSignal(str, list)
    message = pyqtSignal(str)

    def __init__(self, window, ask_name: Callable[[QWidget, str, list[str]], str | None] = ask_name_dialog):
        super().__init__(window)
        self.window = window
        self.ask_name = ask_name
        self.menu: QMenu | None = None

    def label_at(self, x: float, y: float) -> Label | None:
        """The face drawn at frame pixel (x, y), or None."""
        frame, labels = self.window.last_frame, list(self.window.current_labels)
        if frame is None or not labels:
            return None
        index = self.window.annotator.label_at(frame.bgr_frame.shape, labels, x, y)
        return labels[index] if index is not None else None

    def open_at(self, x: float, y: float, global_pos: QPoint) -> QMenu | None:
        """Show the menu of the face at frame pixel (x, y) (none when the click is on no face)."""
        label = self.label_at(x, y)
        if label is None or self.window.recognizer is None:
            return None
        frame = self.window.last_frame
        menu = QMenu(self.window)
        menu.addAction("This is...", lambda: self.this_is(frame, label))
        if label.name is not None and not label.pending:
            menu.addAction(f"Not {label.name}", lambda: self.not_this(frame, label))
        if self.menu is not None:
            self.menu.close()
        self.menu = menu
        menu.popup(global_pos)
        return menu

    def this_is(self, frame, label: Label, name: str | None = None) -> None:
        """Enroll this face's crop (as the Enroll dialog crops it) under a name asked for."""
        name = name or self.ask_name(self.window, "this face", self.window.people_names())
        if not name:
            return
        crop, root = face_crop(frame.bgr_frame, label.box), self.window.known_faces
        run_task("face-enroll", lambda: save_photos(root, name, [crop]),
                 lambda paths: self.saved.emit(name, [str(p) for p in paths]),
                 lambda error: self.message.emit(f"Not saved: {error}"))

    def not_this(self, frame, label: Label) -> None:
        """A wrong label: re-check the track without that name; keep the face as an unknown sighting."""
        pipeline, recognizer, unknowns = self.window.pipeline, self.window.recognizer, self.window.unknowns
        if label.track_id is not None and pipeline is not None:
            pipeline.reject(label.track_id, label.name)

        def find():
            from facecam.tracker import iou_matrix  # noqa: PLC0415
            from facecam.types import bgr_to_rgb  # noqa: PLC0415

            rgb = bgr_to_rgb(frame.bgr_frame)
            faces = recognizer.find_faces(rgb)
            if len(faces) == 0:
                return None
            overlaps = iou_matrix(faces.boxes, label.box)[:, 0]
            best = int(overlaps.argmax())
            if overlaps[best] < 0.3:
                return None
            return rgb, faces[best], recognizer.embed_faces(rgb, faces[[best]])[0]

        def found(result):
            if result is None:
                self.message.emit(f"The face marked not {label.name} was not found again: it is not kept")
                return
            rgb, face, embedding = result
            unknowns.add_face(rgb, face, embedding, float(frame.t_source), int(frame.seq) - 1,
                              label.track_id if label.track_id is not None else -1)

        self.message.emit(f"Not {label.name}: recognised again without that name")
        run_task("face-not", find, found, lambda error: self.message.emit(f"Not kept: {error}"))
