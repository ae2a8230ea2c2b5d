"""A --known-faces folder that does not exist: ask before creating it (the CLI refuses such a path).

``resolve_known_faces(path)`` returns the folder to use (created on **Create it**, or the one
picked with **Choose another folder...**), or None for **Quit**. An existing folder is
returned as is, without a question. Tests drive the real dialog (its buttons are attributes)
and pass ``choose_folder`` instead of the system's folder picker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PyQt5.QtWidgets import QFileDialog, QMessageBox, QWidget


class KnownFacesDialog(QMessageBox):
    def __init__(self, path: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.setIcon(QMessageBox.Question)
        self.setWindowTitle("known_faces not found")
        if path.exists():
            self.setText(f"{path} is not a folder.")
        else:
            self.setText(f"The known_faces folder {path} does not exist.")
        self.setInformativeText("It holds one sub-folder of photos per person. Create it, choose another "
                                "folder, or quit (a mistyped --known-faces path?).")
        self.create_button = self.addButton("Create it", QMessageBox.AcceptRole)
        self.choose_button = self.addButton("Choose another folder...", QMessageBox.ActionRole)
        self.quit_button = self.addButton("Quit", QMessageBox.RejectRole)
        self.setDefaultButton(self.choose_button)
        self.create_button.setEnabled(not path.exists())


def pick_folder(parent: QWidget | None, start: Path) -> str:
    return QFileDialog.getExistingDirectory(parent, "Choose the known_faces folder", str(start))


def resolve_known_faces(path: Path, parent: QWidget | None = None,
                        choose_folder: Callable[[QWidget | None, Path], str] = pick_folder) -> Path | None:
    """The known_faces folder to use, asking while ``path`` is not an existing folder; None: quit."""
    path = Path(path).expanduser()
    while not path.is_dir():
        dialog = KnownFacesDialog(path, parent)
        dialog.exec_()
        clicked = dialog.clickedButton()
        if clicked is dialog.create_button:
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                QMessageBox.warning(parent, "known_faces", f"Could not create {path}: {error.strerror or error}")
            continue
        if clicked is dialog.choose_button:
            chosen = choose_folder(parent, path.parent if path.parent.is_dir() else Path.cwd())
            if chosen:
                path = Path(chosen)
            continue
        return None
    return path
