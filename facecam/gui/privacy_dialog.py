"""Tools > Privacy...: how long each kind of data is kept (visits and snapshots, unknown faces, learned crops) and
whether enrolment asks for consent. The limits are :mod:`facecam.retention`'s, saved in the settings file that the
command line reads too (:data:`facecam.config.RETENTION`); they apply from the next start (the window applies
them as it starts, and keeps applying them while it runs)."""

from __future__ import annotations

from PyQt5.QtCore import pyqtSignal
from PyQt5.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel, QVBoxLayout,
                             QWidget)

from facecam import config
from facecam.camera_set import Sessions
from facecam.retention import Retention
from facecam.gui.workers import run_task


class PrivacyDialog(QDialog):
    """``saved(text)`` once the settings are written (``text``: what to tell the user)."""

    saved = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None, settings: dict | None = None):
        super().__init__(parent)
        self.setWindowTitle("Privacy")
        settings = config.load_settings() if settings is None else settings
        current = Retention.chosen(settings)
        form = QFormLayout()
        self.days: dict[str, QDoubleSpinBox] = {}
        for kind, (key, default, what) in config.RETENTION.items():
            box = QDoubleSpinBox()
            box.setRange(0.5, 36500.0)
            box.setDecimals(1)
            box.setSuffix(" days")
            box.setValue(getattr(current, kind))
            box.setToolTip(f"the setting {key} (default {default:g} days)")
            form.addRow(what[:1].upper() + what[1:] + ":", box)
            self.days[kind] = box
        self.consent_box = QCheckBox("Enrolment asks who agreed, and records it with the date")
        self.consent_box.setChecked(config.consent_required(settings))
        note = QLabel("Older data is deleted when facecam starts and while it runs. Forget a person everywhere "
                      "with People > Forget...")
        note.setWordWrap(True)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.consent_box)
        layout.addWidget(note)
        layout.addWidget(self.status)
        layout.addWidget(buttons)

    def chosen(self) -> Retention:
        return Retention(**{kind: box.value() for kind, box in self.days.items()})

    def save(self) -> None:
        retention, consent = self.chosen(), self.consent_box.isChecked()

        def write():
            problem = config.settings_unusable(config.settings_path())
            if problem:
                raise OSError(f"the settings file {config.settings_path()} {problem}; fix or delete it")
            settings = retention.settings(config.load_settings())
            settings[config.CONSENT_KEY] = consent
            return config.save_settings(settings)

        def done(path) -> None:
            self.saved.emit(f"Privacy settings saved in {path}: " + "; ".join(retention.lines())
                            + ("; consent asked on enrolment" if consent else ""))
            self.accept()

        run_task("save-privacy", write, done, lambda error: self.status.setText(f"Not saved: {error}"))


def start_retention(window) -> Retention:
    """The window's limits (``--keep-days``, else the settings): applied now to the folder's data on a task thread
    (:func:`facecam.retention.enforce`, as ``watch`` does), and learned crops swept while the window runs. With
    ``--db`` the database's stores apply theirs as they connect. The :class:`Retention` in use."""
    from facecam.retention import RetentionSweeper, enforce  # noqa: PLC0415
    from facecam.stores import WINDOW_HINT, open_stores  # noqa: PLC0415

    retention = Retention.chosen(visits=window.options.keep_days)
    window.retention_sessions = Sessions()     # every camera's session (gui.cameras_control adds and removes them)
    if window.options.db:
        return retention
    root = window.known_faces

    def work():
        with open_stores(root, None, hint=WINDOW_HINT) as stores:
            return enforce(stores, retention)

    def done(counts: dict) -> None:
        if any(counts.values()) and not window.closed:
            window.statusBar().showMessage("Deleted as too old: " + ", ".join(
                f"{n} {kind}" for kind, n in counts.items() if n), 10000)

    run_task("retention", work, done, lambda error: None if window.closed else window.statusBar().showMessage(
        f"Old data could not be deleted: {error}", 10000))
    sweeper = RetentionSweeper(root, retention)   # its thread (facecam-retention) is joined at closing with the rest
    window.retention_sessions.follow(sweeper.on_visit)
    return retention
