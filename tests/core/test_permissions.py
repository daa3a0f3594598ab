"""The data directory is private: 0700, the database (and its WAL) and the logs 0600."""

from __future__ import annotations

import logging
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gsmbridge.core import private
from gsmbridge.core.store import Store
from gsmbridge.logs import PrivateRotatingFileHandler, setup_logging
from tests.helpers import add_job

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The common umask (022), which made everything readable by others before."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def _store_with_a_job(data: Path) -> Store:
    store = Store(data / "gsmbridge.db")
    add_job(store, "a private text")  # writes: the -wal and -shm exist now
    return store


@posix_only
def test_new_data_directory_database_and_wal_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = _store_with_a_job(data)
    try:
        assert mode(data) == 0o700
        for name in ("gsmbridge.db", "gsmbridge.db-wal", "gsmbridge.db-shm"):
            assert (data / name).exists(), name
            assert mode(data / name) == 0o600, name
    finally:
        store.close()


@posix_only
def test_new_logs_are_private_also_after_a_rollover(tmp_path: Path, restore_logging) -> None:
    data = tmp_path / "data"
    log_file = setup_logging(data, "INFO", stderr=False)
    assert log_file is not None
    logging.getLogger("test").warning("a line with +12125550123")
    assert mode(data) == 0o700 and mode(log_file.parent) == 0o700
    assert mode(log_file) == 0o600
    handler = PrivateRotatingFileHandler(tmp_path / "small.log", maxBytes=100, backupCount=2)
    try:
        for i in range(10):
            handler.emit(logging.makeLogRecord({"msg": f"line {i} " + "x" * 40}))
    finally:
        handler.close()
    rotated = sorted(tmp_path.glob("small.log*"))
    assert len(rotated) == 3
    assert [mode(p) for p in rotated] == [0o600] * 3


@posix_only
def test_an_older_readable_data_directory_is_tightened_and_logged_once(
    tmp_path: Path, restore_logging, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    (data / "logs").mkdir(parents=True)
    store = _store_with_a_job(data)
    store.close()
    old_log = data / "logs" / "gsmbridge.log.1"
    old_log.write_text("old lines\n")
    for path in (data, data / "logs"):
        path.chmod(0o755)
    for path in (data / "gsmbridge.db", old_log):
        path.chmod(0o644)
    (data / "gsmbridge.db-wal").write_bytes(b"")  # a WAL left behind, readable
    (data / "gsmbridge.db-wal").chmod(0o644)

    caplog.set_level(logging.WARNING, logger="gsmbridge.core.private")
    caplog.clear()
    setup_logging(data, "INFO", stderr=False)
    store = Store(data / "gsmbridge.db")
    try:
        assert mode(data) == 0o700 and mode(data / "logs") == 0o700
        assert mode(old_log) == 0o600 and mode(data / "gsmbridge.db") == 0o600
        assert mode(data / "gsmbridge.db-wal") == 0o600
        notes = [r.getMessage() for r in caplog.records if "Made private" in r.getMessage()]
        assert len(notes) == 2  # one line from the logs' set-up, one from the database
        assert f"{data} (755 -> 700)" in notes[0] and "gsmbridge.log.1 (644 -> 600)" in notes[0]
        assert "gsmbridge.db (644 -> 600)" in notes[1] and "gsmbridge.db-wal" in notes[1]
        # Next start: nothing left to tighten, nothing logged.
        caplog.clear()
        setup_logging(data, "INFO", stderr=False)
        Store(data / "gsmbridge.db").close()
        assert not [r for r in caplog.records if "Made private" in r.getMessage()]
    finally:
        store.close()


@posix_only
def test_a_shared_directory_is_not_ours_to_close(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp
    caplog.set_level(logging.WARNING, logger="gsmbridge.core.private")
    assert private.private_dir(shared) == []
    assert mode(shared) == 0o1777
    assert "--data-dir" in caplog.text


def test_windows_leaves_modes_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_logging
) -> None:
    # The profile's ACLs keep other users out there; chmod only sets read-only.
    chmods: list[tuple[object, int]] = []
    monkeypatch.setattr(os, "chmod", lambda path, m, *a, **k: chmods.append((path, m)))
    data = tmp_path / "data"
    monkeypatch.setattr(sys, "platform", "win32")
    try:
        setup_logging(data, "INFO", stderr=False)
        logging.getLogger("test").warning("a line")
        store = _store_with_a_job(data)
        store.close()
    finally:
        monkeypatch.undo()
    assert (data / "gsmbridge.db").exists() and (data / "logs" / "gsmbridge.log").exists()
    assert chmods == []
    if sys.platform != "win32":  # on Linux the usual umask shows nothing was made private
        assert mode(data) == 0o755 and mode(data / "gsmbridge.db") == 0o644


@posix_only
def test_first_start_makes_the_directory_private_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The instance lock comes first in a new data directory; the directory it makes is
    already private, so nothing is "tightened" (and no warning) on a first start."""
    from gsmbridge.core.instance import InstanceLock

    data = tmp_path / "new" / "data"
    lock = InstanceLock(data)
    lock.acquire()
    try:
        assert mode(data) == 0o700
        assert private.private_dir(data) == []
    finally:
        lock.release()
