"""The Analyze sub-tab: flicker, fidelity and ghosting of any source / generated / output folders.

One run (a job on the queue the HTTP API shares; progress, Cancel) gives the
one-line summary, a per-frame table, the plot and the heat map of the frame
with the most flicker left; the heat-map slider then shows any other frame
without re-running. The JSON/CSV report is written only when a report folder
is given. Handlers live on :class:`AnalysisHandlers` and take plain values, so
tests call what the buttons call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import gradio as gr

from abysz_lab.analysis import (
    AnalysisParams,
    AnalysisResult,
    HeatMap,
    ReportFiles,
    analyze_folders,
    heatmap_for_frame,
    plot_image,
    write_report,
)
from abysz_lab.errors import AbyszError
from abysz_lab.jobqueue import Job, JobQueue
from abysz_lab.ui import TabContext, UISettings, common, compat

# Per-frame table: (curve name, column header, format).
TABLE_COLUMNS = (
    ("flicker_generated", "flicker generated", ".2f"),
    ("flicker_output", "flicker output", ".2f"),
    ("static_flicker_generated", "still-px flicker generated", ".2f"),
    ("static_flicker_output", "still-px flicker output", ".2f"),
    ("psnr_db", "PSNR dB", ".1f"),
    ("ssim", "SSIM", ".3f"),
    ("ghosting_pct", "ghosting %", ".2f"),
    ("luma_generated", "luma generated", ".1f"),
    ("luma_output", "luma output", ".1f"),
    ("stable_pct", "source still %", ".1f"),
)
TABLE_HEADERS = ["frame", "name", *(header for _, header, _ in TABLE_COLUMNS)]


# --- pure helpers ----------------------------------------------------------------------------


def _cell(value: float | None, spec: str) -> str:
    if value is None or math.isnan(value):
        return "-"
    return "inf" if value == math.inf else format(value, spec)


def table_rows(result: AnalysisResult) -> list[list[str]]:
    """One row of text cells per frame, numbered from 1 ('-' where undefined, e.g. frame 1's flicker)."""
    rows = []
    for i, name in enumerate(result.names):
        cells = [_cell(float(result.curves[key][i]), spec) for key, _, spec in TABLE_COLUMNS]
        rows.append([str(i + 1), name, *cells])  # frame N is the N-th file, as users count
    return rows


def heatmap_caption(heat: HeatMap) -> str:
    """What the heat map shows, as a status line."""
    text = (
        f"Heat map of frame {heat.number} ({heat.name}): {heat.sequence} flicker {_cell(heat.flicker, '.2f')} "
        "grey levels. Hot colours: change the source does not explain; grey: not measured (motion, occlusion)."
    )
    return common.message(text)


def heatmap_index(value: Any) -> int:
    """The heat-map frame slider's value (a frame number >= 2, counted from 1) as a 0-based index."""
    return common.whole_number(value, "The heat map frame (frame 1 has no previous frame)", 2) - 1


# --- what the buttons call -------------------------------------------------------------------------


class AnalysisHandlers:
    """The Analyze sub-tab's button handlers; one instance per built tab.

    A run is a job on the job queue the HTTP API shares: it waits for jobs that
    write the folders it reads, and its report folder is declared as written. The
    heat map of one frame reads two frames and writes nothing: it is not queued.
    """

    def __init__(self, settings: UISettings, queue: JobQueue | None = None) -> None:
        self.settings = settings
        self.runs = common.QueuedRuns("analysis", queue)

    def _folders(self, values: Mapping[str, Any]) -> tuple[Any, Any, Any]:
        source = common.path_box(values.get("source"), "the source frames folder")
        generated = common.path_box(values.get("generated"), "the generated frames folder")
        return source, generated, common.path_box(values.get("output"), "", optional=True)

    def run(self, values: Mapping[str, Any], progress: Callable[..., Any] | None = None) -> tuple[Any, ...]:
        """Analyse the folders: (status HTML, table rows, plot, heat map, heat-map slider update, heat-map caption)."""
        unchanged = (gr.update(),) * 5
        try:
            params = common.params_from_values(AnalysisParams, values)
            source, generated, output = self._folders(values)
            limit = common.whole_number(values.get("frames_limit") or 0, "Frames limit (0 = all frames)")
            report_folder = common.path_box(values.get("report_folder"), "", optional=True)
            folders = [p for p in (source, generated, output) if p is not None]

            def work(job: Job) -> tuple[AnalysisResult, ReportFiles | None]:
                result = analyze_folders(
                    source,
                    generated,
                    output,
                    params,
                    frames_limit=limit,
                    progress=common.progress_callback(progress, what="Analysis"),
                    cancel=job.cancel,
                )
                files = None if report_folder is None else write_report(result, report_folder, *folders)
                return result, files

            writes = [] if report_folder is None else [report_folder]
            result, files = self.runs.run("analyze (tab)", work, writes=writes, reads=folders, progress=progress)
            plot = common.to_display(plot_image(result), max_side=1400)
        except AbyszError as exc:
            return common.error_message(exc), *unchanged
        summary = result.summary
        status = common.message(summary.text, "ok")
        status += common.message(
            f"{summary.frames} frames in {result.seconds:.1f} s ({result.fps:.1f} frames/s)."
            + ("" if summary.has_output else " No output folder: only the generated frames' flicker is measured.")
        )
        status += "".join(common.message(w, "warning") for w in result.warnings)
        if files is not None:
            written = ", ".join(str(p) for p in (files.json, files.csv, files.plot, files.heatmap) if p is not None)
            status += common.message(f"Report written: {written}", "ok")
        heat = result.heatmap
        last = max(2, summary.frames)  # the slider counts from 1: frame 2 (the first with a previous one) to the last
        if heat is None:
            slider = gr.update(maximum=last)
            return status, table_rows(result), plot, None, slider, common.message("No heat map: too few frames.")
        slider = gr.update(maximum=last, value=heat.number)
        return status, table_rows(result), plot, common.to_display(heat.image), slider, heatmap_caption(heat)

    def heatmap(self, values: Mapping[str, Any]) -> tuple[Any, str]:
        """The heat map of the slider's frame: (image, caption HTML). Reads two frames; writes nothing."""
        try:
            params = common.params_from_values(AnalysisParams, values)
            source, generated, output = self._folders(values)
            heat = heatmap_for_frame(source, generated, output, heatmap_index(values.get("heatmap_frame")), params)
        except AbyszError as exc:
            return gr.update(), common.error_message(exc)
        return common.to_display(heat.image), heatmap_caption(heat)

    def cancel(self) -> str:
        """Drop this tab's waiting analyses and ask the running one to stop after the current frame."""
        return self.runs.cancel(
            stopping="Cancelling: the analysis stops after the current frame.", idle="No analysis is going."
        )


# --- the layout -------------------------------------------------------------------------------------


def build(ctx: TabContext) -> AnalysisHandlers:
    """Lay out the Analyze sub-tab and wire its buttons (call inside its gr.Tab)."""
    settings = ctx.settings
    handlers = AnalysisHandlers(settings)
    gr.HTML(
        '<p class="abysz-lead">Measure a run: how much flicker is left in the output compared with the '
        "generated frames, how much of the render survived (fidelity), and how strong the trails are that the "
        "output leaves where something moved (ghosting, as their opacity). The source frames say what should be "
        "still.</p>",
        elem_id="abysz_an_lead",
    )
    inputs: dict[str, Any] = {}
    folders = (
        ("source", "Source frames folder", "The original video's frames.", settings.source),
        ("generated", "Generated frames folder", "img2img's frames, before stabilising.", settings.generated),
        (
            "output",
            "Output frames folder",
            "Optional: the stabilised frames (DFI or deflicker output). Empty: measure the generated frames only.",
            settings.output,
        ),
    )
    with gr.Row(elem_id="abysz_an_folders"):
        for name, label, info, value in folders:
            inputs[name] = compat.component(gr.Textbox, label=label, info=info, value=value, elem_id=f"abysz_an_{name}")
    with gr.Accordion("Settings", open=False, elem_id="abysz_an_params"), gr.Row():
        inputs.update(common.param_widgets(AnalysisParams, elem_prefix="abysz_an"))
        inputs["frames_limit"] = compat.component(
            gr.Number,
            label="Frames limit",
            value=0,
            precision=0,
            info="Analyse only the first frames (0 = all).",
            elem_id="abysz_an_frames_limit",
        )
        inputs["report_folder"] = compat.component(
            gr.Textbox,
            label="Report folder",
            info="Optional: write analysis.json, analysis.csv, the plot and the heat map here.",
            elem_id="abysz_an_report_folder",
        )
    with gr.Row(elem_id="abysz_an_buttons"):
        run_button = compat.component(gr.Button, value="Analyze", variant="primary", elem_id="abysz_an_run")
        cancel_button = compat.component(gr.Button, value="Cancel analysis", variant="stop", elem_id="abysz_an_cancel")
    busy_note = common.status_box("abysz_an_busy")  # "already going", for a second click on Analyze
    status = common.status_box("abysz_an_status")
    plot = compat.component(gr.Image, label="Per-frame plot", type="numpy", interactive=False, elem_id="abysz_an_plot")
    with gr.Row(elem_id="abysz_an_heatmap_row"):
        with gr.Column(scale=1):
            heatmap_frame = compat.component(
                gr.Slider,
                label="Heat map frame",
                minimum=2,
                maximum=3,
                step=1,
                value=2,
                info="Counted from 1 like the files (frame 1 has no previous frame). Release the slider (or press "
                "Show) to see where flicker remains in that frame.",
                elem_id="abysz_an_heatmap_frame",
            )
            heatmap_button = compat.component(gr.Button, value="Show heat map", elem_id="abysz_an_heatmap_show")
            caption = compat.component(gr.HTML, value="", elem_id="abysz_an_heatmap_caption")
        heatmap = compat.component(
            gr.Image, label="Flicker heat map", type="numpy", interactive=False, elem_id="abysz_an_heatmap"
        )
    table = compat.component(
        gr.Dataframe,
        label="Per-frame figures",
        headers=TABLE_HEADERS,
        datatype=["str"] * len(TABLE_HEADERS),
        interactive=False,
        wrap=False,
        elem_id="abysz_an_table",
    )
    inputs["heatmap_frame"] = heatmap_frame
    run_event = common.wire_run(
        run_button.click, handlers.run, inputs, [status, table, plot, heatmap, heatmap_frame, caption]
    )
    common.answer_repeated_clicks(run_button.click, run_event, handlers.runs, busy_note)
    compat.on(cancel_button.click, handlers.cancel, inputs=[], outputs=[status], queue=False)
    for event in (heatmap_button.click, heatmap_frame.release):
        common.wire_run(
            event, lambda values, _progress: handlers.heatmap(values), inputs, [heatmap, caption], status=caption
        )
    return handlers
