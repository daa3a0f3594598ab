"""Close a store while other threads read it, many times over.

Run by test_db.test_closing_while_others_read_does_not_crash in a subprocess: the bug
it guards against was a segmentation fault, which would take the test run with it.
Prints a JSON summary: rounds done, and what the readers met after the close.

    python -m tests.core.db_close_race [rounds]
"""

from __future__ import annotations

import faulthandler
import json
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

from gsmbridge.core.db import StoreClosed
from gsmbridge.core.store import Store


def main(rounds: int) -> dict[str, object]:
    met: dict[str, int] = {}
    met_lock = threading.Lock()
    for _ in range(rounds):
        store = Store(Path(tempfile.mkdtemp()) / "q.db")

        def read(store: Store = store) -> None:
            while True:
                try:
                    store.counts()
                    store.list_jobs(limit=50)
                    store.count_jobs()
                except (StoreClosed, sqlite3.Error) as exc:  # the store was closed
                    with met_lock:
                        met[type(exc).__name__] = met.get(type(exc).__name__, 0) + 1
                    return

        readers = [threading.Thread(target=read) for _ in range(4)]
        for thread in readers:
            thread.start()
        time.sleep(0.005)
        store.close()
        for thread in readers:
            thread.join(10)
    return {"rounds": rounds, "met": met}


if __name__ == "__main__":
    faulthandler.enable()
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 150)))
