"""The window: the only part of facecam that imports PyQt5 (an import-linter contract enforces it).

Modules::

    app.py            command-line arguments, QApplication, exception hooks, start-up
    main_window.py    MainWindow: layout, menus, keys, status bar; the display timer
    video_view.py     numpy BGR frame -> QImage (no copy, buffer kept alive), painted scaled
    workers.py        the threads behind the window and the signals that bring their news back
    enroll_dialog.py  pick a face of the current frame, name it, save (or capture 5 shots)
    people_panel.py   the people in known_faces: thumbnail, photo count, open folder, remove
    source_dialog.py  choose a camera, a video file or a stream URL

Threading rule: only the GUI thread touches widgets. Worker threads (capture, recognition,
gallery watcher, model loader, short tasks) report by emitting Qt signals through a
QObject bridge; the connections are queued, so the slots run on the GUI thread.
"""
