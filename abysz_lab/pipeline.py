"""The whole trip, video or frames in, finished MP4 out: what the tab, the CLI, the API and Python callers run.

:func:`stabilise` chains the phases

1. prepare frames: a folder is used as it is, a video is extracted once into a
   work folder beside the result (``<result>_work``) and re-used while the
   video and the options are unchanged;
2. DFI (:func:`abysz_lab.dfi.run_dfi`, with whatever :class:`DFIParams` holds);
3. an optional deflicker preset (:func:`abysz_lab.playground.apply_preset`);
4. an MP4 (or GIF) with the original's frame rate and sound;
5. a comparison video (original | generated | stabilised);
6. the flicker analysis, optionally written as a report.

Every phase but DFI is optional; each reports through the same callback with
its name, each stops between frames when the cancel token is set, and each is
resumable (the frame-writing phases by their resume record, the extraction by
re-use). Phases 5 and 6 are extras: when one fails or is cancelled, the result
so far is kept and the reason is in :attr:`StabiliseResult.problems` /
:attr:`StabiliseResult.cancelled`.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from abysz_lab.errors import AbyszError, Cancelled, InputError
from abysz_lab.jobs import SIDECAR_SUFFIX, CancelToken, Progress, RunSummary

WORK_SUFFIX = "_work"  # <result>_work/source and /generated hold frames extracted from video inputs
WORK_MARKER = ".abysz_lab_work"  # marks a work folder as ours, so a cancelled extraction may be replaced
COMPARE_SUFFIX = "_compare"
COMPARE_RECORD = f".compare{SIDECAR_SUFFIX}"  # in the frames folder: which comparison video we wrote
VIDEO_OUTPUT_SUFFIXES = (".mp4", ".gif")
ROLES = ("source", "generated")

PHASE_EXTRACT = {"source": "Extract source video", "generated": "Extract generated video"}
PHASE_DFI = "DFI"
PHASE_DEFLICKER = "Deflicker"
PHASE_VIDEO = "Video"
PHASE_COMPARE = "Comparison video"
PHASE_ANALYSIS = "Analysis"


@dataclass(frozen=True)
class PhaseProgress:
    """One progress report of one phase: "DFI (step 2 of 4): 30 of 120 frames"."""

    phase: str
    step: int  # 1-based
    steps: int
    progress: Progress

    @property
    def title(self) -> str:
        """The phase with its number when there is more than one: ``DFI (step 2 of 4)``."""
        return f"{self.phase} (step {self.step} of {self.steps})" if self.steps > 1 else self.phase


PhaseCallback = Callable[[PhaseProgress], None]


# --- where things go ---------------------------------------------------------------------------------


def is_video_input(path: str | os.PathLike[str]) -> bool:
    """True when an input names a file (to extract) rather than a frame folder.

    A missing path with a video extension counts too, so the user hears "video
    not found" rather than "folder not found".
    """
    from abysz_lab.video import VIDEO_EXTENSIONS

    given = Path(path).expanduser()
    if given.is_dir():
        return False
    return given.is_file() or given.suffix.lower() in VIDEO_EXTENSIONS


def work_folder(output: Path) -> Path:
    """Where frames extracted from video inputs go: ``<output>_work`` next to the output (suffix dropped)."""
    base = output.with_suffix("") if output.suffix.lower() in VIDEO_OUTPUT_SUFFIXES else output
    return base.with_name(f"{base.name}{WORK_SUFFIX}")


def claim_work_folder(work: Path) -> Path:
    """Create (or re-use) our work folder; InputError if a folder of that name holds someone else's files."""
    if work.exists() and not work.is_dir():
        msg = f"{work} is a file, not a folder: Abysz LAB needs that name for the frames of your videos. Move it."
        raise InputError(msg)
    if work.is_dir() and not (work / WORK_MARKER).is_file() and any(work.iterdir()):
        msg = (
            f"The folder {work} exists and was not made by Abysz LAB; it is where the frames of your videos "
            "would be extracted. Move or rename it, or choose another output."
        )
        raise InputError(msg)
    try:
        work.mkdir(parents=True, exist_ok=True)
        (work / WORK_MARKER).touch()
    except OSError as exc:
        msg = f"Cannot create the work folder {work}: {exc.strerror or exc}."
        raise InputError(msg) from exc
    return work


def _file_identity(path: Path) -> dict[str, int]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def comparison_target(output: Path, record_dir: Path | None = None) -> tuple[Path, bool]:
    """Where the comparison video of ``output`` goes, and whether the file there may be replaced.

    ``<output>_compare.mp4`` when it is free or is the one we wrote last time
    (recorded in ``record_dir``, default ``output``, unchanged since); otherwise
    the first free ``<output>_compare-N.mp4``, so a user's own file is never
    overwritten. An ``output`` ending in .mp4 or .gif loses its suffix first.
    """
    base = output.with_suffix("") if output.suffix.lower() in VIDEO_OUTPUT_SUFFIXES else output
    record_path = (record_dir or output) / COMPARE_RECORD
    record: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        record = json.loads(record_path.read_text(encoding="utf-8"))
    for n in range(1, 100):
        candidate = base.with_name(f"{base.name}{COMPARE_SUFFIX}{'' if n == 1 else f'-{n}'}.mp4")
        if not candidate.exists():
            return candidate, False
        ours = record.get("name") == candidate.name and record.get("identity") == _file_identity(candidate)
        if ours and candidate.is_file():
            return candidate, True
    msg = f"No free name for the comparison video next to {base}: remove some *{COMPARE_SUFFIX}-N.mp4 files."
    raise InputError(msg)


def remember_comparison(record_dir: Path, written: Path) -> None:
    """Record in ``record_dir`` that ``written`` is our comparison video (so the next run may replace it)."""
    from abysz_lab.frames import write_bytes_atomic

    record = {"name": written.name, "identity": _file_identity(written)}
    write_bytes_atomic(record_dir / COMPARE_RECORD, json.dumps(record).encode("utf-8"))


def analysis_params(params: Any) -> Any:
    """Analysis settings matching a DFI run: its tolerance decides which source pixels count as still."""
    from abysz_lab import analysis
    from abysz_lab import params as prm

    lowest = next(s.minimum for s in prm.specs(analysis.AnalysisParams) if s.name == "tolerance")
    return analysis.AnalysisParams(tolerance=max(lowest, params.tolerance))


# --- phases -------------------------------------------------------------------------------------------


class _Phases:
    """Numbers the planned phases and turns a phase's Progress into a PhaseProgress for the callback."""

    def __init__(self, names: list[str], callback: PhaseCallback | None) -> None:
        self.names = names
        self.callback = callback

    def reporter(self, name: str) -> Callable[[Progress], None] | None:
        if self.callback is None:
            return None
        step, steps, callback = self.names.index(name) + 1, len(self.names), self.callback
        return lambda p: callback(PhaseProgress(name, step, steps, p))


@dataclass
class PreparedInputs:
    """Frame folders for the source and the generated input, and what preparing them did."""

    folders: dict[str, Path]
    extractions: dict[str, RunSummary | None] = field(default_factory=dict)  # role -> summary (None = re-used)
    notes: list[str] = field(default_factory=list)


def prepare_inputs(
    source: str | os.PathLike[str],
    generated: str | os.PathLike[str],
    work: Path,
    *,
    progress: PhaseCallback | None = None,
    cancel: CancelToken | None = None,
    workers: int = 2,
    phases: _Phases | None = None,
    frames_limit: int = 0,
) -> PreparedInputs:
    """Frame folders for the inputs: folders as they are, videos extracted into ``work/<role>`` (re-used).

    ``work`` is claimed first: a folder of that name that Abysz LAB did not
    make is refused, never written into. With ``frames_limit`` (0 = all) only
    the first frames of each video are extracted: a limited run needs no more.
    """
    from abysz_lab import video

    paths = {"source": Path(source).expanduser(), "generated": Path(generated).expanduser()}
    videos = [role for role in ROLES if is_video_input(paths[role])]
    phases = phases or _Phases([PHASE_EXTRACT[r] for r in videos], progress)
    prepared = PreparedInputs(dict(paths))
    for role in videos:
        path = paths[role]
        folder = claim_work_folder(work) / role
        result = video.prepare_frames(
            path,
            folder,
            progress=phases.reporter(PHASE_EXTRACT[role]),
            cancel=cancel,
            workers=workers,
            overwrite=True,  # our own work folder: the remains of a cancelled extraction may go
            frames_limit=frames_limit,
        )
        prepared.folders[role] = result.folder
        prepared.extractions[role] = result.summary
        if result.summary is None:
            prepared.notes.append(f"{role.capitalize()}: re-used the frames extracted earlier from {path.name}.")
        else:
            done = result.summary
            prepared.notes.append(f"{role.capitalize()}: extracted {done.written} frames from {path.name} to {folder}.")
            prepared.notes.extend(done.warnings)
    return prepared


@dataclass
class StabiliseResult:
    """What :func:`stabilise` did: each phase's summary (None when skipped) and every file it wrote."""

    folders: dict[str, Path]  # the source and generated frame folders used
    dfi: RunSummary
    extractions: dict[str, RunSummary | None] = field(default_factory=dict)
    deflicker: RunSummary | None = None
    video: RunSummary | None = None
    comparison: Path | None = None
    analysis: Any = None  # analysis.AnalysisResult
    report: Any = None  # analysis.ReportFiles
    notes: list[str] = field(default_factory=list)  # what preparing the inputs did
    problems: list[str] = field(default_factory=list)  # extras (comparison, analysis) that failed
    cancelled: str | None = None  # set when an extra was cancelled; everything before it is whole

    @property
    def frames(self) -> Path:
        """The folder of the final frames: the deflicker output when a preset ran, else DFI's."""
        return (self.deflicker or self.dfi).output

    @property
    def warnings(self) -> list[str]:
        """Every phase's warnings, in phase order."""
        runs = [*self.extractions.values(), self.dfi, self.deflicker, self.video]
        found = [w for run in runs if run is not None for w in run.warnings]
        if self.analysis is not None:
            found += list(self.analysis.warnings)
        return found

    def files(self) -> list[tuple[str, Path]]:
        """``(what, path)`` for every file or folder of frames this run wrote (folders say how many frames)."""
        out: list[tuple[str, Path]] = []
        for role, run in self.extractions.items():
            if run is not None:
                out.append((f"{run.written} {role} frames extracted", run.output))
        for what, run in (("DFI frames", self.dfi), ("deflickered frames", self.deflicker)):
            if run is not None:
                out.append((f"{run.written - run.resumed_from} {what} written ({run.written} in all)", run.output))
        if self.video is not None:
            out.append(("video", self.video.output))
        if self.comparison is not None:
            out.append(("comparison video", self.comparison))
        if self.report is not None:
            rep = self.report
            out += [("analysis report", p) for p in (rep.json, rep.csv, rep.plot, rep.heatmap) if p is not None]
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures and files, for the HTTP API and scripts."""
        runs = {
            "dfi": self.dfi,
            "deflicker": self.deflicker,
            "video": self.video,
            **{f"extract_{role}": run for role, run in self.extractions.items()},
        }
        figures = {
            name: {
                "written": r.written,
                "total": r.total,
                "resumed_from": r.resumed_from,
                "seconds": round(r.seconds, 3),
            }
            for name, r in runs.items()
            if r is not None
        }
        if self.analysis is not None:
            figures["analysis"] = self.analysis.summary.as_dict()
        return {
            "frames": str(self.frames),
            "video": str(self.video.output) if self.video else None,
            "comparison": str(self.comparison) if self.comparison else None,
            "files": [{"what": what, "path": str(path)} for what, path in self.files()],
            "figures": figures,
            "notes": list(self.notes),
            "warnings": self.warnings,
            "problems": list(self.problems),
            "cancelled": self.cancelled,
        }


def plan_phases(
    source: str | os.PathLike[str],
    generated: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str] | None = None,
    preset: Any = None,
    compare: bool = False,
    analyze: bool = False,
) -> list[str]:
    """The names of the phases :func:`stabilise` will run for these inputs and options, in order."""
    names = [PHASE_EXTRACT[role] for role, path in zip(ROLES, (source, generated), strict=True) if is_video_input(path)]
    names.append(PHASE_DFI)
    names += [PHASE_DEFLICKER] * (preset is not None) + [PHASE_VIDEO] * (out is not None)
    return names + [PHASE_COMPARE] * compare + [PHASE_ANALYSIS] * analyze


def _check_video_output(out: str | os.PathLike[str]) -> Path:
    path = Path(out).expanduser()
    if path.suffix.lower() not in VIDEO_OUTPUT_SUFFIXES:
        msg = (
            f"The result {path.name!r} must be an .mp4 or .gif file (for a folder of frames, use the dfi command, "
            "or frames_dir in Python)."
        )
        raise InputError(msg)
    return path


def _check_outside_inputs(result: Path, *inputs: str | os.PathLike[str]) -> None:
    """Refuse a result video inside a frame-folder input: it, and its _work folder, would be written there."""
    real = Path(os.path.realpath(result))
    for given in inputs:
        folder = Path(given).expanduser()
        if folder.is_dir() and Path(os.path.realpath(folder)) in real.parents:
            msg = (
                f"The result {result} is inside the input folder {folder} (its frames would go to "
                f"{work_folder(result)} there too). Inputs are never modified: choose a place outside it."
            )
            raise InputError(msg)


def stabilise(  # noqa: PLR0913 - the whole trip's options, all keyword-only
    source: str | os.PathLike[str],
    generated: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    frames_dir: str | os.PathLike[str] | None = None,
    params: Any = None,
    preset: str | Any | None = None,
    assemble: Any = None,
    compare: bool = False,
    analyze: bool = False,
    report: str | os.PathLike[str] | None = None,
    frames_limit: int = 0,
    overwrite: bool = False,
    resume: bool = True,
    presets_dir: str | os.PathLike[str] | None = None,
    progress: PhaseCallback | None = None,
    cancel: CancelToken | None = None,
    workers: int = 2,
) -> StabiliseResult:
    """Stabilise img2img frames (or a video of them) against the original; optionally finish as an MP4.

    Parameters
    ----------
    source, generated : path
        The ORIGINAL video (or its frames folder) and the img2img result (video or folder).
    out : path, optional
        The finished .mp4 (or .gif), with the original's frame rate and sound.
        Frames go to ``<out>_work/`` (``dfi/``, ``deflicker/`` and extracted ``source/``, ``generated/``).
    frames_dir : path, optional
        Where DFI writes its frames instead (the tab's "output folder"); one of ``out``/``frames_dir`` is needed.
    params : DFIParams, optional
        The DFI controls (defaults when None).
    preset : str or PlaygroundParams, optional
        A deflicker preset run over DFI's frames before the video is made.
    assemble : AssembleParams, optional
        Encoding options of the video (rate 0 = the original's).
    compare, analyze : bool
        Also write ``<out>_compare.mp4`` (original | generated | stabilised) / measure flicker.
    report : path, optional
        Write the analysis report files (JSON, CSV, plot, heat map) there (implies ``analyze``).
    frames_limit : int
        Stop after this many frames (0 = all); a video input is only extracted that far.
    progress : callable, optional
        Called with a :class:`PhaseProgress` for every frame of every phase.
    cancel : CancelToken, optional
        Stops the run between frames; frames written so far stay whole and a re-run resumes.

    Returns
    -------
    StabiliseResult
        Each phase's summary and :meth:`~StabiliseResult.files`, every file written.

    Raises
    ------
    InputError
        Unusable inputs or outputs, with what to do. Cancelled, when ``cancel`` is set during a main phase.

    Examples
    --------
    >>> from abysz_lab.demo import make_demo_clip
    >>> import tempfile
    >>> clip = make_demo_clip(tempfile.mkdtemp(), frames=4, width=64, height=48)
    >>> result = stabilise(clip.source, clip.generated, frames_dir=clip.root / "stable")
    >>> result.dfi.written
    4
    """
    from abysz_lab.dfi import DFIParams, run_dfi

    params = params or DFIParams()
    if out is None and frames_dir is None:
        msg = "Give the result video (out) or a folder for the stabilised frames (frames_dir)."
        raise InputError(msg)
    video_out = _check_video_output(out) if out is not None else None
    if video_out is not None:
        _check_outside_inputs(video_out, source, generated)
    anchor = video_out or Path(frames_dir).expanduser()
    work = work_folder(anchor)
    dfi_dir = Path(frames_dir).expanduser() if frames_dir is not None else work / "dfi"
    if video_out is not None and video_out.exists() and not overwrite and not _ours(video_out, dfi_dir):
        # Said before the long phases, not after them: the assembly would refuse it anyway.
        msg = (
            f"{video_out} already exists and was not written by this pipeline. Choose another name, or allow "
            "overwriting (--overwrite)."
        )
        raise InputError(msg)
    analyze = analyze or report is not None
    cancel = cancel or CancelToken()
    phases = _Phases(
        plan_phases(source, generated, out=video_out, preset=preset, compare=compare, analyze=analyze), progress
    )

    inputs = prepare_inputs(
        source, generated, work, cancel=cancel, workers=workers, phases=phases, frames_limit=frames_limit
    )
    folders = inputs.folders
    if frames_dir is None:
        claim_work_folder(work)
    dfi = run_dfi(
        folders["source"],
        folders["generated"],
        dfi_dir,
        params,
        frames_limit=frames_limit,
        overwrite=overwrite,
        resume=resume,
        progress=phases.reporter(PHASE_DFI),
        cancel=cancel,
        workers=workers,
    )
    result = StabiliseResult(folders, dfi, inputs.extractions, notes=inputs.notes)
    if preset is not None:
        result.deflicker = _deflicker(dfi.output, work, preset, presets_dir, overwrite, resume, phases, cancel, workers)
    if video_out is not None:
        result.video = _assemble(result, video_out, assemble, overwrite, phases, cancel, workers)
    _extras(result, anchor, params, compare, analyze, report, frames_limit, phases, cancel, workers)
    return result


def _deflicker(frames, work, preset, presets_dir, overwrite, resume, phases, cancel, workers) -> RunSummary:
    from abysz_lab.playground import PlaygroundParams, apply_preset, params_for_preset

    chosen = preset if isinstance(preset, PlaygroundParams) else params_for_preset(str(preset), folder=presets_dir)
    return apply_preset(
        frames,
        claim_work_folder(work) / "deflicker",
        chosen,
        folder=presets_dir,
        overwrite=overwrite,
        resume=resume,
        progress=phases.reporter(PHASE_DEFLICKER),
        cancel=cancel,
        workers=workers,
    )


def _assemble(result: StabiliseResult, out: Path, assemble, overwrite, phases, cancel, workers) -> RunSummary:
    from abysz_lab import video

    # The rate and the sound come from the original's extraction sidecar (a video input, or a folder
    # that `extract` wrote); without one the assembly says it used 24 fps.
    timing = result.folders["source"] if (result.folders["source"] / video.SIDECAR_NAME).is_file() else None
    out.parent.mkdir(parents=True, exist_ok=True)
    # assemble_video holds the output file's lock itself (locks.file_lock): taking it here too would refuse.
    return video.assemble_video(
        result.frames,
        out,
        assemble,
        timing=timing,
        overwrite=overwrite or _ours(out, result.dfi.output),
        progress=phases.reporter(PHASE_VIDEO),
        cancel=cancel,
        workers=workers,
    )


def _ours(out: Path, record_dir: Path) -> bool:
    """True when ``out`` is the video an earlier run of this pipeline wrote (so it may be replaced)."""
    record_path = record_dir / f".result-video{SIDECAR_SUFFIX}"
    with contextlib.suppress(OSError, ValueError):
        record = json.loads(record_path.read_text(encoding="utf-8"))
        return out.is_file() and record == {"name": str(out.resolve()), "identity": _file_identity(out)}
    return False


def _remember_video(out: Path, record_dir: Path) -> None:
    from abysz_lab.frames import write_bytes_atomic

    record = {"name": str(out.resolve()), "identity": _file_identity(out)}
    write_bytes_atomic(record_dir / f".result-video{SIDECAR_SUFFIX}", json.dumps(record).encode("utf-8"))


def _extras(result, anchor, params, compare, analyze, report, frames_limit, phases, cancel, workers) -> None:
    """The optional phases after the main result: each failure is a note; a cancel also skips what follows."""
    from abysz_lab import analysis, video

    if result.video is not None:
        _remember_video(result.video.output, result.dfi.output)
    steps = [(PHASE_COMPARE, compare), (PHASE_ANALYSIS, analyze)]
    for index, (name, wanted) in enumerate(steps):
        if not wanted:
            continue
        try:
            if name == PHASE_COMPARE:
                target, replace = comparison_target(anchor, result.dfi.output)
                video.compare_videos(
                    [result.folders["source"], result.folders["generated"], result.frames],
                    target,
                    labels=["original", "generated", "stabilised"],  # the roles, whatever the folders are called
                    overwrite=replace,
                    progress=phases.reporter(name),
                    cancel=cancel,
                    workers=workers,
                )
                remember_comparison(result.dfi.output, target)
                result.comparison = target
            else:
                found = analysis.analyze_folders(
                    result.folders["source"],
                    result.folders["generated"],
                    result.frames,
                    analysis_params(params),
                    frames_limit=frames_limit,
                    progress=phases.reporter(name),
                    cancel=cancel,
                    workers=workers,
                )
                result.analysis = found
                if report is not None:
                    inputs = (result.folders["source"], result.folders["generated"], result.frames)
                    result.report = analysis.write_report(found, report, *inputs)
        except Cancelled:
            rest = [n.lower() for n, w in steps[index:] if w]
            result.cancelled = f"Cancelled: no {' and no '.join(rest)}. The {_main_result(result)} is complete."
            return
        except AbyszError as exc:
            result.problems.append(f"{name} failed: {exc}")


def _main_result(result: StabiliseResult) -> str:
    if result.video is not None:
        return "video"
    return "deflicker output" if result.deflicker is not None else "DFI output"
