"""Flicker analysis: how much flicker DFI removed, how much of the render survived, how strong its trails are.

No ground truth is needed: the SOURCE frames tell where the picture should be
still (or move along the source's optical flow), so any change of the
generated or output frames there is flicker.

Per frame t >= 1, for the generated sequence and for the output sequence:

- **static flicker**: mean absolute change ``|x_t - x_{t-1}|`` (grey levels,
  averaged over the three channels) in the pixels where the source is still,
  with DFI's own definition (:func:`abysz_lab.dfi.stability_mask`);
- **flicker** (motion-compensated, everywhere): ``|x_t - warp(x_{t-1})|`` where
  ``warp`` follows the optical flow of the SOURCE (OpenCV DIS). Pixels are
  measured only where the flow passes a forward-backward check and the warped
  source itself matches within the tolerance, so occlusions, scene cuts and
  real lighting changes in the source are not counted as flicker;
- **fidelity** of the output to the generated frame: PSNR and SSIM;
- **ghosting** (trail opacity, %): in the places the source swept recently
  (something crossed or uncovered them in the last few frames, beyond what the
  camera's motion explains) and that are still now, how much the output keeps
  that the generated frames do not have, relative to the contrast of what was
  swept away (:class:`TrailMeter`): 0 without trails, about 30 for trails of
  30 % opacity. Until 0.2 this figure was the share of moving pixels that held
  on to the past, which missed the faint trails a held background keeps;
- mean luminance of source, generated and output.

The pure functions work on numpy arrays; :class:`FrameAnalyzer` accumulates a
clip frame by frame; :func:`analyze_folders` streams folders through it;
:func:`render_plot` and :func:`heatmap_image` draw what users look at.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from abysz_lab import params as prm
from abysz_lab.dfi import HELD, pair_frames, stability_mask
from abysz_lab.errors import InputError
from abysz_lab.flow import (
    apply_gain,
    compute_flow,
    consistent_flow,
    estimate_gain,
    flow_maps,
    inside_frame,
    make_flow_estimator,
    to_gray,
)
from abysz_lab.frames import (
    check_output_folder,
    fit_to_size,
    list_frames,
    read_ahead,
    read_frame,
    write_bytes_atomic,
    write_frame,
)
from abysz_lab.jobs import SIDECAR_SUFFIX, CancelToken, ProgressCallback, report
from abysz_lab.locks import folder_lock

FLOW_PRESET = "fast"  # DIS preset of the source's optical flow (about 3 ms per 512x512 pair)
MIN_MEASURED_SHARE = 0.005  # below this share of measured pixels a frame's flicker is undefined (NaN)
CUT_MEASURED_SHARE = 0.15  # a frame whose flow explains less of the picture than this follows a scene cut
GHOST_WINDOW = 8  # frames after the source swept a pixel during which the output is watched for a trail there
# A frame's trail opacity is shown only when at least this share of its pixels was watched (fewer say little).
MIN_TRAIL_SHARE = 0.001
CAMERA_SLACK_PX = 1.0  # a pixel whose flow lands this close to the camera's (affine) motion moves with the camera
SSIM_SIGMA = 1.5  # Wang et al. 2004, the usual Gaussian window
SSIM_WINDOW = 11
# DIS optical flow fails below 12 pixels and SSIM leaves out a 5-pixel border: smaller frames cannot be measured.
MIN_FRAME_SIDE = 16


@dataclass(frozen=True)
class AnalysisParams:
    """The analysis settings. Ranges, defaults and help are read by the UI and the CLI."""

    tolerance: float = prm.param(
        5.0,
        label="Stability tolerance",
        help="Grey levels a source pixel may change and still count as still, as in DFI. Use the tolerance "
        "of the DFI run you are judging.",
        minimum=0.5,
        maximum=20.0,
        step=0.5,
    )
    ghost_threshold: float = prm.param(
        12.0,
        label="Ghost contrast",
        help="Grey levels by which what the source swept away must differ from what is there now for a place to "
        "be watched for trails (a trail of something alike is invisible).",
        minimum=1.0,
        maximum=100.0,
        step=1.0,
    )
    heatmap_max: float = prm.param(
        24.0,
        label="Heat map range",
        help="Frame-to-frame change (grey levels) shown at full heat in the flicker heat map.",
        minimum=1.0,
        maximum=128.0,
        step=1.0,
    )

    def __post_init__(self) -> None:
        prm.validate(self)


# --- pure metrics -------------------------------------------------------------------------


def abs_change(current: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Per-pixel ``|current - previous|`` of two 8-bit frames as float32, averaged over colour channels."""
    diff = cv2.absdiff(current, previous).astype(np.float32)  # exact on 8 bits
    return cv2.transform(diff, np.full((1, 3), 1.0 / 3.0)) if diff.ndim == 3 else diff


def _mask8(mask: np.ndarray) -> np.ndarray:
    """A boolean mask as the 0/1 8-bit mask OpenCV takes (no copy when contiguous)."""
    return np.ascontiguousarray(mask).view(np.uint8)


def _enough(mask: np.ndarray) -> bool:
    return cv2.countNonZero(_mask8(mask)) >= max(1, MIN_MEASURED_SHARE * mask.size)


def mean_change(current: np.ndarray, previous: np.ndarray, mask: np.ndarray) -> float:
    """Mean ``|current - previous|`` (grey levels, channels averaged) where ``mask`` is true; NaN if too few."""
    if not _enough(mask):
        return math.nan
    channels = 1 if current.ndim == 2 else current.shape[2]
    means = cv2.mean(cv2.absdiff(current, previous), mask=_mask8(mask))
    return float(sum(means[:channels]) / channels)


def static_flicker(previous: np.ndarray, current: np.ndarray, stable: np.ndarray) -> float:
    """Mean absolute frame-to-frame change (grey levels) in the source-stable pixels."""
    return mean_change(current, previous, stable)


@dataclass(frozen=True)
class SourceMotion:
    """The source's motion between two frames, for warping the generated and output frames."""

    backward: np.ndarray  # flow t -> t-1, (H, W, 2) float32
    measured: np.ndarray  # bool: pixels where motion-compensated flicker is measured
    stable: np.ndarray  # bool: pixels where the source is still (DFI's definition)
    moved: np.ndarray  # bool: pixels where the source changed by more than the tolerance
    maps: tuple[np.ndarray, np.ndarray]  # flow_maps(backward), for cv2.remap

    def warp_previous(self, previous: np.ndarray) -> np.ndarray:
        """Frame t-1 moved along the source's flow onto frame t."""
        return cv2.remap(previous, *self.maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def source_motion(
    previous_source: np.ndarray, source: np.ndarray, tolerance: float, estimator: cv2.DISOpticalFlow | None = None
) -> SourceMotion:
    """Optical flow of the source between t-1 and t, and which pixels it explains."""
    estimator = estimator or make_flow_estimator(FLOW_PRESET)
    prev_gray, gray = to_gray(previous_source), to_gray(source)
    # Full size: the analysis judges pixel-level flicker, where a reduced-size flow would smear edges.
    backward = compute_flow(estimator, gray, prev_gray)
    forward = compute_flow(estimator, prev_gray, gray)
    maps = flow_maps(backward)
    measured = consistent_flow(backward, forward, maps)
    # The warped source must itself match: this drops real lighting changes and scene cuts,
    # which are changes in the video, not flicker.
    residual = cv2.absdiff(gray, cv2.remap(prev_gray, *maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
    measured &= residual <= math.floor(tolerance)
    stable = stability_mask(prev_gray, gray, tolerance) == HELD
    return SourceMotion(backward, measured, stable, ~stable, maps)


def flicker_map(previous: np.ndarray, current: np.ndarray, motion: SourceMotion) -> np.ndarray:
    """Per-pixel motion-compensated change ``|x_t - warp(x_{t-1})|`` (grey levels; 0 where not measured)."""
    change = abs_change(current, motion.warp_previous(previous))
    change[~motion.measured] = 0.0
    return change


def motion_flicker(previous: np.ndarray, current: np.ndarray, motion: SourceMotion) -> float:
    """Mean motion-compensated change ``|x_t - warp(x_{t-1})|`` (grey levels) over the measured pixels."""
    return mean_change(current, motion.warp_previous(previous), motion.measured)


def still_with_camera(motion: SourceMotion, where: np.ndarray | None = None) -> np.ndarray:
    """Pixels whose change from t-1 to t the camera explains: still, or moving along the camera's motion.

    The camera's motion is an affine fit (RANSAC) to the source's flow on a
    grid of trusted pixels; a pixel moves with it when its flow lands within
    CAMERA_SLACK_PX of the fit. A subject moving across the picture, what it
    covers and uncovers, and a scene cut are not still. ``where`` limits the
    work to those pixels: outside them only the still ones are reported.
    """
    result = motion.stable.copy()
    h, w = result.shape
    step = max(2, min(h, w) // 48)
    trusted = motion.measured[::step, ::step]
    if np.count_nonzero(trusted) < 16:
        return result
    rows, cols = np.nonzero(trusted)
    rows, cols = rows * step, cols * step
    map_x, map_y = motion.maps
    start = np.stack([cols, rows], axis=-1).astype(np.float32)
    landed = np.stack([map_x[rows, cols], map_y[rows, cols]], axis=-1)
    model, _ = cv2.estimateAffine2D(start, landed, method=cv2.RANSAC, ransacReprojThreshold=CAMERA_SLACK_PX)
    if model is None:
        return result
    asked = motion.measured & ~motion.stable
    if where is not None:
        asked &= where
    rows, cols = np.nonzero(asked)
    off_x = map_x[rows, cols] - (model[0, 0] * cols + model[0, 1] * rows + model[0, 2])
    off_y = map_y[rows, cols] - (model[1, 0] * cols + model[1, 1] * rows + model[1, 2])
    result[rows, cols] = off_x * off_x + off_y * off_y <= CAMERA_SLACK_PX * CAMERA_SLACK_PX
    return result


@dataclass(frozen=True)
class TrailSums:
    """What :class:`TrailMeter` measured in one frame."""

    watched: int = 0  # pixels the source swept 2 to GHOST_WINDOW frames ago, still since
    kept: float = 0.0  # sum over them of (out - gen_t) * (out - warped gen_(t-1)), detail band
    fresh: float = 0.0  # sum of (gen_t - warped gen_(t-1))^2 / 2: what showing one generated frame would keep
    contrast: float = 0.0  # sum of (swept-away source - source now)^2, detail band

    def opacity_pct(self) -> float:
        """This frame's trail opacity in % (a point estimate, noisy); NaN when nothing was watched."""
        if self.watched == 0 or self.contrast <= 0:
            return math.nan
        return 100.0 * math.sqrt(max(0.0, self.kept - self.fresh) / self.contrast)


def trail_opacity_pct(frames: Iterable[TrailSums]) -> float:
    """A clip's trail opacity in %: about 30 for trails of 30 % opacity, 0 without trails (or nothing watched).

    The per-pixel excess of what the output keeps over what a freshly generated
    frame would is averaged over the frames (weighted by watched pixels) and
    lowered by two standard errors across frames before the square root, so
    the measure's own noise does not read as a faint trail: what is reported
    is the trail the clip shows beyond doubt. Faint trails read a little low
    on short clips.
    """
    watched = [f for f in frames if f.watched]
    total = sum(f.watched for f in watched)
    contrast = sum(f.contrast for f in watched)
    if total == 0 or contrast <= 0:
        return 0.0
    excess = np.array([(f.kept - f.fresh) / f.watched for f in watched])
    weights = np.array([f.watched for f in watched], dtype=np.float64) / total
    mean = float(np.dot(weights, excess))
    error = 0.0
    if len(watched) >= 3:
        spread = float(np.dot(weights, (excess - mean) ** 2))
        error = math.sqrt(spread / (len(watched) - 1))
    return 100.0 * math.sqrt(max(0.0, mean - 2.0 * error) / (contrast / total))


class TrailMeter:
    """Measure trails: the output keeping, where the source swept recently, what the generated frames lack.

    Per pixel it tracks how many frames ago the source last changed there in a
    way the camera's motion does not explain (by more than ``contrast`` grey
    levels: a subject crossed or uncovered it, or a scene cut;
    :func:`still_with_camera`), and what the source showed just before. That
    memory follows the source's flow, so it works under camera motion too.
    Pixels swept 2 to ``window`` frames ago, still since, and whose swept-away
    source differs from the source now by more than ``contrast`` are watched.

    Without ground truth, ``(out - gen_t) * (out - warp(gen_(t-1)))`` averages
    to the output's squared departure from what the generated frames agree on
    (their own flicker, independent from frame to frame, cancels out), and
    ``(gen_t - warp(gen_(t-1)))^2 / 2`` to a single generated frame's. A trail
    is the output departing more than a freshly generated frame would, in the
    same pixels, relative to the contrast of what the source swept away there:
    a trail of opacity ``a`` reads about ``a``; holding, refreshing or
    averaging without trails reads 0. A trail fainter than the generated
    frames' own flicker at that scale is not counted (it drowns in it), and an
    output that mixes the old picture into the current generated frame reads
    lower than the share it mixes. The comparison is made on the detail
    (what a box blur of 1/32 of the frame leaves): exposure, colour and blotch
    flicker are smooth and shared by large areas, a handful of random values
    per frame that would not average out over a clip, while a trail has the
    subject's edges and detail.
    """

    def __init__(self, window: int = GHOST_WINDOW, contrast: float = 12.0) -> None:
        self.window = window
        self.contrast = contrast
        self._memory: np.ndarray | None = None  # float32 grey: the source before the last sweep
        self._age: np.ndarray | None = None  # float32: frames since the last sweep

    @staticmethod
    def _detail(image: np.ndarray, size: int) -> np.ndarray:
        # A box blur costs the same at any size (a Gaussian this wide costs several times more).
        return image - cv2.blur(image, (size, size), borderType=cv2.BORDER_REFLECT)

    def add(
        self,
        motion: SourceMotion,
        previous: tuple[np.ndarray, np.ndarray],
        current: tuple[np.ndarray, np.ndarray, np.ndarray],
    ) -> TrailSums:
        """Add frame t and return what it measured (see :func:`trail_opacity_pct`).

        ``previous`` is the grey (source, generated) of t - 1, ``current`` the
        grey (source, generated, output) of t.
        """
        prev_src, prev_gen = previous
        src, gen, out = current
        if self._age is None:
            self._memory = prev_src.astype(np.float32)
            self._age = np.full(src.shape, np.float32(self.window + 1))
        else:
            # Memory and age travel together along the flow (one remap), except where the source is still:
            # there the flow is only noise, and following it would shift the memory by a pixel now and then.
            state = cv2.merge([self._memory, self._age])
            moved = cv2.remap(state, *motion.maps, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
            self._memory, self._age = cv2.split(np.where(motion.stable[..., None], state, moved))
        self._age += 1.0
        entered = ~inside_frame(motion.maps)
        carried, previous_gen = cv2.split(motion.warp_previous(cv2.merge([prev_src, prev_gen])))
        # A light change or a flow that is only unsure (flat areas) leaves the picture alike: not a sweep.
        light = estimate_gain(carried[::4, ::4], src[::4, ::4])  # a sample is enough for a median
        changed = (cv2.absdiff(src, apply_gain(carried, light)) > self.contrast) & ~entered
        swept = changed & ~still_with_camera(motion, changed)
        self._memory[swept] = prev_src[swept]
        self._age[swept] = 0.0
        self._age[entered] = np.float32(self.window + 1)  # picture that came into view has no past
        src_f = src.astype(np.float32)
        h, w = src.shape
        size = 2 * max(2, round(min(h, w) / 64)) + 1
        # The detail of a pixel is measured over a box around it: keep the box clear of what moves now.
        moving_near = cv2.dilate(_mask8(self._age < 2.0), np.ones((size, size), np.uint8)).view(bool)
        watched = (self._age >= 2.0) & (self._age <= self.window) & ~moving_near
        watched &= cv2.absdiff(self._memory, src_f) > self.contrast
        count = cv2.countNonZero(_mask8(watched))
        if count == 0:
            return TrailSums()
        out_f, gen_f = out.astype(np.float32), gen.astype(np.float32)
        # Where the source did not move, the previous frame needs no warp: a warp's interpolation would
        # soften its detail and count as flicker of the generated frames (fresh), inflating the baseline.
        previous_gen = np.where(motion.stable, prev_gen, previous_gen).astype(np.float32)
        to_now = self._detail(out_f - gen_f, size)
        to_previous = self._detail(out_f - previous_gen, size)
        generated_change = self._detail(gen_f - previous_gen, size)[watched]
        swept_away = self._detail(self._memory - src_f, size)[watched]
        return TrailSums(
            count,
            float(np.dot(to_now[watched], to_previous[watched])),
            float(np.dot(generated_change, generated_change)) / 2.0,
            float(np.dot(swept_away, swept_away)),
        )


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error over all pixels and channels."""
    return float(cv2.norm(a, b, cv2.NORM_L2SQR)) / a.size


def psnr_from_mse(value: float, peak: float = 255.0) -> float:
    """PSNR in dB for a mean squared error (infinite for identical images)."""
    return math.inf if value <= 0 else 10.0 * math.log10(peak * peak / value)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two 8-bit images in dB (infinite when identical)."""
    return psnr_from_mse(mse(a, b))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity (Wang et al. 2004) of the luma (Rec. 601 grey) of two 8-bit images.

    Computed on luma, as video quality tools usually do, at a third of the cost
    of per-channel SSIM. Gaussian window sigma 1.5 (11 x 11), K1 = 0.01,
    K2 = 0.03, L = 255; the mean leaves out a 5-pixel border, as scikit-image's
    ``structural_similarity`` with ``gaussian_weights=True`` does, so the two agree.
    """
    if a.shape != b.shape:
        msg = f"SSIM needs images of the same size, got {a.shape} and {b.shape}."
        raise ValueError(msg)
    if min(a.shape[:2]) < SSIM_WINDOW:
        # The border left out of the mean would leave nothing to average.
        msg = f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels, got {a.shape[1]}x{a.shape[0]}."
        raise ValueError(msg)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    x, y = to_gray(a).astype(np.float32), to_gray(b).astype(np.float32)

    def blur(img: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(img, (SSIM_WINDOW, SSIM_WINDOW), SSIM_SIGMA, borderType=cv2.BORDER_REFLECT)

    mu_x, mu_y = blur(x), blur(y)
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    var_x = blur(x * x) - mu_xx
    var_y = blur(y * y) - mu_yy
    cov = blur(x * y) - mu_xy
    ssim_map = ((2 * mu_xy + c1) * (2 * cov + c2)) / ((mu_xx + mu_yy + c1) * (var_x + var_y + c2))
    pad = (SSIM_WINDOW - 1) // 2
    return float(cv2.mean(ssim_map[pad:-pad, pad:-pad])[0])


def check_frame_size(width: int, height: int) -> None:
    """Raise InputError when frames are too small for the optical flow and SSIM the analysis uses."""
    if min(width, height) < MIN_FRAME_SIDE:
        msg = (
            f"Analysis needs frames of at least {MIN_FRAME_SIDE}x{MIN_FRAME_SIDE} pixels; these are {width}x{height}. "
            "Use larger frames (the full-size renders, not thumbnails)."
        )
        raise InputError(msg)


def mean_luminance(image: np.ndarray) -> float:
    """Mean Rec. 601 luma of an 8-bit frame (0-255)."""
    return float(cv2.mean(to_gray(image))[0])


def heatmap_image(change: np.ndarray, measured: np.ndarray, frame: np.ndarray, max_level: float = 24.0) -> np.ndarray:
    """Colour a per-pixel change map (0 .. ``max_level`` grey levels -> dark .. bright heat), BGR 8-bit.

    Pixels that were not measured (occluded, scene cut, lighting change) show
    the frame itself, dimmed and grey, so the picture stays recognisable.
    """
    scaled = np.clip(change * (255.0 / max_level), 0, 255).astype(np.uint8)
    heat = cv2.applyColorMap(scaled, cv2.COLORMAP_INFERNO)
    grey = cv2.cvtColor(to_gray(frame) // 2, cv2.COLOR_GRAY2BGR)
    heat[~measured] = grey[~measured]
    return heat


# --- a clip, frame by frame ----------------------------------------------------------------

CURVES = (
    "flicker_generated",
    "flicker_output",
    "static_flicker_generated",
    "static_flicker_output",
    "psnr_db",
    "ssim",
    "ghosting_pct",
    "luma_source",
    "luma_generated",
    "luma_output",
    "stable_pct",
    "measured_pct",
)


@dataclass(frozen=True)
class AnalysisSummary:
    """The clip's figures: flicker of generated vs output, fidelity, ghosting."""

    frames: int
    has_output: bool
    flicker_generated: float  # mean motion-compensated flicker, grey levels
    static_flicker_generated: float  # mean flicker in source-stable pixels, grey levels
    flicker_output: float = math.nan
    static_flicker_output: float = math.nan
    psnr_db: float = math.nan  # of the output against the generated frames, from the clip's mean MSE
    ssim: float = math.nan
    ghosting_pct: float = math.nan  # opacity of the trails the output leaves where something moved, %

    @property
    def flicker_change_pct(self) -> float:
        """Change of the output's flicker relative to the generated frames' (negative = less flicker)."""
        if not self.has_output or not self.flicker_generated > 0:
            return math.nan
        return 100.0 * (self.flicker_output / self.flicker_generated - 1.0)

    @property
    def text(self) -> str:
        """One line, e.g. ``flicker -72 %, fidelity 31.4 dB, ghosting 2.1 %``."""
        if not self.has_output:
            return f"flicker {_fmt(self.flicker_generated, '.2f')} grey levels per frame (generated frames only)"
        fidelity = "identical" if self.psnr_db == math.inf else f"{_fmt(self.psnr_db, '.1f')} dB"
        return (
            f"flicker {_fmt(self.flicker_change_pct, '+.0f')} %, fidelity {fidelity}, "
            f"ghosting {_fmt(self.ghosting_pct, '.1f')} %"
        )

    def as_dict(self) -> dict[str, float | int | bool | str | None]:
        """JSON-ready figures (non-finite numbers as None)."""
        out: dict[str, float | int | bool | str | None] = {
            "frames": self.frames,
            "has_output": self.has_output,
            "flicker_generated": self.flicker_generated,
            "flicker_output": self.flicker_output,
            "flicker_change_pct": self.flicker_change_pct,
            "static_flicker_generated": self.static_flicker_generated,
            "static_flicker_output": self.static_flicker_output,
            "psnr_db": self.psnr_db,
            "ssim": self.ssim,
            "ghosting_pct": self.ghosting_pct,
        }
        return {k: _finite_or_none(v) for k, v in out.items()} | {"text": self.text}


@dataclass(frozen=True)
class HeatMap:
    """Where flicker remains in one frame: the coloured map and the frame's mean flicker."""

    index: int
    name: str
    image: np.ndarray  # BGR 8-bit
    flicker: float
    sequence: str  # "output" or "generated"

    @property
    def number(self) -> int:
        """The frame number a user sees: counted from 1, as extracted frames are (frame_00001 is 1)."""
        return self.index + 1


@dataclass
class AnalysisResult:
    """Everything an analysis found: the summary, per-frame curves, a heat map."""

    summary: AnalysisSummary
    curves: dict[str, np.ndarray]  # name -> one value per frame (NaN where undefined, e.g. frame 0)
    names: list[str]
    heatmap: HeatMap | None = None
    params: AnalysisParams = field(default_factory=AnalysisParams)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def fps(self) -> float:
        """Frames analysed per second."""
        return self.summary.frames / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        """JSON-ready content: summary, parameters, per-frame rows."""
        return {
            "summary": self.summary.as_dict(),
            "params": prm.as_dict(self.params),
            "warnings": self.warnings,
            "seconds": self.seconds,
            # "heatmap_frame" counts from 1 like --heatmap-frame and the files; "heatmap_index" is 0-based.
            "heatmap_frame": None if self.heatmap is None else self.heatmap.number,
            "heatmap_index": None if self.heatmap is None else self.heatmap.index,
            "frames": self.rows(),
        }

    def rows(self) -> list[dict]:
        """One dict per frame: frame (from 1), index (from 0), name and every curve (None where undefined)."""
        return [
            {"frame": i + 1, "index": i, "name": name}
            | {k: _finite_or_none(float(v[i])) for k, v in self.curves.items()}
            for i, name in enumerate(self.names)
        ]

    def table(self) -> str:
        """The summary as a small fixed-width table for a terminal."""
        s = self.summary
        lines = [f"{'metric':<34}{'generated':>12}{'output':>12}"]

        def row(label: str, gen: float, out: float, spec: str) -> None:
            lines.append(f"{label:<34}{_fmt(gen, spec):>12}{_fmt(out, spec):>12}")

        row("flicker, motion-compensated", s.flicker_generated, s.flicker_output, ".2f")
        row("flicker, source-still pixels", s.static_flicker_generated, s.static_flicker_output, ".2f")
        if s.has_output:
            row("flicker change %", math.nan, s.flicker_change_pct, "+.1f")
            row("fidelity PSNR dB (vs generated)", math.nan, s.psnr_db, ".2f")
            row("fidelity SSIM (vs generated)", math.nan, s.ssim, ".4f")
            row("ghosting (trail opacity %)", math.nan, s.ghosting_pct, ".2f")
        # Without an output its luma curve is all NaN, and np.nanmean would warn "Mean of empty slice".
        gen_l, out_l = _finite_mean(self.curves["luma_generated"]), _finite_mean(self.curves["luma_output"])
        row("mean luminance", gen_l, out_l if s.has_output else math.nan, ".1f")
        return "\n".join(lines)


def _finite_mean(values: np.ndarray) -> float:
    """Mean of the finite values (NaN when there are none), without numpy's empty-slice warning."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else math.nan


def _more_flicker(new: float, kept: float) -> bool:
    """True when ``new`` beats ``kept`` (a measured frame always beats an unmeasured one)."""
    return not math.isnan(new) and (math.isnan(kept) or new > kept)


def _finite_or_none(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fmt(value: float, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if value == math.inf:
        return "inf"
    return format(value, spec)


class FrameAnalyzer:
    """Accumulate the metrics of a clip one frame at a time (frames in memory, no I/O).

    Give every frame the same size; fit the source to the generated size first
    (:func:`abysz_lab.frames.fit_to_size`). ``heatmap_frame`` picks the frame
    whose heat map is kept; None keeps the frame with the most remaining flicker.
    """

    def __init__(self, params: AnalysisParams | None = None, *, heatmap_frame: int | None = None) -> None:
        self.params = params or AnalysisParams()
        self.heatmap_frame = heatmap_frame
        self._estimator = make_flow_estimator(FLOW_PRESET)
        self._values: dict[str, list[float]] = {k: [] for k in CURVES}
        self._names: list[str] = []
        self._previous: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None
        self._previous_grays: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None
        self._has_output: bool | None = None
        self._trails = TrailMeter(contrast=self.params.ghost_threshold)
        self._trail_frames: list[TrailSums] = []
        self._sq_error = 0.0
        self._heatmap: HeatMap | None = None

    @property
    def size(self) -> tuple[int, int] | None:
        """``(height, width)`` of the frames added so far (None before the first)."""
        return None if self._previous is None else self._previous[1].shape[:2]

    def add(
        self,
        source: np.ndarray,
        generated: np.ndarray,
        output: np.ndarray | None = None,
        name: str = "",
        *,
        motion: SourceMotion | None = None,
    ) -> None:
        """Add the next frame of the clip.

        ``motion`` is :func:`source_motion` of the previous and this source
        frame, when it was computed elsewhere (e.g. on a reader thread).
        """
        index = len(self._names)
        has_output = output is not None
        if self._has_output is None:
            self._has_output = has_output
        elif has_output != self._has_output:
            msg = "Give an output frame for every frame of the clip, or for none."
            raise ValueError(msg)
        size = generated.shape[:2]
        if index == 0:
            check_frame_size(size[1], size[0])
        if source.shape[:2] != size or (output is not None and output.shape[:2] != size):
            msg = f"Frame {index}: source, generated and output must have the same size; fit them first."
            raise ValueError(msg)
        values = dict.fromkeys(CURVES, math.nan)
        # Grey versions are used by several metrics: convert each frame once.
        grays = (to_gray(source), to_gray(generated), None if output is None else to_gray(output))
        values["luma_source"] = mean_luminance(grays[0])
        values["luma_generated"] = mean_luminance(grays[1])
        if output is not None:
            values["luma_output"] = mean_luminance(grays[2])
            frame_mse = mse(output, generated)
            self._sq_error += frame_mse
            values["psnr_db"] = psnr_from_mse(frame_mse)
            values["ssim"] = ssim(grays[2], grays[1])
        if self._previous is not None:
            self._add_changes(index, name, values, (source, generated, output), grays, motion)
        self._previous = (source, generated, output)
        self._previous_grays = grays
        self._names.append(name or str(index))
        for k, v in values.items():
            self._values[k].append(v)

    def _add_changes(
        self,
        index: int,
        name: str,
        values: dict[str, float],
        frames: tuple[np.ndarray, np.ndarray, np.ndarray | None],
        grays: tuple[np.ndarray, np.ndarray, np.ndarray | None],
        motion: SourceMotion | None,
    ) -> None:
        _, generated, output = frames
        _, prev_gen, prev_out = self._previous
        prev_grays = self._previous_grays
        if motion is None:
            motion = source_motion(prev_grays[0], grays[0], self.params.tolerance, self._estimator)
        values["stable_pct"] = 100.0 * np.count_nonzero(motion.stable) / motion.stable.size
        values["measured_pct"] = 100.0 * np.count_nonzero(motion.measured) / motion.measured.size
        if np.count_nonzero(motion.measured) < CUT_MEASURED_SHARE * motion.measured.size:
            # A scene cut (or a change too large to follow): the few pixels that match by chance
            # say nothing about flicker.
            nowhere = np.zeros_like(motion.measured)
            motion = SourceMotion(motion.backward, nowhere, nowhere, ~nowhere, motion.maps)
        values["flicker_generated"] = motion_flicker(prev_gen, generated, motion)
        values["static_flicker_generated"] = static_flicker(prev_gen, generated, motion.stable)
        shown, shown_previous, sequence = generated, prev_gen, "generated"
        if output is not None:
            values["flicker_output"] = motion_flicker(prev_out, output, motion)
            values["static_flicker_output"] = static_flicker(prev_out, output, motion.stable)
            sums = self._trails.add(motion, prev_grays[:2], grays)
            self._trail_frames.append(sums)
            if sums.watched >= max(1, MIN_TRAIL_SHARE * motion.measured.size):
                values["ghosting_pct"] = sums.opacity_pct()
            shown, shown_previous, sequence = output, prev_out, "output"
        flicker = values[f"flicker_{sequence}"]
        keep = (
            index == self.heatmap_frame
            if self.heatmap_frame is not None
            else self._heatmap is None or _more_flicker(flicker, self._heatmap.flicker)
        )
        if keep:
            change = flicker_map(shown_previous, shown, motion)
            image = heatmap_image(change, motion.measured, shown, self.params.heatmap_max)
            self._heatmap = HeatMap(index, name or str(index), image, flicker, sequence)

    def result(self, *, warnings: Iterable[str] = (), seconds: float = 0.0) -> AnalysisResult:
        """The summary and curves of the frames added so far."""
        frames = len(self._names)
        if frames == 0:
            msg = "Nothing to analyse: add at least one frame."
            raise ValueError(msg)
        curves = {k: np.asarray(v, dtype=np.float64) for k, v in self._values.items()}

        def mean(name: str) -> float:
            values = curves[name][np.isfinite(curves[name])]
            return float(values.mean()) if values.size else math.nan

        has_output = bool(self._has_output)
        summary = AnalysisSummary(
            frames=frames,
            has_output=has_output,
            flicker_generated=mean("flicker_generated"),
            static_flicker_generated=mean("static_flicker_generated"),
        )
        if has_output:
            summary = AnalysisSummary(
                frames=frames,
                has_output=True,
                flicker_generated=summary.flicker_generated,
                static_flicker_generated=summary.static_flicker_generated,
                flicker_output=mean("flicker_output"),
                static_flicker_output=mean("static_flicker_output"),
                psnr_db=psnr_from_mse(self._sq_error / frames),
                ssim=mean("ssim"),
                ghosting_pct=trail_opacity_pct(self._trail_frames),
            )
        return AnalysisResult(summary, curves, list(self._names), self._heatmap, self.params, list(warnings), seconds)


def analyze_frames(
    sources: Iterable[np.ndarray],
    generated: Iterable[np.ndarray],
    outputs: Iterable[np.ndarray] | None = None,
    params: AnalysisParams | None = None,
    *,
    heatmap_frame: int | None = None,
) -> AnalysisResult:
    """Analyse in-memory frame sequences (paired in order; sources are fitted to the generated size)."""
    analyzer = FrameAnalyzer(params, heatmap_frame=heatmap_frame)
    triples = (
        ((s, g, None) for s, g in zip(sources, generated, strict=False))
        if outputs is None
        else zip(sources, generated, outputs, strict=False)
    )
    for src, gen, out in triples:
        analyzer.add(fit_to_size(src, gen.shape[1], gen.shape[0]), gen, out)
    return analyzer.result()


# --- folders -------------------------------------------------------------------------------


def _read_triple(
    source: Path, generated: Path, output: Path | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    gen = read_frame(generated)
    h, w = gen.shape[:2]
    src = fit_to_size(read_frame(source), w, h)
    out = None if output is None else fit_to_size(read_frame(output), w, h)
    return src, gen, out


@dataclass(frozen=True)
class _Clip:
    sources: tuple[Path, ...]
    generated: tuple[Path, ...]
    outputs: tuple[Path, ...] | None
    warnings: tuple[str, ...]


def _pair_clip(
    source_dir: str | os.PathLike[str],
    generated_dir: str | os.PathLike[str],
    output_dir: str | os.PathLike[str] | None,
    frames_limit: int,
) -> _Clip:
    pairs = pair_frames(source_dir, generated_dir)
    count = pairs.count
    warnings = list(pairs.warnings)
    outputs = None
    if output_dir is not None and str(output_dir).strip():
        out_folder = list_frames(output_dir, role="output (stabilised) frames")
        # The resume sidecar of the run that wrote the output is expected there, not worth a warning.
        foreign = [f for f in out_folder.skipped_files if not f.name.endswith(SIDECAR_SUFFIX)]
        if foreign or out_folder.skipped_dirs:
            warnings.append(replace(out_folder, skipped_files=tuple(foreign)).skipped_summary)
        if len(out_folder) < count:
            warnings.append(
                f"The output folder has {len(out_folder)} frames and the inputs {count} pairs: "
                f"analysing the first {len(out_folder)}."
            )
            count = len(out_folder)
        outputs = out_folder.frames
    if frames_limit > 0:
        count = min(count, frames_limit)
    return _Clip(
        pairs.source.frames[:count],
        pairs.generated.frames[:count],
        None if outputs is None else outputs[:count],
        tuple(warnings),
    )


def analyze_folders(
    source_dir: str | os.PathLike[str],
    generated_dir: str | os.PathLike[str],
    output_dir: str | os.PathLike[str] | None = None,
    params: AnalysisParams | None = None,
    *,
    frames_limit: int = 0,
    heatmap_frame: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    workers: int = 2,
) -> AnalysisResult:
    """Analyse frame folders: source, generated and (optionally) the stabilised output.

    Frames are paired by natural order, like DFI pairs them; sources and outputs
    are fitted to the generated frame size. Frames are read ahead on ``workers``
    threads, so memory does not grow with the clip. Nothing is written. Raises
    InputError for unusable input and Cancelled when ``cancel`` is set.

    Examples
    --------
    >>> import tempfile
    >>> from abysz_lab.demo import make_demo_clip
    >>> from abysz_lab.dfi import run_dfi
    >>> clip = make_demo_clip(tempfile.mkdtemp(), frames=6, width=64, height=48)
    >>> _ = run_dfi(clip.source, clip.generated, clip.root / "out")
    >>> result = analyze_folders(clip.source, clip.generated, clip.root / "out")
    >>> result.summary.flicker_output < result.summary.flicker_generated  # DFI steadied the clip
    True
    """
    start = time.perf_counter()
    clip = _pair_clip(source_dir, generated_dir, output_dir, frames_limit)
    total = len(clip.generated)
    if total < 2:
        limit = " (raise the frames limit)" if 0 < frames_limit < 2 else ""
        msg = (
            f"Analysis needs at least 2 frames: flicker is measured between consecutive frames, and only {total} "
            f"can be paired{limit}."
        )
        raise InputError(msg)
    if heatmap_frame is not None and not 1 <= heatmap_frame < max(2, total):
        msg = f"Heat map frame {heatmap_frame + 1} is out of range: {_heatmap_range(total)}"
        raise InputError(msg)
    analyzer = FrameAnalyzer(params, heatmap_frame=heatmap_frame)
    cancel = cancel or CancelToken()
    report(progress, 0, total, start, "Starting")

    tolerance = analyzer.params.tolerance
    estimator = make_flow_estimator(FLOW_PRESET)  # used by the one flow thread only: estimators are not thread-safe
    first_size: tuple[int, int] | None = None

    def read(i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        return _read_triple(clip.sources[i], clip.generated[i], None if clip.outputs is None else clip.outputs[i])

    def analyse(index: int, frames: tuple, motion: Future | None) -> None:
        cancel.raise_if_cancelled(index, total, writes_frames=False)
        name = clip.generated[index].name
        analyzer.add(*frames, name, motion=None if motion is None else motion.result())
        report(progress, index + 1, total, start, name)

    # The source's optical flow, the costliest part, runs on its own thread one frame ahead
    # of the metrics, so the two overlap.
    pending: tuple[int, tuple, Future | None] | None = None
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="abysz-flow") as flow_thread,
        contextlib.closing(read_ahead(read, range(total), workers=workers, depth=workers + 2)) as reader,
    ):
        for index, frames in enumerate(reader):
            gen = frames[1]
            if first_size is None:
                check_frame_size(gen.shape[1], gen.shape[0])
                first_size = gen.shape[:2]
            elif gen.shape[:2] != first_size:
                msg = (
                    f"Generated frame {clip.generated[index].name} is {gen.shape[1]}x{gen.shape[0]}, unlike the "
                    "first one. All generated frames must have the same size."
                )
                raise InputError(msg)
            motion = None
            if pending is not None:
                previous_source = pending[1][0]
                motion = flow_thread.submit(source_motion, previous_source, frames[0], tolerance, estimator)
                analyse(*pending)
            pending = (index, frames, motion)
        if pending is not None:
            analyse(*pending)
    return analyzer.result(warnings=clip.warnings, seconds=time.perf_counter() - start)


def heatmap_for_frame(
    source_dir: str | os.PathLike[str],
    generated_dir: str | os.PathLike[str],
    output_dir: str | os.PathLike[str] | None,
    index: int,
    params: AnalysisParams | None = None,
) -> HeatMap:
    """The flicker heat map of frame ``index`` (>= 1) alone, e.g. for a frame slider in the UI."""
    params = params or AnalysisParams()
    clip = _pair_clip(source_dir, generated_dir, output_dir, 0)
    total = len(clip.generated)
    if not 1 <= index < total:
        msg = f"Heat map frame {index + 1} is out of range: {_heatmap_range(total)}"
        raise InputError(msg)
    analyzer = FrameAnalyzer(params, heatmap_frame=1)  # the analyzer counts from the pair's first frame
    for i in (index - 1, index):
        src, gen, out = _read_triple(
            clip.sources[i], clip.generated[i], None if clip.outputs is None else clip.outputs[i]
        )
        analyzer.add(src, gen, out, clip.generated[i].name)
    heatmap = analyzer.result().heatmap
    if heatmap is None:  # cannot happen with two frames; keeps the type checker honest
        msg = "No heat map could be computed."
        raise RuntimeError(msg)
    return HeatMap(index, heatmap.name, heatmap.image, heatmap.flicker, heatmap.sequence)


# --- pictures and reports ------------------------------------------------------------------


def _heatmap_range(total: int) -> str:
    # Messages count frames from 1, as users and extracted files do; frame 1 has no previous frame.
    return f"choose a frame between 2 and {total} (counted from 1; frame 1 has no previous frame)."


def plot_figure(result: AnalysisResult, *, width_px: int = 1100, dpi: int = 100):
    """The per-frame curves as a matplotlib Figure on an Agg canvas, frames counted from 1 on the x axis.

    Uses matplotlib's Agg canvas directly (no pyplot, no global backend, never a
    window), so it is safe inside a web server.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        from abysz_lab.errors import MissingDependencyError

        msg = "The analysis plot needs matplotlib: pip install matplotlib."
        raise MissingDependencyError(msg) from exc

    c = result.curves
    x = np.arange(1, result.summary.frames + 1)  # frame N is the N-th file, as users count
    has_output = result.summary.has_output
    panels = 3 if has_output else 2
    fig = Figure(figsize=(width_px / dpi, 2.4 * panels + 0.6), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(panels, 1, sharex=True)

    ax = axes[0]
    ax.plot(x, c["flicker_generated"], color="#d62728", label="generated")
    ax.plot(x, c["static_flicker_generated"], color="#d62728", linestyle=":", alpha=0.7, label="generated, still px")
    if has_output:
        ax.plot(x, c["flicker_output"], color="#1f77b4", label="output")
        ax.plot(x, c["static_flicker_output"], color="#1f77b4", linestyle=":", alpha=0.7, label="output, still px")
    ax.set_ylabel("flicker (grey levels)")
    ax.set_title(result.summary.text)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper right", fontsize="small", ncol=2)
    ax.grid(alpha=0.3)

    if has_output:
        ax = axes[1]
        ax.plot(x, c["ghosting_pct"], color="#9467bd", label="ghosting: trail opacity % (per frame, noisy)")
        ax.plot(x, 100.0 - c["stable_pct"], color="#7f7f7f", alpha=0.6, label="source moving % of frame")
        ax.set_ylabel("%")
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper right", fontsize="small")
        ax.grid(alpha=0.3)

    ax = axes[-1]
    ax.plot(x, c["luma_source"], color="#2ca02c", label="source")
    ax.plot(x, c["luma_generated"], color="#d62728", label="generated")
    if has_output:
        ax.plot(x, c["luma_output"], color="#1f77b4", label="output")
    ax.set_ylabel("mean luminance")
    ax.set_xlabel("frame (1 = first file)")
    ax.legend(loc="upper right", fontsize="small")
    ax.grid(alpha=0.3)

    fig.tight_layout()
    return fig


def render_plot(result: AnalysisResult, *, width_px: int = 1100, dpi: int = 100) -> bytes:
    """Draw the per-frame curves (flicker, ghosting, luminance) and return them as PNG bytes."""
    fig = plot_figure(result, width_px=width_px, dpi=dpi)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def plot_image(result: AnalysisResult) -> np.ndarray:
    """The per-frame plot as an 8-bit BGR array."""
    return cv2.imdecode(np.frombuffer(render_plot(result), np.uint8), cv2.IMREAD_COLOR)


@dataclass(frozen=True)
class ReportFiles:
    """The files :func:`write_report` wrote."""

    json: Path
    csv: Path
    plot: Path
    heatmap: Path | None


def csv_text(result: AnalysisResult) -> str:
    """The per-frame curves as CSV (one row per frame; empty cells where undefined)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["frame", "index", "name", *result.curves])
    for row in result.rows():
        writer.writerow(["" if v is None else (f"{v:.6g}" if isinstance(v, float) else v) for v in row.values()])
    return buffer.getvalue()


def write_report(
    result: AnalysisResult, folder: str | os.PathLike[str], *inputs: str | os.PathLike[str]
) -> ReportFiles:
    """Write ``analysis.json``, ``analysis.csv``, ``analysis.png`` and the heat map to ``folder``.

    ``inputs`` are the analysed folders: the report folder may not be one of
    them. Every file is written atomically.
    """
    out = check_output_folder(folder, *inputs)
    with folder_lock(out, "Analyze report"):  # one writer per folder
        json_path, csv_path, plot_path = out / "analysis.json", out / "analysis.csv", out / "analysis.png"
        write_bytes_atomic(json_path, json.dumps(result.as_dict(), indent=1, allow_nan=False).encode("utf-8"))
        write_bytes_atomic(csv_path, csv_text(result).encode("utf-8"))
        write_bytes_atomic(plot_path, render_plot(result))
        heat_path = None
        if result.heatmap is not None:
            heat_path = out / f"heatmap_{result.heatmap.number:05d}.png"  # named like frame_00005.png
            write_frame(heat_path, result.heatmap.image)
    return ReportFiles(json_path, csv_path, plot_path, heat_path)
