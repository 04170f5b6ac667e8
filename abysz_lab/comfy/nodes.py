"""The Abysz LAB nodes: DFI, mask preview, deflicker preset, flicker analysis, load and save frames.

Each node is a thin adapter in ComfyUI's V1 node format: it turns IMAGE
tensors into the core's 8-bit BGR frames one at a time, streams them through
the same functions the tab and the CLI use (:func:`abysz_lab.dfi.iter_dfi_frames`,
:func:`abysz_lab.playground.run_chain`, :func:`abysz_lab.analysis.analyze_frames`)
and writes the results into a preallocated output batch. Widgets come from the
parameter dataclasses (:mod:`abysz_lab.comfy.widgets`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from abysz_lab import params as prm
from abysz_lab.analysis import AnalysisParams, analyze_frames, plot_image
from abysz_lab.comfy import tensors
from abysz_lab.comfy.host import NodeRun, log, resolve_input, resolve_output
from abysz_lab.comfy.widgets import values_for, widgets
from abysz_lab.dfi import (
    DFIParams,
    default_preview_indices,
    final_mask,
    iter_dfi_frames,
    mask_overlay,
    prepare_source,
)
from abysz_lab.errors import InputError
from abysz_lab.frames import (
    IMAGE_EXTENSIONS,
    WriteBehind,
    check_output_folder,
    list_frames,
    read_ahead,
    read_frame,
)
from abysz_lab.jobs import frames_fingerprint
from abysz_lab.playground import (
    PlaygroundParams,
    choose_engine,
    list_presets,
    params_for_preset,
    resolve_chain,
    run_chain,
)

CATEGORY = "Abysz LAB"

_ORIGINAL_TIP = "The original (source) video frames: where they are still, DFI holds the previous output."
_GENERATED_TIP = "The generated (img2img / ControlNet / AnimateDiff) frames to stabilise, in the same order."


def _image_frames(images: Any, count: int, run: NodeRun | None = None) -> Iterator[np.ndarray]:
    """The first ``count`` frames of an IMAGE batch as 8-bit BGR, converted one at a time.

    With ``run``, an interrupt (ComfyUI's Cancel) stops the stream between frames.
    """
    for i in range(count) if run is None else run.checked(range(count)):
        yield tensors.to_bgr8(images[i])


def _paired_count(original: Any, generated: Any, node: str) -> tuple[int, int, int]:
    """Frames to process (the first min(N, M)) and the generated frames' height and width; warns on a mismatch."""
    n, _, _ = tensors.check_image_batch(original, "original")
    m, height, width = tensors.check_image_batch(generated, "generated")
    count = min(n, m)
    if n != m:
        log.warning(
            "%s: the original batch has %d frames and the generated batch %d: using the first %d pairs.",
            node,
            n,
            m,
            count,
        )
    return count, height, width


class AbyszDFI:
    """Stabilise generated frames against the original video with DFI (differential frame interpolation)."""

    CATEGORY = CATEGORY
    DESCRIPTION = (
        "DFI holds the previous output wherever the original video is still, so the generated frames stop "
        "flickering there; moving areas refresh from the generated frames. Different batch lengths use the "
        "first min(N, M) pairs; originals of another size are centre-cropped and resized to the generated size."
    )
    RETURN_TYPES = ("IMAGE", "MASK")
    RETURN_NAMES = ("stabilised", "held")
    OUTPUT_TOOLTIPS = (
        "The stabilised frames, the size of the generated frames.",
        "Per frame, how much of the previous output was carried (1 = fully held, 0 = refreshed).",
    )
    FUNCTION = "stabilise"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802 - ComfyUI's name
        """The two IMAGE inputs and one widget per DFI parameter."""
        return {
            "required": {
                "original": ("IMAGE", {"tooltip": _ORIGINAL_TIP}),
                "generated": ("IMAGE", {"tooltip": _GENERATED_TIP}),
                **widgets(DFIParams),
            }
        }

    def stabilise(self, original: Any, generated: Any, **values: Any) -> tuple[Any, Any]:
        """Run DFI over the batches; return the stabilised IMAGE batch and the held MASK batch."""
        params = prm.from_mapping(DFIParams, values_for(DFIParams, values))
        count, height, width = _paired_count(original, generated, "Abysz DFI")
        out = tensors.empty_images(count, height, width)
        held = tensors.empty_masks(count, height, width)
        two_passes = params.mode == "motion" and params.passes == "forward+backward"
        run = NodeRun(count * (2 if two_passes else 1))  # the bar counts the backward pass's frames too
        sources = _image_frames(original, count, run)
        gens = _image_frames(generated, count, run)

        def backward_frame(_done: int) -> None:
            run.advance()
            run.check()

        # Two passes read the spilled frames, not the batches' streams: Cancel is checked per frame here too.
        for frame in iter_dfi_frames(sources, gens, params, on_backward=backward_frame if two_passes else None):
            tensors.put_bgr8(out[frame.index], frame.output)
            tensors.put_mask8(held[frame.index], frame.held)
            run.advance()
            if two_passes:
                run.check()
        return out, held


def parse_frame_list(text: str) -> list[int]:
    """Batch indices from ``"1, 10, 20-22"`` (0-based, like ComfyUI's; ranges inclusive); InputError otherwise."""
    numbers: list[int] = []
    for part in filter(None, (p.strip() for p in text.replace(";", ",").split(","))):
        match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if match is None:
            msg = f"Cannot read the frame list {text!r}: give batch indices like 1, 10, 20-22."
            raise InputError(msg)
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        numbers.extend(range(first, last + 1))
    return sorted(set(numbers))


class AbyszDFIMaskPreview:
    """Show what DFI would hold at chosen frames: the mask and the original tinted where it is held."""

    CATEGORY = CATEGORY
    DESCRIPTION = (
        "The DFI mask (steps 1-6: still areas of the original between frame t-1 and t) for a few frames, and "
        "an overlay of the original with the held areas tinted blue. Tune the tolerance here before a long run."
    )
    RETURN_TYPES = ("IMAGE", "MASK", "STRING")
    RETURN_NAMES = ("overlay", "mask", "summary")
    OUTPUT_TOOLTIPS = (
        "The original frames with the areas DFI holds tinted blue.",
        "The DFI masks (1 = held).",
        "One line per frame: its batch index (counted from 0) and the share of the picture held.",
    )
    FUNCTION = "preview"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802 - ComfyUI's name
        """The two IMAGE inputs, which frames, and the DFI widgets."""
        return {
            "required": {
                "original": ("IMAGE", {"tooltip": _ORIGINAL_TIP}),
                "generated": ("IMAGE", {"tooltip": _GENERATED_TIP}),
                "frames": (
                    "STRING",
                    {
                        "default": "",
                        "multiline": False,
                        # ComfyUI's batch nodes count images from 0, so this node does too (the tab, CLI and
                        # API count frames from 1 like extracted files); the tooltip says which.
                        "tooltip": "Batch indices to preview, counted from 0 like ComfyUI's batch nodes (0 is the "
                        "first image and cannot be previewed: it has no previous frame), e.g. 1, 10, 20-22. "
                        "Empty: 'count' frames spread over the clip.",
                    },
                ),
                "count": (
                    "INT",
                    {
                        "default": 4,
                        "min": 1,
                        "max": 64,
                        "step": 1,
                        "tooltip": "Frames to preview when the frame list is empty.",
                    },
                ),
                **widgets(DFIParams),
            }
        }

    def preview(self, original: Any, generated: Any, frames: str, count: int, **values: Any) -> tuple[Any, Any, str]:
        """Compute the masks and overlays of the chosen frames."""
        params = prm.from_mapping(DFIParams, values_for(DFIParams, values))
        total, height, width = _paired_count(original, generated, "Abysz DFI mask preview")
        if total < 2:
            msg = "The mask preview needs at least two frames in both batches (it compares frame t-1 with t)."
            raise InputError(msg)
        chosen = parse_frame_list(frames) or default_preview_indices(count, total)
        bad = [i for i in chosen if not 1 <= i < total]
        if bad:
            msg = (
                f"Preview batch index(es) {bad} out of range: choose between 1 and {total - 1} "
                "(batch indices count from 0; index 0 has no previous frame)."
            )
            raise InputError(msg)
        overlays = tensors.empty_images(len(chosen), height, width)
        masks = tensors.empty_masks(len(chosen), height, width)
        lines = []
        run = NodeRun(len(chosen))
        for slot, index in enumerate(run.checked(chosen)):
            previous, current = (
                prepare_source(tensors.to_bgr8(original[i]), (width, height), params.map_denoise)
                for i in (index - 1, index)
            )
            mask, held_pct = final_mask(previous, current, params)
            tensors.put_bgr8(overlays[slot], mask_overlay(current, mask))
            tensors.put_mask8(masks[slot], mask)
            lines.append(f"batch index {index}: {held_pct:.1f} % held")
            run.advance()
        return overlays, masks, "\n".join(lines)


def _preset_names() -> list[str]:
    """Built-in presets, then the user's saved ones (read when ComfyUI asks for the node list)."""
    try:
        return [p.name for p in list_presets()]
    except InputError as exc:  # e.g. the presets folder is a file: still offer the built-in ones
        log.warning("Abysz deflicker preset: %s", exc)
        from abysz_lab.playground import BUILTIN_PRESETS

        return [p.name for p in BUILTIN_PRESETS]


class AbyszDeflickerPreset:
    """Deflicker a batch with a built-in or saved Abysz LAB preset (brightness lock, temporal median, ...)."""

    CATEGORY = CATEGORY
    DESCRIPTION = (
        "Runs a deflicker preset of the Abysz LAB playground on the whole batch, in order. Saved presets (from "
        "the tab or the CLI) appear after a refresh. ImageMagick is used when Wand can load it, else numpy."
    )
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("deflickered",)
    FUNCTION = "deflicker"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802 - ComfyUI's name
        """The IMAGE input, the preset picker, 'use the preset's own settings' and the playground widgets."""
        controls = widgets(PlaygroundParams)
        names = _preset_names()
        _, preset_options = controls.pop("preset")
        preset_options["default"] = names[0]
        return {
            "required": {
                "images": ("IMAGE", {"tooltip": "The frames to deflicker, in order."}),
                "preset": (names, preset_options),
                "preset_defaults": (
                    "BOOLEAN",
                    {
                        "default": True,
                        "tooltip": "Use the preset's recommended strength and window and ignore the two widgets below.",
                    },
                ),
                **controls,
            }
        }

    def deflicker(self, images: Any, preset: str, preset_defaults: bool, **values: Any) -> tuple[Any]:
        """Run the preset's chain over the batch frame by frame."""
        given = values_for(PlaygroundParams, values)
        if preset_defaults:
            params = params_for_preset(preset, engine=given.get("engine"))
        else:
            params = prm.from_mapping(PlaygroundParams, given | {"preset": preset})
        count, height, width = tensors.check_image_batch(images, "images")
        chain = resolve_chain(params)
        chosen = choose_engine(params.engine)
        if chosen.message:
            log.warning("Abysz deflicker preset: %s", chosen.message)
        out = tensors.empty_images(count, height, width)
        run = NodeRun(count)
        frames = enumerate(_image_frames(images, count, run))
        with contextlib.closing(run_chain(chain, chosen.engine, frames)) as results:
            for index, frame in results:
                tensors.put_bgr8(out[index], frame)
                run.advance()
        return (out,)


class AbyszFlickerAnalysis:
    """Measure flicker, fidelity and ghosting of generated (and stabilised) frames against the original."""

    CATEGORY = CATEGORY
    DESCRIPTION = (
        "Where the original is still (or moves along its optical flow) any change of the generated frames is "
        "flicker. Connect the DFI output to 'stabilised' to see how much DFI removed and what it cost."
    )
    RETURN_TYPES = ("STRING", "IMAGE")
    RETURN_NAMES = ("summary", "plot")
    OUTPUT_TOOLTIPS = ("The figures as text (one line, then a table).", "Per-frame curves as an image.")
    FUNCTION = "analyse"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802 - ComfyUI's name
        """Original and generated IMAGE inputs, the optional stabilised one and the analysis widgets."""
        return {
            "required": {
                "original": ("IMAGE", {"tooltip": _ORIGINAL_TIP}),
                "generated": ("IMAGE", {"tooltip": _GENERATED_TIP}),
                **widgets(AnalysisParams),
            },
            "optional": {
                "stabilised": (
                    "IMAGE",
                    {"tooltip": "The DFI (or deflicker) output to judge against the generated frames."},
                ),
            },
        }

    def analyse(self, original: Any, generated: Any, stabilised: Any = None, **values: Any) -> tuple[str, Any]:
        """Analyse the batches; return the summary text and the plot."""
        params = prm.from_mapping(AnalysisParams, values_for(AnalysisParams, values))
        count, height, width = _paired_count(original, generated, "Abysz flicker analysis")
        outputs = None
        if stabilised is not None:
            s_count, s_height, s_width = tensors.check_image_batch(stabilised, "stabilised")
            if (s_height, s_width) != (height, width):
                msg = (
                    f"The stabilised frames are {s_width}x{s_height} but the generated ones {width}x{height}: "
                    "connect the DFI output made from these generated frames."
                )
                raise InputError(msg)
            count = min(count, s_count)
        run = NodeRun(count)

        def counted(frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
            for frame in frames:
                yield frame
                run.advance()

        sources = _image_frames(original, count, run)
        gens = counted(_image_frames(generated, count))
        if stabilised is not None:
            outputs = _image_frames(stabilised, count)
        result = analyze_frames(sources, gens, outputs, params)
        plot = plot_image(result)
        image = tensors.empty_images(1, plot.shape[0], plot.shape[1])
        tensors.put_bgr8(image[0], plot)
        return f"{result.summary.text}\n\n{result.table()}", image


class AbyszLoadFrames:
    """Load a folder of frames in natural order (frame2 before frame10) as an IMAGE batch."""

    CATEGORY = CATEGORY
    DESCRIPTION = (
        "Reads every image of a folder in natural order (frame2 before frame10; ComfyUI's own folder loader "
        "does not sort). Optional start and limit pick a part of the clip. The files are never modified."
    )
    RETURN_TYPES = ("IMAGE", "INT", "STRING")
    RETURN_NAMES = ("frames", "count", "names")
    OUTPUT_TOOLTIPS = ("The frames as one batch.", "How many frames were loaded.", "Their file names, one a line.")
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802 - ComfyUI's name
        """Folder, first frame and how many."""
        return {
            "required": {
                "folder": (
                    "STRING",
                    {
                        "default": "",
                        "multiline": False,
                        "tooltip": f"Folder of the frames ({', '.join(e.lstrip('.') for e in IMAGE_EXTENSIONS)}); "
                        "a relative folder is looked up in ComfyUI's input folder first.",
                    },
                ),
                "start": (
                    "INT",
                    {
                        "default": 0,
                        "min": 0,
                        "max": 1_000_000,
                        "step": 1,
                        "tooltip": "First frame to load (0-based, in natural order).",
                    },
                ),
                "limit": (
                    "INT",
                    {
                        "default": 0,
                        "min": 0,
                        "max": 1_000_000,
                        "step": 1,
                        "tooltip": "Most frames to load (0 = all from start).",
                    },
                ),
            }
        }

    @classmethod
    def IS_CHANGED(cls, folder: str, start: int, limit: int) -> str:  # noqa: N802 - ComfyUI's name
        """Re-run when files in the folder are added, replaced or removed."""
        try:
            return frames_fingerprint(list(list_frames(resolve_input(folder)).frames))
        except InputError as exc:
            return str(exc)  # load() raises the same message when it runs

    def load(self, folder: str, start: int, limit: int) -> tuple[Any, int, str]:
        """Read the chosen frames into a preallocated IMAGE batch."""
        listing = list_frames(resolve_input(folder), role="frames")
        if listing.skipped_summary:
            log.info("Abysz load frames: %s", listing.skipped_summary)
        if not 0 <= start < len(listing):
            msg = f"Start frame {start} is out of range: {listing.folder} holds frames 0 to {len(listing) - 1}."
            raise InputError(msg)
        paths = listing.frames[start : start + limit if limit > 0 else None]
        run = NodeRun(len(paths))
        batch = None
        with contextlib.closing(read_ahead(read_frame, run.checked(paths))) as frames:
            for index, (path, frame) in enumerate(zip(paths, frames, strict=True)):
                if batch is None:
                    batch = tensors.empty_images(len(paths), frame.shape[0], frame.shape[1])
                if frame.shape[:2] != tuple(batch.shape[1:3]):
                    msg = (
                        f"Frame {path.name} is {frame.shape[1]}x{frame.shape[0]} but the first one is "
                        f"{batch.shape[2]}x{batch.shape[1]}: a batch needs one size. Resize the frames first."
                    )
                    raise InputError(msg)
                tensors.put_bgr8(batch[index], frame)
                run.advance()
        return batch, len(paths), "\n".join(p.name for p in paths)


SAVE_FORMATS = ("png", "jpg", "webp")


class AbyszSaveFrames:
    """Save an IMAGE batch as numbered frames in a folder (atomic writes, never over someone else's files)."""

    CATEGORY = CATEGORY
    DESCRIPTION = (
        "Writes prefix_00000.png, prefix_00001.png, ... in the folder (relative folders go in ComfyUI's output "
        "folder). Refuses to replace existing files unless 'overwrite' is on."
    )
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("folder",)
    OUTPUT_NODE = True
    FUNCTION = "save"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802 - ComfyUI's name
        """The IMAGE input, folder, name prefix, format and overwrite."""
        return {
            "required": {
                "images": ("IMAGE", {"tooltip": "The frames to save, in order."}),
                "folder": (
                    "STRING",
                    {
                        "default": "abysz_frames",
                        "multiline": False,
                        "tooltip": "Output folder; a relative one lies in ComfyUI's output folder.",
                    },
                ),
                "prefix": (
                    "STRING",
                    {
                        "default": "frame_",
                        "multiline": False,
                        "tooltip": "File names are this prefix and a 5-digit frame number.",
                    },
                ),
                "format": (
                    list(SAVE_FORMATS),
                    {
                        "default": "png",
                        "tooltip": "png is lossless (use it for frames "
                        "that DFI or img2img will read again); jpg and webp at quality 95.",
                    },
                ),
                "overwrite": (
                    "BOOLEAN",
                    {"default": False, "tooltip": "Replace same-named files already in the folder."},
                ),
            }
        }

    def save(self, images: Any, folder: str, prefix: str, format: str, overwrite: bool) -> dict[str, Any]:  # noqa: A002
        """Write the frames; return the folder (also shown in the node's UI output)."""
        count, _, _ = tensors.check_image_batch(images, "images")
        if format not in SAVE_FORMATS:
            msg = f"Format must be one of {', '.join(SAVE_FORMATS)}, got {format!r}."
            raise InputError(msg)
        if re.search(r"[\\/:*?\"<>|]", prefix):
            msg = f"The file name prefix {prefix!r} contains a path or a character files cannot have: use a plain name."
            raise InputError(msg)
        output = check_output_folder(resolve_output(folder))
        names = [f"{prefix}{i:05d}.{format}" for i in range(count)]
        clashes = [n for n in names if (output / n).exists()]
        if clashes and not overwrite:
            msg = (
                f"{output} already holds {len(clashes)} file(s) this node would write (e.g. {clashes[0]}): choose "
                "another folder or prefix, or turn 'overwrite' on."
            )
            raise InputError(msg)
        run = NodeRun(count)
        with WriteBehind(workers=2) as writer:
            for index in run.checked(range(count)):
                writer.submit(index, output / names[index], tensors.to_bgr8(images[index]))
                run.advance()
        log.info("Abysz save frames: wrote %d frames to %s", count, output)
        return {
            "ui": {"abysz_saved": [{"folder": str(output), "frames": count, "first": names[0]}]},
            "result": (str(output),),
        }


NODE_CLASSES: dict[str, type] = {
    "AbyszDFI": AbyszDFI,
    "AbyszDFIMaskPreview": AbyszDFIMaskPreview,
    "AbyszDeflickerPreset": AbyszDeflickerPreset,
    "AbyszFlickerAnalysis": AbyszFlickerAnalysis,
    "AbyszLoadFrames": AbyszLoadFrames,
    "AbyszSaveFrames": AbyszSaveFrames,
}

DISPLAY_NAMES: dict[str, str] = {
    "AbyszDFI": "Abysz DFI",
    "AbyszDFIMaskPreview": "Abysz DFI mask preview",
    "AbyszDeflickerPreset": "Abysz deflicker preset",
    "AbyszFlickerAnalysis": "Abysz flicker analysis",
    "AbyszLoadFrames": "Abysz load frames",
    "AbyszSaveFrames": "Abysz save frames",
}
