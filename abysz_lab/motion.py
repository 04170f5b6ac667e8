"""DFI's motion mode: carry the previous output along the source's optical flow.

The idea of Bonneel et al., "Blind Video Temporal Consistency" (SIGGRAPH Asia
2015): warp the previous OUTPUT along the flow of the ORIGINAL video, trust it
per pixel where that flow is reliable, and blend it with the new generated
frame. Here a pixel is trusted when

- the backward and forward flows agree (no occlusion, no bad match),
- its match lies inside the previous frame (nothing entering the frame),
- the source itself, warped and corrected for the light change, still matches
  (the motion explains the pixel: DFI's stability test, after compensation).

Trusted pixels keep ``carry`` % of the warped previous output; the rest of
each frame comes from the generated frame. With carry below 100 % the output
is an exponential average of the generated frames along the motion: their
independent per-frame mistakes average out and the first frame's are not
frozen. A hard scene cut restarts the recursion.

Pure functions and one small stateful class per pass; no files here (the
runner in :mod:`abysz_lab.dfi` streams frames through it).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from abysz_lab import flow as fl
from abysz_lab.errors import InputError


class FlowSetting(NamedTuple):
    """How a ``flow_quality`` computes the source's optical flow (see :func:`abysz_lab.flow.make_flow_estimator`)."""

    preset: str
    finest_scale: int
    share: float  # flow frame size as a share of the frame
    cap: int  # ... with its long side at most this many pixels
    patch_stride: int | None = None
    descent_iterations: int | None = None


# Warping the clean clip of the quality benchmark along each (512x512, fast pan / crossing subject):
# ultrafast, half size, finest level 2 (DIS's own): 51.0 / 30.8 dB, 2.5 ms; level 1: 51.0 / 34.7 dB, 3.2 ms;
# fast, half size, level 0: 52.4 / 40.3 dB, 18 ms (= fast at full size). A flow is smooth: half size pays.
# Through motion mode (quality benchmark, 512x512, flicker removed / PSNR vs clean; ms per flow, two a frame):
# ultrafast level 1: shake 92.0 % / 29.2 dB, pan + subject 91.7 % / 32.3 dB, 1.4 ms; level 0: 95.4 % / 30.6 dB,
# 93.7 % / 35.0 dB, 4.8 ms; fast level 0: 96.5 % / 30.7 dB, 93.8 % / 35.0 dB, 11.5 ms. A coarser forward flow
# (only used for the consistency test) rejected more pixels: 93.7 % / 30.1 dB on the shake. Ultrafast at level
# 0 with patches every 6 px (its own: 4) and 8 descent iterations (12): 95.2 % / 30.7 dB, 95.0 % / 35.4 dB
# (with OBJECT_CARRY 0.75) in 2.7 ms; every 8 px: 94.9 % / 30.6 dB, 95.0 % / 35.3 dB in 2.1 ms, and motion
# forward at 24.4 frames/s whole process where every 6 px gave 21.7 (bench_dfi, same hour).
FLOW_SETTINGS = {
    "fast": FlowSetting("ultrafast", 1, 0.5, 640),
    "balanced": FlowSetting("ultrafast", 0, 0.5, 960, patch_stride=8, descent_iterations=8),
    "precise": FlowSetting("fast", 0, 0.5, 1280),
}
MIN_FLOW_SIDE = 256
EDGE_KERNEL = np.ones((3, 3), np.uint8)
# Things that move against the camera's own motion (a subject, a hand) change shape and shading from frame to
# frame, and img2img redraws them differently for real: carrying them long smears yesterday's drawing over
# today's. Where the flow departs from the camera's (an affine fit) by OBJECT_PX or more, at most this share
# of the carried picture is kept (the trust test already refreshes what the motion does not explain). Quality
# benchmark, 256x256, flicker removed / moving px dB: 0.5: locked shot 94.8 % / 28.0, pan + subject 92.9 % /
# 32.7; 0.75: 95.4 / 28.8, 93.9 / 32.8; 0.95: 95.6 / 27.8, 94.4 / 32.6.
OBJECT_CARRY = 0.75
OBJECT_PX = (1.0, 2.5)
WARM_START_FRAMES = 8  # frames averaged backwards onto the first of a shot
# Repeated bilinear warps blur the carried frame more on every step (30 warps of random sub-pixel shifts:
# 26.7 dB, fine detail gone); bicubic keeps 28.9 dB for twice the time, Lanczos 31.7 dB for ten times.
CARRY_INTERPOLATION = cv2.INTER_CUBIC
SLACK = 1.0  # a pixel is held fully up to the tolerance and fades out up to (1 + SLACK) x the tolerance
# How the generated frames follow the source's light is learnt over the shot (see LightResponse): a weighted
# regression whose weights fall by LIGHT_MEMORY a frame (about 100 frames remembered), leaning on "as the
# source does" (1) with the weight of LIGHT_PRIOR_WEIGHT grey levels squared until the light has moved enough
# to tell. Measured on the quality benchmark's light ramps (5 noise seeds): a spatial slope as the prior
# (how the picture follows its source across one frame) kept 3 % less of the ramp; memory 0.97-1 made no
# difference; a weight of 1000 kept 6-10 % less, 50 added 0.3 grey levels of error.
LIGHT_MEMORY = 0.99
LIGHT_NOISE = 5.0  # grey levels: the generated frames' flicker around the light's path, before it is measured
READING_MEMORY = 0.9  # a frame's readings of the response are running means over about ten frames
READING_SPREAD = 0.05  # how far a reading that holds may be off the true response
BROAD_SPREAD = 0.5  # neither reading holds: the response is 1 give or take this much
BROAD_PRIOR = 0.05
WHOLE_PRIOR = 0.5  # of the two readings, "as a whole" is this likely before the frames say
LIGHT_WHERE_FLOOR = 0.002  # weight of a pixel whose light did not change, against |gain - 1| where it did
LUMA_WEIGHTS = np.array([0.114, 0.587, 0.299], np.float32)  # BGR, as cv2.COLOR_BGR2GRAY


MIN_SIDE = 16  # DIS needs a few pyramid levels: smaller frames have no motion to find


def _luma_gain_map(gain_map: np.ndarray) -> np.ndarray:
    """The grey-level gain of a per-channel BGR gain map (a grey frame's own)."""
    return cv2.transform(gain_map, LUMA_WEIGHTS.reshape(1, 3)) if gain_map.ndim == 3 else gain_map


def flow_scale(width: int, height: int, quality: str) -> float:
    """The share of the frame size the optical flow is computed at for ``quality``."""
    setting = FLOW_SETTINGS[quality]
    share, cap = setting.share, setting.cap
    long_side = max(width, height)
    # Never below MIN_FLOW_SIDE: DIS needs a few pyramid levels of picture to find a motion at all.
    return min(1.0, max(min(share, cap / long_side), MIN_FLOW_SIDE / long_side))


@dataclass(frozen=True)
class PairMotion:
    """The source's motion from the previous frame (of a pass) to the current one."""

    backward: np.ndarray  # small flow current -> previous
    forward: np.ndarray  # small flow previous -> current
    cut: bool  # a hard scene cut: nothing is carried


@dataclass
class MotionStep:
    """What one step of a motion pass produced."""

    output: np.ndarray  # 8-bit BGR, what is written
    held: np.ndarray  # 8-bit, opacity of the carried previous output (255 = fully carried)
    count: np.ndarray  # float32, how many generated frames the pixel's average holds (1 = just refreshed)
    motion: PairMotion | None  # None on the first frame of a pass
    gain: np.ndarray  # per-channel light gain applied to the carried output
    trusted: np.ndarray | None = None  # 8-bit: where the motion explains the pixel (255 = carry as much as allowed)

    @property
    def held_pct(self) -> float:
        """Share of pixels carried at least half, in % (one decimal)."""
        return round(100.0 * np.count_nonzero(self.held >= 128) / self.held.size, 1)


def carried_share(step_index: int, carry: float, refresh_every: int, refresh_strength: float) -> float:
    """The carry (0-1) on step ``step_index``: ``carry`` %, scaled down on DFI's periodic refresh steps."""
    share = carry / 100.0
    if refresh_every > 0 and step_index % refresh_every == 0:
        share *= refresh_strength / 100.0
    return share


def trust_mask(
    previous_gray: np.ndarray,
    gray: np.ndarray,
    maps: tuple[np.ndarray, np.ndarray],
    consistent: np.ndarray,
    gray_gain: float | np.ndarray,
    tolerance: float,
) -> np.ndarray:
    """Float32 0-1: how far the warped, light-corrected previous source explains each pixel of ``gray``.

    1 where the motion is consistent, stays in the frame and the residual is
    within ``tolerance`` grey levels; fading to 0 over another tolerance, so
    noise near the threshold does not flicker the mask. (Forgiving half a
    pixel of misregistration on edges was tried: it carried the edges of
    moving subjects and cost 1.4 dB there in the quality benchmark.)
    """
    warped = cv2.remap(previous_gray, *maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    warped = cv2.multiply(warped, gray_gain, dtype=cv2.CV_32F)
    residual = cv2.absdiff(gray.astype(np.float32), warped)
    slack = max(SLACK * tolerance, 1.0)
    trust = np.float32(1.0 + tolerance / slack) - residual * np.float32(1.0 / slack)
    cv2.min(cv2.max(trust, 0.0, dst=trust), 1.0, dst=trust)
    trust *= consistent  # (which also says whether the match is inside the previous frame)
    return trust


class LightResponse:
    """How strongly the generated frames follow the source's light, learnt over time within a shot.

    A light change of the source, ``(g - 1) x source``, moves the picture by
    ``response`` times that. Two readings of a single frame predict the
    response: if the whole picture dims with the light, it is the ratio of the
    picture's mean to the source's (``as_a_whole``); if the picture is redrawn
    from each frame, its own tint and flattened contrast staying put, it is how
    the picture follows its source across the frame (``spatially``, the
    least-squares slope). Which holds shows over time: each step adds the
    mean change of the source and of the generated frames along the motion to
    two running levels, and a weighted regression of the one on the other
    measures the response (the generated frames' flicker is noise around that
    line). The response used is the Bayesian mean over three hypotheses
    (either reading, or neither: a broad prior around 1), each judged by how
    well it explains the regression; a reading that fits is kept with its low
    noise, and the regression alone decides when neither fits.

    The carried picture has been moved with the responses of earlier steps;
    when the estimate changes, :meth:`step` also returns the level the picture
    is still owed: the change of response times how far the source's light
    has moved since the frames the carried average is made of (``origin``).
    Without it an early estimate would stay in the held picture.
    """

    def __init__(self, channels: int) -> None:
        self.source_level = np.zeros(channels)
        self.generated_level = np.zeros(channels)
        self.sums = np.zeros((6, channels))  # weight, x, y, x^2, x*y, y^2: x = source level, y = generated level
        self.as_a_whole: np.ndarray | None = None
        self.spatially: np.ndarray | None = None
        self.origin = np.zeros(channels)  # the source level the carried average was drawn at, on average
        self.applied: np.ndarray | None = None  # the response the carried picture has been moved with

    def observe(self, source: np.ndarray, generated: np.ndarray, where: np.ndarray | None = None) -> None:
        """Read this frame's two predictions of the response (running means over about ten frames).

        ``where`` (float weights of the frames' size) says where the light
        changed: a lamp on one side is answered by the picture there, not by
        the frame's average.
        """
        # Every other pixel of the light grid: a slope over 4 000 pixels is as good as over 65 000.
        weights = None if where is None else where[::2, ::2]
        whole, spatial = fl.light_readings(source[::2, ::2], generated[::2, ::2], weights)
        if self.as_a_whole is None:
            self.as_a_whole, self.spatially = whole, spatial
        else:
            self.as_a_whole = READING_MEMORY * self.as_a_whole + (1.0 - READING_MEMORY) * whole
            self.spatially = READING_MEMORY * self.spatially + (1.0 - READING_MEMORY) * spatial

    def step(self, source_change: np.ndarray, generated_change: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Add one step's mean change (per channel, grey levels); return the response and the level owed."""
        before = self.source_level.copy()
        self.source_level += source_change
        self.generated_level += generated_change
        x, y = self.source_level, self.generated_level
        self.sums *= LIGHT_MEMORY
        self.sums += np.stack([np.ones_like(x), x, y, x * x, x * y, y * y])
        response = self.response()
        applied = response if self.applied is None else self.applied
        owed = (response - applied) * (before - self.origin)
        self.applied = response
        return response, owed

    def response(self) -> np.ndarray:
        """Per channel: the response the levels so far support (see the class)."""
        weight, sx, sy, sxx, sxy, syy = self.sums
        spread = np.maximum(sxx - sx * sx / weight, 1e-9)  # how far the light has moved (levels^2, weighted)
        covariance = sxy - sx * sy / weight
        measured = covariance / spread
        residual = np.maximum(syy - sy * sy / weight - measured * covariance, 0.0)
        # The flicker around the line, with a prior of LIGHT_NOISE grey levels worth two frames.
        noise = (residual + 2.0 * LIGHT_NOISE**2) / (weight + 2.0)
        uncertainty = noise / spread  # variance of the measured response
        hypotheses = [
            (self.as_a_whole, READING_SPREAD**2, (1.0 - BROAD_PRIOR) * WHOLE_PRIOR),
            (self.spatially, READING_SPREAD**2, (1.0 - BROAD_PRIOR) * (1.0 - WHOLE_PRIOR)),
            (np.ones_like(measured), BROAD_SPREAD**2, BROAD_PRIOR),
        ]
        log_evidence, means = [], []
        for centre, variance, prior in hypotheses:
            total = variance + uncertainty
            # How well the hypothesis explains the measurement, over all channels at once (one style).
            log_evidence.append(math.log(prior) - 0.5 * float(np.sum((measured - centre) ** 2 / total + np.log(total))))
            means.append((centre / variance + measured / uncertainty) / (1.0 / variance + 1.0 / uncertainty))
        evidence = np.exp(np.array(log_evidence) - max(log_evidence))
        mixed = (evidence[:, None] / evidence.sum() * np.array(means)).sum(axis=0)
        return np.clip(mixed, 0.0, 2.0)

    def blended(self, carried_share: float) -> None:
        """Record that the carried picture was blended with the current generated frame, ``carried_share`` kept."""
        self.origin = carried_share * self.origin + (1.0 - carried_share) * self.source_level


def flow_estimator(params) -> cv2.DISOpticalFlow:  # noqa: ANN001 - DFIParams, import cycle
    """The optical flow estimator of ``params.flow_quality`` (one per thread: estimators are not thread-safe)."""
    setting = FLOW_SETTINGS[params.flow_quality]
    return fl.make_flow_estimator(
        setting.preset,
        finest_scale=setting.finest_scale,
        patch_stride=setting.patch_stride,
        descent_iterations=setting.descent_iterations,
    )


def measure_motion(
    estimator: cv2.DISOpticalFlow, previous_small: np.ndarray, small: np.ndarray, cut_threshold: float
) -> PairMotion:
    """Flows between two consecutive small grey frames, and whether the second starts a new shot."""
    backward = estimator.calc(small, previous_small, None)
    cut = False
    if cut_threshold > 0:
        cut = fl.unexplained_share(previous_small, small, backward) * 100.0 >= cut_threshold
    forward = backward if cut else estimator.calc(previous_small, small, None)
    return PairMotion(backward, forward, cut)


class MotionAhead:
    """Measures the motion into upcoming frames on a worker thread while the current frame is carried.

    The flows are a fifth of a step's time and depend on the sources only;
    OpenCV releases the GIL while it computes them, so on two cores they
    overlap the rest of the step. Feed sources in order with :meth:`add`;
    :meth:`motion` gives what :meth:`MotionPass.measure` would (None first).
    """

    def __init__(self, params, size: tuple[int, int]) -> None:  # noqa: ANN001 - DFIParams
        self.scale = flow_scale(size[0], size[1], params.flow_quality)
        self.cut_threshold = params.cut_threshold
        self.estimator = flow_estimator(params)  # used on the worker thread only
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="abysz-flow")
        self.futures: deque[Future] = deque()
        self.last_small: np.ndarray | None = None  # the worker's

    def add(self, source: np.ndarray) -> None:
        """Queue the motion from the previous source added to ``source``."""
        self.futures.append(self.executor.submit(self._measure, source))

    def _measure(self, source: np.ndarray) -> PairMotion | None:
        small = fl.to_gray(fl.downscale(source, self.scale))
        previous, self.last_small = self.last_small, small
        return None if previous is None else measure_motion(self.estimator, previous, small, self.cut_threshold)

    def motion(self) -> PairMotion | None:
        """The motion into the oldest source not yet asked for (waits for it)."""
        return self.futures.popleft().result()

    def close(self) -> None:
        """Stop the worker (queued measurements are dropped)."""
        self.executor.shutdown(wait=True, cancel_futures=True)


class MotionPass:
    """One direction of the motion recursion: feed frames in order, get outputs.

    ``params`` is a :class:`abysz_lab.dfi.DFIParams` (only its fields are read).
    """

    def __init__(self, params, size: tuple[int, int]) -> None:  # noqa: ANN001 - DFIParams, import cycle
        if min(size) < MIN_SIDE:
            msg = (
                f"Motion mode needs frames of at least {MIN_SIDE}x{MIN_SIDE} pixels to follow the motion; these are "
                f"{size[0]}x{size[1]}. Use classic mode (--mode classic) for such small frames."
            )
            raise InputError(msg)
        self.params = params
        self.size = size
        self.scale = flow_scale(size[0], size[1], params.flow_quality)
        self.estimator = flow_estimator(params)
        self.step_index = 0
        self.previous_gray: np.ndarray | None = None
        self.previous_small: np.ndarray | None = None
        self.previous_small_bgr: np.ndarray | None = None
        self.previous_output: np.ndarray | None = None  # float32 BGR: 8-bit rounding would stall the average
        self.light: LightResponse | None = None  # how the generated frames follow the source's light, over time
        self.previous_small_generated: np.ndarray | None = None
        self.count: np.ndarray | None = None  # float32: how many generated frames each pixel's average holds

    def measure(self, small: np.ndarray) -> PairMotion:
        """Flows between the previous frame and this one (small grey frames), and whether it is a cut."""
        return measure_motion(self.estimator, self.previous_small, small, self.params.cut_threshold)

    def step(
        self,
        source: np.ndarray,
        generated: np.ndarray,
        motion: PairMotion | None = None,
        warm_start: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> MotionStep:
        """Stabilise one frame (``source`` fitted and denoised, 8-bit BGR); ``motion`` if already measured.

        ``warm_start`` gives, when a shot starts here, the picture to start
        from and its count (see :func:`warm_start`) instead of the generated frame.
        """
        gray = fl.to_gray(source)
        small_bgr = fl.downscale(source, self.scale)
        small = fl.to_gray(small_bgr)
        small_generated = None
        if self.params.follow_light:
            small_generated = cv2.resize(generated, small_bgr.shape[1::-1], interpolation=cv2.INTER_AREA)
        h, w = gray.shape[:2]
        first = self.previous_gray is None
        if not first and motion is None:
            motion = self.measure(small)
        if self.params.tolerance == 0:
            result = self._restart(generated, motion, None)
        elif first or motion.cut:
            result = self._restart(generated, motion, warm_start)
        else:
            result = self._carry(source, gray, small_bgr, small_generated, generated, motion, (w, h))
        if self.params.follow_light:
            self.previous_small_generated = small_generated
        self.previous_gray, self.previous_small, self.previous_small_bgr = gray, small, small_bgr
        self.step_index += 0 if first else 1
        return result

    def _consistent(self, motion: PairMotion, maps: tuple[np.ndarray, np.ndarray], small: np.ndarray) -> np.ndarray:
        """Small-frame pixels whose flow can be trusted for carrying: its round trip agrees, or cannot matter.

        In a flat area DIS's flow wanders (nothing to match) and fails the
        round trip, yet carrying along it brings the same flat picture: what
        counts is the grey-level error the round trip's mismatch can make,
        its length times the local slope.
        """
        loop_sq, magnitude_sq = fl.loop_error(motion.backward, motion.forward, maps)
        agrees = loop_sq <= fl.CONSISTENCY_SHARE * magnitude_sq + fl.CONSISTENCY_SLACK_PX2
        warped_small = cv2.remap(small, *maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        slope = cv2.morphologyEx(warped_small, cv2.MORPH_GRADIENT, EDGE_KERNEL).astype(np.float32)
        harmless = cv2.multiply(cv2.sqrt(loop_sq), slope, scale=0.5) <= max(self.params.tolerance, 1.0)
        return (agrees | harmless) & fl.inside_frame(maps, margin=-0.5)

    def _object_cap(self, backward: np.ndarray, trusted: np.ndarray, share: float, size: tuple[int, int]) -> np.ndarray:
        """Per-pixel cap of the carry: ``share`` where the picture moves with the camera, less on moving things."""
        deviation = fl.camera_deviation(backward, trusted)
        lo, hi = (px * self.scale for px in OBJECT_PX)
        # 0 at lo, 1 at hi: the share falls from ``share`` to OBJECT_CARRY
        t = np.clip((deviation - lo) / (hi - lo), 0.0, 1.0)
        cap = (share + (min(OBJECT_CARRY, share) - share) * t).astype(np.float32)
        return cv2.resize(cap, size, interpolation=cv2.INTER_LINEAR)

    def _light_shift(self, light: tuple[np.ndarray, np.ndarray], gain_map: np.ndarray, now: np.ndarray):
        """Per light-grid pixel and channel, the share of the current source to add to the carried picture.

        Not a plain gain on the picture: a style's own tint or flattened
        contrast does not dim with the lamp, only the part that follows the
        source does (a pure gain overshot a stylised ramp by a quarter): the
        picture moves by response x (gain - 1) x previous source, which is
        response x (1 - 1 / gain) x current source (no need to warp the
        previous one), plus the level still owed, spread as the source is.
        """
        response, owed = light
        level = np.maximum(np.asarray(cv2.mean(now)[: len(response)]), 1.0)
        shift = cv2.subtract(1.0, cv2.divide(1.0, gain_map))
        if shift.ndim == 2:
            return shift * np.float32(response[0]) + np.float32(owed[0] / level[0])
        return shift * response.astype(np.float32) + (owed / level).astype(np.float32)

    def _learn_light(
        self,
        before: np.ndarray,
        now: np.ndarray,
        generated_now: np.ndarray,
        light_maps,  # noqa: ANN001 - the light grid's cv2.remap maps
        trusted: np.ndarray,
        luma_gain: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Add this step's light change to the shot's :class:`LightResponse`; return its response and level owed.

        ``before`` is the previous source moved onto ``now`` (both on the light
        grid); ``light_maps`` move the previous generated frame the same way.
        """
        generated_before = cv2.remap(
            self.previous_small_generated, *light_maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        channels = now.shape[2] if now.ndim == 3 else 1
        # Where the light changed, in the pixels the motion explains: a lamp on one side of the room is read
        # there, not diluted in the frame's mean (a floor keeps a steady or even change the whole frame's).
        where = cv2.add(cv2.absdiff(luma_gain, 1.0), LIGHT_WHERE_FLOOR)
        weight = cv2.multiply(where, trusted.astype(np.float32))
        source_change = generated_change = np.zeros(channels)
        if np.count_nonzero(trusted) >= 16:
            source_change = _mean_change(now, before, weight, channels)
            generated_change = _mean_change(generated_now, generated_before, weight, channels)
        if self.light is None:
            self.light = LightResponse(channels)
        self.light.observe(now, generated_now, where)
        return self.light.step(source_change, generated_change)

    def _restart(self, generated: np.ndarray, motion: PairMotion | None, warm) -> MotionStep:  # noqa: ANN001
        self.light = None  # a new shot may follow its light differently
        if warm is None:
            self.previous_output = generated.astype(np.float32)
            self.count = np.ones(generated.shape[:2], np.float32)
            output, held = generated, np.zeros(generated.shape[:2], np.uint8)
        else:
            self.previous_output, self.count = warm()
            output = cv2.convertScaleAbs(self.previous_output)
            held = cv2.compare(self.count, 1.5, cv2.CMP_GE)
        return MotionStep(output, held, self.count, motion, np.ones(3, np.float32), np.zeros_like(held))

    def _carry(
        self,
        source: np.ndarray,
        gray: np.ndarray,
        small_bgr: np.ndarray,
        small_generated: np.ndarray | None,
        generated: np.ndarray,
        motion: PairMotion,
        size: tuple[int, int],
    ) -> MotionStep:
        p = self.params
        small_maps = fl.flow_maps(motion.backward)
        consistent_small = self._consistent(motion, small_maps, self.previous_small)
        gain = np.ones(3, np.float32)
        light = shift = None
        gray_gain: float | np.ndarray = 1.0
        if p.follow_light:
            # Light is smooth: every other pixel of the small frames reads it as well as all of them, 4x faster.
            light_maps = (small_maps[0][::2, ::2], small_maps[1][::2, ::2])
            before = cv2.remap(self.previous_small_bgr, *light_maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            now, trusted = small_bgr[::2, ::2], consistent_small[::2, ::2]
            # The frame's gain is the fallback of cells with too few trusted pixels: a median over 4 000 will do.
            gain = fl.estimate_gain(before[::2, ::2], now[::2, ::2], trusted[::2, ::2])
            gain_map = fl.local_gain(before, now, trusted, gain)
            luma_gain = _luma_gain_map(gain_map)
            light = self._learn_light(before, now, small_generated[::2, ::2], light_maps, trusted, luma_gain)
            shift = self._light_shift(light, gain_map, now)
            # A steady light (most shots, most of the time) needs neither full-size map.
            if np.ptp(luma_gain) > 1e-3:
                gray_gain = cv2.resize(luma_gain, size, interpolation=cv2.INTER_LINEAR)
            else:
                gray_gain = float(luma_gain.flat[0])
            if not np.any(np.abs(shift) > 1e-4):
                shift = None
        maps = fl.upscaled_maps(motion.backward, *size)
        consistent = cv2.resize(consistent_small.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
        trust = trust_mask(self.previous_gray, gray, maps, consistent, gray_gain, p.tolerance)
        held = np.rint(trust * 255.0).astype(np.uint8)
        held = _expand_and_smooth(held, p.expand, p.smooth)
        share = carried_share(self.step_index, p.carry, p.refresh_every, p.refresh_strength)
        count = cv2.remap(self.count, *maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        # A running mean until the average holds the frames an endless one of this carry would: the weight
        # n / (n + 1) for a carried picture averaging n frames. Carrying 95 % from frame 1 on would keep
        # 95 % of frame 0's mistakes and need some 20 frames to dilute them.
        alpha = cv2.min(cv2.subtract(1.0, cv2.divide(1.0, cv2.add(count, 1.0))), share)
        if OBJECT_CARRY < 1.0:
            alpha = cv2.min(alpha, self._object_cap(motion.backward, consistent_small, share, size))
        alpha = cv2.multiply(alpha, held, scale=1.0 / 255.0, dtype=cv2.CV_32F)

        carried = cv2.remap(self.previous_output, *maps, CARRY_INTERPOLATION, borderMode=cv2.BORDER_REPLICATE)
        if shift is not None:
            shift = cv2.resize(shift, size, interpolation=cv2.INTER_LINEAR)
            cv2.add(carried, cv2.multiply(source, shift, dtype=cv2.CV_32F), dst=carried)
        # Bicubic overshoots a little at edges; clipping keeps the ringing from building up over steps.
        # np.clip's 1 ms in 0.3; a scalar per channel (a bare number would only bound the first channel)
        cv2.min(cv2.max(carried, (0.0,) * 4, dst=carried), (255.0,) * 4, dst=carried)
        gen = generated.astype(np.float32)
        out = cv2.blendLinear(carried, gen, alpha, cv2.subtract(1.0, alpha))
        self.previous_output = out
        if light is not None:
            self.light.blended(cv2.mean(alpha)[0])
        # The variance of the blend a * carried + (1 - a) * new is (a^2 / n + (1 - a)^2) of one frame's:
        # its inverse is how many frames the new average is worth (n + 1 for a = n / (n + 1)).
        rest = cv2.subtract(1.0, alpha)
        self.count = cv2.divide(1.0, cv2.add(cv2.divide(cv2.multiply(alpha, alpha), count), cv2.multiply(rest, rest)))
        out8 = cv2.convertScaleAbs(out)  # rounds; out is a blend of two 0-255 frames, never negative
        held_out = cv2.convertScaleAbs(alpha, alpha=255.0)
        return MotionStep(out8, held_out, self.count, motion, gain, held)


def _mean_change(now: np.ndarray, before: np.ndarray, weight: np.ndarray, channels: int) -> np.ndarray:
    """Per channel, the ``weight``-weighted mean of ``now - before`` (weight: float, the frames' size)."""
    diff = cv2.subtract(now, before, dtype=cv2.CV_32F).reshape(-1, channels)
    # (not ``weight @ diff``: see flow.light_readings on BLAS threads)
    return (weight.reshape(-1, 1) * diff).sum(axis=0, dtype=np.float64) / max(float(weight.sum()), 1e-9)


def _expand_and_smooth(held: np.ndarray, expand: int, smooth: int) -> np.ndarray:
    if expand > 1:
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (expand, expand))
        held = cv2.erode(held, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=255)
    if smooth > 1:
        held = cv2.GaussianBlur(held, (smooth, smooth), 0)
    return held


def motion_mask(previous_source: np.ndarray, source: np.ndarray, params) -> np.ndarray:  # noqa: ANN001
    """The mask a motion-mode run uses on frame t: where the motion from t - 1 explains the pixel (8-bit).

    It is drawn on frame t (the previous frame's held picture already moved
    along the flow); 0 at a scene cut. The same code as the run's step.
    """
    recursion = MotionPass(params, (source.shape[1], source.shape[0]))
    recursion.step(previous_source, previous_source)
    return recursion.step(source, source).trusted


def warm_start(params, pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """The first frame of a shot averaged with the next few: a short pass run backwards onto it.

    A recursion that starts from the first generated frame as it is either
    keeps its mistakes (high carry) or shows them fading over the first
    second (a running mean): both are visible. Averaging the shot's first
    frames backwards onto its first one starts it clean. Returns the float
    picture and its per-pixel count of frames averaged.
    """
    recursion = MotionPass(params, (pairs[0][1].shape[1], pairs[0][1].shape[0]))
    for source, generated in reversed(pairs):
        recursion.step(source, generated)
    return recursion.previous_output, recursion.count


def run_pass(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]],
    params,  # noqa: ANN001 - DFIParams
    motions: Callable[[int], PairMotion | None] | None = None,
    *,
    measure_ahead: bool = True,
) -> Iterator[MotionStep]:
    """One pass of the recursion over ``pairs`` in the order given, each shot warm-started.

    Looks WARM_START_FRAMES pairs ahead (a bounded window, never the clip).
    ``motions(k)`` may give the already measured motion into the k-th pair;
    otherwise, with ``measure_ahead``, it is measured on a worker thread
    (:class:`MotionAhead`; the same result, sooner).
    """
    stream = iter(pairs)
    window: deque = deque()
    ahead: MotionAhead | None = None

    def fill() -> None:
        nonlocal ahead
        while len(window) < WARM_START_FRAMES:
            pair = next(stream, None)
            if pair is None:
                return
            if motions is None and measure_ahead and min(pair[1].shape[:2]) >= MIN_SIDE:
                if ahead is None:
                    ahead = MotionAhead(params, (pair[1].shape[1], pair[1].shape[0]))
                ahead.add(pair[0])
            window.append(pair)

    try:
        fill()
        recursion: MotionPass | None = None
        k = 0
        while window:
            pair = window.popleft()
            fill()
            if recursion is None:
                recursion = MotionPass(params, (pair[1].shape[1], pair[1].shape[0]))
            ahead_pairs = [pair, *window]
            if ahead is not None:
                motion = ahead.motion()
            else:
                motion = motions(k) if motions is not None and k > 0 else None
            yield recursion.step(*pair, motion, lambda ahead_pairs=ahead_pairs: warm_start(params, ahead_pairs))
            k += 1
    finally:
        if ahead is not None:
            ahead.close()


def combine_passes(forward: np.ndarray, forward_count: np.ndarray, backward: np.ndarray, backward_count: np.ndarray):
    """Mix the forward and backward outputs of a frame per pixel, each weighted by the frames it averages.

    A pass that refreshed a pixel just now (a disocclusion, the start of its
    run) holds one generated frame there; the other pass may hold twenty: the
    noise of an average falls as one over its count, so that is its weight.
    """
    share_b = cv2.divide(backward_count, cv2.add(forward_count, backward_count))
    return cv2.blendLinear(backward, forward, share_b, cv2.subtract(1.0, share_b))


def count_to_u8(count: np.ndarray) -> np.ndarray:
    """A pass's count map as 8 bits for the spill folder (rounded; counts past 255 weigh the same)."""
    return cv2.convertScaleAbs(count)
