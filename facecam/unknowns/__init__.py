"""Unknown faces ("Who's this?", issue 8): collected from the live pipeline, one cluster per person.

``collect`` (the pipeline listener, the quality score, the sighting type), ``cluster`` (single
linkage, incremental and from scratch), ``store`` (the store interface and its SQLite
implementation), ``live`` (the three wired together for ``watch`` and the window), ``command``
(``facecam unknowns``). Qt-free.
"""
