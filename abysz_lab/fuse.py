"""Style fuse: overlay-blend a style frame sequence (lights, textures, colour) onto a folder of frames.

The blend is the overlay formula of the playground's numpy engine, kept there
as its only copy. Outputs keep the frames' names and formats and follow the
project's run rules (atomic writes, resume, progress, cancel).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from abysz_lab import params as prm
from abysz_lab.frames import fit_to_size, list_frames, read_ahead, read_frame
from abysz_lab.jobs import CancelToken, FrameRun, ProgressCallback, RunSummary, run_frames
from abysz_lab.playground.engines import NumpyEngine


@dataclass(frozen=True)
class FuseParams:
    """Options of :func:`fuse_style`."""

    strength: float = prm.param(
        0.5,
        label="Style strength",
        help="Opacity of the overlay-blended style frames (0.1 = a hint, 1 = full overlay).",
        minimum=0.1,
        maximum=1.0,
        step=0.05,
        original="Style Fuse strength",
    )
    lengths: str = prm.param(
        "loop",
        label="When lengths differ",
        help="loop: repeat the style sequence over all frames. shortest: stop at the shorter sequence.",
        choices=("loop", "shortest"),
    )

    def __post_init__(self) -> None:
        prm.validate(self)


def overlay_blend(base: np.ndarray, style: np.ndarray, strength: float) -> np.ndarray:
    """Overlay-blend ``style`` onto ``base`` (same size, 8-bit) at opacity ``strength`` in [0, 1].

    Overlay darkens where the base is dark and lightens where it is light, so
    the style's lights and colours tint the frame without flattening it. The
    formula is the playground's numpy engine's, so the two always agree.
    """
    engine = NumpyEngine()
    return engine.export(engine.weighted(engine.overlay(base, style), base, strength))


def fuse_style(
    frames_dir: str | os.PathLike[str],
    style_dir: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    params: FuseParams | None = None,
    *,
    overwrite: bool = False,
    resume: bool = True,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    workers: int = 2,
) -> RunSummary:
    """Overlay-blend a style frame sequence onto a folder of frames; write to ``output_dir``.

    Style frames are fitted to each frame's size. When the sequences differ in
    length, ``params.lengths`` loops the style or stops at the shorter one.
    Outputs keep the frames' names and formats. An interrupted run with the
    same options and inputs resumes after the last whole frame.
    """
    params = params or FuseParams()
    start = time.perf_counter()
    base = list_frames(frames_dir, role="frames")
    style = list_frames(style_dir, role="style frames")
    total = len(base) if params.lengths == "loop" else min(len(base), len(style))
    identity = {
        "params": prm.as_dict(params),
        "frames": os.path.realpath(base.folder),
        "style": os.path.realpath(style.folder),
        "frame_count": len(base),
        "style_count": len(style),
    }
    warnings = [f.skipped_summary for f in (base, style) if f.skipped_summary]
    if len(base) != len(style):
        how = "looped" if params.lengths == "loop" and len(style) < len(base) else "cut to the shorter"
        warnings.append(f"{len(base)} frames and {len(style)} style frames: the style sequence was {how}.")

    def fused(index: int) -> np.ndarray:
        image = read_frame(base.frames[index])
        tint = read_frame(style.frames[index % len(style)])
        return overlay_blend(image, fit_to_size(tint, image.shape[1], image.shape[0]), params.strength)

    def results(run: FrameRun) -> Iterator[tuple[int, np.ndarray]]:
        done = run.done
        with contextlib.closing(read_ahead(fused, range(done, total), workers=workers, depth=workers + 2)) as frames:
            yield from zip(range(done, total), frames, strict=False)

    return run_frames(
        "fuse",
        "Style fuse",
        output_dir,
        names=[p.name for p in base.frames[:total]],
        inputs=base.frames + style.frames,
        identity=identity,
        stream=results,
        input_folders=(base.folder, style.folder),
        overwrite=overwrite,
        resume=resume,
        progress=progress,
        cancel=cancel,
        workers=workers,
        warnings=warnings,
        skipped_inputs=sum(len(f.skipped_files) + len(f.skipped_dirs) for f in (base, style)),
        start=start,
    )
