"""The DFI sub-tab: folders or videos, every DFIParams control, mask previews, a queued run with progress and cancel.

A run is :func:`abysz_lab.pipeline.stabilise` as a job on the process's job
queue (shared with the HTTP API), stopped by the tab's Cancel: extract the
source and generated videos (only for video inputs), DFI, the comparison
video and the flicker analysis (the last two optional).
The tab keeps no pipeline logic: it turns control values into the pipeline's
arguments and its result into what the page shows. The button handlers live on
:class:`DFIHandlers` and take plain values (a dict of control name -> value),
so tests call exactly what the buttons call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from abysz_lab import analysis, pipeline
from abysz_lab import params as prm
from abysz_lab.dfi import DFIParams, preview_masks
from abysz_lab.errors import AbyszError, InputError
from abysz_lab.frames import read_frame
from abysz_lab.jobqueue import Job, JobQueue
from abysz_lab.jobs import RunSummary
from abysz_lab.pipeline import COMPARE_SUFFIX, WORK_SUFFIX
from abysz_lab.ui import TabContext, UISettings, common, compat

OUTPUT_SUFFIX = "_dfi"
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


def analysis_html(result: analysis.AnalysisResult) -> str:
    """The flicker summary line (and any warnings of the analysis) for the tab."""
    line = common.message(f"Flicker analysis: {result.summary.text}", "ok")
    explain = (
        '<p class="abysz-note">Flicker: change of the frame-to-frame flicker, output vs generated frames '
        "(negative = steadier). Fidelity: PSNR of the output against the generated frames (higher = more of "
        "the render kept). Ghosting: share of moving pixels where the output held on to the past.</p>"
    )
    return line + explain + "".join(common.message(w, "warning") for w in result.warnings)


# Above this trail opacity the status suggests what to change. The classic demo with the default settings
# measures about 18 % (clear ghost rings in its last frame); motion mode about 1-3 %; no trails read 0.
GHOSTING_HINT_PCT = 5.0


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
        f"Ghosting found: trails of about {found:.0f} % opacity behind moving things (look at the last "
        f"frame). Try: {'; or '.join(tries)}."
    )


def phase_progress(progress: Callable[..., Any] | None) -> pipeline.PhaseCallback:
    """Adapt a ``gr.Progress`` to the pipeline's phase reports: "DFI (step 2 of 4): frame_0003.png"."""

    def update(report: pipeline.PhaseProgress) -> None:
        common.progress_callback(progress, what=report.title)(report.progress)

    return update


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
    """The DFI sub-tab's button handlers; one instance per built tab, its runs on the process's job queue.

    Runs and video extractions for previews go through :class:`common.QueuedRuns` on the job queue shared
    with the HTTP API: when it is busy, a click waits its turn ("Queued behind 2 jobs") instead of being
    refused; a run into a folder that a queued or running job writes is refused, naming that job.
    """

    RUN_OUTPUTS = 7  # status, first frame, last frame, output folder, comparison video, analysis, plot

    def __init__(self, settings: UISettings, queue: JobQueue | None = None) -> None:
        self.settings = settings
        self.runs = common.QueuedRuns("DFI", queue)  # runs and the video extractions of previews
        self.served = compat.ServedFiles(prefix="abysz_lab_dfi_")

    @property
    def busy(self) -> bool:
        """True while a job of this tab is queued or running."""
        return self.runs.busy

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
        # The work folder and the comparison video go beside the output: they must be allowed too.
        common.allowed_path(pipeline.work_folder(output), "the work folder beside the output")
        return paths, output

    def preview(self, values: Mapping[str, Any], progress: Callable[..., Any] | None = None) -> tuple[Any, str]:
        """Compute masks for a few frames: (gallery items, status HTML).

        Writes nothing for frame folders; a video input is extracted first (into
        the work folder a run re-uses), as a job on the queue.
        """
        try:
            params = common.params_from_values(DFIParams, values)
            paths, output = self._inputs(values)
            indices = parse_frame_numbers(values.get("preview_frames"))
            folders = dict(paths)
            if any(pipeline.is_video_input(path) for path in paths.values()):
                work = pipeline.work_folder(output)

                def extract(job: Job) -> pipeline.PreparedInputs:
                    return pipeline.prepare_inputs(
                        paths["source"], paths["generated"], work, progress=phase_progress(progress), cancel=job.cancel
                    )

                prepared = self.runs.run(
                    "extract (DFI preview)", extract, writes=[work], reads=list(paths.values()), progress=progress
                )
                folders = prepared.folders
            items = preview_masks(
                folders["source"],
                folders["generated"],
                params,
                indices=[n - 1 for n in indices] or None,  # typed numbers count from 1, like frame_00001
                count=self.settings.preview_frames,
            )
        except AbyszError as exc:
            return gr.update(), common.error_message(exc)
        gallery = []
        for item in items:
            caption = f"frame {item.number} ({item.name})"
            gallery.append((common.to_display(item.mask), f"Mask, {caption}: {item.held_pct:.1f}% held"))
            gallery.append((common.to_display(item.overlay), f"Held (blue), {caption}"))
        text = (
            f"Masks for frames {', '.join(str(i.number) for i in items)}. White (and blue over the source) "
            "is held from the previous output; black is refreshed from the generated frame."
        )
        return gallery, common.message(text)

    def run(self, values: Mapping[str, Any], progress: Callable[..., Any] | None = None) -> tuple[Any, ...]:
        """Run DFI (and the comparison video and flicker analysis when ticked); the Run button's 7 outputs.

        The phases are :func:`abysz_lab.pipeline.stabilise`'s. Outputs: status/figures
        HTML, first and last output frame, output folder, comparison video,
        analysis summary HTML, analysis plot. When DFI itself fails or is
        cancelled, only the status changes; when a later phase fails or is
        cancelled, DFI's results are shown with a note.
        """
        try:
            params = common.params_from_values(DFIParams, values)
            paths, output = self._inputs(values)
            limit = common.whole_number(values.get("frames_limit") or 0, "DFI frames limit (0 = all frames)")

            def stabilise(job: Job) -> pipeline.StabiliseResult:
                return pipeline.stabilise(
                    paths["source"],
                    paths["generated"],
                    frames_dir=output,
                    params=params,
                    compare=bool(values.get("compare", True)),
                    analyze=bool(values.get("analyze", True)),
                    frames_limit=limit,
                    overwrite=bool(values.get("overwrite")),
                    resume=bool(values.get("resume", True)),
                    progress=phase_progress(progress),
                    cancel=job.cancel,
                )

            writes = [output, pipeline.work_folder(output)]
            done = self.runs.run("dfi (tab)", stabilise, writes=writes, reads=list(paths.values()), progress=progress)
        except AbyszError as exc:
            return common.error_message(exc), *[gr.update()] * (self.RUN_OUTPUTS - 1)
        return self._result(done, params).outputs()

    def _result(self, done: pipeline.StabiliseResult, params: DFIParams) -> RunResult:
        """What the tab shows of a finished pipeline run."""
        summary = done.dfi
        figures = [*common.run_rows(summary), ("Output folder", str(summary.output))]
        if summary.cuts:  # motion mode restarted there: name the first frame of each new shot
            starts = ", ".join(summary.outputs[c].name for c in summary.cuts[:20])
            figures.append((f"Scene cuts ({len(summary.cuts)}), new shot starts at", starts))
        status = common.figures_html("DFI finished.", figures, summary.warnings)
        result = RunResult(status, *first_and_last_frames(summary), str(summary.output))
        result.notes += [common.message(n) for n in done.notes]
        if done.comparison is not None:
            result.comparison = self.served.serve(done.comparison, "compare_mp4")
        if done.analysis is not None:
            result.analysis = analysis_html(done.analysis)
            if hint := ghosting_hint(done.analysis, params):
                result.notes.append(common.message(hint, "warning"))
            result.plot = common.to_display(analysis.plot_image(done.analysis), max_side=1100)
        result.notes += [common.message(p, "error") for p in done.problems]
        if done.cancelled:
            result.notes.append(common.message(done.cancelled, "warning"))
        return result

    def cancel(self) -> str:
        """Ask the running DFI (or its extraction, comparison or analysis) to stop."""
        return self.runs.cancel(stopping="Cancelling: DFI stops after the current frame.", idle="No DFI run is going.")


# --- the layout -------------------------------------------------------------------------------------


MODE_HINT = (
    "**Which DFI mode?** *classic* for a locked-off shot (tripod, still camera): the original's rule, fastest. "
    "*motion* when the camera pans, zooms or shakes, the light changes, or the clip has cuts: it follows the "
    "original video's motion, so it steadies moving pictures too. With motion, *forward+backward* passes are "
    "steadier still at about half the speed."
)


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
    gr.Markdown(MODE_HINT, elem_id="abysz_dfi_mode_hint")
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
    common.answer_repeated_clicks(run_button.click, run_event, handlers.runs, busy_note)
    compat.on(cancel_button.click, handlers.cancel, inputs=[], outputs=[status], queue=False)
    return handlers
