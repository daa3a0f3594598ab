"""The instance lock under Windows' rules, injected: ``msvcrt.locking`` is mandatory,
so a locked byte cannot be read through another handle (reads raise PermissionError).
"""

from __future__ import annotations

import errno
import os
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from gsmbridge.core import instance
from gsmbridge.core.instance import LOCK_OFFSET, AlreadyRunning, InstanceLock, read_pid


class _Windows:
    """A stand-in msvcrt whose locks are mandatory, and an ``open`` that honours them."""

    LK_UNLCK, LK_LOCK, LK_NBLCK = 0, 1, 2

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, int]] = []  # (mode, nbytes, position)
        self.held: dict[int, int] = {}  # locked offset -> the fd holding it
        self.module = types.ModuleType("msvcrt")
        self.module.LK_UNLCK = self.LK_UNLCK  # type: ignore[attr-defined]
        self.module.LK_LOCK = self.LK_LOCK  # type: ignore[attr-defined]
        self.module.LK_NBLCK = self.LK_NBLCK  # type: ignore[attr-defined]
        self.module.locking = self.locking  # type: ignore[attr-defined]

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        position = os.lseek(fd, 0, os.SEEK_CUR)
        self.calls.append((mode, nbytes, position))
        holder = self.held.get(position)
        if holder is not None and holder != fd:
            raise PermissionError(errno.EACCES, "Permission denied")
        self.held[position] = fd

    def open(self, file: Any, mode: str = "r", *args: Any, **kw: Any) -> Any:
        real = open(file, mode, *args, **kw)
        windows = self

        class Mandatory:
            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

            def __enter__(self) -> Mandatory:
                return self

            def __exit__(self, *exc: object) -> None:
                real.close()

            def read(self, size: int = -1) -> Any:
                start = real.tell()
                end = os.fstat(real.fileno()).st_size if size < 0 else start + size
                for offset, fd in windows.held.items():
                    if fd != real.fileno() and start <= offset < max(end, start + 1):
                        raise PermissionError(errno.EACCES, "Permission denied")
                return real.read(size)

        return Mandatory()

    def close_all(self) -> None:
        self.held.clear()


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> _Windows:
    fake = _Windows()
    monkeypatch.setitem(sys.modules, "msvcrt", fake.module)
    monkeypatch.setattr(instance.sys, "platform", "win32")
    monkeypatch.setattr(instance, "open", fake.open, raising=False)
    return fake


def test_second_instance_is_told_and_learns_the_pid(windows: _Windows, tmp_path: Path) -> None:
    first = InstanceLock(tmp_path)
    first.acquire()
    try:
        with pytest.raises(AlreadyRunning) as info:
            InstanceLock(tmp_path).acquire()
        assert info.value.pid == os.getpid()
        assert f"(process {os.getpid()})" in str(info.value)
    finally:
        first.release()
    # Both locked one byte far past the pid, never byte 0 where the pid is.
    assert windows.calls == [(windows.LK_NBLCK, 1, LOCK_OFFSET)] * 2


def test_a_pid_that_cannot_be_read_means_pid_unknown(
    windows: _Windows, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = InstanceLock(tmp_path)
    first.acquire()

    def denied(file: Any, mode: str = "r", *args: Any, **kw: Any) -> Any:
        if mode == "rb":  # any way of reading the pid fails (a sharing violation, say)
            raise PermissionError(errno.EACCES, "The process cannot access the file")
        return windows.open(file, mode, *args, **kw)

    monkeypatch.setattr(instance, "open", denied, raising=False)
    try:
        with pytest.raises(AlreadyRunning) as info:
            InstanceLock(tmp_path).acquire()
        assert info.value.pid is None
        assert "already running" in str(info.value)
        assert "process" not in str(info.value)
    finally:
        first.release()


def test_read_pid_survives_garbage_and_absence(tmp_path: Path) -> None:
    assert read_pid(tmp_path / "none") is None
    (tmp_path / "x").write_bytes(b"\xff\xfe")
    assert read_pid(tmp_path / "x") is None


def test_held_elsewhere_does_not_keep_the_lock(windows: _Windows, tmp_path: Path) -> None:
    probe = InstanceLock(tmp_path)
    assert probe.held_elsewhere() is False
    windows.close_all()  # the probe's handle closed: Windows drops its locks
    first = InstanceLock(tmp_path)
    first.acquire()
    try:
        assert InstanceLock(tmp_path).held_elsewhere() is True
    finally:
        first.release()
