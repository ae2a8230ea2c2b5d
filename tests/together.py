"""Run one opener in several threads at the same moment (stores that two processes may create together)."""

from __future__ import annotations

import threading
from typing import Callable


def run_together(open_one: Callable[[], object], count: int = 4) -> tuple[list, list[BaseException]]:
    """Call ``open_one`` in ``count`` threads released together by a barrier; (results, errors raised)."""
    barrier, results, errors = threading.Barrier(count), [], []

    def run():
        barrier.wait()
        try:
            results.append(open_one())
        except Exception as error:  # noqa: BLE001 - returned to the test
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors
