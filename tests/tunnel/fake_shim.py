"""A stand-in for a Chocolatey/Scoop shim: runs the real program as its own child and waits.

``fake_shim.py PIDFILE PROGRAM [ARGS...]``: appends its pid to PIDFILE, starts
PROGRAM ARGS with the same stdin/stdout/stderr (as a shim does), passes on its
exit code.  It ignores SIGTERM (a shim that does not forward signals) and never
reads stdin, so only what gsmbridge does to the whole tree ends it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys


def main() -> int:
    pid_file, *program = sys.argv[1:]
    with open(pid_file, "a", encoding="utf-8") as f:
        f.write(f"{os.getpid()}\n")
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return subprocess.call(program)


if __name__ == "__main__":
    sys.exit(main())
