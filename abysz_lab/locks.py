"""One writer per output folder: a lock file that a second run, from anywhere, is refused by.

Every run that writes a folder of frames (or a video file) holds the lock of
its output for as long as it writes::

    from abysz_lab.locks import folder_lock

    with folder_lock(output, "DFI", warnings=warnings):
        ...  # write frames; a second run into `output` gets InputError naming this one

The lock is the file ``.abysz.lock`` in the folder (``.<name>.abysz.lock`` for
a single output file, see :func:`file_lock`), created atomically with
``O_CREAT | O_EXCL`` and holding the PID, host, start time and operation as
JSON. It works across processes (CLI, WebUI tab, API server) and inside one
process (two tabs), because the file, not a thread lock, is what counts.

A lock left by a process that died (kill -9, power cut) on this host is taken
over, with a note appended to ``warnings`` (dead: no such PID, or on Linux a
PID now used by a process that started later); a lock from another host (a
network drive) is never taken over: the message says which file to delete.
Taking the lock also removes the ``.part`` temporaries a killed run left in
the folder (see :func:`remove_stale_parts`): with the lock held, no other run
can be writing them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from abysz_lab.errors import InputError

LOCK_NAME = ".abysz.lock"
# An empty or unreadable lock younger than this is a run still writing its details: not stale yet.
_UNREADABLE_GRACE_S = 10.0
# frames.write_bytes_atomic names its temporaries ".<name>.<8 mkstemp characters>.part".
_PART_PATTERN = re.compile(r"^\..+\.[a-z0-9_]{8}\.part$")


@dataclass(frozen=True)
class LockInfo:
    """Who holds a lock: process id, host name, start time (epoch seconds) and operation."""

    pid: int
    host: str
    started: float
    operation: str
    process_start: str = ""  # Linux: the process's start tick, so a PID reused after a crash is not taken for it

    def describe(self) -> str:
        """'another Abysz LAB run (PID 123, started 10:41 on host X, DFI)'."""
        when = time.strftime("%H:%M", time.localtime(self.started))
        return f"another Abysz LAB run (PID {self.pid}, started {when} on host {self.host}, {self.operation})"

    def to_json(self) -> bytes:
        """The lock file's content."""
        payload = {"pid": self.pid, "host": self.host, "started": self.started, "operation": self.operation}
        payload["process_start"] = self.process_start
        return json.dumps(payload).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> LockInfo | None:
        """Parse a lock file's content; None when it is empty or not ours."""
        try:
            raw = json.loads(data.decode("utf-8"))
            start = str(raw.get("process_start", ""))
            return cls(int(raw["pid"]), str(raw["host"]), float(raw["started"]), str(raw["operation"]), start)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return None


def _this_host() -> str:
    return socket.gethostname()


def process_start(pid: int) -> str:
    """When process ``pid`` started, in clock ticks since boot (Linux /proc), or '' where that is unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[-1].split()  # the command name may hold spaces and parentheses
    return fields[19] if len(fields) > 19 else ""


def holder_alive(holder: LockInfo) -> bool:
    """True when the lock's process still runs: its PID is alive and, where known, started when it did."""
    if not pid_alive(holder.pid):
        return False
    if holder.process_start:
        now = process_start(holder.pid)
        return not now or now == holder.process_start
    return True


def pid_alive(pid: int) -> bool:
    """True when a process with this id runs on this machine (or may: when we cannot tell)."""
    if pid <= 0:
        return False
    if os.name == "nt":
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        ctypes.windll.kernel32.CloseHandle(handle)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


class FolderLock:
    """A held lock; :meth:`release` (or leaving :func:`folder_lock`) removes its file."""

    def __init__(self, path: Path, info: LockInfo) -> None:
        self.path = path
        self.info = info
        self._held = True

    def release(self) -> None:
        """Remove the lock file if it is still ours."""
        if not self._held:
            return
        self._held = False
        with contextlib.suppress(OSError):
            if LockInfo.from_json(self.path.read_bytes()) == self.info:
                self.path.unlink()


def _create(path: Path, info: LockInfo) -> bool:
    """Create the lock file atomically; False when it already exists."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    except OSError as exc:
        msg = f"Cannot write in {path.parent}: {exc.strerror or exc}. Check the folder is writable."
        raise InputError(msg) from exc
    with os.fdopen(fd, "wb") as fh:
        fh.write(info.to_json())
    return True


def _stale_reason(path: Path) -> tuple[LockInfo | None, str]:
    """(holder, '') while a live run holds ``path``; (holder or None, why it is stale) otherwise."""
    try:
        data = path.read_bytes()
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return None, "gone"
    except OSError as exc:
        msg = f"Cannot read the lock file {path}: {exc.strerror or exc}."
        raise InputError(msg) from exc
    holder = LockInfo.from_json(data)
    if holder is None:
        return None, "an unreadable lock file" if age > _UNREADABLE_GRACE_S else ""
    if holder.host == _this_host() and not holder_alive(holder):
        return holder, f"a run that ended without releasing it (PID {holder.pid}, {holder.operation})"
    return holder, ""


def acquire(lock_path: str | os.PathLike[str], operation: str, *, warnings: list[str] | None = None) -> FolderLock:
    """Take the lock file ``lock_path``; InputError naming the holder when another live run has it."""
    path = Path(lock_path)
    info = LockInfo(os.getpid(), _this_host(), time.time(), operation, process_start(os.getpid()))
    for _ in range(5):  # a few rounds: a stale lock is moved away between them
        if _create(path, info):
            return FolderLock(path, info)
        holder, stale = _stale_reason(path)
        if stale == "gone":
            continue
        if not stale:
            _refuse(path, holder)
        # Move the stale file aside under a unique name; if another run beat us to it, go round again.
        aside = path.with_name(f"{path.name}.stale-{os.getpid()}-{time.time_ns()}")
        try:
            path.rename(aside)
        except FileNotFoundError:
            continue
        except OSError as exc:
            msg = f"Cannot replace the stale lock {path}: {exc.strerror or exc}."
            raise InputError(msg) from exc
        moved = LockInfo.from_json(aside.read_bytes()) if aside.exists() else None
        if moved != holder:
            # Between our look and the rename a live run replaced the stale lock: put its lock back.
            with contextlib.suppress(OSError):
                os.link(aside, path)
            with contextlib.suppress(OSError):
                aside.unlink()
            continue
        with contextlib.suppress(OSError):
            aside.unlink()
        if warnings is not None:
            warnings.append(f"Took over the lock of {stale} in {path.parent}.")
    holder, _ = _stale_reason(path)
    _refuse(path, holder)
    raise AssertionError  # unreachable: _refuse raises


def _refuse(path: Path, holder: LockInfo | None) -> None:
    who = holder.describe() if holder is not None else "another Abysz LAB run (starting up)"
    msg = (
        f"{who[0].upper()}{who[1:]} is writing to this folder ({path.parent}): wait for it or choose another "
        f"output folder. If no such run is going, delete {path}."
    )
    raise InputError(msg)


def remove_stale_parts(folder: str | os.PathLike[str]) -> int:
    """Delete the ``.part`` temporaries of killed writes in ``folder``; return how many. Call only holding its lock."""
    removed = 0
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return 0
    for entry in entries:
        if _PART_PATTERN.match(entry.name) and entry.is_file() and not entry.is_symlink():
            with contextlib.suppress(OSError):
                entry.unlink()
                removed += 1
    return removed


@contextlib.contextmanager
def folder_lock(
    folder: str | os.PathLike[str], operation: str, *, warnings: list[str] | None = None, clean_parts: bool = True
) -> Iterator[FolderLock]:
    """Hold ``folder``'s lock while the block runs (the folder must exist); remove stale ``.part`` files first."""
    lock = acquire(Path(folder) / LOCK_NAME, operation, warnings=warnings)
    try:
        if clean_parts:
            remove_stale_parts(folder)
        yield lock
    finally:
        lock.release()


@contextlib.contextmanager
def file_lock(
    output: str | os.PathLike[str], operation: str, *, warnings: list[str] | None = None
) -> Iterator[FolderLock]:
    """Hold the lock of one output file (``.<name>.abysz.lock`` beside it) while the block runs.

    Two runs writing the same video are refused; runs writing different files
    in one folder are not. Stale temporaries of this file are removed.
    """
    out = Path(output)
    lock = acquire(out.with_name(f".{out.name}{LOCK_NAME}"), operation, warnings=warnings)
    try:
        # video._temp_beside names this file's temporaries ".<stem>.<8 mkstemp characters>.part<suffix>".
        own = re.compile(rf"^\.{re.escape(out.stem)}\.[a-z0-9_]{{8}}\.part{re.escape(out.suffix)}$")
        for entry in list(out.parent.iterdir()):
            if own.match(entry.name) and entry.is_file() and not entry.is_symlink():
                with contextlib.suppress(OSError):
                    entry.unlink()
        yield lock
    finally:
        lock.release()
