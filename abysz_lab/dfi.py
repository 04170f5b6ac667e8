"""DFI, differential frame interpolation: hold the previous output where the source is still.

The computation follows ``shared/docs/dfi.md`` step by step. Each step is a pure
function on numpy arrays; :func:`dfi_step` chains them for one frame with the
recursion's state made explicit (:class:`DFIState`); :func:`run_dfi` streams a
whole folder through it with read-ahead, write-behind, progress, cancel and
resume.

Masks are 8-bit (0 = refresh from the generated frame, 255 = hold the previous
output), as the original's mask images were: "exactly 1" in the spec means 255,
which stays exact through OpenCV's fixed-point 8-bit blurs.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from abysz_lab import params as prm
from abysz_lab.errors import InputError
from abysz_lab.frames import (
    FrameFolder,
    fit_to_size,
    frame_size,
    list_frames,
    read_ahead,
    read_frame,
)
from abysz_lab.jobs import CancelToken, FrameRun, ProgressCallback, RunSummary, report, run_frames
from abysz_lab.motion import PairMotion, combine_passes, count_to_u8, motion_mask, run_pass

HELD = 255  # mask value of a pixel that carries the previous output unchanged
LOSSLESS_SUFFIXES = (".png", ".bmp", ".tif", ".tiff")
MODES = ("classic", "motion")
PASSES = ("forward", "forward+backward")
FLOW_QUALITIES = ("fast", "balanced", "precise")


@dataclass(frozen=True)
class DFIParams:
    """The DFI controls. Ranges, defaults and help are read by the UI and the CLI."""

    tolerance: float = prm.param(
        5.0,
        label="Tolerance",
        help="Grey levels a source pixel may change and still count as still (held). Higher holds more: "
        "steadier, but more ghosting. 4-6 suits most clips; 0 = off (output = generated frames).",
        minimum=0.0,
        maximum=20.0,
        step=0.5,
        original="DFI Tolerance / DFI Strength",
    )
    expand: int = prm.param(
        0,
        label="Expand (deghost)",
        # A kernel size, as the original's: saved values keep their meaning and classic output stays identical.
        help="Size N of the square that grows the moving areas (0 or 1 = off): they grow by (N-1)/2 pixels on "
        "each side, so 3 grows them by 1 px and 9 by 4 px (an even N grows one pixel more down and right). Edges "
        "of moving objects then refresh from the generated frame: less ghosting without lowering the tolerance.",
        minimum=0,
        maximum=50,
        step=1,
        original="DFI Expand / DFI Deghost",
    )
    smooth: int = prm.param(
        1,
        label="Mask smooth",
        help="Gaussian blur of the mask, kernel size (odd; 1 = off). Softens the seam between held and "
        "refreshed areas; high values hold less.",
        minimum=1,
        maximum=99,
        step=2,
        odd=True,
        original="Smooth",
    )
    inter_blur: int = prm.param(
        3,
        label="Inter blur",
        help="Divisor of the motion-dependent mask blur: kernel = (100 - held %) / this. Lower = softer "
        "mask edges when much of the frame moves.",
        minimum=1,
        maximum=5,
        step=1,
        original="Inter Blur / fine blur",
    )
    refresh_every: int = prm.param(
        0,
        label="Refresh every N frames",
        help="Every N frames, hold only the refresh strength (%) of the previous output, so errors cannot pile "
        "up. 0 = dynamic: hold as much as the share of still pixels.",
        minimum=0,
        maximum=30,
        step=1,
        original="Corruption Refresh / Frame refresh frequency",
    )
    refresh_strength: float = prm.param(
        0.0,
        label="Refresh strength %",
        help="On refresh frames, opacity of the held previous output (0 = the generated frame replaces it "
        "everywhere). Used only when refreshing every N frames (N > 0).",
        minimum=0.0,
        maximum=100.0,
        step=1.0,
        original="Corruption Preserve / Refresh Strength",
    )
    map_denoise: int = prm.param(
        0,
        label="Source denoise",
        help="Bilateral filter diameter applied to the source before comparing frames (0 = off). Helps "
        "grainy or compressed sources that look like motion everywhere.",
        minimum=0,
        maximum=30,
        step=1,
        original="Map Denoise / Source denoise",
    )
    inter_denoise: int = prm.param(
        9,
        label="Inter denoise",
        help="Bilateral filter diameter applied to the output every few frames (0 = off); cleans the "
        "speckle that holding can accumulate.",
        minimum=0,
        maximum=25,
        step=1,
        original="Inter Denoise",
    )
    inter_denoise_size: int = prm.param(
        9,
        label="Inter denoise size",
        help="Strength (sigma) of the inter denoise filter.",
        minimum=1,
        maximum=25,
        step=1,
        original="Inter Denoise Size",
    )
    inter_denoise_every: int = prm.param(
        3,
        label="Inter denoise every N frames",
        help="Apply the inter denoise on every N-th step.",
        minimum=1,
        maximum=15,
        step=1,
        original="Inter Denoise Speed",
    )

    mode: str = prm.param(
        "classic",
        label="Mode",
        help="classic: the original's rule, hold pixels where the source did not move (locked camera). "
        "motion: follow the source's optical flow and hold what moved with it too (pans, zooms, hand-held, "
        "light changes, scene cuts); the motion-only controls (passes, carry, light, cuts, flow) apply to it.",
        choices=MODES,
    )
    passes: str = prm.param(
        "forward",
        label="Passes (motion)",
        help="forward: one pass from the first frame to the last. forward+backward: also run from the last "
        "frame back and mix both per pixel, so each frame draws on both neighbours (steadier, fewer trails, "
        "about half the speed; the backward pass is kept in a temporary folder, not in memory).",
        choices=PASSES,
    )
    carry: float = prm.param(
        95.0,
        label="Carry % (motion)",
        help="How much of the motion-compensated previous output a trusted pixel keeps; the rest comes from "
        "the new generated frame. Higher = steadier and cleaner, lower = closer to each generated frame. "
        "100 = hold outright (freezes the first frame's mistakes).",
        minimum=50.0,
        maximum=100.0,
        step=1.0,
    )
    follow_light: bool = prm.param(
        True,
        label="Follow light changes (motion)",
        help="Measure how the source's light changes from frame to frame (per colour and region, over the pixels "
        "the motion explains) and apply it to the held picture, as strongly as the generated frames follow the "
        "light, so a dimming lamp or a passing cloud is not frozen.",
    )
    cut_threshold: float = prm.param(
        50.0,
        label="Scene cut threshold % (motion)",
        help="A frame whose picture is this % new (the motion and light cannot explain it) starts a new shot: "
        "nothing is carried across the cut. Lower finds softer cuts; 0 = never cut.",
        minimum=0.0,
        maximum=100.0,
        step=1.0,
    )
    flow_quality: str = prm.param(
        "balanced",
        label="Optical flow (motion)",
        help="fast: coarse flow, quickest. balanced: good for most clips. precise: finest flow, slowest; "
        "for fine texture under fast motion.",
        choices=FLOW_QUALITIES,
    )

    def __post_init__(self) -> None:
        prm.validate(self)


# --- the steps, each a pure function -------------------------------------------------


def denoise_source(source: np.ndarray, diameter: int) -> np.ndarray:
    """Step 1: bilateral-filter a fitted source frame (``diameter`` 0 = unchanged)."""
    if diameter <= 0:
        return source
    return cv2.bilateralFilter(source, diameter, 31, 31)


def to_gray(image: np.ndarray) -> np.ndarray:
    """8-bit grey of a BGR frame (grey input is returned as is)."""
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def stability_mask(previous_gray: np.ndarray, current_gray: np.ndarray, tolerance: float) -> np.ndarray:
    """Steps 2-3: 255 where ``|current - previous| <= tolerance`` (still), else 0."""
    diff = cv2.absdiff(current_gray, previous_gray)
    # THRESH_BINARY_INV gives maxval where diff <= thresh; diff is integral, so floor the tolerance.
    _, mask = cv2.threshold(diff, math.floor(tolerance), HELD, cv2.THRESH_BINARY_INV)
    return mask


def expand_moving(mask: np.ndarray, size: int) -> np.ndarray:
    """Step 4: grow the moving (0) region by a ``size`` x ``size`` rectangle (0 or 1 = off)."""
    if size <= 1:
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    # Dilating the moving region is eroding the held one.
    return cv2.erode(mask, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=HELD)


def smooth_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """Step 5: Gaussian blur of the mask with an odd kernel ``size`` (1 = off)."""
    if size <= 1:
        return mask
    return cv2.GaussianBlur(mask, (size, size), 0)


def held_percent(mask: np.ndarray) -> float:
    """Percentage of pixels fully held (255), rounded to one decimal as the original did."""
    return round(100.0 * np.count_nonzero(mask == HELD) / mask.size, 1)


def dynamic_blur_kernel(held_pct: float, inter_blur: int) -> int:
    """Step 6's kernel: ``ceil((100 - held_pct) / inter_blur)``, made odd."""
    k = math.ceil(round(100.0 - held_pct, 1) / inter_blur)
    return k if k % 2 == 1 else k + 1


def dynamic_blur(mask: np.ndarray, held_pct: float, inter_blur: int) -> np.ndarray:
    """Step 6: blur the mask more when more of the frame moves."""
    k = dynamic_blur_kernel(held_pct, inter_blur)
    if k <= 1:
        return mask
    return cv2.GaussianBlur(mask, (k, k), 0)


def dissolve_for_step(step_index: int, held_pct: float, refresh_every: int, refresh_strength: float) -> float:
    """Step 7: opacity (0-100) of the carried frame on step ``step_index`` (0 at t = 1)."""
    if refresh_every == 0:
        return held_pct
    return refresh_strength if step_index % refresh_every == 0 else 100.0


def blend(generated: np.ndarray, previous_output: np.ndarray, mask: np.ndarray, dissolve: float) -> np.ndarray:
    """Step 8: ``out = gen * (1 - a) + prev * a`` with ``a = mask/255 * dissolve/100``, rounded to 8 bits."""
    alpha = cv2.multiply(mask, dissolve / (100.0 * HELD), dtype=cv2.CV_32F)
    # blendLinear computes the formula in one multi-threaded pass (7x faster than numpy at 1080p).
    return cv2.blendLinear(previous_output, generated, alpha, cv2.subtract(1.0, alpha))


def inter_denoise(output: np.ndarray, step_index: int, diameter: int, size: int, every: int) -> np.ndarray:
    """Step 9: bilateral-filter the output on steps where ``step_index % every == 0`` (diameter 0 = off)."""
    if diameter <= 0 or every <= 0 or step_index % every != 0:
        return output
    return cv2.bilateralFilter(output, diameter, size, size)


def final_mask(previous_source: np.ndarray, source: np.ndarray, params: DFIParams) -> tuple[np.ndarray, float]:
    """Steps 2-6 on two denoised, fitted source frames: the mask and its held percentage.

    The one mask function of the run and the preview: tolerance 0 (DFI off)
    holds nothing, and motion mode gives its flow-compensated mask.
    """
    if params.tolerance == 0:
        return np.zeros(source.shape[:2], np.uint8), 0.0
    if params.mode == "motion":
        mask = motion_mask(previous_source, source, params)  # soft: count what is held at least half
        return mask, round(100.0 * np.count_nonzero(mask >= HELD // 2 + 1) / mask.size, 1)
    mask = stability_mask(to_gray(previous_source), to_gray(source), params.tolerance)
    mask = expand_moving(mask, params.expand)
    mask = smooth_mask(mask, params.smooth)
    pct = held_percent(mask)
    return dynamic_blur(mask, pct, params.inter_blur), pct


# --- one step of the recursion ---------------------------------------------------------


@dataclass(frozen=True)
class DFIState:
    """What the recursion carries from one frame to the next."""

    previous_source: np.ndarray  # fitted and denoised source of the previous frame
    previous_output: np.ndarray  # the previous OUTPUT (not the previous generated frame)
    step_index: int  # index of the next step; 0 at t = 1


@dataclass(frozen=True)
class StepInfo:
    """Diagnostics of one step, for previews and logs."""

    mask: np.ndarray
    held_pct: float
    dissolve: float


def start_state(source: np.ndarray, output: np.ndarray, *, step_index: int = 0) -> DFIState:
    """State after frame 0 (or after frame ``step_index`` when resuming)."""
    return DFIState(source, output, step_index)


def dfi_step(
    state: DFIState, source: np.ndarray, generated: np.ndarray, params: DFIParams
) -> tuple[DFIState, np.ndarray, StepInfo]:
    """Compute one output frame from a denoised fitted source and its generated frame."""
    if params.tolerance == 0:  # DFI off: pass the generated frame through untouched
        off = np.zeros(generated.shape[:2], np.uint8)
        return DFIState(source, generated, state.step_index + 1), generated, StepInfo(off, 0.0, 0.0)
    mask, pct = final_mask(state.previous_source, source, params)
    dissolve = dissolve_for_step(state.step_index, pct, params.refresh_every, params.refresh_strength)
    out = blend(generated, state.previous_output, mask, dissolve)
    out = inter_denoise(
        out, state.step_index, params.inter_denoise, params.inter_denoise_size, params.inter_denoise_every
    )
    return DFIState(source, out, state.step_index + 1), out, StepInfo(mask, pct, dissolve)


# --- the recursion, shared by run_dfi and iter_dfi -------------------------------------------


@dataclass(frozen=True)
class DFIFrame:
    """One stabilised frame and what DFI did to make it."""

    index: int
    output: np.ndarray  # 8-bit BGR
    held: np.ndarray  # 8-bit, opacity of the carried previous output (255 = fully carried)
    held_pct: float
    cut: bool = False  # motion mode: a new shot starts here, nothing was carried


Pair = tuple[np.ndarray, np.ndarray]  # (fitted, denoised source; generated frame)


def prepare_source(source: np.ndarray, size: tuple[int, int], map_denoise: int) -> np.ndarray:
    """Fit a source frame to the generated ``(width, height)`` and apply step 1's denoise."""
    return denoise_source(fit_to_size(source, size[0], size[1]), map_denoise)


def _held_of(info: StepInfo) -> np.ndarray:
    return info.mask if info.dissolve >= 100.0 else cv2.multiply(info.mask, info.dissolve / 100.0)


def _classic_frames(pairs: Iterable[Pair], params: DFIParams, state: DFIState | None, first: int) -> Iterator[DFIFrame]:
    for index, (src, gen) in enumerate(pairs, first):
        if state is None:
            state = start_state(src, gen)
            yield DFIFrame(index, gen, np.zeros(gen.shape[:2], np.uint8), 0.0)
            continue
        state, out, info = dfi_step(state, src, gen, params)
        yield DFIFrame(index, out, _held_of(info), info.held_pct)


class _Spill:
    """A temporary folder of raw ``.npy`` arrays: lossless, and no encoding cost."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def save(self, kind: str, index: int, array: np.ndarray) -> None:
        np.save(self.folder / f"{kind}{index:06d}.npy", array, allow_pickle=False)

    def load(self, kind: str, index: int) -> np.ndarray:
        return np.load(self.folder / f"{kind}{index:06d}.npy", allow_pickle=False)

    def has(self, kind: str, index: int) -> bool:
        return (self.folder / f"{kind}{index:06d}.npy").exists()


def _backward_pass(
    pairs: Iterable[Pair], count: int, params: DFIParams, spill: _Spill, cancel: CancelToken | None, on_frame
) -> None:
    """Run the recursion from the last frame to the first; spill each output, its count and the flows."""
    for k, step in enumerate(run_pass(pairs, params)):
        index = count - 1 - k
        if cancel is not None and cancel.cancelled:
            return
        spill.save("out", index, step.output)
        spill.save("count", index, count_to_u8(step.count))
        if step.motion is not None:
            # The flows between frames index and index + 1, as the forward pass will want them at index + 1.
            spill.save("bwd", index + 1, step.motion.forward)
            spill.save("fwd", index + 1, step.motion.backward)
            spill.save("cut", index + 1, np.array(step.motion.cut))
        if on_frame is not None:
            on_frame(k + 1)


def _motion_frames(
    pairs: Iterable[Pair],
    params: DFIParams,
    *,
    count: int,
    backward_pairs: Callable[[], Iterable[Pair]] | None,
    cancel: CancelToken | None = None,
    on_backward=None,
) -> Iterator[DFIFrame]:
    """Motion mode over a stream of pairs; with ``backward_pairs`` (the same pairs, last first) both passes."""
    if backward_pairs is None:
        yield from _forward_pass(pairs, params, None)
        return
    with tempfile.TemporaryDirectory(prefix="abysz-dfi-backward-") as folder:
        spill = _Spill(folder)
        _backward_pass(backward_pairs(), count, params, spill, cancel, on_backward)
        if cancel is not None:
            cancel.raise_if_cancelled(0, count, writes_frames=False)
        yield from _forward_pass(pairs, params, spill)


def _forward_pass(pairs: Iterable[Pair], params: DFIParams, spill: _Spill | None) -> Iterator[DFIFrame]:
    def spilled(index: int) -> PairMotion | None:
        if spill is None or not spill.has("bwd", index):
            return None
        return PairMotion(spill.load("bwd", index), spill.load("fwd", index), bool(spill.load("cut", index)))

    for index, step in enumerate(run_pass(pairs, params, spilled)):
        out, held = step.output, step.held
        if spill is not None:
            back, back_count = spill.load("out", index), spill.load("count", index).astype(np.float32)
            out = combine_passes(out, step.count, back, back_count)
            # What the frame holds: the backward pass holds what it has averaged more than one frame of.
            held = cv2.max(held, cv2.compare(back_count, 1.5, cv2.CMP_GE))
        cut = step.motion is not None and step.motion.cut
        yield DFIFrame(index, out, held, round(100.0 * np.count_nonzero(held >= 128) / held.size, 1), cut)


def stabilise(
    pairs: Iterable[Pair],
    params: DFIParams,
    *,
    count: int,
    backward_pairs: Callable[[], Iterable[Pair]] | None = None,
    state: DFIState | None = None,
    first: int = 0,
    cancel: CancelToken | None = None,
    on_backward=None,
) -> Iterator[DFIFrame]:
    """The DFI recursion over prepared pairs, in either mode: the one implementation behind every front end.

    ``pairs`` are (fitted, denoised source; generated) in order. Classic mode
    may start from a resumed ``state`` at frame ``first``; motion mode always
    starts at frame 0. ``backward_pairs`` yields the same pairs last first and
    is needed for the forward+backward passes.
    """
    if params.mode == "motion":
        backward = backward_pairs if params.passes == "forward+backward" else None
        return _motion_frames(
            pairs, params, count=count, backward_pairs=backward, cancel=cancel, on_backward=on_backward
        )
    return _classic_frames(pairs, params, state, first)


# --- in memory -------------------------------------------------------------------------


def _checked_pairs(sources: Iterable[np.ndarray], generated: Iterable[np.ndarray], params: DFIParams, cancel):
    size: tuple[int, int] | None = None
    for index, (raw_source, gen) in enumerate(zip(sources, generated, strict=False)):
        if cancel is not None:
            cancel.raise_if_cancelled(index, index, writes_frames=False)
        if size is None:
            size = (gen.shape[1], gen.shape[0])
        elif (gen.shape[1], gen.shape[0]) != size:
            msg = (
                f"Generated frame {index} is {gen.shape[1]}x{gen.shape[0]} but the first one is "
                f"{size[0]}x{size[1]}: all generated frames must have the same size."
            )
            raise InputError(msg)
        yield prepare_source(raw_source, size, params.map_denoise), gen


def iter_dfi_frames(
    sources: Iterable[np.ndarray],
    generated: Iterable[np.ndarray],
    params: DFIParams | None = None,
    *,
    cancel: CancelToken | None = None,
    on_backward: Callable[[int], None] | None = None,
) -> Iterator[DFIFrame]:
    """Stabilise in-memory frames, yielding each output with its held mask.

    Frames are 8-bit BGR arrays paired by order; the shorter stream ends the
    run. Sources are fitted to the generated size as :func:`run_dfi` does.
    With two passes (motion mode, forward+backward) the frames are first
    spilled to a temporary folder, so memory does not grow with the clip;
    ``on_backward(k)`` is then called after the backward pass's k-th frame
    (for progress, or a host's own interrupt check).
    Raises InputError when a generated frame's size differs from the first,
    and Cancelled (between frames) when ``cancel`` is set.
    """
    params = params or DFIParams()
    pairs = _checked_pairs(sources, generated, params, cancel)
    if not (params.mode == "motion" and params.passes == "forward+backward"):
        yield from stabilise(pairs, params, count=0, cancel=cancel)
        return
    with tempfile.TemporaryDirectory(prefix="abysz-dfi-frames-") as folder:
        spill = _Spill(folder)
        count = 0
        for count, (src, gen) in enumerate(pairs, 1):
            spill.save("src", count - 1, src)
            spill.save("gen", count - 1, gen)

        def read(order: Iterable[int]) -> Iterator[Pair]:
            return ((spill.load("src", i), spill.load("gen", i)) for i in order)

        frames = stabilise(
            read(range(count)),
            params,
            count=count,
            backward_pairs=lambda: read(range(count - 1, -1, -1)),
            cancel=cancel,
            on_backward=on_backward,
        )
        with contextlib.closing(frames):
            for frame in frames:
                yield frame
                if cancel is not None:  # the forward pass reads the spill, not the caller's streams: check here
                    cancel.raise_if_cancelled(frame.index + 1, count, writes_frames=False)


def iter_dfi(
    sources: Iterable[np.ndarray],
    generated: Iterable[np.ndarray],
    params: DFIParams | None = None,
    *,
    cancel: CancelToken | None = None,
) -> Iterator[np.ndarray]:
    """Stabilise in-memory frames: yield one 8-bit BGR output per (source, generated) pair.

    The same computation as :func:`run_dfi`, without folders, so another host
    (a diffusers script, a node graph) can stabilise frames it already holds.

    Examples
    --------
    >>> import numpy as np
    >>> still = [np.full((8, 8, 3), 100, np.uint8)] * 3
    >>> noisy = [np.full((8, 8, 3), v, np.uint8) for v in (50, 90, 130)]
    >>> [int(f[0, 0, 0]) for f in iter_dfi(still, noisy, DFIParams(inter_denoise=0))]
    [50, 50, 50]
    """
    for frame in iter_dfi_frames(sources, generated, params, cancel=cancel):
        yield frame.output


# --- folders ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FramePairs:
    """The source and generated folders paired by order, and what pairing had to say."""

    source: FrameFolder
    generated: FrameFolder
    count: int
    warnings: tuple[str, ...]

    @property
    def skipped_inputs(self) -> int:
        """Non-image entries ignored in both folders."""
        s, g = self.source, self.generated
        return len(s.skipped_files) + len(s.skipped_dirs) + len(g.skipped_files) + len(g.skipped_dirs)


def pair_frames(source_dir: str | os.PathLike[str], generated_dir: str | os.PathLike[str]) -> FramePairs:
    """List both folders and pair their frames by natural order (the first min(N, M) pairs)."""
    source = list_frames(source_dir, role="source (original video) frames")
    generated = list_frames(generated_dir, role="generated (img2img) frames")
    warnings = [w for w in (source.skipped_summary, generated.skipped_summary) if w]
    count = min(len(source), len(generated))
    if len(source) != len(generated):
        warnings.append(
            f"The source has {len(source)} frames and the generated folder {len(generated)}: "
            f"using the first {count} pairs."
        )
    return FramePairs(source, generated, count, tuple(warnings))


def _read_pair(
    source_path: Path, generated_path: Path, map_denoise: int, expected: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    if expected is not None:  # from the header, before decoding a pixel or resizing the source up to it
        size = frame_size(generated_path)
        if size is not None and size != expected:
            _size_mismatch(generated_path, size, expected)
    generated = read_frame(generated_path)
    h, w = generated.shape[:2]
    return prepare_source(read_frame(source_path), (w, h), map_denoise), generated


def _check_size(generated: np.ndarray, expected: tuple[int, int], path: Path) -> None:
    h, w = generated.shape[:2]
    if (w, h) != expected:
        _size_mismatch(path, (w, h), expected)


def _size_mismatch(path: Path, size: tuple[int, int], expected: tuple[int, int]) -> None:
    msg = (
        f"Generated frame {path.name} is {size[0]}x{size[1]} but the first one is {expected[0]}x{expected[1]}. "
        "All generated frames must have the same size: re-run img2img with a fixed size."
    )
    raise InputError(msg)


def run_dfi(
    source_dir: str | os.PathLike[str],
    generated_dir: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    params: DFIParams | None = None,
    *,
    frames_limit: int = 0,
    overwrite: bool = False,
    resume: bool = True,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    workers: int = 2,
) -> RunSummary:
    """Stabilise a folder of generated frames against the source frames; write to ``output_dir``.

    Frames are read ahead and written behind on ``workers`` threads, so memory
    does not grow with the clip. An interrupted run in the same output folder
    with the same parameters resumes after the last whole frame. Raises
    InputError for unusable input and Cancelled when ``cancel`` is set.

    Examples
    --------
    >>> import tempfile
    >>> from abysz_lab.demo import make_demo_clip
    >>> clip = make_demo_clip(tempfile.mkdtemp(), frames=4, width=64, height=48)
    >>> summary = run_dfi(clip.source, clip.generated, clip.root / "out", DFIParams(tolerance=4))
    >>> summary.written, len(list((clip.root / "out").glob("*.png")))
    (4, 4)
    """
    params = params or DFIParams()
    start = time.perf_counter()
    pairs = pair_frames(source_dir, generated_dir)
    total = pairs.count if frames_limit <= 0 else min(pairs.count, frames_limit)
    sources = pairs.source.frames[:total]
    generated = pairs.generated.frames[:total]
    identity = {
        "params": prm.as_dict(params),
        "source": os.path.realpath(pairs.source.folder),
        "generated": os.path.realpath(pairs.generated.folder),
        "source_frames": len(pairs.source),
        "generated_frames": len(pairs.generated),
    }
    if params.mode == "motion" and params.passes == "forward+backward":
        # The backward pass starts at the last frame run, so every frame depends on where the run ends: the
        # frames of a shorter trial (frames_limit) are not the full run's and must not be resumed from.
        identity["frames"] = total

    cancel = cancel or CancelToken()
    cuts: list[int] = []

    def outputs(run: FrameRun) -> Iterator[tuple[int, np.ndarray]]:
        done, out_paths = run.done, run.out_paths
        if done >= total:  # already complete: recomputing the clip (motion mode, JPEG outputs) would write nothing
            return
        state: DFIState | None = None
        first_size: tuple[int, int] | None = None
        # The recursion carries the previous OUTPUT. A lossless file on disk is that output exactly; a JPEG or
        # WebP one is not, so then the earlier frames are recomputed in memory (read, not written again). Motion
        # mode carries more than the output (a float picture, per-pixel ages, a backward pass), so it always
        # recomputes from the first frame.
        lossless = all(p.suffix.lower() in LOSSLESS_SUFFIXES for p in out_paths[:done])
        first = done if lossless and params.mode == "classic" else 0
        if done and first:
            src, prev_out = _read_pair(sources[done - 1], out_paths[done - 1], params.map_denoise)
            first_size = (prev_out.shape[1], prev_out.shape[0])
            state = start_state(src, prev_out, step_index=done - 1)
        expected = first_size or (frame_size(generated[0]) if generated else None)

        def read(order: range) -> Iterator[Pair]:
            nonlocal first_size
            pairs_in = read_ahead(
                lambda i: _read_pair(sources[i], generated[i], params.map_denoise, expected),
                order,
                workers=workers,
                depth=workers + 2,
            )
            with contextlib.closing(pairs_in):
                for index, (src, gen) in zip(order, pairs_in, strict=False):
                    if first_size is None:
                        first_size = (gen.shape[1], gen.shape[0])
                    _check_size(gen, first_size, generated[index])
                    yield src, gen

        def on_backward(k: int) -> None:
            report(progress, done, total, start, f"Backward pass: {k} of {total - first} frames")

        frames = stabilise(
            read(range(first, total)),
            params,
            count=total - first,
            backward_pairs=lambda: read(range(total - 1, first - 1, -1)),
            state=state,
            first=first,
            cancel=cancel,
            on_backward=on_backward,
        )
        with contextlib.closing(frames):
            for frame in frames:
                if frame.cut:
                    cuts.append(frame.index)
                if frame.index >= done:
                    yield frame.index, frame.output
                else:  # recomputing what is on disk (motion mode's state): say so, and let Cancel stop it
                    cancel.raise_if_cancelled(done, total)
                    report(progress, done, total, start, f"Catching up: frame {frame.index + 1} of {done} on disk")

    summary = run_frames(
        "dfi",
        "DFI",
        output_dir,
        names=[p.name for p in generated],
        inputs=pairs.source.frames[: pairs.count] + pairs.generated.frames[: pairs.count],
        identity=identity,
        stream=outputs,
        input_folders=(pairs.source.folder, pairs.generated.folder),
        overwrite=overwrite,
        resume=resume,
        progress=progress,
        cancel=cancel,
        workers=workers,
        warnings=pairs.warnings,
        skipped_inputs=pairs.skipped_inputs,
        start=start,
    )
    summary.cuts = cuts
    return summary


# --- mask preview -------------------------------------------------------------------------

OVERLAY_TINT = (255, 160, 0)  # BGR azure: held areas


@dataclass(frozen=True)
class MaskPreview:
    """The final mask of the pair (index - 1, index) and the mask over the source."""

    index: int
    name: str
    mask: np.ndarray  # 8-bit, 255 = held
    overlay: np.ndarray  # BGR source with held areas tinted
    held_pct: float

    @property
    def number(self) -> int:
        """The frame number a user sees: counted from 1, as extracted frames are (frame_00001 is 1)."""
        return self.index + 1


def default_preview_indices(count: int, frames: int) -> list[int]:
    """``count`` frame indices (each >= 1) spread evenly over a clip of ``frames`` frames."""
    if frames < 2:
        return []
    count = max(1, min(count, frames - 1))
    return sorted({round(1 + i * (frames - 2) / max(1, count - 1)) for i in range(count)}) if count > 1 else [1]


def mask_overlay(source: np.ndarray, mask: np.ndarray, strength: float = 0.55) -> np.ndarray:
    """Tint ``source`` where ``mask`` holds: what DFI will freeze is shown in azure."""
    m = mask.astype(np.float32)[:, :, None] * np.float32(strength / HELD)
    tint = np.array(OVERLAY_TINT, dtype=np.float32)
    out = source.astype(np.float32) * (1.0 - m) + tint * m
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def preview_masks(
    source_dir: str | os.PathLike[str],
    generated_dir: str | os.PathLike[str],
    params: DFIParams | None = None,
    *,
    indices: Sequence[int] | None = None,
    count: int = 4,
) -> list[MaskPreview]:
    """Compute the final DFI mask (steps 1-6) for chosen frames, without writing anything.

    ``indices`` are 0-based positions t >= 1 (the mask compares t - 1 and t);
    by default ``count`` frames spread over the clip. Out-of-range indices raise
    InputError, whose message counts frames from 1 as users do (index + 1).

    Examples
    --------
    >>> import tempfile
    >>> from abysz_lab.demo import make_demo_clip
    >>> clip = make_demo_clip(tempfile.mkdtemp(), frames=4, width=64, height=48)
    >>> [(p.index, p.mask.shape) for p in preview_masks(clip.source, clip.generated, indices=[2])]
    [(2, (48, 64))]
    """
    params = params or DFIParams()
    pairs = pair_frames(source_dir, generated_dir)
    if pairs.count < 2:
        msg = "Mask previews need at least two frames in both folders."
        raise InputError(msg)
    chosen = list(indices) if indices else default_preview_indices(count, pairs.count)
    bad = [i + 1 for i in chosen if not 1 <= i < pairs.count]
    if bad:
        msg = (
            f"Preview frame(s) {', '.join(map(str, bad))} out of range: choose frames 2 to {pairs.count} "
            "(counted from 1; frame 1 has no previous frame to compare with)."
        )
        raise InputError(msg)
    previews = []
    for i in chosen:
        prev_src, _ = _read_pair(pairs.source.frames[i - 1], pairs.generated.frames[i - 1], params.map_denoise)
        src, gen = _read_pair(pairs.source.frames[i], pairs.generated.frames[i], params.map_denoise)
        if prev_src.shape != src.shape:
            prev_src = fit_to_size(prev_src, src.shape[1], src.shape[0])
        mask, pct = final_mask(prev_src, src, params)
        previews.append(MaskPreview(i, pairs.generated.frames[i].name, mask, mask_overlay(src, mask), pct))
    return previews
