"""Optical flow and what is built on it: warps, trust masks, scene cuts, light changes.

The ground floor of the package (it imports only OpenCV, numpy and errors), so
DFI's motion mode and the analysis share one flow, one warp and one definition
of "the motion explains this pixel".

Conventions: a flow is an (H, W, 2) float32 array of (dx, dy). The *backward*
flow of frame t points from each pixel of t to where it was in t - 1, so
``warp(previous, backward)`` lays frame t - 1 over frame t. Masks are boolean
unless a name says otherwise.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from abysz_lab.errors import InputError

FLOW_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
# A consistent pixel comes back within 0.5 px plus 10 % of the motion after a backward-then-forward trip.
CONSISTENCY_SLACK_PX2 = 0.5
CONSISTENCY_SHARE = 0.01
CUT_LEVEL = 24.0  # grey levels a light-corrected, motion-compensated pixel may differ before it is "unexplained"
CUT_SIDE = 128  # scene cuts are judged on frames this wide (noise and texture average out)
GAIN_LIMITS = (0.25, 4.0)  # a real light change between two frames stays within these factors
GAIN_DARK = 16.0  # pixels darker than this say little about a gain (quantisation, noise)
LIGHT_CELLS = 8  # a local light is read on a grid this many cells along the frame's long side


def make_flow_estimator(
    preset: str = "fast",
    *,
    finest_scale: int | None = None,
    patch_stride: int | None = None,
    descent_iterations: int | None = None,
) -> cv2.DISOpticalFlow:
    """A DIS optical flow estimator (Kroeger et al. 2016); ``preset`` is ultrafast, fast or medium.

    ``finest_scale`` overrides the preset's finest pyramid level (0 = full
    size, 2 = a quarter, the fast presets' own): DIS stops refining there and
    upsamples, so a preset's flow on a half-size frame is really computed at
    an eighth unless this is lowered. ``patch_stride`` (pixels between the
    patches matched) and ``descent_iterations`` (per patch) trade time for
    detail on top of the preset's.
    """
    if preset not in FLOW_PRESETS:
        msg = f"Unknown optical flow preset {preset!r}; choose one of {', '.join(FLOW_PRESETS)}."
        raise InputError(msg)
    estimator = cv2.DISOpticalFlow_create(FLOW_PRESETS[preset])
    if finest_scale is not None:
        estimator.setFinestScale(finest_scale)
    if patch_stride is not None:
        estimator.setPatchStride(patch_stride)
    if descent_iterations is not None:
        estimator.setGradientDescentIterations(descent_iterations)
    return estimator


def to_gray(image: np.ndarray) -> np.ndarray:
    """8-bit grey of a BGR frame (grey input is returned as is)."""
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def downscale(image: np.ndarray, scale: float) -> np.ndarray:
    """``image`` resized by ``scale`` (<= 1) with area averaging; unchanged at 1."""
    if scale >= 1.0:
        return image
    h, w = image.shape[:2]
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def upscale_flow(flow: np.ndarray, width: int, height: int) -> np.ndarray:
    """A flow computed on a smaller frame, resized to ``width`` x ``height`` with its vectors scaled."""
    h, w = flow.shape[:2]
    if (w, h) == (width, height):
        return flow
    big = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
    sx, sy = width / w, height / h
    # Both components in one pass: multiply by a per-channel scalar.
    return cv2.multiply(big, (sx, sy, 0, 0)) if sx != sy else cv2.multiply(big, sx)


def compute_flow(
    estimator: cv2.DISOpticalFlow, first: np.ndarray, second: np.ndarray, *, scale: float = 1.0
) -> np.ndarray:
    """Flow from each pixel of grey frame ``first`` to its match in grey frame ``second``, at full size.

    With ``scale`` < 1 the flow is computed on frames shrunk by that factor and
    scaled back up: DIS's cost falls with the area, and a flow is smooth, so a
    half-size flow is nearly as good for warping (measured in the benchmark).
    """
    h, w = first.shape[:2]
    small = estimator.calc(downscale(first, scale), downscale(second, scale), None)
    return upscale_flow(small, w, h)


@functools.lru_cache(maxsize=4)
def _pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    grid_x.flags.writeable = False
    grid_y.flags.writeable = False
    return grid_x, grid_y


def flow_maps(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sampling maps ``x + flow(x)`` for :func:`cv2.remap`."""
    grid_x, grid_y = _pixel_grid(*flow.shape[:2])
    flow_x, flow_y = cv2.split(flow)  # contiguous planes: adding strided views costs a copy each
    return cv2.add(grid_x, flow_x), cv2.add(grid_y, flow_y)


def upscaled_maps(flow: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """``flow_maps(upscale_flow(flow, width, height))`` in fewer passes over the big frame."""
    h, w = flow.shape[:2]
    flow_x, flow_y = cv2.split(cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR))
    grid_x, grid_y = _pixel_grid(height, width)
    return cv2.scaleAdd(flow_x, width / w, grid_x), cv2.scaleAdd(flow_y, height / h, grid_y)


def warp(
    image: np.ndarray,
    flow: np.ndarray,
    *,
    interpolation: int = cv2.INTER_LINEAR,
    maps: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Sample ``image`` at ``x + flow(x)`` (edges replicated); ``maps`` = ``flow_maps(flow)`` if already made."""
    map_x, map_y = maps or flow_maps(flow)
    return cv2.remap(image, map_x, map_y, interpolation, borderMode=cv2.BORDER_REPLICATE)


def inside_frame(maps: tuple[np.ndarray, np.ndarray], margin: float = 0.0) -> np.ndarray:
    """Pixels whose match lies inside the other frame (``margin`` px from its edge); the rest enter the frame."""
    map_x, map_y = maps
    h, w = map_x.shape[:2]
    return (map_x >= margin) & (map_x <= w - 1 - margin) & (map_y >= margin) & (map_y <= h - 1 - margin)


def loop_error(
    backward: np.ndarray, forward: np.ndarray, maps: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Squared length of the backward-then-forward round trip per pixel, and the squared motion there.

    Following the backward flow (t -> t-1) and then the forward flow
    (t-1 -> t) must come back to the start where a pixel is visible in both
    frames; occluded, disoccluded or badly matched pixels do not.
    """
    maps = maps or flow_maps(backward)
    forward_there = cv2.remap(forward, *maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    loop = cv2.add(backward, forward_there)
    loop_sq = cv2.magnitude(loop[..., 0], loop[..., 1]) ** 2
    magnitude_sq = cv2.magnitude(backward[..., 0], backward[..., 1]) ** 2
    magnitude_sq += cv2.magnitude(forward_there[..., 0], forward_there[..., 1]) ** 2
    return loop_sq, magnitude_sq


def consistent_flow(
    backward: np.ndarray, forward: np.ndarray, maps: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """Pixels of frame t whose backward flow (t -> t-1) is confirmed by the forward flow (t-1 -> t).

    The forward-backward test of Sundaram et al. (2010): following the backward
    flow and then the forward flow must come back near the start; pixels that do
    not (occluded or disoccluded, or badly matched) and pixels whose match lies
    outside the previous frame are excluded. ``maps`` are ``flow_maps(backward)`` if already made.
    """
    maps = maps or flow_maps(backward)
    loop_sq, magnitude_sq = loop_error(backward, forward, maps)
    return inside_frame(maps) & (loop_sq <= CONSISTENCY_SHARE * magnitude_sq + CONSISTENCY_SLACK_PX2)


def camera_motion(flow: np.ndarray, trusted: np.ndarray | None = None, step: int = 8) -> np.ndarray:
    """The affine motion (2x3) that best explains ``flow``: the camera's pan, zoom and roll.

    A least-squares fit on a grid of trusted pixels, refitted once without the
    pixels it explains worst (moving subjects), so a subject does not pull it.
    """
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[0:h:step, 0:w:step]
    f = flow[::step, ::step].reshape(-1, 2).astype(np.float64)
    pts = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)], axis=1).astype(np.float64)
    keep = np.ones(len(f), bool) if trusted is None else trusted[::step, ::step].ravel().astype(bool)
    model = np.zeros((3, 2))
    for _ in range(2):
        if np.count_nonzero(keep) < 12:
            return np.zeros((2, 3), np.float32)
        model, *_ = np.linalg.lstsq(pts[keep], f[keep], rcond=None)
        err = np.hypot(*(pts @ model - f).T)
        keep &= err <= max(1.0, 2.0 * float(np.median(err[keep])))
    return model.T.astype(np.float32)


def camera_deviation(flow: np.ndarray, trusted: np.ndarray | None = None) -> np.ndarray:
    """Per pixel, how far (px) the flow departs from the camera's affine motion: large on moving things."""
    model = camera_motion(flow, trusted)
    h, w = flow.shape[:2]
    grid_x, grid_y = _pixel_grid(h, w)
    fx = model[0, 0] * grid_x + model[0, 1] * grid_y + model[0, 2]
    fy = model[1, 0] * grid_x + model[1, 1] * grid_y + model[1, 2]
    return cv2.magnitude(flow[..., 0] - fx, flow[..., 1] - fy)


def estimate_gain(reference: np.ndarray, current: np.ndarray, trusted: np.ndarray | None = None) -> np.ndarray:
    """Per-channel light gain ``g`` with ``current ~= g * reference``, robust to moving or occluded pixels.

    The median of the per-pixel ratios over ``trusted`` pixels that are neither
    dark nor clipped: a moving subject or a flow error moves single ratios,
    not their median. Returns float32 of shape (channels,); 1 where too few
    pixels can tell.
    """
    ref = reference.reshape(-1, 1 if reference.ndim == 2 else reference.shape[2]).astype(np.float32)
    cur = current.reshape(ref.shape).astype(np.float32)
    usable = (ref > GAIN_DARK) & (ref < 250.0) & (cur < 250.0)
    if trusted is not None:
        usable &= trusted.reshape(-1, 1)
    gains = np.ones(ref.shape[1], np.float32)
    for c in range(ref.shape[1]):
        m = usable[:, c]
        if np.count_nonzero(m) >= max(16, 0.02 * m.size):
            gains[c] = np.clip(np.median(cur[m, c] / ref[m, c]), *GAIN_LIMITS)
    return gains


def light_readings(
    source: np.ndarray, picture: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per channel, how a stylised picture follows its source's brightness: ``(ratio of means, slope)``.

    The ratio of the picture's mean to the source's is the response if the
    whole picture scales with the light; the slope ``a`` of the least-squares
    line ``picture ~= a * source + b`` (clipped to 0-2) is the response if only
    the part that follows the source does (a style's own tint or flattened
    contrast staying put): 1 for a picture that keeps the source's light.
    ``weights`` (float, the frames' height and width) weigh the pixels.
    """
    channels = 1 if source.ndim == 2 else source.shape[2]
    src = source.reshape(-1, channels).astype(np.float64)
    pic = picture.reshape(-1, channels).astype(np.float64)
    weight = np.ones((len(src), 1)) if weights is None else weights.reshape(-1, 1).astype(np.float64)
    total = float(weight.sum())
    # Products and sums, not matrix products: numpy's BLAS wakes threads of its own for ``weight @ src``,
    # which then spin on the cores the motion mode's flow worker and frame I/O need (25 -> 20 frames/s).
    mean_source, mean_picture = (weight * src).sum(axis=0) / total, (weight * pic).sum(axis=0) / total
    ratio = mean_picture / np.maximum(mean_source, 1.0)
    src -= mean_source
    pic -= mean_picture
    variance, covariance = (weight * src * src).sum(axis=0), (weight * src * pic).sum(axis=0)
    slope = np.where(variance > 1e-3 * total, covariance / np.maximum(variance, 1e-6), 1.0)
    return ratio, np.clip(slope, 0.0, 2.0)


def local_gain(
    reference: np.ndarray, current: np.ndarray, trusted: np.ndarray, fallback: np.ndarray, cells: int = LIGHT_CELLS
) -> np.ndarray:
    """Per-pixel, per-channel light gain (float32, the frames' size and channels) with ``current ~= g * reference``.

    A lamp lights one side of a room, a cloud's shadow crosses a field: one
    gain for the frame would follow neither. The gain is read per cell of a
    coarse grid (``cells`` along the long side) as the ratio of the trusted,
    usable pixels' sums, and smoothed across cells; a cell with few such
    pixels leans on ``fallback`` (the frame's robust global gain).
    """
    h, w = reference.shape[:2]
    grid = (max(1, round(cells * w / max(h, w))), max(1, round(cells * h / max(h, w))))
    ref = reference.astype(np.float32)
    cur = current.astype(np.float32)
    usable = (ref > GAIN_DARK) & (ref < 250.0) & (cur < 250.0)
    usable &= trusted if ref.ndim == 2 else trusted[..., None]
    usable = usable.astype(np.float32)
    ref_sum = cv2.resize(ref * usable, grid, interpolation=cv2.INTER_AREA)
    cur_sum = cv2.resize(cur * usable, grid, interpolation=cv2.INTER_AREA)
    share = cv2.resize(usable, grid, interpolation=cv2.INTER_AREA)
    gain = np.clip(cur_sum / np.maximum(ref_sum, 1e-3), *GAIN_LIMITS)
    # A cell a quarter usable is trusted fully; below that its gain fades to the frame's.
    confidence = np.clip(share * 4.0, 0.0, 1.0)
    fallback = np.asarray(fallback, np.float32)
    gain = confidence * gain + (1.0 - confidence) * (fallback[: gain.shape[2]] if gain.ndim == 3 else fallback[0])
    smooth = cv2.resize(gain.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(smooth, *GAIN_LIMITS)


def apply_gain(image: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """``image`` times a per-channel gain, rounded and saturated to 8 bits (unchanged when all gains are 1)."""
    if np.all(gains == 1.0):
        return image
    if image.ndim == 2:
        return cv2.multiply(image, float(gains[0]))
    return cv2.multiply(image, tuple(float(g) for g in gains) + (0.0,) * (4 - len(gains)))


def unexplained_share(previous_small: np.ndarray, current_small: np.ndarray, backward_small: np.ndarray) -> float:
    """Share (0-1) of a small grey frame that the motion and a global light change do not explain."""
    maps = flow_maps(backward_small)
    warped = warp(previous_small, backward_small, maps=maps)
    inside = inside_frame(maps)
    gain = estimate_gain(warped[::2, ::2], current_small[::2, ::2], inside[::2, ::2])
    residual = cv2.absdiff(current_small, apply_gain(warped, gain))
    unexplained = (residual > CUT_LEVEL) | ~inside
    return float(np.count_nonzero(unexplained)) / unexplained.size


class CutDetector:
    """Find hard scene cuts: frames whose picture the previous frame's motion cannot explain.

    A cut makes most of the picture new at once; a fast pan, a shake or a
    light change do not (the flow follows the pan, the gain follows the
    light). Works on small grey frames, so it costs well under a millisecond.
    """

    def __init__(self, threshold_pct: float, estimator: cv2.DISOpticalFlow | None = None) -> None:
        self.threshold = threshold_pct / 100.0
        self.estimator = estimator or make_flow_estimator("ultrafast")

    def small(self, gray: np.ndarray) -> np.ndarray:
        """The frame as the detector looks at it."""
        return downscale(gray, CUT_SIDE / max(gray.shape[:2]))

    def score(self, previous_small: np.ndarray, current_small: np.ndarray) -> float:
        """Share (0-1) of the current small frame that is new."""
        backward = self.estimator.calc(current_small, previous_small, None)
        return unexplained_share(previous_small, current_small, backward)

    def is_cut(self, previous_small: np.ndarray, current_small: np.ndarray) -> bool:
        """True when the change from the previous small frame to this one is a hard cut (threshold 0 = never)."""
        if self.threshold <= 0:
            return False
        return self.score(previous_small, current_small) >= self.threshold


def find_cuts(frames: list[np.ndarray], threshold_pct: float) -> list[int]:
    """Indices t of ``frames`` (BGR or grey) where a new shot starts (a cut between t - 1 and t)."""
    detector = CutDetector(threshold_pct)
    cuts, previous = [], None
    for t, frame in enumerate(frames):
        small = detector.small(to_gray(frame))
        if previous is not None and detector.is_cut(previous, small):
            cuts.append(t)
        previous = small
    return cuts
