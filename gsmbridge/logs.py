"""Logging set-up shared by headless mode and the GUI: stderr and a rotating file.

Records go from the logging thread (a waitress request thread, the sender...) into
a queue and nothing else; one thread of ours formats them, writes the file and
the console, and feeds the GUI's log view (``attach``).  So a request thread never
formats, never waits for a disk or a handler's lock.  Every line keeps its place
(one queue, one consumer).  An ERROR waits until it is written and flushed, so a
crash right after it still leaves it on disk; the queue is drained at stop and
at exit.  Uncaught exceptions, also from Qt slots and threads, are logged.
"""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import os
import queue
import stat
import sys
import threading
import time
import traceback
from collections.abc import Callable
from io import TextIOWrapper
from pathlib import Path
from types import TracebackType

from gsmbridge.core.private import log_tightened, opener, private_dir, tighten_existing

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 5
# A rollover another process prevents (Windows: a log viewer, a second launch holding
# the file open) is tried again after this long; meanwhile the lines go on in the file.
ROLLOVER_RETRY_S = 60.0
# How long an ERROR's thread waits for its line to be on disk.
ERROR_WAIT_S = 2.0
# After the first record of a quiet spell the log thread waits this long for more:
# under load (a line per webhook) it then wakes, writes and flushes once per batch,
# not once per line, and a put() into a queue nobody waits on wakes no thread.  An
# ERROR, flush() and stop() cut the wait short.  Measured with bench_webhook.py.
GATHER_S = 0.02

log = logging.getLogger(__name__)

# Arguments whose text cannot change after the call: formatted later, on our thread.
_IMMUTABLE = (str, int, float, bool, bytes, type(None))


def log_dir(data_dir: Path) -> Path:
    """Where the log files are (Help → Open log folder shows it)."""
    return data_dir / "logs"


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Each log file, also the new one after a rollover, created 0600 (numbers in DEBUG).

    Formats each record once and counts the file's size itself (the stock handler
    formats twice and asks the disk for every record).  Writes are flushed by the
    log thread when its queue runs empty (``flush``), not line by line.  A rollover
    that fails (Windows will not rename a file another process holds open) loses
    neither the line nor the old logs: the base file is moved aside first, and
    only when that worked do the old ones shift; otherwise writing goes on in the
    same file and the rollover is tried again after ``ROLLOVER_RETRY_S``.
    """

    clock: Callable[[], float] = staticmethod(time.monotonic)

    def __init__(self, filename: Path | str, **kwargs: object) -> None:
        self._size = 0
        self._retry_at = 0.0
        self.rollover_failures = 0
        super().__init__(filename, **kwargs)  # type: ignore[arg-type]
        if self.stream is not None and not stat.S_ISREG(os.fstat(self.stream.fileno()).st_mode):
            self.maxBytes = 0  # /dev/null and the like: never rotate (bpo-45401)

    def _open(self) -> TextIOWrapper:
        stream = open(  # noqa: SIM115 - the handler owns the stream
            self.baseFilename, self.mode, encoding=self.encoding, errors=self.errors, opener=opener
        )
        self._size = os.fstat(stream.fileno()).st_size
        return stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record) + self.terminator
            if self.stream is None:
                self.stream = self._open()
            if (
                self.maxBytes > 0
                and self._size + len(text) >= self.maxBytes
                and self.clock() >= self._retry_at
            ):
                self.doRollover()
            self.stream.write(text)
            self._size += len(text)
            if record.levelno >= logging.ERROR:
                self.stream.flush()
        except RecursionError:
            raise
        except Exception:  # noqa: BLE001 - logging's own convention
            self.handleError(record)

    def doRollover(self) -> None:
        """Rotate, or keep writing here when the base file cannot be moved; never raises."""
        if self.stream:
            self.stream.close()
            self.stream = None  # type: ignore[assignment]
        base = self.baseFilename
        aside = base + ".rotating"
        try:
            os.replace(base, aside)  # the step another process's open handle refuses
        except FileNotFoundError:
            aside = ""
        except OSError as exc:
            self.rollover_failures += 1
            self._retry_at = self.clock() + ROLLOVER_RETRY_S
            self.stream = self._open()
            note = logging.makeLogRecord(
                {
                    "name": __name__,
                    "levelno": logging.WARNING,
                    "levelname": "WARNING",
                    "msg": "Cannot rotate the log file %s (%s; another program may hold it "
                    "open); writing on in it, trying again in %d s",
                    "args": (base, exc, ROLLOVER_RETRY_S),
                }
            )
            text = self.format(note) + self.terminator
            self.stream.write(text)
            self._size += len(text)
            return
        for i in range(self.backupCount - 1, 0, -1):
            older = self.rotation_filename(f"{base}.{i}")
            if os.path.exists(older):
                try:
                    os.replace(older, self.rotation_filename(f"{base}.{i + 1}"))
                except OSError:
                    pass  # that one stays where it is; the newer ones still move
        if aside:
            try:
                os.replace(aside, self.rotation_filename(base + ".1"))
            except OSError:
                pass  # left as gsmbridge.log.rotating: kept, not lost
        self._retry_at = 0.0
        self.stream = self._open()


class LogPipeline(logging.Handler):
    """The root's only gsmbridge handler: enqueues; its thread does the rest.

    ``owned`` handlers (console, file) are closed with the pipeline; ``attach``-ed
    ones (the GUI's) belong to whoever attached them and move on to the next
    pipeline when logging is set up again.
    """

    def __init__(self, owned: list[logging.Handler]) -> None:
        super().__init__()
        self._queue: queue.SimpleQueue[logging.LogRecord | threading.Event | None] = (
            queue.SimpleQueue()
        )
        self.owned = list(owned)
        self._targets: tuple[logging.Handler, ...] = tuple(owned)
        self._targets_lock = threading.Lock()
        self._inline_lock = threading.RLock()  # handling on the caller's thread (stopped)
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._urgent = threading.Event()  # cuts the gathering short (see GATHER_S)

    # -- the logging threads' side ---------------------------------------------------

    def handle(self, record: logging.LogRecord) -> bool:
        """Skip Handler.handle's lock: a queue needs none."""
        if self.filters:
            rv = self.filter(record)
            if not rv:
                return False
            if isinstance(rv, logging.LogRecord):
                record = rv
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        thread = self._thread
        if thread is None or not thread.is_alive() or threading.current_thread() is thread:
            with self._inline_lock:  # not running, or logged by a handler: write it now
                self._dispatch(record)
                self._flush_targets()
            return
        if record.args and not all(isinstance(a, _IMMUTABLE) for a in _args(record)):
            # An object may change before our thread formats it: its text now.
            record.msg, record.args = record.getMessage(), None
        if record.levelno < logging.ERROR:
            self._queue.put(record)
            return
        done = threading.Event()
        record.gsmbridge_written = done
        self._queue.put(record)
        self._urgent.set()
        done.wait(ERROR_WAIT_S)  # on disk before the caller goes on (and maybe crashes)

    # -- our thread ------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="gsmbridge-log", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        get, get_nowait = self._queue.get, self._queue.get_nowait
        while True:
            item = get()
            if item is not None and not self._urgent.is_set():
                self._urgent.wait(GATHER_S)  # let a burst's lines gather (GATHER_S)
            self._urgent.clear()  # what set it is queued already: this batch takes it
            while item is not None:
                if isinstance(item, threading.Event):  # flush(): everything before it is out
                    self._flush_targets()
                    item.set()
                else:
                    self._dispatch(item)
                    done = getattr(item, "gsmbridge_written", None)
                    if done is not None:  # an ERROR: on disk before its thread goes on
                        self._flush_targets()
                        done.set()
                try:
                    item = get_nowait()
                except queue.Empty:
                    break
            self._flush_targets()
            if item is None:
                break

    def _dispatch(self, record: logging.LogRecord) -> None:
        for handler in self._targets:
            if record.levelno >= handler.level:
                handler.handle(record)

    def _flush_targets(self) -> None:
        for handler in self._targets:
            try:
                handler.flush()
            except Exception:  # noqa: BLE001 - a stream gone away must not stop the others
                pass

    # -- control ---------------------------------------------------------------------

    def add(self, handler: logging.Handler) -> None:
        with self._targets_lock:
            if handler not in self._targets:
                self._targets = (*self._targets, handler)

    def remove(self, handler: logging.Handler) -> None:
        with self._targets_lock:
            self._targets = tuple(h for h in self._targets if h is not handler)

    @property
    def attached(self) -> list[logging.Handler]:
        return [h for h in self._targets if h not in self.owned]

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every record logged so far is written; False on timeout."""
        thread = self._thread
        if thread is None or not thread.is_alive() or threading.current_thread() is thread:
            self._flush_targets()
            return True
        marker = threading.Event()
        self._queue.put(marker)
        self._urgent.set()
        return marker.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Drain the queue and end the thread; later records are written inline."""
        thread = self._thread
        if thread is not None and thread.is_alive() and threading.current_thread() is not thread:
            self._queue.put(None)
            self._urgent.set()
            thread.join(timeout)
        self._flush_targets()

    def close(self) -> None:
        self.stop()
        for handler in self.owned:
            self.remove(handler)
            handler.close()
        super().close()


def _args(record: logging.LogRecord) -> tuple[object, ...]:
    args = record.args
    if isinstance(args, tuple):
        return args
    return tuple(args.values()) if isinstance(args, dict) else (args,)


_current: LogPipeline | None = None
_atexit_registered = False


def current_pipeline() -> LogPipeline | None:
    """The pipeline set up last, if it is still on the root logger."""
    if _current is not None and _current in logging.getLogger().handlers:
        return _current
    return None


def attach(handler: logging.Handler) -> None:
    """Feed ``handler`` from the log thread (the root logger itself when none runs)."""
    pipeline = current_pipeline()
    if pipeline is not None:
        pipeline.add(handler)
    else:
        logging.getLogger().addHandler(handler)


def detach(handler: logging.Handler) -> None:
    pipeline = current_pipeline()
    if pipeline is not None:
        pipeline.flush()  # the lines logged so far still reach it
        pipeline.remove(handler)
    logging.getLogger().removeHandler(handler)


def flush_logging(timeout: float = 5.0) -> bool:
    """Every line logged so far on its way out (written, flushed); False on timeout."""
    pipeline = current_pipeline()
    return pipeline.flush(timeout) if pipeline is not None else True


def stop_logging() -> None:
    """Drain the queue (at stop and at exit); lines logged afterwards are written inline."""
    pipeline = current_pipeline()
    if pipeline is not None:
        pipeline.stop()


def _log_uncaught(
    kind: type[BaseException],
    value: BaseException,
    tb: TracebackType | None,
    where: str = "",
) -> None:
    logging.getLogger("gsmbridge").critical(
        "Uncaught exception%s: %s",
        where,
        "".join(traceback.format_exception_only(kind, value)).strip(),
        exc_info=(kind, value, tb),
    )
    flush_logging()


def _excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    """Also what PySide6 calls for an exception raised in a slot."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, tb)
        return
    _log_uncaught(kind, value, tb)


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    value = args.exc_value if args.exc_value is not None else args.exc_type()
    name = args.thread.name if args.thread is not None else "?"
    _log_uncaught(args.exc_type, value, args.exc_traceback, f" in thread {name}")


def install_excepthooks() -> None:
    """Uncaught exceptions (main thread, Qt slots, threads) go to the log, in every
    mode: the windowed exe has no stderr to print a traceback on."""
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook


def _at_exit() -> None:
    stop_logging()


def setup_logging(
    data_dir: Path | None, level: str = "INFO", *, stderr: bool = True
) -> Path | None:
    """Configure the root logger; return the log file's path (None without a data dir)."""
    global _current, _atexit_registered
    root = logging.getLogger()
    root.setLevel(level.upper())
    attached: list[logging.Handler] = []
    for handler in list(root.handlers):
        if getattr(handler, "_gsmbridge", False):
            root.removeHandler(handler)
            if isinstance(handler, LogPipeline):
                attached += handler.attached
            handler.close()
    formatter = logging.Formatter(FORMAT)
    handlers: list[logging.Handler] = []
    if stderr and sys.stderr is not None:  # the windowed exe (pythonw) has no stderr
        handlers.append(logging.StreamHandler())
    log_file = None
    tightened: list[str] = []
    if data_dir is not None:
        folder = log_dir(data_dir)
        tightened = private_dir(data_dir) + private_dir(folder)
        tightened += tighten_existing(*sorted(folder.glob("gsmbridge.log*")))
        log_file = folder / "gsmbridge.log"
        handlers.append(
            PrivateRotatingFileHandler(
                log_file, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
            )
        )
    for handler in handlers:
        handler.setFormatter(formatter)
    pipeline = LogPipeline(handlers)
    for handler in attached:
        pipeline.add(handler)
    pipeline._gsmbridge = True  # type: ignore[attr-defined]
    pipeline.start()
    root.addHandler(pipeline)
    _current = pipeline
    if not _atexit_registered:
        atexit.register(_at_exit)  # runs before logging's own shutdown (atexit is LIFO)
        _atexit_registered = True
    install_excepthooks()
    # waitress logs every queued task at WARNING; see web.server._QueueDepthFilter.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    log_tightened(tightened)  # now that it reaches the log file
    return log_file
