"""Work-arounds for bugs in the PySide6 releases we run on.

PySide6 6.12.0 returns ``True`` from ``SignalInstance.emit()`` without taking
a reference to it: every emit from Python takes one reference from ``True``,
and after a few thousand the interpreter aborts ("Fatal Python error:
bool_dealloc").  Every emit in the GUI goes through :func:`emit`, which
measures that once and, where the leak exists, gives the reference back.
Signals emitted by Qt itself (C++) are not affected.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance

_incref = ctypes.pythonapi.Py_IncRef
_incref.argtypes = [ctypes.py_object]
_incref.restype = None

_TRIALS = 64
_lock = threading.Lock()
_emit_steals: bool | None = None


class _Probe(QObject):
    """A signal to measure emit() with.

    Signals:
        probed(): never connected.
    """

    probed = Signal()


def _measure() -> bool:
    """Does emit() hand out a reference to its result that it never took?

    Holding a properly returned result adds one to its count; a stolen one
    adds nothing.  Many trials, because other threads move ``True``'s count too.
    """
    probe = _Probe()
    stolen = 0
    for _ in range(_TRIALS):
        before = sys.getrefcount(True)
        result = probe.probed.emit()
        if result is True and sys.getrefcount(True) == before:
            stolen += 1
        del result
    steals = stolen > _TRIALS // 2
    if steals:
        for _ in range(_TRIALS):
            _incref(True)  # pay back what the trials took
    return steals


def emit_steals_reference() -> bool:
    global _emit_steals
    if _emit_steals is None:
        with _lock:
            if _emit_steals is None:
                _emit_steals = _measure()
    return _emit_steals


def emit(signal: SignalInstance, *args: Any) -> Any:
    """``signal.emit(*args)``, with the reference PySide6 6.12 takes given back."""
    result = signal.emit(*args)
    if (result is True or result is False) and emit_steals_reference():
        _incref(result)
    return result
