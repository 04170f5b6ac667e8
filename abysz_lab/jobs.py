"""What every long-running operation shares: progress, cancel, resume, summary.

The runners (DFI, deflicker apply, video export) report progress through a
plain callback, stop between frames when a :class:`CancelToken` is set, and
record their parameters and progress in a small JSON sidecar in the output
folder so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from abysz_lab.errors import Cancelled, InputError
from abysz_lab.frames import WriteBehind, check_output_folder, write_bytes_atomic
from abysz_lab.locks import folder_lock

SIDECAR_SUFFIX = ".abysz.json"


@dataclass(frozen=True)
class Progress:
    """One progress report: ``done`` of ``total`` frames, and what is happening."""

    done: int
    total: int
    message: str = ""
    elapsed_s: float = 0.0

    @property
    def fraction(self) -> float:
        """Share of the work done, in [0, 1]."""
        return self.done / self.total if self.total else 1.0


ProgressCallback = Callable[[Progress], None]


class CancelToken:
    """A flag a UI button or a signal handler sets to stop a run between frames."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the run to stop after the frame it is working on."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._event.is_set()

    def raise_if_cancelled(self, done: int, total: int, *, writes_frames: bool = True) -> None:
        """Raise Cancelled (saying how far the run got and how to go on) if the token is set."""
        if self._event.is_set():
            if writes_frames:
                msg = (
                    f"Cancelled after {done} of {total} frames; the frames written so far are complete. "
                    "Run it again with resume on to continue from there."
                )
            else:
                msg = f"Cancelled after {done} of {total} frames; nothing was written."
            raise Cancelled(msg)


@dataclass
class RunSummary:
    """What a finished run did, for the CLI's closing line and the UI's figures."""

    operation: str
    output: Path
    written: int
    total: int
    seconds: float
    resumed_from: int = 0
    skipped_inputs: int = 0
    warnings: list[str] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)
    cuts: list[int] = field(default_factory=list)  # 0-based frames where a new shot starts (DFI motion mode)

    @property
    def fps(self) -> float:
        """Frames processed per second in this run (resumed frames not counted)."""
        done = self.written - self.resumed_from
        return done / self.seconds if self.seconds > 0 else 0.0

    def describe(self) -> str:
        """One human sentence with the figures."""
        if self.total and self.resumed_from == self.total:
            return f"{self.operation}: all {self.total} frames were already in {self.output}; nothing to do."
        resumed = f" (resumed after frame {self.resumed_from})" if self.resumed_from else ""
        skipped = f"; {self.skipped_inputs} non-image entries ignored" if self.skipped_inputs else ""
        cuts = ""
        if self.cuts:
            shown = ", ".join(str(c + 1) for c in self.cuts[:12])  # people count frames from 1, like the files
            more = ", ..." if len(self.cuts) > 12 else ""
            cuts = f"; {len(self.cuts)} scene cut(s) at frame(s) {shown}{more}"
        return (
            f"{self.operation}: wrote {self.written} of {self.total} frames to {self.output}{resumed} "
            f"in {self.seconds:.1f} s ({self.fps:.1f} frames/s){skipped}{cuts}."
        )


class RunRecord:
    """The resume sidecar of one operation in one output folder.

    It stores the operation's name, its parameters and inputs, and how many
    frames are whole on disk. A new run with the same parameters and inputs
    continues after the last recorded frame; anything else starts over.
    """

    def __init__(self, output: Path, operation: str, identity: dict[str, Any]) -> None:
        self.path = Path(output) / f".{operation}{SIDECAR_SUFFIX}"
        self.operation = operation
        self.identity = identity

    def load_resumable(self) -> int:
        """Return how many frames a previous identical run completed (0 if none or different)."""
        previous = self.read()
        if previous is None or previous.get("identity") != self.identity:
            return 0
        return int(previous.get("completed", 0))

    def read(self) -> dict[str, Any] | None:
        """The sidecar's content, or None when there is none or it is unreadable."""
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def differs_from_previous(self) -> bool:
        """True when a sidecar exists for a run with other parameters or inputs."""
        previous = self.read()
        return previous is not None and previous.get("identity") != self.identity

    def save(self, completed: int, *, finished: bool = False) -> None:
        """Record that ``completed`` frames are whole on disk (atomic write)."""
        payload = {
            "operation": self.operation,
            "identity": self.identity,
            "completed": completed,
            "finished": finished,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        write_bytes_atomic(self.path, json.dumps(payload, indent=1, sort_keys=True).encode("utf-8"))


def frames_fingerprint(paths: Sequence[Path]) -> str:
    """A digest of the names, sizes and modification times of input files: changes when any is replaced."""
    digest = hashlib.sha1(usedforsecurity=False)
    for path in paths:
        try:
            st = path.stat()
        except OSError as exc:  # removed, or a broken link, since the folder was listed
            msg = f"Cannot read {path}: {exc.strerror or exc}. Check the file is still there."
            raise InputError(msg) from exc
        digest.update(f"{path.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def resume_point(record: RunRecord, out_paths: Sequence[Path], *, resume: bool, warnings: list[str]) -> int:
    """How many frames an identical, interrupted earlier run left whole (0 = start over).

    Appends to ``warnings`` why an earlier run in the folder is not continued,
    and records the new run at once, so a run killed before its first
    checkpoint is never mistaken for the earlier one.
    """
    if record.differs_from_previous():
        warnings.append(
            f"This output folder holds a {record.operation} run with other settings or inputs: starting over."
        )
    done = min(record.load_resumable() if resume else 0, len(out_paths))
    if done and not all(p.exists() for p in out_paths[:done]):
        warnings.append("Some frames of the previous run are missing from the output folder: starting over.")
        done = 0
    if done == len(out_paths) and done:
        warnings.append(
            "This run was already complete in this output folder: nothing to do. "
            "To compute it again, turn resume off (command line: --no-resume)."
        )
    record.save(done, finished=done == len(out_paths))
    return done


class Checkpoint:
    """Counts the frames that are whole on disk and keeps the resume record up to date.

    Pass :meth:`on_written` to :class:`~abysz_lab.frames.WriteBehind`; the record
    is saved at most twice a second while running, and by :meth:`close` at the end.
    """

    def __init__(self, record: RunRecord, total: int, done: int = 0, *, interval_s: float = 0.5) -> None:
        self.record = record
        self.total = total
        self.written = done
        self._interval = interval_s
        self._last_save = time.perf_counter()

    def on_written(self, index: int) -> None:
        """Frame ``index`` (and every one before it) is on disk."""
        self.written = index + 1
        now = time.perf_counter()
        if now - self._last_save > self._interval:
            self.record.save(self.written)
            self._last_save = now

    def close(self) -> None:
        """Save the final count, marking the run finished when every frame is written."""
        self.record.save(self.written, finished=self.written == self.total)


def write_results(
    results: Iterator[tuple[int, Any]],
    out_paths: Sequence[Path],
    checkpoint: Checkpoint,
    cancel: CancelToken,
    *,
    progress: ProgressCallback | None,
    start: float,
    workers: int = 2,
) -> int:
    """Write ``(index, image)`` results behind on threads until done or cancelled; return frames written.

    The one loop every folder-writing runner shares: it stops between frames
    when ``cancel`` is set (then raises Cancelled, after every started write is
    whole), keeps the resume record in step through ``checkpoint``, and
    reports progress per frame. ``results`` is closed on the way out, so a
    read-ahead generator stops reading.
    """
    cancelled = False
    try:
        with (
            WriteBehind(workers=workers, depth=workers + 2, on_written=checkpoint.on_written) as writer,
            contextlib.closing(results),
        ):
            for index, image in results:
                if cancel.cancelled:
                    cancelled = True
                    break
                writer.submit(index, out_paths[index], image)
                report(progress, index + 1, checkpoint.total, start, out_paths[index].name)
    finally:
        checkpoint.close()
    if cancelled:
        cancel.raise_if_cancelled(checkpoint.written, checkpoint.total)
    return checkpoint.written


def check_name_collisions(output: Path, names: Sequence[str], record: RunRecord, *, overwrite: bool) -> None:
    """Refuse to overwrite files in ``output`` that an earlier Abysz LAB run did not write.

    Files of the user's that merely share the folder are fine; only same-named
    files are at risk, and only when no sidecar says we wrote them.
    """
    if overwrite or record.read() is not None:
        return
    clashes = [n for n in names if (output / n).exists()]
    if clashes:
        msg = (
            f"The output folder {output} already holds {len(clashes)} file(s) with the names this run would "
            f"write (e.g. {clashes[0]}), not written by Abysz LAB. Choose an empty folder, or allow "
            "overwriting (tick 'overwrite same-named files'; command line: --overwrite)."
        )
        raise InputError(msg)


@dataclass(frozen=True)
class FrameRun:
    """What a runner's frame stream needs to know: where the frames go and how many are already whole."""

    output: Path
    out_paths: list[Path]
    done: int  # frames 0 .. done - 1 are whole on disk from an identical earlier run


FrameStream = Callable[[FrameRun], Iterator[tuple[int, Any]]]


def run_frames(  # noqa: PLR0913 - every folder-writing operation passes the same keywords through
    operation: str,
    title: str,
    output_dir: str | Path,
    *,
    names: Sequence[str],
    inputs: Sequence[Path],
    identity: dict[str, Any],
    stream: FrameStream,
    input_folders: Sequence[Path] = (),
    overwrite: bool = False,
    resume: bool = True,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    workers: int = 2,
    warnings: Sequence[str] = (),
    skipped_inputs: int = 0,
    start: float | None = None,
) -> RunSummary:
    """Run one folder-writing operation: the sequence every runner (DFI, deflicker, style fuse) shares.

    Output check -> folder lock -> resume identity (always with a fingerprint of ``inputs``,
    so re-rendered frames are never taken for "already done") -> name
    collisions -> resume point -> checkpoint -> write loop -> summary. The
    caller gives only what differs: the output ``names``, the input files, its
    parameters as ``identity``, and ``stream(run)``, a generator of
    ``(index, image)`` for every index from ``run.done`` on.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> out = Path(tempfile.mkdtemp()) / "out"
    >>> frames = lambda run: ((i, np.full((4, 4, 3), i, np.uint8)) for i in range(run.done, 3))
    >>> run_frames("demo", "Demo", out, names=["a.png", "b.png", "c.png"], inputs=[], identity={},
    ...            stream=frames).written
    3
    """
    start = time.perf_counter() if start is None else start
    output = check_output_folder(output_dir, *input_folders)
    out_paths = [output / name for name in names]
    total = len(out_paths)
    notes = list(warnings)
    # One writer per folder, across processes (tab, CLI, API): a second run into it is refused by name.
    with folder_lock(output, title, warnings=notes):
        # Replacing input frames (a new img2img pass into the same folder) must not count as "already done".
        record = RunRecord(output, operation, {**identity, "inputs": frames_fingerprint(inputs)})
        check_name_collisions(output, list(names), record, overwrite=overwrite)
        done = resume_point(record, out_paths, resume=resume, warnings=notes)
        report(progress, done, total, start, "Starting")
        checkpoint = Checkpoint(record, total, done)
        written = write_results(
            stream(FrameRun(output, out_paths, done)),
            out_paths,
            checkpoint,
            cancel or CancelToken(),
            progress=progress,
            start=start,
            workers=workers,
        )
    return RunSummary(
        operation=title,
        output=output,
        written=written,
        total=total,
        seconds=time.perf_counter() - start,
        resumed_from=done,
        skipped_inputs=skipped_inputs,
        warnings=notes,
        outputs=out_paths,
    )


def report(callback: ProgressCallback | None, done: int, total: int, start: float, message: str = "") -> None:
    """Call ``callback`` with a Progress if there is one."""
    if callback is not None:
        callback(Progress(done, total, message, time.perf_counter() - start))
