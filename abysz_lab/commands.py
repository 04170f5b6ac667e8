"""What each command does, decided once: the CLI and the job queue (the HTTP API) run the same plan.

A plan function takes a command's parsed options (the CLI's namespace; a job
request is parsed by the same parser, see :mod:`abysz_lab.job_requests`),
checks them and returns a :class:`Plan`: the folders the run writes and reads,
the notes to tell the user before it starts (a value the chosen preset
ignores) and the work itself. How a result is shown stays with the caller (the
CLI prints it, the API answers JSON); what is accepted, refused, ignored and
run is decided here, so the command line and the API cannot drift apart again.

Messages name options as flags (``--out``): the API's fields are the same
options with dashes as underscores, and it reads the field from the flag.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from abysz_lab import params as prm
from abysz_lab.errors import InputError
from abysz_lab.jobs import CancelToken


@dataclass(frozen=True)
class Plan:
    """A checked command: the folders it writes and reads, notes for the user, and the work to run."""

    kind: str
    # The progress title of a one-phase command; None for dfi/stabilise, which report each phase
    # (abysz_lab.pipeline.PhaseProgress) themselves.
    phase: str | None
    writes: tuple[Path, ...]
    reads: tuple[Path, ...]
    work: Callable[[Callable[[Any], None] | None, CancelToken], Any] = field(repr=False)
    notes: tuple[str, ...] = ()

    def run(self, *, progress: Callable[[Any], None] | None = None, cancel: CancelToken | None = None) -> Any:
        """Do the work: a StabiliseResult (dfi, stabilise), an AnalysisRun (analyze) or a RunSummary."""
        return self.work(progress, cancel or CancelToken())


@dataclass(frozen=True)
class AnalysisRun:
    """What ``analyze`` produced: the measurements and the report files written."""

    result: Any  # analysis.AnalysisResult
    files: Any  # analysis.ReportFiles


def _resume(ns: argparse.Namespace) -> bool:
    return not getattr(ns, "no_resume", False)


# --- dfi and stabilise: the pipeline ----------------------------------------------------------------


def plan_dfi(ns: argparse.Namespace) -> Plan:
    """Stabilise generated frames (or a video) into the folder ``--out``; mask previews are the caller's."""
    from abysz_lab import pipeline
    from abysz_lab.dfi import DFIParams

    if not ns.out:
        msg = (
            "dfi needs --out DIR, the folder for the stabilised frames: it is required (to look at masks only, "
            "use --preview-masks DIR on the command line, POST /preview-masks over HTTP)."
        )
        raise InputError(msg)
    params = prm.from_namespace(DFIParams, ns)
    out = Path(ns.out).expanduser()

    def work(progress, cancel) -> Any:
        return pipeline.stabilise(
            ns.source,
            ns.generated,
            frames_dir=out,
            params=params,
            frames_limit=ns.frames_limit,
            overwrite=ns.overwrite,
            resume=_resume(ns),
            progress=progress,
            cancel=cancel,
        )

    # Frames extracted from video inputs go beside the output, in <out>_work.
    writes = (out, pipeline.work_folder(out))
    return Plan("dfi", None, writes, (Path(ns.source), Path(ns.generated)), work)


def plan_stabilise(ns: argparse.Namespace) -> Plan:
    """The whole trip: videos or folders in, the finished MP4 (and optional extras) at ``--out``."""
    from abysz_lab import pipeline
    from abysz_lab.dfi import DFIParams
    from abysz_lab.video import AssembleParams

    params = prm.from_namespace(DFIParams, ns)
    encode = {"audio": not ns.no_audio} | ({"quality": ns.quality} if ns.quality is not None else {})
    assemble = prm.from_mapping(AssembleParams, encode)
    out = Path(ns.out).expanduser()
    # --report without a folder means <out>_report.
    report = None if ns.report is None else (ns.report or str(out.with_suffix("")) + "_report")

    def work(progress, cancel) -> Any:
        return pipeline.stabilise(
            ns.source,
            ns.generated,
            out,
            params=params,
            preset=ns.preset,
            presets_dir=ns.presets_dir,
            assemble=assemble,
            compare=ns.compare,
            report=report,
            frames_limit=ns.frames_limit,
            overwrite=ns.overwrite,
            resume=_resume(ns),
            progress=progress,
            cancel=cancel,
        )

    writes = (out, pipeline.work_folder(out), *([Path(report)] if report else []))
    return Plan("stabilise", None, writes, (Path(ns.source), Path(ns.generated)), work)


# --- deflicker ----------------------------------------------------------------------------------------


def plan_deflicker(ns: argparse.Namespace) -> Plan:
    """Run a deflicker preset over ``--in``; a control the preset lacks is ignored with a note, not refused."""
    from abysz_lab.playground import PlaygroundParams, all_presets, apply_preset, find_preset, params_for_preset

    if not ns.input:
        msg = "deflicker needs --in DIR, the folder of frames to deflicker (or --list-presets to see the presets)."
        raise InputError(msg)
    if not ns.out:
        msg = "deflicker needs --out DIR, the folder the deflickered frames go to."
        raise InputError(msg)
    given = {s.name: getattr(ns, s.name) for s in prm.specs(PlaygroundParams)}
    if not given["preset"]:  # no silent default: the presets do very different things
        names = ", ".join(p.name for p in all_presets(ns.presets_dir))
        msg = (
            f"deflicker needs --preset NAME, one of: {names} (deflicker --list-presets, or GET /presets over "
            "HTTP, says what each does)."
        )
        raise InputError(msg)
    try:
        preset = find_preset(given["preset"], ns.presets_dir)
    except InputError as exc:
        msg = f"--preset: {exc}"  # names the option (the API's field): the message ends on --list-presets
        raise InputError(msg) from exc
    notes = []
    # The --window help says "ignored by presets without a windowed step": a value the preset cannot use is
    # dropped (not range-checked), so one command line works with every preset.
    for name, used in (("strength", preset.uses_strength), ("window", preset.uses_window)):
        if given[name] is not None and not used:
            notes.append(f"the {preset.name} preset has no {name} control; --{name} is ignored.")
            given[name] = None
    params = params_for_preset(given.pop("preset"), folder=ns.presets_dir, **given)

    def work(progress, cancel) -> Any:
        return apply_preset(
            ns.input,
            ns.out,
            params,
            folder=ns.presets_dir,
            overwrite=ns.overwrite,
            resume=_resume(ns),
            progress=progress,
            cancel=cancel,
        )

    return Plan("deflicker", "Deflicker", (Path(ns.out),), (Path(ns.input),), work, tuple(notes))


# --- video tools --------------------------------------------------------------------------------------


def plan_extract(ns: argparse.Namespace) -> Plan:
    """Extract a video's frames into ``--out``."""
    from abysz_lab.video import ExtractParams, extract_frames

    params = prm.from_namespace(ExtractParams, ns)

    def work(progress, cancel) -> Any:
        return extract_frames(ns.video, ns.out, params, overwrite=ns.overwrite, progress=progress, cancel=cancel)

    return Plan("extract", "Extract", (Path(ns.out),), (Path(ns.video),), work)


def plan_assemble(ns: argparse.Namespace) -> Plan:
    """Encode a folder of frames as the MP4 or GIF ``--out``."""
    from abysz_lab.video import AssembleParams, assemble_video

    params = prm.from_namespace(AssembleParams, ns)

    def work(progress, cancel) -> Any:
        return assemble_video(
            ns.frames,
            ns.out,
            params,
            timing=ns.timing,
            audio_from=ns.audio_from,
            overwrite=ns.overwrite,
            progress=progress,
            cancel=cancel,
        )

    reads = [Path(p) for p in (ns.frames, ns.timing, ns.audio_from) if p]
    return Plan("assemble", "Assemble", (Path(ns.out),), tuple(reads), work)


def plan_compare(ns: argparse.Namespace) -> Plan:
    """One comparison MP4 of 1-4 frame folders at ``--out``."""
    from abysz_lab.video import CompareParams, compare_videos

    params = prm.from_namespace(CompareParams, ns)
    labels = [x.strip() for x in ns.labels.split(",")] if ns.labels.strip() else None

    def work(progress, cancel) -> Any:
        return compare_videos(
            ns.folders, ns.out, params, labels=labels, overwrite=ns.overwrite, progress=progress, cancel=cancel
        )

    return Plan("compare", "Compare", (Path(ns.out),), tuple(Path(f) for f in ns.folders), work)


def plan_fuse(ns: argparse.Namespace) -> Plan:
    """Overlay-blend the style frames ``--style`` onto a folder of frames."""
    from abysz_lab.fuse import FuseParams, fuse_style

    params = prm.from_namespace(FuseParams, ns)

    def work(progress, cancel) -> Any:
        return fuse_style(
            ns.frames,
            ns.style,
            ns.out,
            params,
            overwrite=ns.overwrite,
            resume=_resume(ns),
            progress=progress,
            cancel=cancel,
        )

    return Plan("fuse", "Fuse", (Path(ns.out),), (Path(ns.frames), Path(ns.style)), work)


# --- analyze ------------------------------------------------------------------------------------------


def plan_analyze(ns: argparse.Namespace) -> Plan:
    """Measure flicker (and, with ``--output``, what DFI removed) and write the report to ``--report``."""
    from abysz_lab.analysis import AnalysisParams, analyze_folders, write_report
    from abysz_lab.frames import check_output_folder

    params = prm.from_namespace(AnalysisParams, ns)
    inputs = [ns.source, ns.generated] + ([ns.output] if ns.output else [])
    try:  # before the analysis: never into an input folder
        check_output_folder(ns.report, *inputs, create=False)
    except InputError as exc:
        msg = f"--report: {exc}"  # names the option (the API's field) the folder came from
        raise InputError(msg) from exc
    # The flag counts from 1, like the extracted files (frame_00005 is 5).
    heatmap = None if ns.heatmap_frame is None else ns.heatmap_frame - 1

    def work(progress, cancel) -> AnalysisRun:
        result = analyze_folders(
            ns.source,
            ns.generated,
            ns.output,
            params,
            frames_limit=ns.frames_limit,
            heatmap_frame=heatmap,
            progress=progress,
            cancel=cancel,
        )
        return AnalysisRun(result, write_report(result, ns.report, *inputs))

    return Plan("analyze", "Analyse", (Path(ns.report),), tuple(Path(p) for p in inputs), work)


PLANS: dict[str, Callable[[argparse.Namespace], Plan]] = {
    "stabilise": plan_stabilise,
    "dfi": plan_dfi,
    "deflicker": plan_deflicker,
    "extract": plan_extract,
    "assemble": plan_assemble,
    "compare": plan_compare,
    "fuse": plan_fuse,
    "analyze": plan_analyze,
}


def plan(kind: str, ns: argparse.Namespace) -> Plan:
    """The plan of command ``kind`` for its parsed options; InputError when they cannot be run."""
    return PLANS[kind](ns)
