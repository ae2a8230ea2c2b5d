"""Console helpers shared by every command: where output goes, progress lines, argument types.

Results go to stdout (JSON with ``--json``), messages and progress to stderr.
No facecam module is imported here, so any module may import this one.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time


class Output:
    """Where the command writes: results on stdout, messages and progress on stderr."""

    def __init__(self, as_json: bool, stdout=None, stderr=None):
        self.as_json = as_json
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self._said: set[str] = set()

    def result(self, obj: dict, human: str) -> None:
        print(json.dumps(obj, ensure_ascii=False) if self.as_json else human, file=self.stdout, flush=True)

    def message(self, text: str) -> None:
        print(text, file=self.stderr, flush=True)

    def message_once(self, text: str) -> None:
        """``message``, but a text already said by this command is not said again."""
        if text not in self._said:
            self._said.add(text)
            self.message(text)

    @property
    def terminal(self) -> bool:
        """True when stderr is a terminal (progress may be redrawn in place)."""
        return is_terminal(self.stderr)


def reader_gone() -> int:
    """A command's reader stopped reading (``facecam identify DIR --json | head -1``): not an error. What is still
    buffered for stdout (and a broken stderr) goes to the null device, so that Python's own flush at exit says
    nothing either; exit code 0. The Python documentation's recipe for SIGPIPE (signal module, "Note on SIGPIPE")."""
    closed = [sys.stdout]
    try:
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr went to the same pipe (``2>&1 | head``)
        closed.append(sys.stderr)
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in closed:
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError, AttributeError):  # not a file (a test's StringIO), or already closed
            pass
    return 0


def is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Progress:
    """``facecam: LABEL: done/total (rate), N s left`` on stderr: redrawn in place on a terminal (at most 5 times
    a second); otherwise a line every ``every_s`` seconds and one at the end, or nothing with ``terminal_only``."""

    def __init__(self, label: str, stream, every_s: float = 5.0, *, rate_unit: str = "/s",
                 terminal_only: bool = False):
        self.label, self.stream, self.every_s, self.rate_unit = label, stream, every_s, rate_unit
        self.start = time.monotonic()
        self.tty = is_terminal(stream)
        self.last = 0.0 if self.tty else self.start  # off a terminal: the first line after every_s, or the last
        self.silent = terminal_only and not self.tty
        self.line_open = False  # a redrawn line waits for its newline

    def __call__(self, done: int, total, _item=None) -> None:
        if self.silent:
            return
        now = time.monotonic()
        if now - self.last < (0.2 if self.tty else self.every_s) and done != total:
            return
        self.last = now
        elapsed = max(now - self.start, 1e-6)
        rate = done / elapsed
        text = f"facecam: {self.label}: {done}/{total if total else '?'} ({rate:.1f}{self.rate_unit})"
        if total and 0 < done < total:
            text += f", {math.ceil((total - done) / max(rate, 1e-6))} s left"
        if self.tty:
            self.line_open = done != total
            print("\r" + text + "\033[K", end="" if self.line_open else "\n", file=self.stream, flush=True)
        else:
            print(text, file=self.stream, flush=True)

    def finish(self) -> None:
        """End a redrawn line that did not reach its total (a stop, an error, an unknown total)."""
        if self.line_open:
            self.line_open = False
            print(file=self.stream, flush=True)


def number_between(low: float, high: float, what: str):
    """An argparse type: a number strictly between ``low`` and ``high`` (``what`` names it in the message)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not low < value < high:
            raise argparse.ArgumentTypeError(f"expected {what} between {low:g} and {high:g}, got {value:g}")
        return value

    return parse


cosine_distance = number_between(0.0, 2.0, "a cosine distance")


def stranger_rate(text: str) -> float:
    """An argparse type: a share of strangers, as ``0.01``, ``1%`` or ``1/100``."""
    text = text.strip()
    try:
        if "/" in text:
            top, bottom = text.split("/", 1)
            value = float(top) / float(bottom)
        elif text.endswith("%"):
            value = float(text[:-1]) / 100.0
        else:
            value = float(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected a share of strangers such as 1/100, 1% or 0.01, got {text!r}") \
            from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a share of strangers between 0 and 1 (e.g. 1/1000), got {text!r}")
    return value
