"""Deflicker playground on folders of frames: previews (stills and an animation) and apply.

Frames are read ahead on worker threads and checked to share one size; only
the window a chain needs is read for a preview, and apply streams the whole
folder through :func:`abysz_lab.playground.chain.run_chain` with the
project's run rules (atomic writes, resume, progress, cancel).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from abysz_lab import params as prm
from abysz_lab.errors import InputError
from abysz_lab.frames import list_frames, read_ahead, read_frame, write_bytes_atomic
from abysz_lab.jobs import CancelToken, FrameRun, ProgressCallback, RunSummary, run_frames
from abysz_lab.playground.chain import resolve_chain, run_chain
from abysz_lab.playground.engines import _import_wand_image, choose_engine
from abysz_lab.playground.presets import PlaygroundParams


def _check_size(image: np.ndarray, expected: tuple[int, int], path: Path) -> None:
    h, w = image.shape[:2]
    if (w, h) != expected:
        msg = (
            f"Frame {path.name} is {w}x{h} but the first frame is {expected[0]}x{expected[1]}. All frames must "
            "have the same size for temporal deflicker: resize them to one size first."
        )
        raise InputError(msg)


def _sized_reader(paths: Sequence[Path], indices: range, *, workers: int) -> Iterator[tuple[int, np.ndarray]]:
    first_size: tuple[int, int] | None = None
    with contextlib.closing(read_ahead(lambda i: read_frame(paths[i]), indices, workers=workers)) as reader:
        for index, image in zip(indices, reader, strict=True):
            if first_size is None:
                first_size = (image.shape[1], image.shape[0])
            _check_size(image, first_size, paths[index])
            yield index, image


@dataclass(frozen=True)
class PreviewFrame:
    """One frame of a preview: its number and name, before and after (8-bit BGR)."""

    index: int
    name: str
    before: np.ndarray
    after: np.ndarray

    @property
    def number(self) -> int:
        """The frame number a user sees: counted from 1, as extracted frames are (frame_00001 is 1)."""
        return self.index + 1


@dataclass(frozen=True)
class PlaygroundPreview:
    """Before/after frames of a preview, which engine made them and what it had to say."""

    frames: list[PreviewFrame]
    engine: str
    preset: str
    message: str = ""


def preview(
    input_dir: str | os.PathLike[str],
    params: PlaygroundParams | None = None,
    *,
    start: int = 0,
    count: int = 8,
    folder: str | os.PathLike[str] | None = None,
) -> PlaygroundPreview:
    """Run the preset on ``count`` frames from index ``start`` (0-based) without writing anything.

    Reads only those frames and the window around them, so the result equals
    the same frames of a full apply.
    """
    params = params or PlaygroundParams()
    listing = list_frames(input_dir, role="input")
    total = len(listing)
    if not 0 <= start < total:
        # Users count frames from 1 (frame N is the N-th file), so the message does too.
        msg = f"Preview start frame {start + 1} is out of range: the folder has frames 1 to {total}."
        raise InputError(msg)
    if count < 1:
        msg = f"Preview frame count must be at least 1, got {count}."
        raise InputError(msg)
    stop = min(total, start + count)
    chain = resolve_chain(params, folder=folder)
    chosen = choose_engine(params.engine)
    first = max(0, start - chain.lookback)
    last = min(total, stop + chain.lookahead)
    originals: dict[int, np.ndarray] = {}

    def keep(stream: Iterator[tuple[int, np.ndarray]]) -> Iterator[tuple[int, np.ndarray]]:
        for index, image in stream:
            if start <= index < stop:
                originals[index] = image
            yield index, image

    frames = []
    reader = _sized_reader(listing.frames, range(first, last), workers=2)
    for index, after in run_chain(chain, chosen.engine, keep(reader), only=range(start, stop)):
        if start <= index < stop:
            frames.append(PreviewFrame(index, listing.frames[index].name, originals.pop(index), after))
    return PlaygroundPreview(frames, chosen.engine.name, chain.preset.title, chosen.message)


def before_after(before: np.ndarray, after: np.ndarray, *, gap: int = 4) -> np.ndarray:
    """``before | after`` in one BGR image, with a dark gap between them."""
    h = before.shape[0]
    spacer = np.full((h, gap, 3), 32, np.uint8)
    return np.hstack([before, spacer, after])


def write_preview_animation(
    result: PlaygroundPreview, path: str | os.PathLike[str], *, fps: float = 6.0, max_width: int = 1024
) -> Path:
    """Write an animated GIF of ``before | after`` for the preview's frames (ImageMagick); return its path.

    Raises MissingDependencyError when ImageMagick cannot be loaded; the gallery
    of stills still works then.
    """
    if not result.frames:
        msg = "The preview has no frames to animate."
        raise InputError(msg)
    image_cls = _import_wand_image().Image
    path = Path(path)
    delay = max(2, round(100 / max(fps, 0.1)))  # GIF delays are in 1/100 s
    stills = []
    for item in result.frames:
        pair = before_after(item.before, item.after)
        if pair.shape[1] > max_width:
            height = max(1, round(pair.shape[0] * max_width / pair.shape[1]))
            pair = cv2.resize(pair, (max_width, height), interpolation=cv2.INTER_AREA)
        stills.append(np.ascontiguousarray(pair))
    # Start the sequence from a real image: Wand's empty Image() has no iterator to append to on IM6.
    with image_cls.from_array(stills[0], channel_map="BGR") as animation:
        for still in stills[1:]:
            with image_cls.from_array(still, channel_map="BGR") as frame:
                animation.image_add(frame)
        for frame in animation.sequence:
            frame.delay = delay
        animation.loop = 0
        write_bytes_atomic(path, animation.make_blob("gif"))
    return path


def apply_preset(
    input_dir: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    params: PlaygroundParams | None = None,
    *,
    folder: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    resume: bool = True,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    workers: int = 2,
) -> RunSummary:
    """Deflicker a folder of frames with a preset; write same-named frames to ``output_dir``.

    Frames stream through the chain: memory holds only the chain's window.
    An interrupted run with the same preset, controls, engine and inputs
    resumes after the last whole frame (recomputing the window before it).
    Raises InputError for unusable input, MissingDependencyError for
    ``engine="wand"`` without ImageMagick, Cancelled when ``cancel`` is set.

    Examples
    --------
    >>> import tempfile
    >>> from abysz_lab.demo import make_demo_clip
    >>> from abysz_lab.playground import params_for_preset
    >>> clip = make_demo_clip(tempfile.mkdtemp(), frames=4, width=64, height=48)
    >>> params = params_for_preset("brightness-lock", engine="numpy")
    >>> apply_preset(clip.generated, clip.root / "steady", params).written
    4
    """
    params = params or PlaygroundParams()
    start = time.perf_counter()
    listing = list_frames(input_dir, role="input")
    chain = resolve_chain(params, folder=folder)
    chosen = choose_engine(params.engine)
    total = len(listing)
    identity = {
        "params": prm.as_dict(params),
        "chain": chain.preset.to_json()["steps"],
        "mix": chain.preset.mix,
        "engine": chosen.engine.name,
        "input": os.path.realpath(listing.folder),
        "frames": total,
    }

    def results(run: FrameRun) -> Iterator[tuple[int, Any]]:
        # Output t depends on inputs t - lookback .. t + lookahead only: restart the stream a little before
        # the resume point and drop what it recomputes, instead of storing the chain's state.
        done = run.done
        reader = _sized_reader(listing.frames, range(max(0, done - chain.lookback), total), workers=workers)
        with contextlib.closing(run_chain(chain, chosen.engine, reader, only=range(done, total))) as chained:
            yield from ((index, out) for index, out in chained if index >= done)

    return run_frames(
        "deflicker",
        f"Deflicker ({chain.preset.title}, {chosen.engine.name})",
        output_dir,
        names=[p.name for p in listing.frames],
        inputs=listing.frames,
        identity=identity,
        stream=results,
        input_folders=(listing.folder,),
        overwrite=overwrite,
        resume=resume,
        progress=progress,
        cancel=cancel,
        workers=workers,
        warnings=[w for w in (chosen.message, listing.skipped_summary) if w],
        skipped_inputs=len(listing.skipped_files) + len(listing.skipped_dirs),
        start=start,
    )
