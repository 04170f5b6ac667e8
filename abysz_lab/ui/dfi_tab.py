"""The DFI sub-tab: folders or videos, every DFIParams control, mask previews, a guarded run with progress and cancel.

A run has up to five phases, all under one run guard and one cancel token:
extract the source video, extract the generated video (only for video
inputs), DFI, the comparison video (original | generated | stabilised) and
the flicker analysis (the last two optional). The button handlers live on
:class:`DFIHandlers` and take plain values (a dict of control name -> value),
so tests call exactly what the buttons call.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from abysz_lab import analysis, video
from abysz_lab import params as prm
from abysz_lab.dfi import DFIParams, preview_masks, run_dfi
from abysz_lab.errors import AbyszError, Cancelled, InputError
from abysz_lab.frames import read_frame, write_bytes_atomic
from abysz_lab.jobs import SIDECAR_SUFFIX, CancelToken, RunSummary
from abysz_lab.ui import TabContext, UISettings, common, compat

OUTPUT_SUFFIX = "_dfi"
WORK_SUFFIX = "_work"  # <output>_work/source and /generated hold frames extracted from video inputs
WORK_MARKER = ".abysz_lab_work"  # marks a work folder as ours, so a cancelled extraction may be replaced
COMPARE_SUFFIX = "_compare"
COMPARE_RECORD = f".compare{SIDECAR_SUFFIX}"  # in the output folder: which comparison video we wrote
ROLES = {"source": "the DFI source frames folder or video", "generated": "the DFI generated frames folder or video"}


# --- pure helpers ----------------------------------------------------------------------------


def parse_frame_numbers(text: str | None) -> list[int]:
    """Frame numbers typed as ``5, 12 30`` (commas or spaces); [] when empty."""
    parts = (text or "").replace(",", " ").split()
    try:
        return [int(p) for p in parts]
    except ValueError as exc:
        msg = f"Preview frame numbers must be whole numbers separated by commas, got {text!r}."
        raise InputError(msg) from exc


def first_and_last_frames(summary: RunSummary) -> tuple[Any, Any]:
    """The first and last output frames of a run, ready for two gr.Image outputs (None when absent)."""
    if not summary.written or not summary.outputs:
        return None, None
    first = common.to_display(read_frame(summary.outputs[0]))
    last = common.to_display(read_frame(summary.outputs[summary.written - 1])) if summary.written > 1 else None
    return first, last


def work_folder(output: Path) -> Path:
    """Where frames extracted from video inputs go: ``<output>_work`` next to the output folder."""
    return output.with_name(f"{output.name}{WORK_SUFFIX}")


def claim_work_folder(work: Path) -> Path:
    """Create (or re-use) our work folder; InputError if a folder of that name holds someone else's files."""
    if work.exists() and not work.is_dir():
        msg = f"{work} is a file, not a folder: Abysz LAB needs that name for the frames of your videos. Move it."
        raise InputError(msg)
    if work.is_dir() and not (work / WORK_MARKER).is_file() and any(work.iterdir()):
        msg = (
            f"The folder {work} exists and was not made by Abysz LAB; it is where the frames of your videos "
            "would be extracted. Move or rename it, or choose another output folder."
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


def comparison_target(output: Path) -> tuple[Path, bool]:
    """Where the comparison video of ``output`` goes, and whether the file there may be replaced.

    ``<output>_compare.mp4`` when it is free or is the one we wrote last time
    (recorded in the output folder, unchanged since); otherwise the first free
    ``<output>_compare-N.mp4``, so a user's own file is never overwritten.
    """
    record_path = output / COMPARE_RECORD
    record: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        record = json.loads(record_path.read_text(encoding="utf-8"))
    for n in range(1, 100):
        candidate = output.with_name(f"{output.name}{COMPARE_SUFFIX}{'' if n == 1 else f'-{n}'}.mp4")
        if not candidate.exists():
            return candidate, False
        ours = record.get("name") == candidate.name and record.get("identity") == _file_identity(candidate)
        if ours and candidate.is_file():
            return candidate, True
    msg = f"No free name for the comparison video next to {output}: remove some *{COMPARE_SUFFIX}-N.mp4 files."
    raise InputError(msg)


def remember_comparison(output: Path, written: Path) -> None:
    """Record in the output folder that ``written`` is our comparison video (so the next run may replace it)."""
    record = {"name": written.name, "identity": _file_identity(written)}
    write_bytes_atomic(output / COMPARE_RECORD, json.dumps(record).encode("utf-8"))


def analysis_html(result: analysis.AnalysisResult) -> str:
    """The flicker summary line (and any warnings of the analysis) for the tab."""
    line = common.message(f"Flicker analysis: {result.summary.text}", "ok")
    explain = (
        '<p class="abysz-note">Flicker: change of the frame-to-frame flicker, output vs generated frames '
        "(negative = steadier). Fidelity: PSNR of the output against the generated frames (higher = more of "
        "the render kept). Ghosting: share of moving pixels where the output held on to the past.</p>"
    )
    return line + explain + "".join(common.message(w, "warning") for w in result.warnings)


# Above this share of moving pixels held on to the past, the status suggests what to change. The classic
# demo with the default settings measures 0.08 % and its last frame shows clear ghost rings; with
# expand 5 it measures 0.0 %.
GHOSTING_HINT_PCT = 0.05


def ghosting_hint(result: analysis.AnalysisResult, params: DFIParams) -> str:
    """What to try when the analysis finds ghosting (named as the controls are labelled), or ''."""
    found = result.summary.ghosting_pct
    if not found >= GHOSTING_HINT_PCT:  # also False for NaN (no moving pixels)
        return ""
    specs = {s.name: s for s in prm.specs(DFIParams)}
    tries = []
    expand = specs.get("expand")
    if expand is not None and (expand.maximum is None or params.expand < expand.maximum):
        bigger = max(5, params.expand + 4) | 1  # an odd kernel grows the mask evenly on every side
        example = f" (e.g. to {bigger})" if expand.maximum is None or bigger <= expand.maximum else ""
        tries.append(f"raise '{expand.label}'{example}")
    if "tolerance" in specs and params.tolerance > (specs["tolerance"].minimum or 0):
        tries.append(f"lower '{specs['tolerance'].label}'")
    mode = specs.get("mode")
    if mode is not None and mode.choices and "motion" in mode.choices and getattr(params, "mode", "") != "motion":
        tries.append(f"set '{mode.label}' to motion")
    return (
        f"Ghosting found: {found:.2f} % of the moving pixels held on to the past (look for trails behind "
        f"moving things in the last frame). Try: {'; or '.join(tries)}."
    )


def analysis_params(params: DFIParams) -> analysis.AnalysisParams:
    """Analysis settings matching a DFI run: its tolerance decides which source pixels count as still."""
    lowest = next(s.minimum for s in prm.specs(analysis.AnalysisParams) if s.name == "tolerance")
    return analysis.AnalysisParams(tolerance=max(lowest, params.tolerance))


@dataclass
class Phases:
    """The phases of one run, numbered for the progress bar: "DFI (step 2 of 4)"."""

    names: list[str]
    progress: Callable[..., Any] | None = None

    def callback(self, name: str) -> Any:
        """The jobs.ProgressCallback of one phase."""
        what = f"{name} (step {self.names.index(name) + 1} of {len(self.names)})" if len(self.names) > 1 else name
        return common.progress_callback(self.progress, what=what)


@dataclass
class RunResult:
    """What the Run button shows; None for an image/video means "clear it"."""

    status: str
    first: Any = None
    last: Any = None
    output: str = ""
    comparison: str | None = None
    analysis: str = ""
    plot: Any = None
    notes: list[str] = field(default_factory=list)

    def outputs(self) -> tuple[str, Any, Any, str, Any, str, Any]:
        """The values of the Run button's outputs, in order."""
        notes = "".join(self.notes)
        return self.status + notes, self.first, self.last, self.output, self.comparison, self.analysis, self.plot


# --- what the buttons call -------------------------------------------------------------------------


class DFIHandlers:
    """The DFI sub-tab's button handlers; one instance (and one run guard) per built tab."""

    RUN_OUTPUTS = 7  # status, first frame, last frame, output folder, comparison video, analysis, plot

    def __init__(self, settings: UISettings, guard: common.RunGuard | None = None) -> None:
        self.settings = settings
        self.guard = guard or common.RunGuard("DFI")
        self.served = compat.ServedFiles(prefix="abysz_lab_dfi_")

    def _inputs(self, values: Mapping[str, Any]) -> tuple[dict[str, Path], Path]:
        """The typed source/generated paths and the output folder (nothing touched on disk)."""
        paths = {role: common.path_box(values.get(role), what) for role, what in ROLES.items()}
        output = common.resolve_output(
            values.get("generated"),
            values.get("output"),
            self.settings.output_root,
            suffix=OUTPUT_SUFFIX,
            what=ROLES["generated"],
        )
        return paths, output

    @contextlib.contextmanager
    def _guarded_if(self, needed: bool) -> Iterator[CancelToken]:
        if not needed:
            yield CancelToken()
            return
        with self.guard.run() as token:
            yield token

    def prepare_inputs(
        self, paths: dict[str, Path], output: Path, phases: Phases, token: CancelToken
    ) -> tuple[dict[str, Path], list[str]]:
        """Frame folders for the inputs: folders as they are, videos extracted into ``<output>_work/<role>``."""
        folders, notes = dict(paths), []
        for role, path in paths.items():
            if not common.is_video_input(path):
                continue
            work = claim_work_folder(work_folder(output)) / role
            prepared = video.prepare_frames(
                path,
                work,
                progress=phases.callback(f"Extract {role} video"),
                cancel=token,
                overwrite=True,  # our own work folder: the remains of a cancelled extraction may go
            )
            folders[role] = prepared.folder
            if prepared.summary is None:
                notes.append(f"{role.capitalize()}: re-used the frames extracted earlier from {path.name}.")
            else:
                done = prepared.summary
                notes.append(f"{role.capitalize()}: extracted {done.written} frames from {path.name} to {work}.")
                notes.extend(done.warnings)
        return folders, notes

    def preview(self, values: Mapping[str, Any], progress: Callable[..., Any] | None = None) -> tuple[Any, str]:
        """Compute masks for a few frames: (gallery items, status HTML).

        Writes nothing for frame folders; a video input is extracted first (into
        the work folder a run re-uses), under the run guard.
        """
        try:
            params = common.params_from_values(DFIParams, values)
            paths, output = self._inputs(values)
            indices = parse_frame_numbers(values.get("preview_frames"))
            videos = [role for role, path in paths.items() if common.is_video_input(path)]
            with self._guarded_if(bool(videos)) as token:
                phases = Phases([f"Extract {role} video" for role in videos], progress)
                folders, _ = self.prepare_inputs(paths, output, phases, token)
            items = preview_masks(
                folders["source"],
                folders["generated"],
                params,
                indices=indices or None,
                count=self.settings.preview_frames,
            )
        except AbyszError as exc:
            return gr.update(), common.error_message(exc)
        gallery = []
        for item in items:
            gallery.append((common.to_display(item.mask), f"Mask, frame {item.index}: {item.held_pct:.1f}% held"))
            gallery.append((common.to_display(item.overlay), f"Held (blue), frame {item.index}"))
        text = (
            f"Masks for frames {', '.join(str(i.index) for i in items)}. White (and blue over the source) "
            "is held from the previous output; black is refreshed from the generated frame."
        )
        return gallery, common.message(text)

    def run(self, values: Mapping[str, Any], progress: Callable[..., Any] | None = None) -> tuple[Any, ...]:
        """Run DFI (and the comparison video and flicker analysis when ticked); the Run button's 7 outputs.

        Outputs: status/figures HTML, first and last output frame, output folder,
        comparison video, analysis summary HTML, analysis plot. When DFI itself
        fails or is cancelled, only the status changes; when a later phase fails
        or is cancelled, DFI's results are shown with a note.
        """
        try:
            params = common.params_from_values(DFIParams, values)
            paths, output = self._inputs(values)
            limit = common.whole_number(values.get("frames_limit") or 0, "DFI frames limit (0 = all frames)")
            want_compare, want_analysis = bool(values.get("compare", True)), bool(values.get("analyze", True))
            names = [f"Extract {role} video" for role, path in paths.items() if common.is_video_input(path)]
            names += ["DFI"] + ["Comparison video"] * want_compare + ["Analysis"] * want_analysis
            phases = Phases(names, progress)
            with self.guard.run() as token:
                folders, notes = self.prepare_inputs(paths, output, phases, token)
                summary = run_dfi(
                    folders["source"],
                    folders["generated"],
                    output,
                    params,
                    frames_limit=limit,
                    overwrite=bool(values.get("overwrite")),
                    resume=bool(values.get("resume", True)),
                    progress=phases.callback("DFI"),
                    cancel=token,
                )
                figures = [*common.run_rows(summary), ("Output folder", str(summary.output))]
                status = common.figures_html("DFI finished.", figures, summary.warnings)
                result = RunResult(status, *first_and_last_frames(summary), str(summary.output))
                result.notes += [common.message(n) for n in notes]
                self._extras(result, folders, summary, params, limit, phases, token, want_compare, want_analysis)
        except AbyszError as exc:
            return common.error_message(exc), *[gr.update()] * (self.RUN_OUTPUTS - 1)
        return result.outputs()

    def _extras(
        self,
        result: RunResult,
        folders: dict[str, Path],
        summary: RunSummary,
        params: DFIParams,
        limit: int,
        phases: Phases,
        token: CancelToken,
        want_compare: bool,
        want_analysis: bool,
    ) -> None:
        """The optional phases after DFI: each failure is a note; a cancel also skips what follows."""
        output = summary.output
        steps = [("Comparison video", want_compare), ("Analysis", want_analysis)]
        for index, (name, wanted) in enumerate(steps):
            if not wanted:
                continue
            try:
                if name == "Comparison video":
                    result.comparison = self.comparison_video(folders, output, phases.callback(name), token)
                else:
                    found = analysis.analyze_folders(
                        folders["source"],
                        folders["generated"],
                        output,
                        analysis_params(params),
                        frames_limit=limit,
                        progress=phases.callback(name),
                        cancel=token,
                    )
                    result.analysis = analysis_html(found)
                    if hint := ghosting_hint(found, params):
                        result.notes.append(common.message(hint, "warning"))
                    result.plot = common.to_display(analysis.plot_image(found), max_side=1100)
            except Cancelled:
                rest = [n.lower() for n, w in steps[index:] if w]
                text = f"Cancelled: no {' and no '.join(rest)}. The DFI output is complete."
                result.notes.append(common.message(text, "warning"))
                return
            except AbyszError as exc:
                result.notes.append(common.message(f"{name} failed: {exc}", "error"))

    def comparison_video(self, folders: dict[str, Path], output: Path, progress: Any, token: CancelToken) -> str:
        """Write ``<output>_compare.mp4`` (original | generated | stabilised); return a copy gradio serves."""
        target, replace = comparison_target(output)
        video.compare_videos(
            [folders["source"], folders["generated"], output],
            target,
            overwrite=replace,
            progress=progress,
            cancel=token,
        )
        remember_comparison(output, target)
        return self.served.serve(target, "compare_mp4")

    def cancel(self) -> str:
        """Ask the running DFI (or its extraction, comparison or analysis) to stop."""
        if self.guard.cancel():
            return common.message("Cancelling: DFI stops after the current frame.", "warning")
        return common.message("No DFI run is going.")


# --- the layout -------------------------------------------------------------------------------------


def build(ctx: TabContext) -> DFIHandlers:
    """Lay out the DFI sub-tab and wire its buttons (call inside its gr.Tab)."""
    settings = ctx.settings
    handlers = DFIHandlers(settings)
    tb = gr.Textbox
    gr.HTML(
        '<p class="abysz-lead">Stabilise img2img frames against the original video: where the original is '
        "still, DFI holds the previous output; where it moves, it takes the new frame.</p>",
        elem_id="abysz_dfi_lead",
    )
    inputs: dict[str, Any] = {}
    with gr.Row(elem_id="abysz_dfi_folders"):
        inputs["source"] = compat.component(
            tb,
            label="Source frames (folder or video)",
            value=settings.source,
            placeholder="e.g. C:\\video\\frames or C:\\video\\clip.mp4",
            info="The ORIGINAL video's frames (what you fed img2img), or the video itself.",
            elem_id="abysz_dfi_source",
        )
        inputs["generated"] = compat.component(
            tb,
            label="Generated frames (folder or video)",
            value=settings.generated,
            placeholder="e.g. C:\\video\\img2img",
            info="img2img's output frames, same order (paired by natural sort), or a video of them. "
            f"Videos are extracted to <output>{WORK_SUFFIX} and re-used while unchanged.",
            elem_id="abysz_dfi_generated",
        )
        inputs["output"] = compat.component(
            tb,
            label="Output folder",
            value=settings.output,
            placeholder=f"empty: <generated folder>{OUTPUT_SUFFIX}",
            info="Created if missing; never one of the input folders.",
            elem_id="abysz_dfi_output",
        )
    with gr.Accordion("Parameters", open=True, elem_id="abysz_dfi_params"), gr.Row():
        specs = prm.specs(DFIParams)
        half = (len(specs) + 1) // 2
        for column_specs in (specs[:half], specs[half:]):
            with gr.Column():
                for spec in column_specs:
                    inputs[spec.name] = common.param_widget(spec, elem_prefix="abysz_dfi")
    with gr.Accordion("Run options", open=False, elem_id="abysz_dfi_options"), gr.Row():
        inputs["frames_limit"] = compat.component(
            gr.Number,
            label="Frames limit",
            value=0,
            precision=0,
            info="Stop after this many frames (0 = all): try settings on a short stretch first.",
            elem_id="abysz_dfi_frames_limit",
        )
        inputs.update(common.run_option_widgets("abysz_dfi"))
    with gr.Row(elem_id="abysz_dfi_preview_row"):
        inputs["preview_frames"] = compat.component(
            tb,
            label="Preview frame numbers",
            placeholder=f"e.g. 5, 12, 30 (empty: {settings.preview_frames} frames spread over the clip)",
            elem_id="abysz_dfi_preview_frames",
            scale=3,
        )
        preview_button = compat.component(gr.Button, value="Preview masks", elem_id="abysz_dfi_preview", scale=1)
    preview_status = common.status_box("abysz_dfi_preview_status")
    preview_gallery = compat.component(
        gr.Gallery,
        label="Mask previews",
        columns=4,
        height="auto",
        object_fit="contain",
        elem_id="abysz_dfi_preview_gallery",
        elem_classes=["abysz-gallery"],  # style.css: no inner scroll, tiles in the frames' own shape
    )
    with gr.Row(elem_id="abysz_dfi_after_run"):
        inputs["compare"] = compat.component(
            gr.Checkbox,
            label="Make a comparison video",
            value=True,
            info=f"After DFI: original | generated | stabilised as <output>{COMPARE_SUFFIX}.mp4, played below.",
            elem_id="abysz_dfi_compare",
        )
        inputs["analyze"] = compat.component(
            gr.Checkbox,
            label="Analyse flicker",
            value=True,
            info="After DFI: how much flicker went, how much of the render stayed, how much ghosting.",
            elem_id="abysz_dfi_analyze",
        )
    with gr.Row(elem_id="abysz_dfi_buttons"):
        run_button = compat.component(gr.Button, value="Run DFI", variant="primary", elem_id="abysz_dfi_run")
        cancel_button = compat.component(gr.Button, value="Cancel DFI run", variant="stop", elem_id="abysz_dfi_cancel")
        compat.component(
            gr.Button,
            value="Send to img2img batch",
            visible=settings.in_webui,
            elem_id="abysz_dfi_send_img2img",
            elem_classes=["abysz-send-img2img", "abysz-hidden"],  # javascript/abysz_lab.js shows it where usable
        )
    busy_note = common.status_box("abysz_dfi_busy")  # "already going", for a second click on Run
    status = common.status_box("abysz_dfi_status")
    with gr.Row(elem_id="abysz_dfi_result_row"):
        first_frame = compat.component(
            gr.Image,
            label="First output frame",
            type="numpy",
            interactive=False,
            elem_id="abysz_dfi_first_frame",
        )
        last_frame = compat.component(
            gr.Image,
            label="Last output frame",
            type="numpy",
            interactive=False,
            elem_id="abysz_dfi_last_frame",
        )
    last_output = compat.component(
        tb,
        label="Last output folder",
        interactive=False,
        elem_id="abysz_dfi_last_output",
        info="Filled after a run; 'Send to img2img batch' uses it.",
    )
    compare_video = compat.component(
        gr.Video,
        label="Comparison video",
        show_label=False,  # the video carries its own labels; gradio's badge would cover "original"
        interactive=False,
        elem_id="abysz_dfi_compare_video",
    )
    analysis_summary = compat.component(gr.HTML, value="", elem_id="abysz_dfi_analysis")
    analysis_plot = compat.component(
        gr.Image,
        label="Flicker plot",
        type="numpy",
        interactive=False,
        elem_id="abysz_dfi_analysis_plot",
    )

    common.wire_run(
        preview_button.click, handlers.preview, inputs, [preview_gallery, preview_status], status=preview_status
    )
    run_event = common.wire_run(
        run_button.click,
        handlers.run,
        inputs,
        [status, first_frame, last_frame, last_output, compare_video, analysis_summary, analysis_plot],
    )
    common.answer_repeated_clicks(run_button.click, run_event, handlers.guard, busy_note)
    compat.on(cancel_button.click, handlers.cancel, inputs=[], outputs=[status], queue=False)
    return handlers
