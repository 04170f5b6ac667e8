"""The flow module: warps, trust masks, scene cuts and light gains on synthetic clips with known motion."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from abysz_lab import flow as fl
from abysz_lab.demo import demo_background
from abysz_lab.errors import InputError


def _textured(h: int = 160, w: int = 200, seed: int = 0, blur: float = 1.5) -> np.ndarray:
    """A textured BGR picture with detail at every scale (what optical flow needs)."""
    rng = np.random.default_rng(seed)
    base = demo_background(w, h, seed=seed).astype(np.float32)
    detail = cv2.GaussianBlur(rng.normal(0, 30, (h, w)).astype(np.float32), (0, 0), blur)
    return np.clip(base + detail[..., None], 0, 255).astype(np.uint8)


def _band_limited(h: int = 160, w: int = 200, seed: int = 0, sigma: float = 2.0) -> np.ndarray:
    """Smooth random texture everywhere (no flat areas, no sharp edges), BGR."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (h, w, 3)).astype(np.float32), (0, 0), sigma)
    return np.clip(128 + noise * (45 / noise.std()), 0, 255).astype(np.uint8)


def _shifted(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``image`` moved by (dx, dy) px: out(x) = image(x - d)."""
    h, w = image.shape[:2]
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def _flow_between(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    return fl.compute_flow(fl.make_flow_estimator("fast", finest_scale=0), fl.to_gray(first), fl.to_gray(second))


def _waves(h: int, w: int, dx: float = 0.0, dy: float = 0.0, seed: int = 0) -> np.ndarray:
    """A sum of random waves (periods 8-40 px) sampled at (x - dx, y - dy): a picture moved exactly."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.full((h, w, 3), 128.0)
    for _ in range(12):
        period, angle = rng.uniform(8, 40), rng.uniform(0, np.pi)
        kx, ky = np.cos(angle) * 2 * np.pi / period, np.sin(angle) * 2 * np.pi / period
        wave = np.sin(kx * (xs - dx) + ky * (ys - dy) + rng.uniform(0, 2 * np.pi))
        out += wave[..., None] * rng.uniform(2, 14, 3)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def test_warp_of_a_known_subpixel_shift_restores_the_frame_within_one_grey_level():
    picture = _waves(120, 160)
    moved = _waves(120, 160, 2.3, -1.6)  # the same picture, 2.3 px right and 1.6 px up
    flow = np.empty(picture.shape[:2] + (2,), np.float32)
    flow[...] = (2.3, -1.6)  # sample the moved frame where each pixel went
    back = fl.warp(moved, flow, interpolation=cv2.INTER_CUBIC)
    error = cv2.absdiff(back, picture)[8:-8, 8:-8]
    # Both frames are rounded to 8 bits, so a rare pixel is off by 2: 99.5 % must be within 1.
    assert float(np.percentile(error, 99.5)) <= 1.0
    assert float(error.mean()) < 0.4


def test_repeated_bicubic_warps_keep_more_than_bilinear_ones():
    """Carrying a frame 20 steps along sub-pixel moves: bilinear blurs it step after step."""
    picture = _textured(blur=0.8)
    rng = np.random.default_rng(2)
    shifts = rng.uniform(-1.5, 1.5, (20, 2)).astype(np.float32)
    shifts[-1] += np.round(shifts.sum(0)) - shifts.sum(0)  # the total is whole pixels: the truth is exact
    total = np.round(shifts.sum(0)).astype(int)
    truth = np.roll(picture, (-total[1], -total[0]), axis=(0, 1))[30:-30, 30:-30].astype(np.float32)
    errors = {}
    for name, interpolation in (("bilinear", cv2.INTER_LINEAR), ("bicubic", cv2.INTER_CUBIC)):
        carried = picture.astype(np.float32)
        for dx, dy in shifts:
            flow = np.empty(picture.shape[:2] + (2,), np.float32)
            flow[...] = (dx, dy)
            carried = fl.warp(carried, flow, interpolation=interpolation)
        errors[name] = float(np.abs(carried[30:-30, 30:-30] - truth).mean())
    assert errors["bicubic"] < 0.8 * errors["bilinear"], errors


def test_flow_of_a_shift_is_found_and_upscaled_from_half_size():
    picture = _band_limited(320, 400, sigma=3.0)
    moved = _shifted(picture, 3.0, 1.0)
    est = fl.make_flow_estimator("ultrafast", finest_scale=1)
    backward = fl.compute_flow(est, fl.to_gray(moved), fl.to_gray(picture), scale=0.5)
    assert backward.shape == (320, 400, 2)
    inner = backward[20:-20, 20:-20].reshape(-1, 2)
    assert np.allclose(np.median(inner, axis=0), (-3.0, -1.0), atol=0.15)  # vectors scaled back to full size


def test_upscale_flow_scales_the_vectors_with_the_size():
    small = np.zeros((10, 20, 2), np.float32)
    small[...] = (1.5, -0.5)
    big = fl.upscale_flow(small, 60, 20)
    assert big.shape == (20, 60, 2)
    assert np.allclose(big[..., 0], 4.5) and np.allclose(big[..., 1], -1.0)


def test_occlusion_mask_rejects_the_disoccluded_strip_and_keeps_the_background():
    background = _textured(seed=3)
    card = _textured(60, 50, seed=9)[:, :, ::-1].copy()  # another texture, other colours
    frames = []
    for x in (60, 72):  # the card moves 12 px right
        f = background.copy()
        f[50:110, x : x + 50] = card
        frames.append(f)
    previous, current = frames
    backward = _flow_between(current, previous)
    forward = _flow_between(previous, current)
    ok = fl.consistent_flow(backward, forward)
    uncovered = ok[55:105, 62:70]  # behind the card's old position: covered in the previous frame
    far = ok[5:40, 5:190]
    assert uncovered.mean() < 0.5, uncovered.mean()
    assert far.mean() > 0.95, far.mean()


def test_pixels_entering_the_frame_are_outside():
    flow = np.zeros((40, 50, 2), np.float32)
    flow[..., 0] = -4.0  # everything came from 4 px to the left: the left 4 columns are new
    inside = fl.inside_frame(fl.flow_maps(flow))
    assert not inside[:, :4].any()
    assert inside[:, 4:].all()


def _pan(picture: np.ndarray, frames: int, step: float, width: int = 160) -> list[np.ndarray]:
    return [picture[:, round(t * step) : round(t * step) + width].copy() for t in range(frames)]


def test_cut_detector_finds_the_exact_frame_of_a_splice():
    first = _pan(_textured(160, 400, seed=1), 7, 2.0)
    second = _pan(cv2.flip(_textured(160, 400, seed=5), 0), 6, 2.0)
    assert fl.find_cuts(first + second, 50.0) == [7]


def test_cut_detector_finds_nothing_on_a_slow_light_ramp():
    still = _textured(seed=2).astype(np.float32)
    frames = [np.clip(still * (1.0 - 0.03 * t) + 0.5, 0, 255).astype(np.uint8) for t in range(14)]
    assert fl.find_cuts(frames, 50.0) == []


def test_cut_detector_finds_nothing_on_a_fast_pan():
    frames = _pan(_textured(160, 420, seed=4), 14, 8.0)  # 8 px per frame on a 160 px frame (25 at 512)
    assert fl.find_cuts(frames, 50.0) == []


def test_cut_threshold_zero_never_cuts():
    first = _pan(_textured(seed=1), 3, 1.0, 120)
    second = _pan(_textured(seed=5), 3, 1.0, 120)
    assert fl.find_cuts(first + second, 0.0) == []


def test_gain_of_a_synthetic_dimming_is_recovered_within_one_percent():
    picture = _textured(seed=6)
    gains = np.array([0.83, 0.9, 0.78], np.float32)
    dimmed = np.clip(picture.astype(np.float32) * gains + 0.5, 0, 255).astype(np.uint8)
    dimmed[20:70, 30:90] = 255 - dimmed[20:70, 30:90]  # something else changed too: the median ignores it
    found = fl.estimate_gain(picture, dimmed)
    assert np.allclose(found, gains, rtol=0.01), found


def test_gain_uses_only_trusted_pixels_when_told():
    picture = _textured(seed=6)
    brighter = np.clip(picture.astype(np.float32) * 1.2 + 0.5, 0, 255).astype(np.uint8)
    brighter[:, 100:] = picture[:, 100:] // 2  # untrusted half: another change entirely
    trusted = np.zeros(picture.shape[:2], bool)
    trusted[:, :100] = True
    assert np.allclose(fl.estimate_gain(picture, brighter, trusted), 1.2, rtol=0.01)


def test_light_readings_of_a_tinted_picture():
    source = _textured(seed=7)
    tint = np.array((40, 90, 160), np.float32)
    tinted = cv2.addWeighted(source, 0.8, np.full_like(source, (40, 90, 160)), 0.2, 0)
    ratio, slope = fl.light_readings(source, tinted)
    assert np.allclose(slope, 0.8, atol=0.02)  # the part that follows the source
    mean = source.reshape(-1, 3).mean(axis=0)
    assert np.allclose(ratio, (0.8 * mean + 0.2 * tint) / mean, rtol=0.01)  # the whole picture over the source


def test_light_readings_are_taken_where_the_weights_are():
    source = _textured(seed=9)
    h, w = source.shape[:2]
    picture = source.copy()
    picture[:, : w // 2] = cv2.convertScaleAbs(source[:, : w // 2], alpha=0.5)  # the left half follows at 0.5
    weights = np.zeros((h, w), np.float32)
    weights[:, : w // 2] = 1.0
    ratio, slope = fl.light_readings(source, picture, weights)
    assert np.allclose(slope, 0.5, atol=0.02) and np.allclose(ratio, 0.5, atol=0.02)
    assert np.all(fl.light_readings(source, picture)[1] > 0.7)  # unweighted, the right half dilutes it


def test_local_gain_follows_a_lamp_on_one_side_and_leaves_the_other_alone():
    picture = _textured(seed=7)
    h, w = picture.shape[:2]
    lamp = np.ones((h, w), np.float32)
    lamp[:, : w // 2] = 1.3  # the left half brightens by 30 %, the right half keeps its light
    lit = np.clip(picture.astype(np.float32) * lamp[..., None] + 0.5, 0, 255).astype(np.uint8)
    trusted = np.ones((h, w), bool)
    gain = fl.local_gain(picture, lit, trusted, fl.estimate_gain(picture, lit))
    assert gain.shape == picture.shape
    # Away from the boundary (smoothed over a cell or so) each side reads its own light within 2 %.
    assert np.allclose(gain[:, : w // 4], 1.3, rtol=0.02), gain[:, : w // 4].mean()
    assert np.allclose(gain[:, -w // 4 :], 1.0, rtol=0.02), gain[:, -w // 4 :].mean()


def test_local_gain_falls_back_to_the_frame_gain_where_nothing_can_be_trusted():
    picture = _textured(seed=8)
    brighter = np.clip(picture.astype(np.float32) * 1.1 + 0.5, 0, 255).astype(np.uint8)
    trusted = np.zeros(picture.shape[:2], bool)
    gain = fl.local_gain(picture, brighter, trusted, np.array([0.9, 0.9, 0.9], np.float32))
    assert np.allclose(gain, 0.9, atol=1e-4)


def test_unknown_flow_preset_is_refused():
    with pytest.raises(InputError, match="preset"):
        fl.make_flow_estimator("slowest")
