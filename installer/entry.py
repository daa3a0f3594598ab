"""Entry point of the frozen executables (gsmbridge and gsmbridge-cli share it).

Same command line as the ``gsmbridge`` script.  On Windows it also holds a named mutex
for as long as the process runs, so the Inno Setup installer and uninstaller
(``AppMutex`` in installer/gsmbridge.iss) can tell that gsmbridge is running.
"""

from __future__ import annotations

import sys

# Keep in step with AppMutex in installer/gsmbridge.iss.
MUTEX_NAME = "gsmbridge-running"


def hold_mutex() -> list[int]:
    """Create the mutex in this session and globally (other sessions, e.g. via RDP)."""
    if sys.platform != "win32":
        return []
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.CreateMutexW.restype = ctypes.c_void_p
    names = (MUTEX_NAME, "Global\\" + MUTEX_NAME)
    # A failure (e.g. no right to the Global namespace) only weakens the installer's check.
    return [h for h in (kernel32.CreateMutexW(None, False, n) for n in names) if h]


if __name__ == "__main__":
    _handles = hold_mutex()  # closed by the OS when the process exits
    from gsmbridge.__main__ import main

    sys.exit(main())
