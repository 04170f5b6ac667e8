"""Each DFI step against small hand-computed arrays (shared/docs/dfi.md)."""

from __future__ import annotations

import numpy as np
import pytest

from abysz_lab import dfi
from abysz_lab.dfi import DFIParams


def test_threshold_holds_pixels_whose_change_is_at_most_the_tolerance():
    prev = np.full((1, 5), 100, np.uint8)
    cur = np.array([[100, 104, 105, 106, 95]], np.uint8)
    assert dfi.stability_mask(prev, cur, 5.0).tolist() == [[255, 255, 255, 0, 255]]
    assert dfi.stability_mask(prev, cur, 5.5).tolist() == [[255, 255, 255, 0, 255]]
    assert dfi.stability_mask(prev, cur, 0.5).tolist() == [[255, 0, 0, 0, 0]]


def test_expand_grows_the_moving_region_by_a_square():
    mask = np.full((7, 7), 255, np.uint8)
    mask[3, 3] = 0
    grown = dfi.expand_moving(mask, 3)
    expected = np.full((7, 7), 255, np.uint8)
    expected[2:5, 2:5] = 0
    assert np.array_equal(grown, expected)
    assert np.array_equal(dfi.expand_moving(mask, 0), mask)


def test_expand_does_not_eat_the_frame_border():
    mask = np.full((5, 5), 255, np.uint8)
    assert np.array_equal(dfi.expand_moving(mask, 5), mask)


def test_smooth_is_a_gaussian_of_the_given_kernel():
    mask = np.full((5, 5), 255, np.uint8)
    mask[2, 2] = 0
    smoothed = dfi.smooth_mask(mask, 3)
    # 3-tap Gaussian kernel is [1/4, 1/2, 1/4]: the hole keeps 1 - 1/4 of white.
    assert smoothed[2, 2] == pytest.approx(255 * 0.75, abs=1)
    assert smoothed[2, 1] == pytest.approx(255 * (1 - 0.5 * 0.25), abs=1)
    assert smoothed[0, 0] == 255
    assert np.array_equal(dfi.smooth_mask(mask, 1), mask)


def test_held_percent_counts_exactly_full_pixels_to_one_decimal():
    mask = np.zeros(1000, np.uint8)
    mask[:333] = 255
    mask[333:400] = 254
    assert dfi.held_percent(mask) == 33.3


@pytest.mark.parametrize(
    ("held", "inter_blur", "kernel"),
    [(100.0, 3, 1), (90.0, 3, 5), (91.0, 3, 3), (95.5, 3, 3), (0.0, 1, 101), (0.0, 5, 21), (50.0, 2, 25)],
)
def test_dynamic_blur_kernel_is_ceil_of_moving_share_over_divisor_made_odd(held, inter_blur, kernel):
    assert dfi.dynamic_blur_kernel(held, inter_blur) == kernel


def test_dynamic_blur_softens_more_when_more_moves():
    mask = np.full((41, 41), 255, np.uint8)
    mask[:, 20:] = 0
    soft = dfi.dynamic_blur(mask, 50.0, 1)
    softer_than = dfi.dynamic_blur(mask, 90.0, 1)
    assert 0 < soft[20, 18] < 255
    assert soft[20, 14] < softer_than[20, 14] or softer_than[20, 14] == 255


def test_dissolve_is_the_held_share_when_refresh_is_off():
    assert dfi.dissolve_for_step(5, 87.4, refresh_every=0, refresh_strength=30) == 87.4


def test_dissolve_schedule_refreshes_every_n_steps():
    schedule = [dfi.dissolve_for_step(i, 87.4, refresh_every=3, refresh_strength=20) for i in range(7)]
    assert schedule == [20, 100, 100, 20, 100, 100, 20]


def test_blend_formula_per_pixel():
    gen = np.array([[100, 100, 100]], np.uint8)
    prev = np.array([[200, 200, 200]], np.uint8)
    mask = np.array([[255, 0, 51]], np.uint8)
    assert dfi.blend(gen, prev, mask, 50).tolist() == [[150, 100, 110]]
    assert dfi.blend(gen, prev, mask, 100).tolist() == [[200, 100, 120]]
    assert dfi.blend(gen, prev, mask, 0).tolist() == [[100, 100, 100]]


def test_blend_applies_the_same_alpha_to_every_channel():
    gen = np.zeros((1, 2, 3), np.uint8)
    prev = np.full((1, 2, 3), 255, np.uint8)
    prev[0, 1] = (10, 20, 30)
    mask = np.full((1, 2), 255, np.uint8)
    assert dfi.blend(gen, prev, mask, 40).tolist() == [[[102, 102, 102], [4, 8, 12]]]


def test_inter_denoise_runs_on_every_nth_step_only():
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    changed = [not np.array_equal(dfi.inter_denoise(img, i, 9, 9, 3), img) for i in range(7)]
    assert changed == [True, False, False, True, False, False, True]
    assert np.array_equal(dfi.inter_denoise(img, 0, 0, 9, 3), img)


def _params(**kw) -> DFIParams:
    return DFIParams(**({"inter_denoise": 0} | kw))


def test_recursion_carries_the_previous_output_not_the_previous_generated_frame():
    src = np.full((4, 4, 3), 120, np.uint8)
    gens = [np.full((4, 4, 3), v, np.uint8) for v in (0, 100, 200)]
    params = _params(refresh_every=1, refresh_strength=50)
    state = dfi.start_state(src, gens[0])
    state, out1, _ = dfi.dfi_step(state, src, gens[1], params)
    state, out2, _ = dfi.dfi_step(state, src, gens[2], params)
    assert out1[0, 0, 0] == 50  # 0.5 * 100 + 0.5 * 0
    assert out2[0, 0, 0] == 125  # 0.5 * 200 + 0.5 * out1; carrying gen1 would give 150
    assert state.step_index == 2
    assert np.array_equal(state.previous_output, out2)


def test_step_holds_still_pixels_and_refreshes_moving_ones():
    src0 = np.full((8, 64, 3), 100, np.uint8)
    src1 = src0.copy()
    src1[:, 32:] = 200  # right half moves
    gen0 = np.full((8, 64, 3), 10, np.uint8)
    gen1 = np.full((8, 64, 3), 240, np.uint8)
    params = _params(inter_blur=5)
    _, out, info = dfi.dfi_step(dfi.start_state(src0, gen0), src1, gen1, params)
    assert info.held_pct == 50.0
    # Far from the seam: held half shows 10 blended at 50 % dissolve, moving half shows 240.
    assert out[4, 0, 0] == round(240 * 0.5 + 10 * 0.5)
    assert out[4, 63, 0] == 240


def test_tolerance_zero_passes_generated_frames_through():
    src = np.full((4, 4, 3), 100, np.uint8)
    gen0, gen1 = np.zeros((4, 4, 3), np.uint8), np.full((4, 4, 3), 77, np.uint8)
    _, out, _ = dfi.dfi_step(dfi.start_state(src, gen0), src, gen1, DFIParams(tolerance=0))
    assert np.array_equal(out, gen1)


def test_map_denoise_zero_is_identity_and_positive_smooths():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    assert dfi.denoise_source(img, 0) is img
    assert dfi.denoise_source(img, 9).std() < img.std()


def test_default_preview_indices_spread_over_the_clip():
    assert dfi.default_preview_indices(4, 100) == [1, 34, 66, 99]
    assert dfi.default_preview_indices(4, 3) == [1, 2]
    assert dfi.default_preview_indices(4, 1) == []
