"""One queue of long jobs for the whole process, shared by the tab and the HTTP API.

Jobs run in submission order on one worker; a second worker takes a job only
when it touches no folder that a running job, or a job queued before it,
touches, so two jobs on the same folders never overlap and always finish in
the order they came. A job that would write into a folder another queued or
running job writes is refused at once, with a message naming that job.

A job is a plain function ``run(job) -> dict`` that reports through
:meth:`Job.report` and stops between frames when ``job.cancel`` is set.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from abysz_lab.errors import AbyszError, Cancelled, InputError
from abysz_lab.jobs import CancelToken, Progress

STATES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")
KEEP_FINISHED = 200  # finished jobs remembered for GET /jobs; older ones are forgotten


class JobConflictError(InputError):
    """A job would write into a folder that a queued or running job writes."""


class JobNotFoundError(InputError):
    """No job has this id (never submitted, or forgotten long after it finished)."""


def _real(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.realpath(Path(path).expanduser()))


def _overlap(a: Iterable[Path], b: Iterable[Path]) -> bool:
    """True when a folder of ``a`` is a folder of ``b``, or inside one, or holds one."""
    b = list(b)
    return any(x == y or x in y.parents or y in x.parents for x in a for y in b)


@dataclass
class Job:
    """One submitted job: what it is, where it writes, and how far it got."""

    id: str
    kind: str
    run: Callable[[Job], dict[str, Any]] = field(repr=False)
    writes: tuple[Path, ...] = ()
    reads: tuple[Path, ...] = ()
    request: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # said when it was accepted, e.g. a field its preset ignores
    number: int = 0  # submission order
    state: str = "queued"
    phase: str = ""
    step: int = 0
    steps: int = 0
    done: int = 0
    total: int = 0
    message: str = ""
    error: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    cancel: CancelToken = field(default_factory=CancelToken, repr=False)
    _finished_event: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def folders(self) -> tuple[Path, ...]:
        """Every folder the job reads or writes."""
        return self.writes + self.reads

    @property
    def fraction(self) -> float:
        """Share of the whole job done, counting finished phases, in [0, 1]."""
        if self.state == "done":
            return 1.0
        if not self.steps:
            return 0.0
        within = self.done / self.total if self.total else 0.0
        return min(1.0, (self.step - 1 + within) / self.steps)

    def report(self, phase: str, progress: Progress, *, step: int = 1, steps: int = 1) -> None:
        """Record the progress of the job's current phase."""
        self.phase, self.step, self.steps = phase, step, steps
        self.done, self.total, self.message = progress.done, progress.total, progress.message

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job finished (done, failed or cancelled); False on timeout."""
        return self._finished_event.wait(timeout)

    def describe(self) -> str:
        """'job 3f2a (dfi into /x/out)' for messages."""
        where = f" into {self.writes[0]}" if self.writes else ""
        return f"job {self.id} ({self.kind}{where}, {self.state})"

    def as_dict(self) -> dict[str, Any]:
        """The JSON the API returns for this job."""
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "phase": self.phase,
            "step": self.step,
            "steps": self.steps,
            "done": self.done,
            "total": self.total,
            "progress": round(self.fraction, 4),
            "message": self.message,
            "error": self.error,
            "files": self.result.get("files", []),
            "figures": self.result.get("figures", {}),
            "result": self.result,
            "request": self.request,
            "notes": list(self.notes),
            "submitted": self.submitted,
            "started": self.started,
            "finished": self.finished,
        }


class JobQueue:
    """Jobs in order on up to ``workers`` threads (the second only for jobs on other folders)."""

    def __init__(self, workers: int = 2) -> None:
        self.workers = max(1, workers)
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._numbers = itertools.count(1)
        self._closed = False

    # --- submitting ---------------------------------------------------------------------------

    def submit(
        self,
        kind: str,
        run: Callable[[Job], dict[str, Any]],
        *,
        writes: Iterable[str | os.PathLike[str]] = (),
        reads: Iterable[str | os.PathLike[str]] = (),
        request: dict[str, Any] | None = None,
        notes: Iterable[str] = (),
    ) -> Job:
        """Queue a job; JobConflictError when it would write where a queued or running job writes."""
        job = Job(
            id=uuid.uuid4().hex[:12],
            kind=kind,
            run=run,
            writes=tuple(_real(p) for p in writes),
            reads=tuple(_real(p) for p in reads),
            request=dict(request or {}),
            notes=tuple(notes),
        )
        with self._lock:
            if self._closed:
                msg = "The job queue is shut down: restart the server."
                raise InputError(msg)
            for other in self._jobs.values():
                if other.state in ("queued", "running") and _overlap(job.writes, other.writes):
                    msg = (
                        f"Refused: {other.describe()} writes into {other.writes[0]}, where this {kind} job would "
                        "write too. Wait for it to finish, cancel it, or choose another output."
                    )
                    raise JobConflictError(msg)
            job.number = next(self._numbers)
            self._jobs[job.id] = job
            self._start_workers()
            self._lock.notify_all()
        return job

    def _start_workers(self) -> None:
        self._threads = [t for t in self._threads if t.is_alive()]
        while len(self._threads) < self.workers:
            thread = threading.Thread(target=self._work, name=f"abysz-job-{len(self._threads)}", daemon=True)
            self._threads.append(thread)
            thread.start()

    # --- looking --------------------------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        """The job with this id; JobNotFoundError otherwise."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            msg = f"No job {job_id!r}: it was never submitted here, or finished long ago (GET /jobs lists them)."
            raise JobNotFoundError(msg)
        return job

    def jobs(self) -> list[Job]:
        """Every remembered job, in submission order."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.number)

    def ahead_of(self, job: Job) -> int:
        """How many unfinished jobs were submitted before ``job`` (0 once it runs)."""
        if job.state != "queued":
            return 0
        with self._lock:
            return sum(1 for j in self._jobs.values() if j.number < job.number and j.state in ("queued", "running"))

    @property
    def busy(self) -> bool:
        """True while any job is queued or running."""
        with self._lock:
            return any(j.state in ("queued", "running") for j in self._jobs.values())

    # --- cancelling ----------------------------------------------------------------------------

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job at once, or ask a running one to stop after its current frame."""
        job = self.get(job_id)
        with self._lock:
            if job.state == "queued":
                self._finish(job, "cancelled", message="Cancelled before it started; nothing was written.")
            elif job.state == "running":
                job.cancel.cancel()
        return job

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel everything and stop the workers (for tests and server shutdown)."""
        with self._lock:
            self._closed = True
            for job in self._jobs.values():
                if job.state == "queued":
                    self._finish(job, "cancelled", message="Cancelled: the server is shutting down.")
                elif job.state == "running":
                    job.cancel.cancel()
            self._lock.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    # --- the workers ---------------------------------------------------------------------------

    def _next(self) -> Job | None:
        """The first queued job whose folders no running job and no earlier queued job touches."""
        blocked: list[Path] = [p for j in self._jobs.values() if j.state == "running" for p in j.folders]
        for job in sorted(self._jobs.values(), key=lambda j: j.number):
            if job.state != "queued":
                continue
            if not _overlap(job.folders, blocked):
                return job
            blocked += job.folders  # later jobs on these folders wait their turn behind this one
        return None

    def _work(self) -> None:
        while True:
            with self._lock:
                job = self._next()
                while job is None:
                    if self._closed:
                        return
                    self._lock.wait(0.5)
                    job = self._next()
                job.state, job.started = "running", time.time()
            self._run(job)

    def _run(self, job: Job) -> None:
        try:
            result = job.run(job)
        except Cancelled as exc:
            with self._lock:
                self._finish(job, "cancelled", message=str(exc))
        except AbyszError as exc:
            with self._lock:
                self._finish(job, "failed", error=str(exc))
        except Exception as exc:  # noqa: BLE001 - a job's bug must fail that job, not kill the worker
            with self._lock:
                self._finish(job, "failed", error=f"Unexpected error ({type(exc).__name__}: {exc}); please report it.")
        else:
            with self._lock:
                cancelled = bool(result.get("cancelled"))
                job.result = result
                self._finish(job, "cancelled" if cancelled else "done", message=result.get("cancelled") or "")

    def _finish(self, job: Job, state: str, *, message: str = "", error: str = "") -> None:
        """Mark ``job`` finished (call holding the lock) and forget the oldest finished jobs past the limit."""
        job.state, job.finished = state, time.time()
        if message:
            job.message = message
        job.error = error
        job.run = _spent  # drop the closure (and what it holds: frames, results) while the record is kept
        job._finished_event.set()  # noqa: SLF001 - the queue owns its jobs' events
        finished = sorted((j for j in self._jobs.values() if j.state in FINISHED), key=lambda j: j.number)
        for old in finished[:-KEEP_FINISHED]:
            del self._jobs[old.id]
        self._lock.notify_all()


def _spent(job: Job) -> dict[str, Any]:
    """What a finished job's ``run`` becomes: running it again is a mistake."""
    msg = f"{job.describe()} has finished; submit a new job to run it again."
    raise InputError(msg)


_default: JobQueue | None = None
_default_lock = threading.Lock()


def default_queue() -> JobQueue:
    """The process-wide queue the tab and the API share (made on first use)."""
    global _default  # one queue per process, made lazily: no threads at import
    with _default_lock:
        if _default is None:
            _default = JobQueue()
        return _default
