"""What a new user sees at the window's default size (issue 19): every button's whole text, every History
column, and a passing message never drawn over the status text. Measured on the real window, offscreen."""

from __future__ import annotations

from PyQt5.QtCore import QRect
from PyQt5.QtWidgets import QApplication, QMainWindow, QPushButton

from .helpers import EVENT_TIMEOUT_MS


def fully_shown(widget) -> bool:
    """The widget's whole rectangle is drawn (visible, not clipped by a parent)."""
    return widget.isVisible() and widget.visibleRegion().boundingRect() == QRect(0, 0, widget.width(), widget.height())


def test_the_people_buttons_show_their_whole_text_at_the_default_size(make_window):
    window = make_window()
    window.side_tabs.setCurrentWidget(window.people_panel)
    QApplication.processEvents()
    panel = window.people_panel
    buttons = panel.findChildren(QPushButton)
    assert "Clear learned..." in [b.text() for b in buttons]
    for button in buttons:
        text_px = button.fontMetrics().horizontalAdvance(button.text())
        assert button.width() >= button.sizeHint().width() > text_px, button.text()   # not squeezed: whole text
        assert fully_shown(button), button.text()


def test_every_history_column_is_visible_at_the_default_size(make_window):
    from facecam.gui.history_panel import COLUMNS

    window = make_window()
    window.side_tabs.setCurrentWidget(window.history_panel)
    QApplication.processEvents()
    view = window.history_panel.view
    header, width = view.horizontalHeader(), view.viewport().width()
    text = view.fontMetrics().horizontalAdvance
    for column, title in enumerate(COLUMNS):
        left = header.sectionViewportPosition(column)
        assert 0 <= left and left + header.sectionSize(column) <= width, title             # inside the view
        assert header.sectionSize(column) >= text(title), title                           # its title readable
    assert header.sectionSize(COLUMNS.index("Source")) >= text("camera 0")


def test_a_message_shown_before_the_window_is_not_drawn_over_the_status_text(qtbot):
    from facecam.gui.status_line import StatusLine

    window = QMainWindow()
    qtbot.addWidget(window)
    line = StatusLine()
    window.statusBar().addWidget(line, 1)
    line.status_label.setText("30 fps shown  |  model SFace")
    window.statusBar().showMessage("a warning said at start", 300)   # as the window does for a settings warning
    window.show()
    qtbot.waitExposed(window)
    assert window.statusBar().currentMessage() == "a warning said at start"
    assert not line.isVisible()                        # QStatusBar paints the message where the line would be
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == "", timeout=EVENT_TIMEOUT_MS)
    assert line.isVisible() and line.status_label.isVisible()    # and the status text is back once it ends
    window.statusBar().showMessage("a message said later", 60_000)
    assert not line.isVisible()
    line.set_error("known_faces: cannot be read")   # a persistent error stays in view beside any message: a
    QApplication.processEvents()                    # permanent widget of the bar, outside the message's area
    assert line.error_label.isVisible() and line.error_label.parent() is window.statusBar()
    assert window.statusBar().currentMessage() == "a message said later"
