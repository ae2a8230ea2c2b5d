"""``facecam`` / ``python -m facecam``: the command line, and ``facecam window`` for the window.

The one place the command line and the window meet: ``window`` hands the rest of
the arguments to :func:`facecam.gui.app.run`; everything else goes to
:func:`facecam.cli.main`. Neither side imports the other.
"""

from __future__ import annotations

import sys
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["window"]:
        from facecam.gui.app import run  # noqa: PLC0415 - Qt only when the window is asked for

        return run(argv[1:], prog="facecam window")
    from facecam.cli import main as cli_main  # noqa: PLC0415

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
