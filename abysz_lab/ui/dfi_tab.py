"""The DFI sub-tab: folders, every DFIParams control, mask previews, a guarded run with progress and cancel.

The button handlers live on :class:`DFIHandlers` and take plain values (a dict
of control name -> value), so tests call exactly what the buttons call.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import gradio as gr

from abysz_lab import params as prm
from abysz_lab.dfi import DFIParams, preview_masks, run_dfi
from abysz_lab.errors import AbyszError, InputError
from abysz_lab.frames import read_frame
from abysz_lab.jobs import RunSummary
from abysz_lab.ui import TabContext, UISettings, common, compat

OUTPUT_SUFFIX = "_dfi"


# --- pure helpers ----------------------------------------------------------------------------


def folder_value(text: str | None, what: str) -> Path:
    """A folder typed into a textbox, or InputError saying which box is empty."""
    text = (text or "").strip().strip('"')
    if not text:
        msg = f"Enter the {what} folder."
        raise InputError(msg)
    return Path(text).expanduser()


def resolve_output(
    generated: str, output: str, output_root: str = "", *, suffix: str = OUTPUT_SUFFIX, what: str = "generated frames"
) -> Path:
    """The output folder: as typed, else ``<input name><suffix>`` under the output root or next to the input."""
    typed = (output or "").strip().strip('"')
    if typed:
        return Path(typed).expanduser()
    gen = folder_value(generated, what)
    name = f"{gen.name or 'frames'}{suffix}"
    root = (output_root or "").strip()
    return Path(root).expanduser() / name if root else gen.parent / name


def parse_frame_numbers(text: str | None) -> list[int]:
    """Frame numbers typed as ``5, 12 30`` (commas or spaces); [] when empty."""
    parts = (text or "").replace(",", " ").split()
    try:
        return [int(p) for p in parts]
    except ValueError as exc:
        msg = f"Preview frame numbers must be whole numbers separated by commas, got {text!r}."
        raise InputError(msg) from exc


def frames_limit_value(value: Any) -> int:
    """The 'frames limit' box as a count >= 0 (0 = all)."""
    try:
        limit = float(value or 0)
    except (TypeError, ValueError) as exc:
        msg = f"Frames limit must be a whole number (0 = all frames), got {value!r}."
        raise InputError(msg) from exc
    if limit < 0 or not limit.is_integer():
        msg = f"Frames limit must be a whole number >= 0 (0 = all frames), got {value!r}."
        raise InputError(msg)
    return int(limit)


def summary_html(summary: RunSummary) -> str:
    """The figures of a finished run as a small HTML table, then its warnings."""
    rows = [
        ("Frames written", f"{summary.written} of {summary.total}"),
        ("Time", f"{summary.seconds:.1f} s"),
        ("Speed", f"{summary.fps:.1f} frames/s"),
        ("Output folder", str(summary.output)),
    ]
    if summary.resumed_from:
        rows.append(("Resumed after frame", str(summary.resumed_from)))
    if summary.skipped_inputs:
        rows.append(("Non-image entries ignored", str(summary.skipped_inputs)))
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    warnings = "".join(common.message(w, "warning") for w in summary.warnings)
    return common.message("DFI finished.", "ok") + f'<table class="abysz-figures">{cells}</table>' + warnings


def first_and_last_frames(summary: RunSummary) -> tuple[Any, Any]:
    """The first and last output frames of a run, ready for two gr.Image outputs (None when absent)."""
    if not summary.written or not summary.outputs:
        return None, None
    first = common.to_display(read_frame(summary.outputs[0]))
    last = common.to_display(read_frame(summary.outputs[summary.written - 1])) if summary.written > 1 else None
    return first, last


# --- what the buttons call -------------------------------------------------------------------------


class DFIHandlers:
    """The DFI sub-tab's button handlers; one instance (and one run guard) per built tab."""

    def __init__(self, settings: UISettings, guard: common.RunGuard | None = None) -> None:
        self.settings = settings
        self.guard = guard or common.RunGuard("DFI")

    def preview(self, values: Mapping[str, Any]) -> tuple[Any, str]:
        """Compute masks for a few frames: (gallery items, status HTML). Writes nothing."""
        try:
            params = common.params_from_values(DFIParams, values)
            source = folder_value(values.get("source"), "source frames")
            generated = folder_value(values.get("generated"), "generated frames")
            indices = parse_frame_numbers(values.get("preview_frames"))
            items = preview_masks(
                source, generated, params, indices=indices or None, count=self.settings.preview_frames
            )
        except AbyszError as exc:
            return gr.update(), common.error_message(exc)
        gallery = []
        for item in items:
            gallery.append((common.to_display(item.mask), f"Mask, frame {item.index}: {item.held_pct:.1f}% held"))
            gallery.append((common.to_display(item.overlay), f"Held areas over the source, frame {item.index}"))
        text = (
            f"Masks for frames {', '.join(str(i.index) for i in items)}. White (and blue over the source) "
            "is held from the previous output; black is refreshed from the generated frame."
        )
        return gallery, common.message(text)

    def run(self, values: Mapping[str, Any], progress: Callable[..., Any] | None = None) -> tuple[str, Any, Any, Any]:
        """Run DFI on the folders: (status/figures HTML, first output frame, last output frame, output folder)."""
        try:
            params = common.params_from_values(DFIParams, values)
            source = folder_value(values.get("source"), "source frames")
            generated = folder_value(values.get("generated"), "generated frames")
            output = resolve_output(str(values.get("generated") or ""), values.get("output"), self.settings.output_root)
            limit = frames_limit_value(values.get("frames_limit"))
            with self.guard.run() as token:
                summary = run_dfi(
                    source,
                    generated,
                    output,
                    params,
                    frames_limit=limit,
                    overwrite=bool(values.get("overwrite")),
                    resume=bool(values.get("resume", True)),
                    progress=common.progress_callback(progress, what="DFI"),
                    cancel=token,
                )
        except AbyszError as exc:
            return common.error_message(exc), gr.update(), gr.update(), gr.update()
        return summary_html(summary), *first_and_last_frames(summary), str(summary.output)

    def cancel(self) -> str:
        """Ask the running DFI to stop after its current frame."""
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
            label="DFI source frames folder",
            value=settings.source,
            placeholder="e.g. C:\\video\\frames",
            info="The ORIGINAL video's frames (what you fed img2img).",
            elem_id="abysz_dfi_source",
        )
        inputs["generated"] = compat.component(
            tb,
            label="DFI generated frames folder",
            value=settings.generated,
            placeholder="e.g. C:\\video\\img2img",
            info="img2img's output frames, same order (paired by natural sort).",
            elem_id="abysz_dfi_generated",
        )
        inputs["output"] = compat.component(
            tb,
            label="DFI output folder",
            value=settings.output,
            placeholder=f"empty: <generated folder>{OUTPUT_SUFFIX}",
            info="Created if missing; never one of the input folders.",
            elem_id="abysz_dfi_output",
        )
    with gr.Accordion("DFI parameters", open=True, elem_id="abysz_dfi_params"), gr.Row():
        specs = prm.specs(DFIParams)
        half = (len(specs) + 1) // 2
        for column_specs in (specs[:half], specs[half:]):
            with gr.Column():
                for spec in column_specs:
                    inputs[spec.name] = common.param_widget(spec, elem_prefix="abysz_dfi")
    with gr.Accordion("DFI run options", open=False, elem_id="abysz_dfi_options"), gr.Row():
        inputs["frames_limit"] = compat.component(
            gr.Number,
            label="DFI frames limit",
            value=0,
            precision=0,
            info="Stop after this many frames (0 = all): try settings on a short stretch first.",
            elem_id="abysz_dfi_frames_limit",
        )
        inputs["overwrite"] = compat.component(
            gr.Checkbox,
            label="DFI overwrite same-named files",
            value=False,
            info="Allow replacing files in the output folder that Abysz LAB did not write.",
            elem_id="abysz_dfi_overwrite",
        )
        inputs["resume"] = compat.component(
            gr.Checkbox,
            label="DFI resume an interrupted run",
            value=True,
            info="Continue after the last whole frame when the same run was stopped.",
            elem_id="abysz_dfi_resume",
        )
    with gr.Row(elem_id="abysz_dfi_preview_row"):
        inputs["preview_frames"] = compat.component(
            tb,
            label="DFI preview frame numbers",
            placeholder=f"e.g. 5, 12, 30 (empty: {settings.preview_frames} frames spread over the clip)",
            elem_id="abysz_dfi_preview_frames",
            scale=3,
        )
        preview_button = compat.component(gr.Button, value="Preview masks", elem_id="abysz_dfi_preview", scale=1)
    preview_gallery = compat.component(
        gr.Gallery,
        label="DFI mask previews",
        columns=4,
        height="auto",
        object_fit="contain",
        elem_id="abysz_dfi_preview_gallery",
    )
    with gr.Row(elem_id="abysz_dfi_buttons"):
        run_button = compat.component(gr.Button, value="Run DFI", variant="primary", elem_id="abysz_dfi_run")
        cancel_button = compat.component(gr.Button, value="Cancel DFI run", variant="stop", elem_id="abysz_dfi_cancel")
        compat.component(
            gr.Button,
            value="Send to img2img batch",
            visible=settings.in_webui,
            elem_id="abysz_dfi_send_img2img",
            elem_classes=["abysz-send-img2img"],
        )
    status = compat.component(gr.HTML, value="", elem_id="abysz_dfi_status")
    with gr.Row(elem_id="abysz_dfi_result_row"):
        first_frame = compat.component(
            gr.Image,
            label="DFI first output frame",
            type="numpy",
            interactive=False,
            elem_id="abysz_dfi_first_frame",
        )
        last_frame = compat.component(
            gr.Image,
            label="DFI last output frame",
            type="numpy",
            interactive=False,
            elem_id="abysz_dfi_last_frame",
        )
    last_output = compat.component(
        tb,
        label="DFI last output folder",
        interactive=False,
        elem_id="abysz_dfi_last_output",
        info="Filled after a run; 'Send to img2img batch' uses it.",
    )

    names = list(inputs)
    components = [inputs[n] for n in names]

    def on_preview(*values: Any) -> tuple[Any, str]:
        return handlers.preview(dict(zip(names, values, strict=True)))

    # gradio injects gr.Progress by a positional parameter's default: it has to come before *values.
    def on_run(progress=gr.Progress(), *values: Any) -> tuple[str, Any, Any, Any]:  # noqa: B008
        return handlers.run(dict(zip(names, values, strict=True)), progress)

    compat.on(preview_button.click, on_preview, inputs=components, outputs=[preview_gallery, status], unlimited=True)
    compat.on(
        run_button.click,
        on_run,
        inputs=components,
        outputs=[status, first_frame, last_frame, last_output],
        unlimited=True,
    )
    compat.on(cancel_button.click, handlers.cancel, inputs=[], outputs=[status], queue=False)
    return handlers
