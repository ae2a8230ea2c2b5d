"""facecam's window: ``python main.py [--source 0|1|PATH|URL] [--known-faces DIR] [--model vgg-face|sface]
[--threshold T] [--weights PATH] [--model-dir DIR]`` (``--help`` for more)."""

import sys

from facecam.gui.app import run

if __name__ == "__main__":
    sys.exit(run(prog="main.py"))
