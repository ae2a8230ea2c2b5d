"""The window's people actions: Enroll, open a folder, remove or forget a person, forget unknown faces, clear learned
faces, export and import an archive (:mod:`facecam.archive`), the notification and privacy settings and Check
accuracy.

:class:`PeopleActions` runs what the People and "Who's this?" panels, the menus and the dialogs ask for, on the
window it is given (its known_faces, recognizer, gallery service, status bar and confirmation); anything slow
(removing a person's photos, enrolling into the database, saving settings) runs on a task thread
(:func:`facecam.gui.workers.run_task`), and a result that comes after the window closed is dropped. The
dialogs it opens are kept on the window (``enroll_dialog``, ``notify_dialog``, ``message_box``,
``evaluate_dialog``), where closing the window closes them.
"""

from __future__ import annotations

from pathlib import Path

from PyQt5.QtCore import QUrl, Qt
from PyQt5.QtWidgets import QFileDialog, QMessageBox

from facecam.gui.enroll_dialog import EnrollDialog
from facecam.gui.notify_settings import NotifySettings
from facecam.gui.workers import run_task


class PeopleActions:
    """See the module notes. ``window``: the :class:`facecam.gui.main_window.MainWindow`."""

    def __init__(self, window):
        self.window = window

    def _say(self, text: str, ms: int = 8000) -> None:
        if not self.window.closed:
            self.window.statusBar().showMessage(text, ms)

    # ------------------------------------------------------------ folders and messages
    def open_known_faces(self) -> None:
        self.open_folder(self.window.known_faces)

    def open_person_folder(self, name: str) -> None:
        folder = self.window.known_faces / name
        self.open_folder(folder if folder.is_dir() else self.window.known_faces)

    def open_folder(self, folder: Path) -> None:
        """The desktop's file manager on ``folder``; when there is none, a message that gives the path."""
        path = folder.resolve()
        if self.window.open_url(QUrl.fromLocalFile(str(path))) is False:
            self.show_message("Open folder", f"No file manager could open the folder. It is:\n\n{path}")

    def show_message(self, title: str, text: str) -> None:
        """A non-modal message (the text can be selected and copied)."""
        w = self.window
        if w.message_box is not None:
            w.message_box.close()
        box = QMessageBox(QMessageBox.Information, title, text, QMessageBox.Ok, w)
        box.setTextInteractionFlags(Qt.TextSelectableByMouse)
        box.setModal(False)
        box.show()
        w.message_box = box

    def confirm_dialog(self, title: str, text: str) -> bool:
        return QMessageBox.question(self.window, title, text, QMessageBox.Yes | QMessageBox.No,
                                    QMessageBox.No) == QMessageBox.Yes

    # ------------------------------------------------------------ people
    def remove_person(self, name: str) -> None:
        w = self.window
        if not w.confirm("Remove person", f"Remove {name} from known_faces?\n\nTheir photos are moved to "
                                          f"{w.known_faces / '.facecam' / 'removed'}, not deleted."):
            return
        from facecam.gallery import remove_person  # noqa: PLC0415

        root = w.known_faces

        def done(backup):
            w.sightings.forget_person(name)     # Home Assistant's entity of the person goes too
            self._say(f"Removed {name}; photos kept in {backup}")
            if not w.closed:
                w.refresh_gallery()

        run_task("remove-person", lambda: remove_person(root, name), done,
                 lambda error: self._say(f"Could not remove {name}: {error}", 10000))

    def forget_person(self, name: str) -> None:
        """People > Forget...: after a confirmation, everything of ``name`` is deleted (:func:`facecam.forget.forget_person`,
        as ``facecam people forget``), on a task thread; Home Assistant and MQTT are told through the window's
        notifier, and the gallery, History and Who's this? are read again."""
        w = self.window
        where = " and the database" if w.options.db else ""
        if not w.confirm("Forget person", f"Forget {name} everywhere?\n\nTheir photos, learned crops, visits with "
                                          f"their snapshots and the unknown faces that are them are deleted from "
                                          f"{w.known_faces}{where}. This cannot be undone."):
            return
        from facecam.forget import forget_person  # noqa: PLC0415
        from facecam.stores import WINDOW_HINT, open_stores  # noqa: PLC0415

        root, db = w.known_faces, w.options.db
        w.sightings.forget_person(name, everywhere=True)   # their visit in view now is not logged when it ends;
        # Home Assistant's entity and MQTT's retained topics go (the window's notifier)

        def work():
            with open_stores(root, db, hint=WINDOW_HINT) as stores:
                return forget_person(stores, name)

        def done(report):
            self._say(report.text() + ("; " + report.warnings[0] if report.warnings else ""), 12000)
            if not w.closed:
                w.refresh_gallery()
                w.history_panel.refresh()
                w.unknowns.refresh()

        run_task("forget-person", work, done, lambda error: self._say(f"Could not forget {name}: {error}", 12000))

    def forget_unknowns(self, cluster_ids: list) -> None:
        """Who's this? > Forget, after a confirmation that says how many sightings go with the entries."""
        w = self.window
        chosen = set(cluster_ids)
        sightings = sum(view.visits for view in w.unknowns.views if view.id in chosen)
        entries = f"{len(chosen)} entr{'y' if len(chosen) == 1 else 'ies'}"
        if w.confirm("Forget", f"Forget {entries} and {sightings} sighting(s), with their crops?\n\n"
                               "They are deleted; the same face seen again is collected again."):
            w.unknowns.forget(list(cluster_ids))

    def clear_learned(self, name: str | None) -> None:
        """People > Clear learned (one person) or Tools > Clear learned faces (everyone), after a confirmation."""
        from facecam.gallery import is_learned  # noqa: PLC0415

        w = self.window
        people = w.snapshot.people if w.snapshot is not None else ()
        count = sum(1 for p in people if name in (None, p.name) for path in p.photos if is_learned(path))
        whose = name or "everyone"
        if w.confirm("Clear learned faces", f"Delete the {count} face(s) learned of {whose}?\n\n"
                                            "The photos in known_faces are not touched."):
            w.learning.clear(name)

    # ------------------------------------------------------------ export and import (facecam.archive)
    def ask_archive(self, title: str, save: bool, suggested: str = "") -> str:
        """A file dialog for an archive (tests replace it); "" when cancelled."""
        dialog = QFileDialog.getSaveFileName if save else QFileDialog.getOpenFileName
        path, _ = dialog(self.window, title, suggested, "facecam archives (*.zip);;All files (*)")
        return path

    def export_archive(self, name: str | None) -> None:
        """People > Export... (everyone) or Export person... (all facecam holds on ``name``), on a task thread."""
        w = self.window
        what = f"everything facecam holds on {name}" if name else "everyone's photos and learned faces"
        path = self.ask_archive(f"Export {what}", True, str(Path.home() / f"{name or 'facecam-people'}.zip"))
        if not path:
            return
        from facecam.archive import export_archive  # noqa: PLC0415
        from facecam.stores import WINDOW_HINT, open_stores  # noqa: PLC0415

        root, db = w.known_faces, w.options.db

        def work():
            stores = open_stores(root, db, hint=WINDOW_HINT)
            try:
                return export_archive(Path(path), stores, name)
            finally:
                stores.close()

        self._say(f"Exporting {what} to {path}...", 0)
        run_task("people-export", work,
                 lambda manifest: self._say(f"Exported {len(manifest['people'])} person(s) to {path}"),
                 lambda error: self._say(f"Could not export: {error}", 15000))

    def import_archive(self) -> None:
        """People > Import...: an archive's people added to known_faces (or the database with --db), merged: the
        photos each does not have yet. The archive is checked in full first; a refused one writes nothing."""
        w = self.window
        path = self.ask_archive("Import people from an archive", False)
        if not path:
            return
        from facecam.archive import CheckedArchive, import_into_database, import_into_folder  # noqa: PLC0415

        root, db, recognizer, service = w.known_faces, w.options.db, w.recognizer, w.gallery
        if db and recognizer is None:
            self._say("The model is still loading: import into the database works once it is loaded.", 8000)
            return

        def work():
            with CheckedArchive(Path(path)) as archive:
                if not db:
                    return import_into_folder(archive, root)
                from facecam.db.gallery import db_version  # noqa: PLC0415
                from facecam.stores import WINDOW_HINT, open_stores  # noqa: PLC0415

                stores = open_stores(root, db, hint=WINDOW_HINT)
                try:
                    return import_into_database(archive, stores.database(), recognizer.embed_photo,
                                                *db_version(recognizer), where=stores.where)
                finally:
                    stores.close()

        def done(result):
            self._say(result.text().replace("imported", "Imported", 1) +
                      (f" ({len(result.notes)} note(s): {result.notes[0]})" if result.notes else ""), 15000)
            if not w.closed and service is not None:
                w.refresh_gallery()

        self._say(f"Checking and importing {path}...", 0)
        run_task("people-import", work, done, lambda error: self._say(f"Could not import: {error}", 15000))

    # ------------------------------------------------------------ enroll
    def enroll(self) -> None:
        w = self.window
        if w.recognizer is None:
            w.statusBar().showMessage("The model is still loading: Enroll works once faces are recognised.", 5000)
            return
        if w.last_frame is None:
            w.statusBar().showMessage("No picture yet: Enroll takes the faces of the current frame.", 5000)
            return
        if w.enroll_dialog is not None and w.enroll_dialog.isVisible():
            w.enroll_dialog.raise_()
            return
        from facecam.config import consent_required  # noqa: PLC0415

        dialog = EnrollDialog(w.last_frame.bgr_frame, w.recognizer, w.known_faces, w.people_names(),
                              frame_provider=self._newest_frame, parent=w, ask_consent=consent_required())
        dialog.saved.connect(self.on_enrolled)
        w.enroll_dialog = dialog
        dialog.open()

    def _newest_frame(self):
        frame = self.window.last_frame
        return frame.bgr_frame if frame is not None else None

    def on_enrolled(self, name: str, paths: list) -> None:
        """Photos of ``name`` were saved (Enroll, "Who's this?" naming, the face menu): the gallery is rescanned
        (with --db, the photos go to the database too)."""
        w = self.window
        if w.closed:
            return
        w.statusBar().showMessage(f"Saved {len(paths)} photo(s) of {name} in {w.known_faces / name}", 8000)
        w.sightings.remember_person(name)   # forgotten earlier in this run: logged again from now on
        if w.options.db and w.gallery is not None:
            self._enroll_into_db(name, paths)
            return
        w.refresh_gallery()  # the gallery change then resets the pipeline: recognised on the next rounds

    def _enroll_into_db(self, name: str, paths: list) -> None:
        """--db: the photos Enroll saved go to the database too (on a task thread); every instance on it,
        this window included (LISTEN/NOTIFY), names the person within seconds."""
        service, recognizer = self.window.gallery, self.window.recognizer
        run_task("db-enroll", lambda: service.enroll_into_db(name, paths, recognizer),
                 lambda ids: self._say(f"{name} will be stored in the database when it answers" if ids is None
                                       else f"Enrolled {name} in the database ({len(ids)} photo(s))"),
                 lambda error: self._say(f"{name} could not be enrolled in the database: {error}", 15000))

    # ------------------------------------------------------------ notifications, accuracy
    def edit_notifications(self) -> None:
        """Tools > Notifications...: the settings dialog; OK saves them and notifies with them from now on."""
        from facecam.gui.notify_dialog import NotifyDialog  # noqa: PLC0415

        w = self.window
        dialog = NotifyDialog(w.sightings.notify, w)
        dialog.chosen.connect(self.use_notifications)
        w.notify_dialog = dialog
        dialog.open()

    def use_notifications(self, settings: NotifySettings) -> None:
        w = self.window
        problem = w.sightings.set_notify(settings)
        w.statusBar().showMessage(problem or settings.describe(), 8000)   # describe(): never a password
        if problem:
            return
        run_task("save-settings", settings.save, None,
                 lambda error: self._say(f"Could not save the settings: {error}", 10000))

    def edit_privacy(self) -> None:
        """Tools > Privacy...: how long each kind of data is kept, and whether enrolment asks for consent; OK saves
        them (the settings file, as the command line reads them)."""
        from facecam.gui.privacy_dialog import PrivacyDialog  # noqa: PLC0415

        w = self.window
        dialog = PrivacyDialog(w)
        dialog.saved.connect(lambda text: self._say(text, 10000))
        dialog.saved.connect(lambda _text: w.people_panel.set_consent_required(dialog.consent_box.isChecked()))
        w.privacy_dialog = dialog
        dialog.open()

    def check_accuracy(self) -> None:
        """Tools > Check accuracy: ``facecam evaluate`` on known_faces in a non-modal dialog
        (:func:`facecam.gui.evaluate_dialog.open_evaluate_dialog`, kept as ``window.evaluate_dialog``);
        the action is disabled when ``facecam.evaluate`` is missing."""
        try:
            from facecam.gui import evaluate_dialog  # noqa: PLC0415
        except ImportError:
            QMessageBox.information(self.window, "Check accuracy",
                                    "Run it from a terminal:\n\n    python -m facecam evaluate --known-faces "
                                    f"{self.window.known_faces}")
            return
        evaluate_dialog.open_evaluate_dialog(self.window)
