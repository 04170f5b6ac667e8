"""The Tools sub-tab: video to frames, frames to MP4/GIF, a comparison video, style fuse.

Each tool has its own section, progress bar, Cancel button and status line;
its runs are jobs on the job queue the HTTP API shares (:class:`common.QueuedRuns`,
one per tool), with the folders and files each reads and writes. The button
handlers live on :class:`ToolsHandlers` and take plain values (a dict of control
name -> value), so tests call exactly what the buttons call. Videos and GIFs
shown in the browser are served from a temporary copy
(:class:`compat.ServedFiles`), never from the user's folder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import gradio as gr

from abysz_lab.errors import AbyszError, InputError
from abysz_lab.frames import read_frame
from abysz_lab.fuse import FuseParams, fuse_style
from abysz_lab.jobqueue import Job, JobQueue
from abysz_lab.jobs import RunSummary
from abysz_lab.ui import TabContext, UISettings, common, compat
from abysz_lab.video import (
    VIDEO_EXTENSIONS,
    AssembleParams,
    CompareParams,
    ExtractParams,
    assemble_video,
    compare_videos,
    extract_frames,
    read_timing,
)

TOOLS = ("extract", "assemble", "compare", "fuse")
TOOL_NAMES = {"extract": "Extract", "assemble": "Assemble", "compare": "Compare", "fuse": "Style fuse"}
COMPARE_ROLES = ("original", "generated", "stabilised")


# --- pure helpers ----------------------------------------------------------------------------


def video_input(upload: Any, typed: str | None) -> tuple[Path, bool]:
    """The video to extract: (path, True if it was uploaded). Exactly one of the two must be given."""
    uploaded = None if upload is None else compat.uploaded_path(upload)
    path = common.path_box(typed, "", optional=True)
    if uploaded and path is not None:
        msg = "A video was uploaded AND a video path typed: clear one of them, so it is clear which to extract."
        raise InputError(msg)
    if uploaded:
        return Path(uploaded), True
    if path is None:
        msg = "Upload a video or type the path of a video file (" + ", ".join(VIDEO_EXTENSIONS) + ")."
        raise InputError(msg)
    return path, False


def extract_output(video: Path, uploaded: bool, typed: str | None, output_root: str = "") -> Path:
    """Where extracted frames go: as typed, else ``<video name>_frames`` under the output root or next to the video."""
    given = common.path_box(typed, "", optional=True)
    if given is not None:
        return given
    name = f"{video.stem or 'video'}_frames"
    root = common.path_box(output_root, "", optional=True)
    if root is not None:
        return common.allowed_path(root / name, "the frames output folder")
    if uploaded:
        msg = (
            "Enter the frames output folder: an uploaded video lives in a temporary folder, "
            "so there is no sensible place next to it."
        )
        raise InputError(msg)
    return common.allowed_path(video.parent / name, "the frames output folder")


def beside(folder: Path, suffix: str, typed: str | None) -> Path:
    """The typed output path, else ``<folder name><suffix>`` next to ``folder``."""
    given = common.path_box(typed, "", optional=True)
    if given is not None:
        return given
    return common.allowed_path(folder.parent / f"{folder.name or 'frames'}{suffix}", "the output")


def compare_inputs(values: Mapping[str, Any]) -> tuple[list[Path], list[str]]:
    """The compare folders that were filled in, with their role names as labels (at least one)."""
    folders, labels = [], []
    for role in COMPARE_ROLES:
        path = common.path_box(values.get(role), "", optional=True)
        if path is not None:
            folders.append(path)
            labels.append(role)
    if not folders:
        msg = "Enter at least one folder to compare (original, generated or stabilised frames)."
        raise InputError(msg)
    return folders, labels


# --- what the buttons call -------------------------------------------------------------------------


class ToolsHandlers:
    """The Tools sub-tab's button handlers: each tool's runs on the job queue, one served-file folder."""

    def __init__(
        self, settings: UISettings, served: compat.ServedFiles | None = None, queue: JobQueue | None = None
    ) -> None:
        self.settings = settings
        self.runs = {tool: common.QueuedRuns(TOOL_NAMES[tool], queue) for tool in TOOLS}
        self.served = served or compat.ServedFiles()

    def extract(self, values: Mapping[str, Any], progress: Callable[..., Any] | None = None) -> tuple[str, Any, Any]:
        """Extract a video's frames: (status/figures HTML, first frame, frames folder)."""
        try:
            params = common.params_from_values(ExtractParams, values)
            video, uploaded = video_input(values.get("upload"), values.get("video"))
            output = extract_output(video, uploaded, values.get("output"), self.settings.output_root)

            def work(job: Job) -> RunSummary:
                return extract_frames(
                    video,
                    output,
                    params,
                    overwrite=bool(values.get("overwrite")),
                    progress=common.progress_callback(progress, what="Extract"),
                    cancel=job.cancel,
                )

            summary = self.runs["extract"].run("extract (tab)", work, writes=[output], reads=[video], progress=progress)
            timing = read_timing(summary.output)
        except AbyszError as exc:
            return common.error_message(exc), gr.update(), gr.update()
        rows = [
            ("Frames", str(timing.frame_count)),
            ("Frame rate", f"{float(timing.fps):.3f} fps"),
            ("Duration", f"{timing.duration:.2f} s"),
            ("Frame size", f"{timing.width}x{timing.height}"),
            ("Sound in the video", "yes" if timing.has_audio else "no"),
            ("Time", f"{summary.seconds:.1f} s"),
            ("Frames folder", str(summary.output)),
        ]
        title = f"Extracted {timing.frame_count} frames from {video.name}."
        first = common.to_display(read_frame(summary.outputs[0])) if summary.outputs else None
        return common.figures_html(title, rows, summary.warnings), first, str(summary.output)

    def assemble(self, values: Mapping[str, Any], progress: Callable[..., Any] | None = None) -> tuple[str, Any, Any]:
        """Encode a frames folder as MP4 or GIF: (status/figures HTML, video player update, GIF image update)."""
        try:
            params = common.params_from_values(AssembleParams, values)
            frames = common.path_box(values.get("frames"), "the frames folder to assemble")
            output = beside(frames, ".mp4", values.get("output"))
            timing = common.path_box(values.get("timing"), "", optional=True)
            audio_from = common.path_box(values.get("audio_from"), "", optional=True)

            def work(job: Job) -> RunSummary:
                return assemble_video(
                    frames,
                    output,
                    params,
                    timing=timing,
                    audio_from=audio_from,
                    overwrite=bool(values.get("overwrite")),
                    progress=common.progress_callback(progress, what="Assemble"),
                    cancel=job.cancel,
                )

            reads = [p for p in (frames, timing, audio_from) if p is not None]
            summary = self.runs["assemble"].run("assemble (tab)", work, writes=[output], reads=reads, progress=progress)
        except AbyszError as exc:
            return common.error_message(exc), gr.update(), gr.update()
        out = summary.output
        rows = [*common.run_rows(summary), ("File", str(out)), ("File size", f"{out.stat().st_size / 1e6:.2f} MB")]
        status = common.figures_html(f"{summary.operation} finished.", rows, summary.warnings)
        # Show the one player that fits the file: the MP4 in the video player, a GIF as an image.
        if out.suffix.lower() == ".gif":
            gif = self.served.serve(out, "assemble_gif")
            return status, gr.update(value=None, visible=False), gr.update(value=gif, visible=True)
        mp4 = self.served.serve(out, "assemble_mp4")
        return status, gr.update(value=mp4, visible=True), gr.update(value=None, visible=False)

    def compare(self, values: Mapping[str, Any], progress: Callable[..., Any] | None = None) -> tuple[str, Any]:
        """Write a comparison MP4 of the folders given: (status/figures HTML, MP4 to play)."""
        try:
            params = common.params_from_values(CompareParams, values)
            folders, labels = compare_inputs(values)
            output = beside(folders[-1], "_compare.mp4", values.get("output"))

            def work(job: Job) -> RunSummary:
                return compare_videos(
                    folders,
                    output,
                    params,
                    labels=labels,
                    overwrite=bool(values.get("overwrite")),
                    progress=common.progress_callback(progress, what="Compare"),
                    cancel=job.cancel,
                )

            summary = self.runs["compare"].run("compare (tab)", work, writes=[output], reads=folders, progress=progress)
        except AbyszError as exc:
            return common.error_message(exc), gr.update()
        rows = [*common.run_rows(summary), ("Panels", " | ".join(labels)), ("File", str(summary.output))]
        status = common.figures_html("Comparison video finished.", rows, summary.warnings)
        return status, self.served.serve(summary.output, "compare_mp4")

    def fuse(self, values: Mapping[str, Any], progress: Callable[..., Any] | None = None) -> tuple[str, Any, Any]:
        """Overlay-blend a style sequence onto frames: (status/figures HTML, first fused frame, output folder)."""
        try:
            params = common.params_from_values(FuseParams, values)
            frames = common.path_box(values.get("frames"), "the frames folder to fuse")
            style = common.path_box(values.get("style"), "the style frames folder")
            output = beside(frames, "_fused", values.get("output"))

            def work(job: Job) -> RunSummary:
                return fuse_style(
                    frames,
                    style,
                    output,
                    params,
                    overwrite=bool(values.get("overwrite")),
                    progress=common.progress_callback(progress, what="Style fuse"),
                    cancel=job.cancel,
                )

            summary = self.runs["fuse"].run(
                "fuse (tab)", work, writes=[output], reads=[frames, style], progress=progress
            )
        except AbyszError as exc:
            return common.error_message(exc), gr.update(), gr.update()
        rows = [*common.run_rows(summary), ("Output folder", str(summary.output))]
        first = common.to_display(read_frame(summary.outputs[0])) if summary.written else None
        return common.figures_html("Style fuse finished.", rows, summary.warnings), first, str(summary.output)

    def cancel(self, tool: str) -> str:
        """Drop ``tool``'s waiting runs and ask its running one to stop after the current frame."""
        name = TOOL_NAMES[tool]
        return self.runs[tool].cancel(
            stopping=f"Cancelling: {name} stops after the current frame.", idle=f"No {name} run is going."
        )


# --- the layout -------------------------------------------------------------------------------------


def _box(name: str, label: str, info: str, elem: str, placeholder: str = "", value: str = "") -> Any:
    return compat.component(
        gr.Textbox,
        label=label,
        info=info,
        placeholder=placeholder,
        value=value,
        elem_id=f"abysz_tools_{elem}_{name}",
    )


def _overwrite(elem: str, label: str, info: str) -> Any:
    return compat.component(gr.Checkbox, label=label, value=False, info=info, elem_id=f"abysz_tools_{elem}_overwrite")


def _buttons(tool: str, run_text: str) -> tuple[Any, Any]:
    with gr.Row(elem_id=f"abysz_tools_{tool}_buttons"):
        run = compat.component(gr.Button, value=run_text, variant="primary", elem_id=f"abysz_tools_{tool}_run")
        cancel = compat.component(
            gr.Button, value=f"Cancel {TOOL_NAMES[tool].lower()}", variant="stop", elem_id=f"abysz_tools_{tool}_cancel"
        )
    return run, cancel


def _wire(
    handlers: ToolsHandlers, tool: str, inputs: dict[str, Any], run: Any, cancel: Any, note: Any, outputs: list
) -> None:
    event = common.wire_run(run.click, getattr(handlers, tool), inputs, outputs)
    common.answer_repeated_clicks(run.click, event, handlers.runs[tool], note)
    compat.on(cancel.click, lambda: handlers.cancel(tool), inputs=[], outputs=[outputs[0]], queue=False)


def _status(tool: str) -> tuple[Any, Any]:
    """The "already going" note and the status line, under a tool's buttons."""
    return common.status_box(f"abysz_tools_{tool}_busy"), common.status_box(f"abysz_tools_{tool}_status")


def build(ctx: TabContext) -> ToolsHandlers:
    """Lay out the Tools sub-tab and wire its buttons (call inside its gr.Tab)."""
    settings = ctx.settings
    handlers = ToolsHandlers(settings)
    gr.HTML(
        '<p class="abysz-lead">Video in, video out: take a video apart into frames for img2img, put frames back '
        "together as an MP4 (with the original sound) or a GIF, compare runs side by side, or fuse a style "
        "sequence onto frames.</p>",
        elem_id="abysz_tools_lead",
    )

    with gr.Accordion("Video to frames", open=True, elem_id="abysz_tools_extract") as extract_section:
        ex: dict[str, Any] = {}
        with gr.Row():
            ex["upload"] = compat.component(
                gr.File,
                label="Video upload",
                file_count="single",
                file_types=list(VIDEO_EXTENSIONS),
                elem_id="abysz_tools_extract_upload",
            )
            with gr.Column():
                ex["video"] = _box(
                    "video",
                    "Video file path",
                    "Or the path of a video on this machine (no upload, no copy): mp4, mov, webm, mkv, avi, gif.",
                    "extract",
                    "e.g. C:\\video\\clip.mp4",
                )
                ex["output"] = _box(
                    "output",
                    "Frames output folder",
                    "Where the numbered frames go; created if missing. Empty: <video name>_frames next to the "
                    "video (or under the default output root).",
                    "extract",
                )
        with gr.Row():
            ex.update(common.param_widgets(ExtractParams, elem_prefix="abysz_tools_extract"))
        ex["overwrite"] = _overwrite(
            "extract",
            "Overwrite other files",
            "Allow replacing same-named files that an earlier extraction did not write.",
        )
        ex_run, ex_cancel = _buttons("extract", "Extract frames")
        ex_note, ex_status = _status("extract")
        with gr.Row():
            ex_first = compat.component(
                gr.Image,
                label="First extracted frame",
                type="numpy",
                interactive=False,
                elem_id="abysz_tools_extract_first",
            )
            ex_folder = compat.component(
                gr.Textbox,
                label="Extracted frames folder",
                interactive=False,
                info="Filled after a run: give it to img2img batch, DFI, or 'Frames to video' below.",
                elem_id="abysz_tools_extract_folder",
            )
        _wire(handlers, "extract", ex, ex_run, ex_cancel, ex_note, [ex_status, ex_first, ex_folder])

    with gr.Accordion("Frames to video / GIF", open=False, elem_id="abysz_tools_assemble") as assemble_section:
        asm: dict[str, Any] = {}
        with gr.Row():
            asm["frames"] = _box("frames", "Frames folder", "The frames, in name order (natural sort).", "assemble")
            asm["output"] = _box(
                "output",
                "Video output file",
                "Ends in .mp4 (H.264, plays everywhere) or .gif. Empty: <frames folder>.mp4 next to the folder.",
                "assemble",
                "e.g. C:\\video\\result.mp4",
            )
        with gr.Row():
            asm["timing"] = _box(
                "timing",
                "Timing folder",
                "Optional: the folder extracted from the original video (its sidecar gives the frame rate and "
                "the sound). Empty: the frames folder's own sidecar, if any.",
                "assemble",
            )
            asm["audio_from"] = _box(
                "audio_from",
                "Sound from video",
                "Optional: take the sound from this video file instead.",
                "assemble",
            )
        with gr.Row():
            asm.update(common.param_widgets(AssembleParams, elem_prefix="abysz_tools_assemble"))
        asm["overwrite"] = _overwrite("assemble", "Overwrite the file", "Replace the output file if it already exists.")
        asm_run, asm_cancel = _buttons("assemble", "Make video")
        asm_note, asm_status = _status("assemble")
        with gr.Row():
            asm_video = compat.component(
                gr.Video, label="Assembled video", interactive=False, elem_id="abysz_tools_assemble_video"
            )
            asm_gif = compat.component(
                gr.Image,
                label="Assembled GIF",
                type="filepath",
                interactive=False,
                visible=False,
                elem_id="abysz_tools_assemble_gif",
            )
        _wire(handlers, "assemble", asm, asm_run, asm_cancel, asm_note, [asm_status, asm_video, asm_gif])

    with gr.Accordion("Compare video", open=False, elem_id="abysz_tools_compare") as compare_section:
        cmp: dict[str, Any] = {}
        with gr.Row():
            prefill = dict(zip(COMPARE_ROLES, (settings.source, settings.generated, settings.output), strict=True))
            for role in COMPARE_ROLES:
                cmp[role] = _box(
                    role,
                    f"{role.capitalize()} folder",
                    f"The {role} frames (leave empty to leave this panel out).",
                    "compare",
                    value=prefill[role],
                )
        cmp["output"] = _box(
            "output",
            "Comparison file",
            "An .mp4 file. Empty: <last folder>_compare.mp4 next to the last folder given.",
            "compare",
        )
        with gr.Row():
            cmp.update(common.param_widgets(CompareParams, elem_prefix="abysz_tools_compare"))
        cmp["overwrite"] = _overwrite(
            "compare", "Overwrite the file", "Replace the comparison file if it already exists."
        )
        cmp_run, cmp_cancel = _buttons("compare", "Make comparison video")
        cmp_note, cmp_status = _status("compare")
        cmp_video = compat.component(
            gr.Video,
            label="Comparison video",
            show_label=False,  # the video carries its own captions; gradio's badge would cover "original"
            interactive=False,
            elem_id="abysz_tools_compare_video",
        )
        _wire(handlers, "compare", cmp, cmp_run, cmp_cancel, cmp_note, [cmp_status, cmp_video])

    with gr.Accordion("Style fuse", open=False, elem_id="abysz_tools_fuse") as fuse_section:
        fu: dict[str, Any] = {}
        with gr.Row():
            fu["frames"] = _box("frames", "Frames folder", "The frames to tint.", "fuse")
            fu["style"] = _box(
                "style",
                "Style frames folder",
                "The style sequence (lights, colours), fitted to each frame.",
                "fuse",
            )
            fu["output"] = _box("output", "Output folder", "Empty: <frames folder>_fused next to it.", "fuse")
        with gr.Row():
            fu.update(common.param_widgets(FuseParams, elem_prefix="abysz_tools_fuse"))
        fu["overwrite"] = _overwrite(
            "fuse", "Overwrite other files", "Allow replacing same-named files that Abysz LAB did not write."
        )
        fu_run, fu_cancel = _buttons("fuse", "Fuse style")
        fu_note, fu_status = _status("fuse")
        with gr.Row():
            fu_first = compat.component(
                gr.Image,
                label="First fused frame",
                type="numpy",
                interactive=False,
                elem_id="abysz_tools_fuse_first",
            )
            fu_folder = compat.component(
                gr.Textbox, label="Fused frames folder", interactive=False, elem_id="abysz_tools_fuse_folder"
            )
        _wire(handlers, "fuse", fu, fu_run, fu_cancel, fu_note, [fu_status, fu_first, fu_folder])
    # Each section has its own "Output folder", "Frames per second"...: saved values are filed per section.
    sections = {"extract": extract_section, "assemble": assemble_section, "compare": compare_section}
    for name, section in {**sections, "fuse": fuse_section}.items():
        common.scope_config_keys(section, f"{ctx.subtab.elem_id}/{name}")
    return handlers
