"""Asking for a person's name: Who's this? > Name..., and the video's right-click "This is...".

The line opens empty, nothing preselected (Enter alone names nobody: OK waits for a name), and completes
the enrolled names as they are typed (any part of the name, any case), as the enroll dialog does.
"""

from __future__ import annotations

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QCompleter, QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget


def name_completer(names, parent: QWidget) -> QCompleter:
    """The enrolled ``names`` offered while a name is typed: sorted, matched anywhere, case ignored."""
    completer = QCompleter(sorted(names), parent)
    completer.setCaseSensitivity(Qt.CaseInsensitive)
    completer.setFilterMode(Qt.MatchContains)
    return completer


class NameDialog(QDialog):
    """One line for the name of ``what`` (a new or an existing person); OK only once something is typed."""

    def __init__(self, parent: QWidget | None, what: str, names: list[str]):
        super().__init__(parent)
        self.setWindowTitle("Who's this?")
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("a new name, or type to pick a known person")
        self.name_edit.setCompleter(name_completer(names, self))
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.ok_button = buttons.button(QDialogButtonBox.Ok)
        self.ok_button.setEnabled(False)
        self.name_edit.textChanged.connect(lambda text: self.ok_button.setEnabled(bool(text.strip())))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Name of {what} (a new or an existing person):"))
        layout.addWidget(self.name_edit)
        layout.addWidget(buttons)

    def name(self) -> str | None:
        return self.name_edit.text().strip() or None


def ask_name_dialog(parent: QWidget | None, what: str, names: list[str]) -> str | None:
    """The person's name: a new one or one of ``names`` (offered as completions); None when cancelled."""
    dialog = NameDialog(parent, what, names)
    try:
        return dialog.name() if dialog.exec_() == QDialog.Accepted else None
    finally:
        dialog.deleteLater()
