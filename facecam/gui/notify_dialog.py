"""Tools > Notifications...: the command line's notification options as a small dialog.

A field per registered event sink (:data:`facecam.sinks.SINKS`): webhook URLs (one a line: ``--notify``),
an MQTT broker URL (``--mqtt``), Home Assistant's broker (``--homeassistant``), each broker's password in a
masked field of its own; who to notify on (``--notify-on``: known people, unknown faces, or
only some names) and the cooldown (``--cooldown``). OK checks the values with the same code as
the command line (:class:`~facecam.gui.notify_settings.NotifySettings`) and emits
``chosen(NotifySettings)``; a bad value is said in the dialog, which stays open.
"""

from __future__ import annotations

from PyQt5.QtCore import pyqtSignal
from PyQt5.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel, QLineEdit,
                             QPlainTextEdit, QVBoxLayout, QWidget)

from facecam.errors import FacecamError
from facecam.gui.notify_settings import NotifySettings, split_password, with_password
from facecam.sinks import SINKS


class NotifyDialog(QDialog):
    chosen = pyqtSignal(object)          # NotifySettings

    def __init__(self, settings: NotifySettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Notifications")
        self.sink_fields: list[tuple[str, QWidget, QLineEdit | None]] = []   # (sink key, URL field, password)
        for kind in SINKS.values():   # one field (a URL a line, or a URL and its password) per registered sink
            if kind.many:
                edit = QPlainTextEdit("\n".join(settings.urls[kind.key]))
                edit.setFixedHeight(70)
                password = None
            else:
                shown, secret = split_password(getattr(settings, kind.key))
                edit = QLineEdit(shown)
                password = QLineEdit(secret)
                password.setEchoMode(QLineEdit.Password)
                password.setPlaceholderText(f"{kind.label.rstrip(':')} password (if the broker needs one)")
                setattr(self, f"{kind.key}_password", password)
            edit.setPlaceholderText(kind.placeholder)
            edit.setToolTip(kind.help)
            setattr(self, kind.key, edit)              # self.webhooks, self.mqtt, self.homeassistant...
            self.sink_fields.append((kind.key, edit, password))
        lowered = {w.lower() for w in settings.notify_on}
        everyone = not settings.notify_on
        self.known_box = QCheckBox("Known people")
        self.known_box.setChecked(everyone or "known" in lowered)
        self.unknown_box = QCheckBox("Unknown faces")
        self.unknown_box.setChecked(everyone or "unknown" in lowered)
        self.names = QLineEdit(", ".join(w for w in settings.notify_on if w.lower() not in ("known", "unknown")))
        self.names.setPlaceholderText("or only these people: Ada Lovelace, Alan Turing")
        self.known_box.toggled.connect(lambda on: self.names.setEnabled(not on))
        self.names.setEnabled(not self.known_box.isChecked())
        self.cooldown = QDoubleSpinBox()
        self.cooldown.setRange(0, 86_400)
        self.cooldown.setDecimals(0)
        self.cooldown.setSuffix(" s")
        self.cooldown.setValue(settings.cooldown_s)
        self.cooldown.setToolTip("At most one notification per person in this time")
        self.error_label = QLabel()
        self.error_label.setStyleSheet("color: #b00020")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self._ok)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.Ok)

        form = QFormLayout()
        for key, edit, password in self.sink_fields:
            form.addRow(SINKS[key].label, edit)
            if password is not None:
                form.addRow(SINKS[key].label.replace(":", " password:"), password)
        form.addRow("Notify on:", self.known_box)
        form.addRow("", self.unknown_box)
        form.addRow("", self.names)
        form.addRow("Cooldown per person:", self.cooldown)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Each arrival is sent as it is recognised; nothing is sent when all are empty."))
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)

    def settings(self) -> NotifySettings:
        """What the fields say (raises FacecamError on a bad value)."""
        names = [n.strip() for n in self.names.text().split(",") if n.strip()] if self.names.isEnabled() else []
        known, unknown = self.known_box.isChecked(), self.unknown_box.isChecked()
        if not (known or unknown or names):
            raise FacecamError("Notify on: tick known people or unknown faces, or name some people")
        notify_on = () if known and unknown else (("known",) if known else ()) + (("unknown",) if unknown else ()) \
            + tuple(names)
        urls = {key: tuple(edit.toPlainText().splitlines()) if password is None
                else tuple(filter(None, [with_password(edit.text(), password.text())]))
                for key, edit, password in self.sink_fields}
        return NotifySettings(urls=urls, notify_on=notify_on, cooldown_s=self.cooldown.value())

    def _ok(self) -> None:
        try:
            settings = self.settings()
        except FacecamError as error:
            self.error_label.setText(str(error))
            self.error_label.show()
            return
        self.chosen.emit(settings)
        self.accept()
