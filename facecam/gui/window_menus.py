"""The window's menus, toolbar and shortcuts: File, View and Tools, as QActions on the window.

:func:`build_actions` makes each action (kept on the window as ``<name>_action``, which the tests and the
other controls use), wires it to the window's controls (:class:`~facecam.gui.people_actions.PeopleActions`,
:class:`~facecam.gui.source_control.SourceControl`, the model, unknown-faces and learning controls) and adds
the window-wide shortcuts, which work with the menu bar hidden (full screen).
"""

from __future__ import annotations

import importlib.util

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import QAction, QToolBar

from facecam.gui.model_control import detector_menu


def build_actions(window) -> None:
    """The menus, the toolbar and the shortcuts of ``window`` (a :class:`facecam.gui.main_window.MainWindow`)."""

    def action(text, slot, shortcuts=(), checkable=False, tip=None):
        act = QAction(text, window)
        if shortcuts:
            act.setShortcuts([QKeySequence(s) for s in shortcuts])
            act.setShortcutContext(Qt.WindowShortcut)
        act.setCheckable(checkable)
        if tip:
            act.setStatusTip(tip)
        act.triggered.connect(slot)
        window.addAction(act)  # shortcuts work even with the menu bar hidden (full screen)
        return act

    window.source_action = action("Choose &source...", window.sources.choose, ("Ctrl+O",),
                                  tip="Camera number, video file or stream URL")
    window.enroll_action = action("&Enroll... (E)", window.people.enroll, ("E",),
                                  tip="Save a face of the current frame as a person in known_faces")
    window.pause_action = action("&Pause (Space)", lambda: window.set_paused(not window.paused), ("Space",),
                                 checkable=True)
    window.fullscreen_action = action("&Full screen (F)", window.toggle_full_screen, ("F",), checkable=True)
    window.quit_action = action("&Quit", window.close, ("Q", "Ctrl+Q"))
    window.escape_action = action("Leave full screen", window.leave_full_screen, ("Esc",))
    window.open_gallery_action = action("Open &known_faces", window.people.open_known_faces)
    window.rescan_action = action("&Rescan known_faces", window.rescan, ("F5",))
    window.distances_action = action("Show &distances", window.distances_box.setChecked, checkable=True)
    window.distances_action.setChecked(True)
    window.distances_box.toggled.connect(window.distances_action.setChecked)
    # ---- hook for the evaluate feature (another engineer's): enabled only when facecam.evaluate exists.
    window.evaluate_action = action("Check &accuracy...", window.people.check_accuracy,
                                    tip="Measure how well the model tells your people apart (facecam.evaluate)")
    window.evaluate_action.setEnabled(evaluate_available())

    menu = window.menuBar()
    file_menu = menu.addMenu("&File")
    for act in (window.source_action, window.enroll_action, window.open_gallery_action, window.rescan_action):
        file_menu.addAction(act)
    file_menu.addSeparator()
    file_menu.addAction(window.quit_action)
    view_menu = menu.addMenu("&View")
    for act in (window.pause_action, window.fullscreen_action, window.distances_action):
        view_menu.addAction(act)
    window.vgg_action = action("Use &VGG-Face...", window.models.offer_vgg_face,
                               tip="Download VGG-Face or choose its weights file, then switch to it")
    tools_menu = menu.addMenu("&Tools")
    tools_menu.addAction(window.evaluate_action)
    tools_menu.addAction(window.vgg_action)
    window.detector_menu = tools_menu.addMenu(detector_menu(window.models, window)).menu()
    window.notify_action = action("&Notifications...", window.people.edit_notifications,
                                  tip="Webhooks and MQTT: be told when someone arrives (as watch --notify/--mqtt)")
    tools_menu.addAction(window.notify_action)
    window.privacy_action = action("&Privacy...", window.people.edit_privacy,
                                   tip="How long visits, unknown faces and learned crops are kept; consent on enrolment")
    tools_menu.addAction(window.privacy_action)
    window.unknowns_action = action("&Collect unknown faces", window.set_collecting_unknowns, checkable=True,
                                    tip="Keep the faces the camera cannot name for \"Who's this?\"")
    window.unknowns_action.setChecked(window.unknowns.enabled)
    tools_menu.addAction(window.unknowns_action)
    window.learn_action = action("&Learn from clear sightings", window.learning.set_enabled, checkable=True,
                                 tip="Clear sightings of a person add a crop to known_faces/<name>/.learned/ "
                                     "(at most 10 each; remembered)")
    window.learn_action.setChecked(window.learning.enabled)
    tools_menu.addAction(window.learn_action)
    window.clear_learned_action = action("Clear learned faces (everyone)...", lambda: window.people.clear_learned(None))
    tools_menu.addAction(window.clear_learned_action)

    toolbar = QToolBar("Main")
    toolbar.setMovable(False)
    toolbar.setFocusPolicy(Qt.NoFocus)
    for act in (window.source_action, window.enroll_action, window.pause_action, window.fullscreen_action):
        toolbar.addAction(act)
    window.addToolBar(toolbar)
    window.toolbar = toolbar


def evaluate_available() -> bool:
    try:
        return importlib.util.find_spec("facecam.evaluate") is not None
    except (ImportError, ValueError):
        return False
