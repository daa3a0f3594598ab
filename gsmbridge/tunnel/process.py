"""A child process whose output is read all the time and whose stop is bounded.

Two reader threads drain stdout and stderr line by line (a full pipe would
freeze the program), hand each line to a callback and keep the last lines for
diagnostics.  ``stop()`` terminates, waits, then kills.

The program must not outlive gsmbridge, whatever ends gsmbridge, and neither
may what it started (a Chocolatey/Scoop shim runs the real program as its own
child).  What holds where:

* Windows: the child goes into a Job Object with KILL_ON_JOB_CLOSE.  Its
  children join the job too; the job's only handle is ours, so when gsmbridge
  exits, crashes or is ended in Task Manager, Windows closes it and kills the
  whole tree.  ``stop()`` ends the job (TerminateJobObject).
* Linux: the child leads its own process group (``start_new_session``) and
  ``stop()`` signals the group, so a shim's grandchild goes too.  When
  gsmbridge is SIGKILLed, the child gets SIGKILL from the kernel
  (``PR_SET_PDEATHSIG``), but a grandchild does not inherit that: what it does
  get is end-of-file on its stdin, a pipe only gsmbridge holds open.  A
  grandchild that neither reads stdin nor writes to its (now broken) output
  pipes can survive a SIGKILL of gsmbridge; shims on Linux (asdf, mise) exec
  the program, so there it is the direct child.
* macOS and other POSIX: the process group and the stdin pipe, without
  PDEATHSIG.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Protocol

log = logging.getLogger("gsmbridge.tunnel")

# -- Linux: the kernel kills the child when its parent goes ---------------------------

PR_SET_PDEATHSIG = 1


def _parent_death_signal() -> Callable[[], None] | None:
    """A preexec_fn setting PR_SET_PDEATHSIG to SIGKILL (Linux), or None elsewhere.

    libc is looked up here, before the fork: the child then only makes one C call.
    Note PDEATHSIG fires when the *thread* that started the child ends; the
    supervisor thread that starts it outlives it (it stops the child first).
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def set_pdeathsig() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    return set_pdeathsig


# -- Windows: a Job Object that dies with us ---------------------------------------------
# ctypes, not pywin32: five kernel32 calls do not justify another dependency (and its
# DLLs in the frozen bundle), and ctypes lets a test stand in a recording kernel32.

JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x2000
JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS = 9  # JobObjectExtendedLimitInformation
PROCESS_SET_QUOTA, PROCESS_TERMINATE = 0x0100, 0x0001


class _BasicLimits(ctypes.Structure):
    _fields_ = [
        ("PerProcessUserTimeLimit", ctypes.c_int64),
        ("PerJobUserTimeLimit", ctypes.c_int64),
        ("LimitFlags", ctypes.c_uint32),
        ("MinimumWorkingSetSize", ctypes.c_size_t),
        ("MaximumWorkingSetSize", ctypes.c_size_t),
        ("ActiveProcessLimit", ctypes.c_uint32),
        ("Affinity", ctypes.c_size_t),
        ("PriorityClass", ctypes.c_uint32),
        ("SchedulingClass", ctypes.c_uint32),
    ]


class _IoCounters(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_uint64)
        for name in (
            "ReadOperationCount",
            "WriteOperationCount",
            "OtherOperationCount",
            "ReadTransferCount",
            "WriteTransferCount",
            "OtherTransferCount",
        )
    ]


class ExtendedLimits(ctypes.Structure):
    """JOBOBJECT_EXTENDED_LIMIT_INFORMATION."""

    _fields_ = [
        ("BasicLimitInformation", _BasicLimits),
        ("IoInfo", _IoCounters),
        ("ProcessMemoryLimit", ctypes.c_size_t),
        ("JobMemoryLimit", ctypes.c_size_t),
        ("PeakProcessMemoryUsed", ctypes.c_size_t),
        ("PeakJobMemoryUsed", ctypes.c_size_t),
    ]


class Kernel32(Protocol):
    """The kernel32 functions used here (``ctypes.WinDLL("kernel32")``, or a stand-in)."""

    def CreateJobObjectW(self, attributes: object, name: object) -> int: ...  # noqa: N802
    def SetInformationJobObject(self, job: int, cls: int, info: object, size: int) -> int: ...  # noqa: N802
    def OpenProcess(self, access: int, inherit: bool, pid: int) -> int: ...  # noqa: N802
    def AssignProcessToJobObject(self, job: int, process: int) -> int: ...  # noqa: N802
    def TerminateJobObject(self, job: int, code: int) -> int: ...  # noqa: N802
    def CloseHandle(self, handle: int) -> int: ...  # noqa: N802


def _kernel32() -> Kernel32:
    dll = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    dll.CreateJobObjectW.restype = ctypes.c_void_p
    dll.OpenProcess.restype = ctypes.c_void_p
    dll.SetInformationJobObject.argtypes = [
        ctypes.c_void_p,
        ctypes.c_int,
        ctypes.c_void_p,
        ctypes.c_uint32,
    ]
    dll.AssignProcessToJobObject.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    dll.TerminateJobObject.argtypes = [ctypes.c_void_p, ctypes.c_uint]
    dll.CloseHandle.argtypes = [ctypes.c_void_p]
    return dll  # type: ignore[no-any-return]


def _last_error() -> int:
    get = getattr(ctypes, "get_last_error", None)
    return int(get()) if get else 0


class KillOnCloseJob:
    """A Windows Job Object holding the tunnel program and everything it starts."""

    def __init__(self, pid: int, kernel32: Kernel32 | None = None) -> None:
        """Raises OSError when the job cannot be made or the process not put in it."""
        self._k = kernel32 or _kernel32()
        job = self._k.CreateJobObjectW(None, None)
        if not job:
            raise OSError(f"CreateJobObjectW failed (error {_last_error()})")
        self.handle = job
        limits = ExtendedLimits()
        limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
        try:
            if not self._k.SetInformationJobObject(
                job,
                JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS,
                ctypes.byref(limits),
                ctypes.sizeof(limits),
            ):
                raise OSError(f"SetInformationJobObject failed (error {_last_error()})")
            process = self._k.OpenProcess(PROCESS_SET_QUOTA | PROCESS_TERMINATE, False, pid)
            if not process:
                raise OSError(f"OpenProcess failed for pid {pid} (error {_last_error()})")
            try:
                if not self._k.AssignProcessToJobObject(job, process):
                    raise OSError(f"AssignProcessToJobObject failed (error {_last_error()})")
            finally:
                self._k.CloseHandle(process)
        except OSError:
            self.close()
            raise

    def terminate(self) -> None:
        """End every process in the job (the program, a shim's child, ...)."""
        if self.handle:
            self._k.TerminateJobObject(self.handle, 1)

    def close(self) -> None:
        if self.handle:
            handle, self.handle = self.handle, 0
            self._k.CloseHandle(handle)


class ChildProcess:
    def __init__(
        self,
        argv: Sequence[str],
        on_line: Callable[[str, str], None],
        *,
        env: Mapping[str, str] | None = None,
        keep_lines: int = 200,
    ) -> None:
        """Start the program (OSError if it cannot be started)."""
        self.argv = list(argv)
        self._on_line = on_line
        self._lines: deque[str] = deque(maxlen=keep_lines)
        self._lock = threading.Lock()
        flags = 0
        if sys.platform == "win32":
            # The GUI has no console: without this every start flashes a console window.
            flags = subprocess.CREATE_NO_WINDOW  # type: ignore[attr-defined]
        posix = os.name != "nt"
        self.popen = subprocess.Popen(
            self.argv,
            # A pipe nobody writes: it reaches end-of-file only when gsmbridge is gone.
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
            text=True,
            encoding="utf-8",
            errors="replace",
            creationflags=flags,
            start_new_session=posix,
            preexec_fn=_parent_death_signal() if posix else None,
        )
        self._group = posix  # the child leads a process group of its own
        self._job: KillOnCloseJob | None = None
        if os.name == "nt":
            try:
                self._job = KillOnCloseJob(self.popen.pid)
            except OSError as exc:
                # Still usable; only a crash of gsmbridge could then leave it running.
                log.warning("Could not tie %s to gsmbridge's lifetime: %s", self.argv[0], exc)
        self._readers = [
            threading.Thread(
                target=self._read,
                args=(name, stream),
                name=f"tunnel-{name}-{self.popen.pid}",
                daemon=True,
            )
            for name, stream in (("stdout", self.popen.stdout), ("stderr", self.popen.stderr))
        ]
        for reader in self._readers:
            reader.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def poll(self) -> int | None:
        return self.popen.poll()

    def wait(self, timeout: float) -> int | None:
        """The exit code, or None while it still runs after ``timeout`` seconds."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def last_lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)

    def _read(self, name: str, stream: IO[str] | None) -> None:
        if stream is None:
            return
        try:
            for raw in stream:
                line = raw.rstrip("\r\n")
                with self._lock:
                    self._lines.append(line)
                try:
                    self._on_line(name, line)
                except Exception:  # noqa: BLE001 - a parser bug must not stop the draining
                    log.exception("could not handle the tunnel's output line %r", line)
        except (OSError, ValueError):
            pass  # the pipe closed under us during stop()
        finally:
            try:
                stream.close()
            except OSError:
                pass

    def _signal_group(self, sig: int) -> bool:
        """Signal the child's whole process group; False when there is none (any more)."""
        if not self._group:
            return False
        try:
            os.killpg(self.popen.pid, sig)
        except (ProcessLookupError, PermissionError):
            return False
        except OSError:
            return False
        return True

    def stop(self, timeout: float = 5.0) -> int | None:
        """Terminate the program and what it started, then kill after ``timeout``.

        POSIX: SIGTERM to the process group, SIGKILL to it after ``timeout``;
        Windows: TerminateProcess, and the Job Object ends the rest of the tree.
        """
        if self.popen.poll() is None:
            try:
                if not self._signal_group(signal.SIGTERM):
                    self.popen.terminate()
            except OSError:
                pass
            if self.wait(timeout) is None:
                log.warning("%s did not stop within %.0f s; killing it", self.argv[0], timeout)
                try:
                    if not self._signal_group(signal.SIGKILL):
                        self.popen.kill()
                except OSError:
                    pass
                self.wait(timeout)
        # What the program left behind (a shim's child) goes too, even after a clean exit.
        self._signal_group(signal.SIGKILL)
        if self._job is not None:
            self._job.terminate()
            self._job.close()
            self._job = None
        if self.popen.stdin is not None:
            try:
                self.popen.stdin.close()
            except OSError:
                pass
        for reader in self._readers:
            reader.join(timeout)
        return self.popen.returncode
