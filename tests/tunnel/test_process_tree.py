"""The tunnel program and what it starts never outlive gsmbridge (issue 14 item 4)."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gsmbridge.tunnel import process
from gsmbridge.tunnel.process import ChildProcess
from tests.tunnel.conftest import FAKE_CLOUDFLARED, HERE

ROOT = Path(__file__).parents[2]
SHIM = [sys.executable, str(HERE / "fake_shim.py")]
posix_only = pytest.mark.skipif(os.name == "nt", reason="process groups and signals")
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG")


def running(pid: int) -> bool:
    """Alive and not a zombie waiting for a reaper."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def pids_in(path: Path, count: int) -> list[int]:
    assert wait_until(lambda: path.exists() and len(path.read_text().split()) >= count), (
        f"{path} never listed {count} processes"
    )
    return [int(p) for p in path.read_text().split()]


def cleanup(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


# -- stop() ends the whole tree ---------------------------------------------------------------


@posix_only
def test_stop_ends_a_shims_child(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    argv = [*SHIM, str(pid_file), *FAKE_CLOUDFLARED, f"--fake-pid-file={pid_file}", "tunnel"]
    child = ChildProcess(argv, lambda stream, line: None)
    pids = pids_in(pid_file, 2)
    try:
        assert all(running(pid) for pid in pids)
        child.stop(timeout=1.0)  # the shim ignores SIGTERM: the group's SIGKILL ends it
        assert wait_until(lambda: not any(running(pid) for pid in pids), 5), pids
    finally:
        cleanup(pids)


@posix_only
def test_a_grandchild_left_after_the_shim_exits_is_ended(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    argv = [*SHIM, str(pid_file), *FAKE_CLOUDFLARED, f"--fake-pid-file={pid_file}", "tunnel"]
    child = ChildProcess(argv, lambda stream, line: None)
    shim, program = pids_in(pid_file, 2)
    try:
        os.kill(shim, signal.SIGKILL)  # the shim dies; the real program runs on
        assert child.wait(5) is not None and running(program)
        child.stop(timeout=1.0)
        assert wait_until(lambda: not running(program), 5)
    finally:
        cleanup([shim, program])


# -- gsmbridge killed outright ------------------------------------------------------------------

GSMBRIDGE = """
import sys, time
from gsmbridge.config import Settings
from gsmbridge.core.events import Listener
from gsmbridge.tunnel import TunnelManager, TunnelOptions

settings = Settings()
settings.auth.username, settings.auth.password = "u", "p4ss-word"
up = []

class L(Listener):
    def tunnel_changed(self, status):
        if status.state == "up":
            up.append(status)

manager = TunnelManager(
    settings, 9, L(), options=TunnelOptions(self_check_interval_s=0, poll_interval_s=0.05),
    program="cloudflared", command=sys.argv[1:],
)
manager.start()
while not up:
    time.sleep(0.05)
print("up", flush=True)
time.sleep(600)
"""


@linux_only
@pytest.mark.parametrize("shape", ["program", "shim"])
def test_sigkill_of_gsmbridge_leaves_no_tunnel_process(shape: str, tmp_path: Path) -> None:
    """program: the direct child ignores stdin, PDEATHSIG ends it.  shim: the shim (a
    direct child that ignores stdin and SIGTERM) gets PDEATHSIG; its child, which
    PDEATHSIG does not reach, ends at the end-of-file on the stdin only gsmbridge held."""
    pid_file = tmp_path / "pids"
    program = [*FAKE_CLOUDFLARED, f"--fake-pid-file={pid_file}"]
    if shape == "shim":
        command = [*SHIM, str(pid_file), *program, "--fake-exit-on-stdin-eof"]
        count = 2
    else:
        command, count = program, 1
    bridge = subprocess.Popen(
        [sys.executable, "-c", GSMBRIDGE, *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    pids: list[int] = []
    try:
        assert bridge.stdout is not None
        ready, _, _ = select.select([bridge.stdout], [], [], 30)
        assert ready and bridge.stdout.readline().strip() == "up", "the tunnel never came up"
        pids = pids_in(pid_file, count)
        assert all(running(pid) for pid in pids)
        bridge.kill()  # SIGKILL: no clean-up code of ours runs
        bridge.wait(10)
        assert wait_until(lambda: not any(running(pid) for pid in pids), 10), [
            pid for pid in pids if running(pid)
        ]
    finally:
        bridge.kill()
        cleanup(pids)


# -- Windows: the Job Object, with a recording kernel32 -----------------------------------------


@dataclass
class FakeKernel32:
    """Records the calls; handles are small integers.  ``fail`` names a call that fails."""

    fail: str = ""
    calls: list[tuple] = field(default_factory=list)
    limits: process.ExtendedLimits | None = None

    def _result(self, name: str, ok: int) -> int:
        return 0 if self.fail == name else ok

    def CreateJobObjectW(self, attributes: object, name: object) -> int:  # noqa: N802
        self.calls.append(("CreateJobObjectW", attributes, name))
        return self._result("CreateJobObjectW", 0x70)

    def SetInformationJobObject(self, job: int, cls: int, info: object, size: int) -> int:  # noqa: N802
        self.limits = process.ExtendedLimits.from_buffer_copy(
            ctypes.string_at(ctypes.addressof(info._obj), size)  # type: ignore[attr-defined]
        )
        self.calls.append(("SetInformationJobObject", job, cls, size))
        return self._result("SetInformationJobObject", 1)

    def OpenProcess(self, access: int, inherit: bool, pid: int) -> int:  # noqa: N802
        self.calls.append(("OpenProcess", access, inherit, pid))
        return self._result("OpenProcess", 0x80)

    def AssignProcessToJobObject(self, job: int, handle: int) -> int:  # noqa: N802
        self.calls.append(("AssignProcessToJobObject", job, handle))
        return self._result("AssignProcessToJobObject", 1)

    def TerminateJobObject(self, job: int, code: int) -> int:  # noqa: N802
        self.calls.append(("TerminateJobObject", job, code))
        return 1

    def CloseHandle(self, handle: int) -> int:  # noqa: N802
        self.calls.append(("CloseHandle", handle))
        return 1


@contextlib.contextmanager
def on_windows(kernel32: FakeKernel32) -> Iterator[None]:
    """os.name is "nt" and kernel32 is the stand-in, only while the block runs (pathlib
    and pytest read os.name too)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "name", "nt")
        patch.setattr(process, "_kernel32", lambda: kernel32)
        yield


def test_windows_puts_the_program_in_a_kill_on_close_job() -> None:
    kernel32 = FakeKernel32()
    with on_windows(kernel32):
        child = ChildProcess(FAKE_CLOUDFLARED + ["tunnel"], lambda stream, line: None)
    try:
        names = [call[0] for call in kernel32.calls]
        assert names == [
            "CreateJobObjectW",
            "SetInformationJobObject",
            "OpenProcess",
            "AssignProcessToJobObject",
            "CloseHandle",  # the process handle; the job's stays open for our lifetime
        ]
        _, job, cls, size = kernel32.calls[1]
        assert job == 0x70 and cls == 9 and size == ctypes.sizeof(process.ExtendedLimits)
        assert kernel32.limits is not None
        flags = kernel32.limits.BasicLimitInformation.LimitFlags
        assert flags == process.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE == 0x2000
        assert kernel32.calls[2] == ("OpenProcess", 0x0101, False, child.pid)
        assert kernel32.calls[3] == ("AssignProcessToJobObject", 0x70, 0x80)
        assert kernel32.calls[4] == ("CloseHandle", 0x80)
    finally:
        with on_windows(kernel32):
            child.stop(timeout=2.0)
    assert kernel32.calls[-2:] == [("TerminateJobObject", 0x70, 1), ("CloseHandle", 0x70)]
    assert child.poll() is not None


@pytest.mark.parametrize("failing", ["CreateJobObjectW", "OpenProcess", "AssignProcessToJobObject"])
def test_windows_without_a_job_still_runs_and_says_so(
    failing: str, caplog: pytest.LogCaptureFixture
) -> None:
    kernel32 = FakeKernel32(fail=failing)
    with caplog.at_level(logging.WARNING, "gsmbridge.tunnel"), on_windows(kernel32):
        child = ChildProcess(FAKE_CLOUDFLARED + ["tunnel"], lambda stream, line: None)
    try:
        assert child.poll() is None
        assert any(f"{failing} failed" in r.getMessage() for r in caplog.records)
        if failing != "CreateJobObjectW":
            assert kernel32.calls[-1] == ("CloseHandle", 0x70)  # the half-made job is closed
    finally:
        with on_windows(kernel32):
            child.stop(timeout=2.0)
    assert "TerminateJobObject" not in [call[0] for call in kernel32.calls]
