"""The Deflicker playground sub-tab: presets on a few frames before/after, then on the whole folder.

The button handlers live on :class:`PlaygroundHandlers` and take plain values
(a dict of control name -> value), so tests call exactly what the buttons call.
"""

from __future__ import annotations

import html
import math
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from abysz_lab import analysis
from abysz_lab import params as prm
from abysz_lab import playground as pg
from abysz_lab.errors import AbyszError, Cancelled, InputError, MissingDependencyError
from abysz_lab.frames import list_frames
from abysz_lab.jobqueue import Job, JobQueue
from abysz_lab.jobs import CancelToken, RunSummary
from abysz_lab.ui import TabContext, UISettings, common, compat

OUTPUT_SUFFIX = "_deflicker"
INPUT_WHAT = "the input frames folder"
TEMP_FOLDER_PREFIX = "abysz_lab_playground_"
KEEP_ANIMATIONS = 2  # per session: the one on screen and the one being replaced
PREVIEW_COUNT_MAX = 24


# --- pure helpers ----------------------------------------------------------------------------


def preset_info_html(info: pg.PresetInfo) -> str:
    """What the picked preset does: description, its chain, what strength and window mean for it."""
    kind = "built-in" if info.builtin else "your own"
    rows = [
        ("Chain", info.chain),
        ("Strength", info.strength_help if info.uses_strength else "not used by this preset"),
        ("Window", f"recommended {info.default_window} frames" if info.uses_window else "not used by this preset"),
        ("Recommended strength", f"{info.default_strength:g}"),
    ]
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return (
        f'<div class="abysz-preset-info"><p><b>{html.escape(info.title)}</b> ({kind}): '
        f'{html.escape(info.description)}</p><table class="abysz-figures">{cells}</table></div>'
    )


def figures_html(summary: RunSummary) -> str:
    """The figures of a finished apply as a small HTML table, then its warnings."""
    rows = [("Preset and engine", summary.operation), *common.run_rows(summary), ("Output folder", str(summary.output))]
    return common.figures_html("Deflicker finished.", rows, summary.warnings)


def _grey(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value:.2f}"


def brightness_pumping(curve: np.ndarray) -> float:
    """Mean change of a frame's mean brightness from one frame to the next (grey levels; NaN if < 2 frames)."""
    values = curve[np.isfinite(curve)]
    return float(np.abs(np.diff(values)).mean()) if values.size >= 2 else math.nan


def _change_pct(before: float, after: float) -> str:
    if not (math.isfinite(before) and math.isfinite(after)) or before <= 0:
        return "-"
    return f"{100.0 * (after / before - 1.0):+.0f} %"


def flicker_html(result: analysis.AnalysisResult, *, from_original: bool) -> str:
    """What the measurement after an apply found, and in plain words what each number means.

    The motion-compensated flicker figure needs the original video's frames:
    estimated from the flickering input itself, it would count only the pixels
    where the input already looks steady, which favours the input. Without
    them the figures are the ones that need no motion: brightness pumping and
    fidelity.
    """
    s = result.summary
    pump_in = brightness_pumping(result.curves["luma_generated"])
    pump_out = brightness_pumping(result.curves["luma_output"])
    fidelity = "identical" if s.psnr_db == math.inf else f"{_grey(s.psnr_db)} dB"
    pumping = (
        f"Brightness pumping {_change_pct(pump_in, pump_out)}: a frame's mean brightness changes by "
        f"{_grey(pump_in)} grey levels from one frame to the next in the input, {_grey(pump_out)} in the output "
        "(real fades count here too)."
    )
    meaning = (
        f"Fidelity {fidelity}: PSNR of the output against the input, i.e. how much the preset changed the "
        "frames (higher = closer to the input)."
    )
    if from_original:
        lines = [
            f"Flicker figure: {s.text}.",
            f"Flicker is the change between frames that the original video's motion does not explain: "
            f"{_grey(s.flicker_generated)} grey levels in the input, {_grey(s.flicker_output)} in the output. "
            "Ghosting is the share of moving pixels where the output held on to the previous frame. In the plot, "
            "'generated' is the input folder and 'source' the original video.",
            pumping,
            meaning,
        ]
    else:
        lines = [
            pumping,
            meaning,
            "Fill in the original frames folder (apply options) for the motion-compensated flicker figure and "
            "its plot: estimated from the flickering input itself, motion would leave out exactly the pixels "
            "that flicker.",
        ]
    return "".join(common.message(line) for line in [*lines, *result.warnings])


def session_key(session: str | None) -> str:
    """A folder name for a browser session (gradio's session hash), safe on every file system."""
    key = re.sub(r"[^0-9A-Za-z_-]+", "", session or "")[:64]
    return key or "local"


# --- what the buttons call -------------------------------------------------------------------------


class PlaygroundHandlers:
    """The playground sub-tab's button handlers; one instance per built tab.

    Apply runs as a job on the job queue the HTTP API shares (``runs``); the
    preview does not: it reads a few frames and writes only its animation into a
    temporary folder of this tab, so it answers at once even while the queue is
    busy. ``preset_folder`` None means the user's preset folder (see
    :func:`abysz_lab.playground.default_preset_folder`), looked up at each call.
    """

    def __init__(
        self,
        settings: UISettings,
        queue: JobQueue | None = None,
        *,
        preset_folder: str | Path | None = None,
        temp_root: str | Path | None = None,
    ) -> None:
        self.settings = settings
        self.runs = common.QueuedRuns("deflicker", queue)
        self.preset_folder = preset_folder
        self._temp_root = Path(temp_root) if temp_root else None  # made on first preview: nothing at build time
        self.engine = pg.engine_status()

    # presets

    def presets(self) -> list[pg.PresetInfo]:
        """Every preset the picker offers (built-in, then the user's)."""
        return pg.list_presets(self.preset_folder)

    def preset_titles(self) -> list[str]:
        """The picker's choices."""
        return [p.title for p in self.presets()]

    def problems(self) -> list[str]:
        """One message per custom preset file that could not be loaded."""
        return list(pg.load_custom_presets(self.preset_folder).problems)

    def describe_preset(self, name: str) -> tuple[str, Any, Any]:
        """Picking a preset: (its description HTML, its recommended strength, its recommended window)."""
        try:
            info = self._info(name)
            params = pg.params_for_preset(name, folder=self.preset_folder)
        except AbyszError as exc:
            return common.error_message(exc), gr.update(), gr.update()
        return preset_info_html(info), gr.update(value=params.strength), gr.update(value=params.window)

    def _info(self, name: str) -> pg.PresetInfo:
        preset = pg.find_preset(name, self.preset_folder)
        return next(p for p in self.presets() if p.name == preset.name)

    def preset_folder_path(self) -> Path:
        """Where custom presets are saved."""
        return Path(self.preset_folder) if self.preset_folder else pg.default_preset_folder()

    def engine_html(self) -> str:
        """The engine status line: ImageMagick's version, or the install hint and that numpy runs instead."""
        if self.engine.wand_available:
            return common.message(self.engine.message, "ok")
        return common.message(self.engine.message, "warning")

    def _picker(self, value: str | None) -> Any:
        titles = self.preset_titles()
        return gr.update(choices=titles, value=value if value in titles else titles[0])

    def reload_presets(self, current: str | None) -> tuple[Any, str]:
        """Re-read the preset folder (after editing files by hand): (picker update, status HTML)."""
        custom = pg.load_custom_presets(self.preset_folder)
        text = f"{len(custom.presets)} custom preset(s) loaded from {self.preset_folder_path()}."
        status = common.message(text) + "".join(common.message(p, "warning") for p in custom.problems)
        return self._picker(current), status

    def save_custom(self, values: Mapping[str, Any]) -> tuple[Any, str]:
        """Save the typed chain (or the current preset with its strength and window) under the typed name."""
        try:
            name = str(values.get("custom_name") or "").strip()
            if not name:
                msg = "Type a name for the custom preset."
                raise InputError(msg)
            params = common.params_from_values(pg.PlaygroundParams, values)
            chain_text = str(values.get("custom_chain") or "").strip()
            if chain_text:
                steps = pg.parse_chain(chain_text)
                description = f"Custom chain: {chain_text}."
                mix: float | str = 1.0
            else:
                base = pg.find_preset(params.preset, self.preset_folder)
                steps = list(base.steps)
                description = f"{base.title} saved with strength {params.strength:g} and window {params.window}."
                mix = base.mix
            preset = pg.make_preset(
                name,
                steps,
                description=description,
                default_strength=params.strength,
                default_window=params.window,
                mix=mix,
            )
            path = pg.save_preset(preset, self.preset_folder)
        except AbyszError as exc:
            return gr.update(), common.error_message(exc)
        return self._picker(preset.title), common.message(f"Saved the preset {preset.title!r} to {path}.", "ok")

    def delete_custom(self, name: str | None) -> tuple[Any, str]:
        """Delete the picked custom preset: (picker update, status HTML)."""
        try:
            path = pg.delete_preset(str(name or ""), self.preset_folder)
        except AbyszError as exc:
            return gr.update(), common.error_message(exc)
        return self._picker(None), common.message(f"Deleted the preset {name!r} ({path}).", "ok")

    # preview

    @property
    def temp_root(self) -> Path:
        """Where preview animations go: a folder under the system temp folder, which every gradio serves.

        (Later gradio 4 releases refuse files outside the working folder, the
        temp folder and ``allowed_paths``; see compat.ServedFiles.)
        """
        if self._temp_root is None:
            self._temp_root = compat.temp_folder(TEMP_FOLDER_PREFIX)
        return self._temp_root

    def _session_folder(self, session: str | None) -> Path:
        folder = self.temp_root / session_key(session)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            msg = f"Cannot create the preview folder {folder}: {exc.strerror or exc}."
            raise InputError(msg) from exc
        old = sorted(folder.glob("preview-*.gif"), key=lambda p: p.stat().st_mtime)
        for path in old[: max(0, len(old) - KEEP_ANIMATIONS + 1)]:
            path.unlink(missing_ok=True)
        return folder

    def preview(self, values: Mapping[str, Any], session: str | None = None) -> tuple[Any, Any, str]:
        """Run the preset on a few frames: (gallery of before|after stills, animated GIF path, status HTML)."""
        try:
            params = common.params_from_values(pg.PlaygroundParams, values)
            source = common.path_box(values.get("input"), INPUT_WHAT)
            start = common.whole_number(values.get("preview_start", 1), "Preview start frame", 1) - 1
            count = common.whole_number(values.get("preview_count", 8), "Preview frame count", 1)
            result = pg.preview(source, params, start=start, count=count, folder=self.preset_folder)
        except AbyszError as exc:
            return gr.update(), gr.update(), common.error_message(exc)
        gallery = [
            (common.to_display(pg.before_after(f.before, f.after)), f"Frame {f.number} ({f.name}): before | after")
            for f in result.frames
        ]
        first, last = result.frames[0].number, result.frames[-1].number
        shown = f"{result.preset} on frames {first} to {last}, {result.engine} engine. Left: before, right: after."
        notes = [common.message(shown)]
        if result.message:
            notes.append(common.message(result.message, "warning"))
        animation = None
        try:
            folder = self._session_folder(session)
            animation = str(pg.write_preview_animation(result, folder / f"preview-{time.time_ns()}.gif"))
        except MissingDependencyError as exc:
            notes.append(common.message(f"No animated preview: {exc} The stills above are complete.", "warning"))
        except AbyszError as exc:
            notes.append(common.error_message(exc))
        return gallery, animation, "".join(notes)

    # apply

    def apply(self, values: Mapping[str, Any], progress: Callable[..., Any] | None = None) -> tuple[str, Any, Any]:
        """Deflicker the whole folder, then measure it: (figures and flicker HTML, plot image, output folder).

        When the deflicker fails or is cancelled only the status changes; when
        the measurement after it fails or is cancelled, the finished deflicker
        is shown with a note.
        """
        try:
            params = common.params_from_values(pg.PlaygroundParams, values)
            source = common.path_box(values.get("input"), INPUT_WHAT)
            output = common.resolve_output(
                values.get("input"),
                values.get("output"),
                self.settings.output_root,
                suffix=OUTPUT_SUFFIX,
                what=INPUT_WHAT,
            )
            original = common.path_box(values.get("original"), "", optional=True)
            if original is not None:  # a typo here must not cost a whole run
                list_frames(original, role="original frames")

            def work(job: Job) -> tuple[RunSummary, analysis.AnalysisResult | None, str]:
                summary = pg.apply_preset(
                    source,
                    output,
                    params,
                    folder=self.preset_folder,
                    overwrite=bool(values.get("overwrite")),
                    resume=bool(values.get("resume", True)),
                    progress=common.progress_callback(progress, what="Deflicker"),
                    cancel=job.cancel,
                )
                if not values.get("measure", True):
                    return summary, None, ""
                # Measured inside the job: no other job may write the output until it is read.
                return summary, *self._measure(original, source, summary.output, progress, job.cancel)

            reads = [source] if original is None else [source, original]
            summary, measured, note = self.runs.run(
                "deflicker (tab)", work, writes=[output], reads=reads, progress=progress
            )
            text, plot = figures_html(summary) + note, None
            if measured is not None:
                text += flicker_html(measured, from_original=original is not None)
                if original is not None:
                    plot = common.to_display(analysis.plot_image(measured), max_side=1100)
        except AbyszError as exc:
            return common.error_message(exc), gr.update(), gr.update()
        return text, plot, str(summary.output)

    def _measure(
        self, original: Path | None, source: Path, output: Path, progress: Callable[..., Any] | None, token: CancelToken
    ) -> tuple[analysis.AnalysisResult | None, str]:
        """The flicker measurement after an apply: (result, '') or (None, a note saying why there is none)."""
        try:
            measured = analysis.analyze_folders(
                original or source,
                source,
                output,
                progress=common.progress_callback(progress, what="Measuring flicker"),
                cancel=token,
            )
        except Cancelled:
            return None, common.message(
                "Cancelled: no flicker measurement. The deflicker output is complete.", "warning"
            )
        except AbyszError as exc:
            return None, common.message(f"Measuring flicker failed: {exc} The deflicker output is complete.", "error")
        return measured, ""

    def cancel(self) -> str:
        """Drop this tab's waiting deflicker runs and ask the running one to stop after the current frame."""
        return self.runs.cancel(
            stopping="Cancelling: the deflicker stops after the current frame.", idle="No deflicker run is going."
        )


# --- the layout -------------------------------------------------------------------------------------


def build(ctx: TabContext) -> PlaygroundHandlers:
    """Lay out the Deflicker playground sub-tab and wire its buttons (call inside its gr.Tab)."""
    handlers = PlaygroundHandlers(ctx.settings)
    tb = gr.Textbox
    specs = {s.name: s for s in prm.specs(pg.PlaygroundParams)}
    gr.HTML(
        '<p class="abysz-lead">Deflicker generated frames without the original video: try a preset on a few '
        "frames, compare before and after, then apply it to the whole folder.</p>",
        elem_id="abysz_pg_lead",
    )
    compat.component(gr.HTML, value=handlers.engine_html(), elem_id="abysz_pg_engine_status")
    inputs: dict[str, Any] = {}
    with gr.Row(elem_id="abysz_pg_folders"):
        inputs["input"] = compat.component(
            tb,
            label="Input frames folder",
            value=ctx.settings.generated,
            placeholder="e.g. C:\\video\\img2img",
            info="The frames to deflicker (e.g. img2img's output, or a DFI output). Never changed.",
            elem_id="abysz_pg_input",
        )
        inputs["output"] = compat.component(
            tb,
            label="Output folder",
            placeholder=f"empty: <input folder>{OUTPUT_SUFFIX}",
            info="Created if missing; never the input folder. Same file names as the input.",
            elem_id="abysz_pg_output",
        )
    titles = handlers.preset_titles()
    default = pg.find_preset(specs["preset"].default).title
    with gr.Row(elem_id="abysz_pg_preset_row"):
        with gr.Column(scale=2):
            preset = compat.component(
                gr.Dropdown,
                choices=titles,
                value=default,
                label=specs["preset"].label,
                info="Picking a preset sets its recommended strength and window.",
                interactive=True,
                elem_id="abysz_pg_preset",
            )
            inputs["preset"] = preset
            for name in ("strength", "window", "engine"):
                inputs[name] = common.param_widget(specs[name], elem_prefix="abysz_pg")
        with gr.Column(scale=3):
            preset_info = compat.component(
                gr.HTML,
                value=handlers.describe_preset(default)[0],
                elem_id="abysz_pg_preset_info",
            )
    with gr.Row(elem_id="abysz_pg_preview_row"):
        inputs["preview_start"] = compat.component(
            gr.Number,
            label="Preview start frame",
            value=1,
            precision=0,
            info="First frame shown, counted from 1 (frame 1 is the folder's first file).",
            elem_id="abysz_pg_preview_start",
        )
        inputs["preview_count"] = compat.component(
            gr.Slider,
            label="Preview frame count",
            minimum=1,
            maximum=PREVIEW_COUNT_MAX,
            step=1,
            value=8,
            info="How many frames the preview shows; it reads only those and the preset's window around them.",
            elem_id="abysz_pg_preview_count",
        )
        preview_button = compat.component(gr.Button, value="Preview deflicker", elem_id="abysz_pg_preview")
    preview_status = common.status_box("abysz_pg_preview_status")
    # The before|after pairs are twice as wide as a frame: the gallery gets the full width, and
    # style.css gives each tile the pair's shape instead of a square.
    gallery = compat.component(
        gr.Gallery,
        label="Before | after",
        columns=2,
        height="auto",
        object_fit="contain",
        elem_id="abysz_pg_preview_gallery",
        elem_classes=["abysz-gallery"],
    )
    animation = compat.component(
        gr.Image,
        label="Animated preview (before | after)",
        type="filepath",
        interactive=False,
        elem_id="abysz_pg_preview_animation",
    )
    with gr.Accordion("Apply options", open=False, elem_id="abysz_pg_options"), gr.Row():
        inputs["original"] = compat.component(
            tb,
            label="Original frames folder (optional)",
            placeholder="e.g. C:\\video\\frames",
            info="The original video's frames, only for measuring the result: with them the tab shows the "
            "motion-compensated flicker figure and plot; without, brightness pumping and fidelity.",
            elem_id="abysz_pg_original",
        )
        inputs["measure"] = compat.component(
            gr.Checkbox,
            label="Measure flicker after applying",
            value=True,
            info="Compare input and output frames after the run (takes about as long again).",
            elem_id="abysz_pg_measure",
        )
        inputs.update(common.run_option_widgets("abysz_pg"))
    with gr.Row(elem_id="abysz_pg_buttons"):
        apply_button = compat.component(gr.Button, value="Apply to folder", variant="primary", elem_id="abysz_pg_apply")
        cancel_button = compat.component(
            gr.Button, value="Cancel deflicker run", variant="stop", elem_id="abysz_pg_cancel"
        )
    busy_note = common.status_box("abysz_pg_busy")  # "already going", for a second click on Apply
    status = common.status_box("abysz_pg_status")
    plot = compat.component(
        gr.Image,
        label="Flicker per frame",
        type="numpy",
        interactive=False,
        elem_id="abysz_pg_plot",
    )
    last_output = compat.component(tb, label="Last output folder", interactive=False, elem_id="abysz_pg_last_output")
    with gr.Accordion("Custom presets", open=False, elem_id="abysz_pg_custom"):
        with gr.Row():
            inputs["custom_name"] = compat.component(
                tb,
                label="Custom preset name",
                placeholder="e.g. My soft lock",
                elem_id="abysz_pg_custom_name",
            )
            inputs["custom_chain"] = compat.component(
                tb,
                label="Custom chain (optional)",
                placeholder="e.g. brightness_lock -> temporal_median:3",
                info=f"Empty: save the picked preset with the current strength and window. {pg.CHAIN_SYNTAX}",
                elem_id="abysz_pg_custom_chain",
            )
        with gr.Row():
            save_button = compat.component(gr.Button, value="Save custom preset", elem_id="abysz_pg_save_preset")
            reload_button = compat.component(gr.Button, value="Reload presets", elem_id="abysz_pg_reload_presets")
            delete_button = compat.component(
                gr.Button, value="Delete picked custom preset", variant="stop", elem_id="abysz_pg_delete_preset"
            )
        compat.component(
            gr.HTML,
            value=common.message(f"Custom presets are JSON files in {handlers.preset_folder_path()}."),
            elem_id="abysz_pg_custom_folder",
        )
    problems = handlers.problems()
    if problems:
        compat.component(
            gr.HTML,
            value="".join(common.message(p, "warning") for p in problems),
            elem_id="abysz_pg_preset_problems",
        )

    names = list(inputs)
    components = [inputs[n] for n in names]

    def on_preview(request: gr.Request, *values: Any) -> tuple[Any, Any, str]:
        return handlers.preview(dict(zip(names, values, strict=True)), getattr(request, "session_hash", None))

    def on_save(*values: Any) -> tuple[Any, str]:
        return handlers.save_custom(dict(zip(names, values, strict=True)))

    compat.on(
        preset.change,
        handlers.describe_preset,
        inputs=[preset],
        outputs=[preset_info, inputs["strength"], inputs["window"]],
        queue=False,
    )
    preview_outputs = [gallery, animation, preview_status]
    preview_handler = common.at_boundary(on_preview, preview_outputs, preview_status)
    compat.on(preview_button.click, preview_handler, inputs=components, outputs=preview_outputs, unlimited=True)
    apply_event = common.wire_run(apply_button.click, handlers.apply, inputs, [status, plot, last_output])
    common.answer_repeated_clicks(apply_button.click, apply_event, handlers.runs, busy_note)
    compat.on(cancel_button.click, handlers.cancel, inputs=[], outputs=[status], queue=False)
    compat.on(save_button.click, on_save, inputs=components, outputs=[preset, status], queue=False)
    compat.on(reload_button.click, handlers.reload_presets, inputs=[preset], outputs=[preset, status], queue=False)
    compat.on(delete_button.click, handlers.delete_custom, inputs=[preset], outputs=[preset, status], queue=False)
    return handlers
