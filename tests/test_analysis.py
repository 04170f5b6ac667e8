"""Flicker analysis: metrics with known answers, folder streaming, report files, the CLI."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from abysz_lab import analysis as an
from abysz_lab.cli import main
from abysz_lab.demo import add_ai_flicker, demo_background, make_demo_clip, source_frame, stylise
from abysz_lab.dfi import DFIParams, iter_dfi, run_dfi
from abysz_lab.errors import Cancelled, InputError
from abysz_lab.frames import read_frame, write_frame
from abysz_lab.jobs import CancelToken

H, W = 96, 128


def textured(h: int, w: int, seed: int = 0, sigma: float = 2.0) -> np.ndarray:
    """A smooth random texture spanning 0-255, good for optical flow."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), sigma)
    return cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX)


def noisy(frame: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return np.clip(np.rint(frame + rng.normal(0, sigma, frame.shape)), 0, 255).astype(np.uint8)


def pan(count: int, step: int = 2) -> list[np.ndarray]:
    """A camera pan over a textured picture: ``step`` pixels to the left per frame."""
    big = textured(H + 20, W + step * count, seed=3)
    return [big[10 : 10 + H, step * t : step * t + W].copy() for t in range(count)]


def moving_square(t: int, background: np.ndarray) -> np.ndarray:
    frame = background.copy()
    x = 10 + 8 * t
    cv2.rectangle(frame, (x, 30), (x + 24, 60), (30, 200, 240), -1)
    return frame


def write_clip(folder: Path, frames: list[np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        write_frame(folder / f"frame_{i:03d}.png", frame)
    return folder


@pytest.fixture
def demo_folders(tmp_path: Path) -> tuple[Path, Path]:
    """A 10-frame demo-like clip: still scene, a moving ball, flickering stylised frames."""
    rng = np.random.default_rng(5)
    background = demo_background(W, H)
    sources = [source_frame(background, t, 10) for t in range(10)]
    generated = [add_ai_flicker(stylise(s), rng) for s in sources]
    return write_clip(tmp_path / "source", sources), write_clip(tmp_path / "generated", generated)


# --- metrics with known answers ---------------------------------------------------------------


def test_identical_frames_have_zero_flicker():
    frame = textured(H, W)
    result = an.analyze_frames([frame] * 5, [frame] * 5, [frame] * 5)
    assert result.summary.flicker_generated == 0.0
    assert result.summary.static_flicker_generated == 0.0
    assert result.summary.flicker_output == 0.0


def test_known_per_frame_noise_gives_expected_flicker():
    """Independent N(0, s) noise per frame: E|n_t - n_(t-1)| = 2 s / sqrt(pi)."""
    rng = np.random.default_rng(1)
    still = np.full((H, W, 3), 128, np.uint8)
    sigma = 6.0
    generated = [noisy(still, sigma, rng) for _ in range(8)]
    result = an.analyze_frames([still] * 8, generated)
    expected = 2 * sigma / math.sqrt(math.pi)
    assert result.summary.static_flicker_generated == pytest.approx(expected, rel=0.05)
    assert result.summary.flicker_generated == pytest.approx(expected, rel=0.05)


def test_pure_pan_has_no_motion_compensated_flicker_but_large_frame_difference():
    frames = pan(6)
    plain = np.mean([an.abs_change(frames[t], frames[t - 1]).mean() for t in range(1, 6)])
    result = an.analyze_frames(frames, frames)
    assert plain > 10.0
    assert result.summary.flicker_generated < 0.1 * plain
    assert np.nanmin(result.curves["measured_pct"]) > 50.0


def test_flow_check_excludes_pixels_that_entered_the_frame():
    frames = pan(2, step=4)
    motion = an.source_motion(frames[0], frames[1], 5.0)
    # Panning left, the right edge shows picture that was outside the previous frame.
    assert not motion.measured[:, -3:].any()
    assert motion.measured[:, : W // 2].mean() > 0.5


def test_scene_cut_is_not_counted_as_flicker():
    first, second = textured(H, W, seed=1), textured(H, W, seed=2)
    result = an.analyze_frames([first, second], [first, second])
    assert result.curves["measured_pct"][1] < 15.0
    assert math.isnan(result.curves["flicker_generated"][1])
    assert math.isnan(result.curves["static_flicker_generated"][1])


def test_real_lighting_change_in_the_source_is_not_flicker():
    frame = textured(H, W)
    brighter = cv2.add(frame, np.full_like(frame, 30))
    result = an.analyze_frames([frame, brighter], [frame, brighter])
    assert result.curves["stable_pct"][1] < 5.0
    assert math.isnan(result.curves["flicker_generated"][1])


def test_frozen_moving_object_leaves_a_strong_trail():
    """A frozen output keeps the square where it started while the source shows it gone."""
    background = textured(H, W, seed=4)
    sources = [moving_square(t, background) for t in range(6)]
    frozen = [sources[0]] * 6
    result = an.analyze_frames(sources, sources, frozen)
    assert result.summary.ghosting_pct > 50.0


def test_output_that_follows_the_generated_frames_does_not_ghost():
    background = textured(H, W, seed=4)
    sources = [moving_square(t, background) for t in range(6)]
    result = an.analyze_frames(sources, sources, sources)
    assert result.summary.ghosting_pct == 0.0


def rolling_disc(frame: np.ndarray, t: int) -> np.ndarray:
    """Draw a striped disc that rolls 7 px per frame (its inside turns, like the demo's ball); return its mask."""
    x, y = 14 + 7 * t, 48
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.circle(mask, (x, y), 12, 1, -1)
    inside = mask.astype(bool)
    yy, xx = np.mgrid[0 : frame.shape[0], 0 : frame.shape[1]]
    stripe = (np.floor((np.arctan2(yy - y, xx - x) + 0.6 * t) / (np.pi / 3)) % 3).astype(int)
    colours = np.array([(30, 30, 150), (230, 230, 230), (40, 170, 240)], np.uint8)
    frame[inside] = colours[stripe[inside]]
    return inside


def clip_with_trails(opacity: float, seed: int, frames: int = 14) -> tuple[list, list, list]:
    """A still scene with a rolling disc; the output holds the scene and leaves trails of known opacity.

    Wherever the disc has been (and is not now), the output is the held scene
    blended with ``opacity`` of the last generated frame that showed the disc
    there: the lasting trail a DFI run leaves behind a moving subject.
    """
    rng = np.random.default_rng(seed)
    background = textured(H, W, seed=4)
    held = add_ai_flicker(background, rng)
    sources, generated, masks = [], [], []
    for t in range(frames):
        frame = background.copy()
        masks.append(rolling_disc(frame, t))
        sources.append(frame)
        generated.append(add_ai_flicker(frame, rng))
    outputs = []
    for t in range(frames):
        out = held.astype(np.float32)
        for before in range(t):  # later frames overwrite earlier ones: the last disc seen stays
            m = masks[before]
            out[m] = (1 - opacity) * held[m] + opacity * generated[before][m]
        out[masks[t]] = generated[t][masks[t]]
        outputs.append(np.clip(out + 0.5, 0, 255).astype(np.uint8))
    return sources, generated, outputs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ghosting_reads_the_opacity_of_known_trails(seed):
    """No trail reads 0; 5, 10 and 30 % trails read in that order, each near its opacity."""
    read = {a: an.analyze_frames(*clip_with_trails(a, seed)).summary.ghosting_pct for a in (0.0, 0.05, 0.1, 0.3)}
    assert read[0.0] == 0.0
    assert 0.0 < read[0.05] < read[0.1] < read[0.3]
    assert read[0.05] == pytest.approx(5, abs=3)
    assert read[0.1] == pytest.approx(10, abs=2)
    assert read[0.3] == pytest.approx(30, abs=4)


def test_per_frame_ghosting_curve_follows_the_trail():
    _, _, clean_out = clip_with_trails(0.0, 0)
    sources, generated, trailing = clip_with_trails(0.3, 0)
    with_trails = an.analyze_frames(sources, generated, trailing).curves["ghosting_pct"]
    without = an.analyze_frames(sources, generated, clean_out).curves["ghosting_pct"]
    assert np.nanmedian(with_trails) > 20.0
    assert np.nanmedian(without) < 5.0


def test_holding_along_a_pan_is_not_ghosting():
    """An output that carries its picture along the camera's motion leaves no trail, even at the entering edge."""
    rng = np.random.default_rng(3)
    count, step = 8, 3
    big = textured(H + 20, W + step * count, seed=3)
    grain = cv2.GaussianBlur(rng.normal(0, 8, big.shape).astype(np.float32), (0, 0), 1.0)
    held_big = np.clip(big + grain, 0, 255).astype(np.uint8)  # one flicker pattern, moving with the picture
    sources = [big[10 : 10 + H, step * t : step * t + W].copy() for t in range(count)]
    held = [held_big[10 : 10 + H, step * t : step * t + W].copy() for t in range(count)]
    generated = [noisy(s, 8, rng) for s in sources]
    assert an.analyze_frames(sources, generated, held).summary.ghosting_pct == 0.0


def test_the_old_shot_leaking_after_a_cut_is_ghosting():
    """30 % of the old shot mixed into the new one is a trail; a clean cut is none."""
    rng = np.random.default_rng(4)
    first, second = textured(H, W, seed=1), textured(H, W, seed=2)
    sources = [first] * 4 + [second] * 8
    generated = [add_ai_flicker(s, rng) for s in sources]
    leaking = generated[:4] + [cv2.addWeighted(g, 0.7, first, 0.3, 0) for g in generated[4:]]
    clean_cut = generated[:4] + [second] * 8
    assert an.analyze_frames(sources, generated, leaking).summary.ghosting_pct > 8.0
    assert an.analyze_frames(sources, generated, clean_cut).summary.ghosting_pct == 0.0


def test_still_with_camera_separates_the_camera_from_a_subject():
    background = textured(H + 20, W + 40, seed=5)
    before = background[10 : 10 + H, 0:W].copy()
    after = background[10 : 10 + H, 3 : 3 + W].copy()  # the camera pans 3 px
    cv2.rectangle(after, (60, 30), (84, 60), (30, 200, 240), -1)  # a subject appears
    motion = an.source_motion(before, after, 5.0)
    still = an.still_with_camera(motion)
    assert still[5:-5, 5:50].mean() > 0.9  # the panned background moves with the camera
    assert still[35:55, 65:80].mean() < 0.1  # the subject does not


def test_classic_dfi_trails_on_the_demo_clip_register(tmp_path):
    """The ghost rings classic DFI leaves behind the demo's ball are measured; motion mode leaves fainter ones."""
    clip = make_demo_clip(tmp_path / "demo")
    sources = [read_frame(p) for p in sorted(clip.source.iterdir())]
    generated = [read_frame(p) for p in sorted(clip.generated.iterdir())]
    classic = an.analyze_frames(sources, generated, list(iter_dfi(sources, generated, DFIParams())))
    assert classic.summary.ghosting_pct > 10.0
    if "mode" not in {f.name for f in dataclasses.fields(DFIParams)}:
        pytest.skip("DFIParams has no motion mode yet")
    motion = an.analyze_frames(sources, generated, list(iter_dfi(sources, generated, DFIParams(mode="motion"))))
    assert motion.summary.ghosting_pct < 0.5 * classic.summary.ghosting_pct


def test_psnr_of_a_constant_offset():
    a = np.full((8, 8, 3), 100, np.uint8)
    assert an.psnr(a, a + 5) == pytest.approx(20 * math.log10(255 / 5))
    assert an.psnr(a, a) == math.inf


def test_ssim_is_one_for_identical_and_lower_for_noisy_images():
    rng = np.random.default_rng(2)
    image = textured(H, W)
    assert an.ssim(image, image) == pytest.approx(1.0)
    assert an.ssim(image, noisy(image, 20, rng)) < 0.9


def test_ssim_matches_scikit_image_on_grey_images():
    metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(3)
    image = cv2.cvtColor(textured(H, W), cv2.COLOR_BGR2GRAY)
    other = noisy(image, 12, rng)
    expected = metrics.structural_similarity(
        image,
        other,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
    )
    assert an.ssim(image, other) == pytest.approx(expected, abs=2e-3)


def test_luminance_curves_follow_each_sequence():
    dark, light = np.full((H, W, 3), 40, np.uint8), np.full((H, W, 3), 200, np.uint8)
    result = an.analyze_frames([dark, dark], [light, dark], [dark, light])
    assert result.curves["luma_source"].tolist() == pytest.approx([40, 40], abs=1)
    assert result.curves["luma_generated"].tolist() == pytest.approx([200, 40], abs=1)
    assert result.curves["luma_output"].tolist() == pytest.approx([40, 200], abs=1)


def test_summary_text_reads_flicker_fidelity_and_ghosting():
    summary = an.AnalysisSummary(
        frames=10,
        has_output=True,
        flicker_generated=10.0,
        static_flicker_generated=10.0,
        flicker_output=2.8,
        static_flicker_output=2.0,
        psnr_db=31.44,
        ssim=0.9,
        ghosting_pct=2.08,
    )
    assert summary.text == "flicker -72 %, fidelity 31.4 dB, ghosting 2.1 %"


# --- folders, DFI, reports ------------------------------------------------------------------


def test_dfi_output_has_less_flicker_than_the_generated_frames(demo_folders, tmp_path):
    source, generated = demo_folders
    run_dfi(source, generated, tmp_path / "out")
    result = an.analyze_folders(source, generated, tmp_path / "out")
    assert result.summary.flicker_change_pct < -50.0
    assert result.warnings == []  # DFI's resume sidecar in the output folder is expected


def test_analysis_fits_the_source_to_the_generated_size(tmp_path):
    frame = textured(H, W)
    big = cv2.resize(frame, (W * 2, H * 2), interpolation=cv2.INTER_CUBIC)
    source = write_clip(tmp_path / "s", [big] * 3)
    generated = write_clip(tmp_path / "g", [frame] * 3)
    result = an.analyze_folders(source, generated)
    assert result.summary.frames == 3
    assert result.summary.flicker_generated == 0.0


def test_shorter_output_folder_is_analysed_as_far_as_it_goes(demo_folders, tmp_path):
    source, generated = demo_folders
    out = write_clip(tmp_path / "partial", [np.zeros((H, W, 3), np.uint8)] * 4)
    result = an.analyze_folders(source, generated, out)
    assert result.summary.frames == 4
    assert any("output folder has 4 frames" in w for w in result.warnings)


def test_progress_is_reported_for_every_frame(demo_folders):
    seen = []
    an.analyze_folders(*demo_folders, progress=lambda p: seen.append((p.done, p.total)))
    assert seen[-1] == (10, 10)
    assert [d for d, _ in seen] == list(range(11))


def test_cancel_stops_the_analysis(demo_folders):
    token = CancelToken()

    def cancel_at_three(p):
        if p.done == 3:
            token.cancel()

    with pytest.raises(Cancelled, match="after 3 of 10"):
        an.analyze_folders(*demo_folders, progress=cancel_at_three, cancel=token)


def test_heatmap_frame_out_of_range_is_refused(demo_folders):
    # The message counts from 1 like the files: index 10 is frame 11, and frame 1 has no previous frame.
    with pytest.raises(InputError, match="Heat map frame 11 is out of range: choose a frame between 2 and 10"):
        an.analyze_folders(*demo_folders, heatmap_frame=10)


def test_heatmap_number_counts_from_1(demo_folders):
    result = an.analyze_folders(*demo_folders, heatmap_frame=4)
    assert (result.heatmap.index, result.heatmap.number) == (4, 5)
    assert result.heatmap.name == sorted(p.name for p in demo_folders[1].iterdir())[4]


def test_heatmap_is_kept_for_the_chosen_frame(demo_folders):
    result = an.analyze_folders(*demo_folders, heatmap_frame=4)
    assert result.heatmap.index == 4
    assert result.heatmap.image.shape == (H, W, 3)


def test_heatmap_is_hotter_where_the_output_flickers():
    still = np.full((H, W, 3), 128, np.uint8)
    flicker = still.copy()
    flicker[:, W // 2 :] = 160  # only the right half changes
    result = an.analyze_frames([still, still], [still, flicker], heatmap_frame=1)
    heat = cv2.cvtColor(result.heatmap.image, cv2.COLOR_BGR2GRAY)
    assert heat[:, W // 2 + 5 :].mean() > heat[:, : W // 2 - 5].mean() + 100


def test_heatmap_for_frame_matches_the_streamed_one(demo_folders, tmp_path):
    source, generated = demo_folders
    run_dfi(source, generated, tmp_path / "out")
    streamed = an.analyze_folders(source, generated, tmp_path / "out", heatmap_frame=5).heatmap
    single = an.heatmap_for_frame(source, generated, tmp_path / "out", 5)
    assert single.sequence == "output"
    np.testing.assert_array_equal(single.image, streamed.image)


def test_plot_is_a_png_of_the_requested_width(demo_folders):
    result = an.analyze_folders(*demo_folders)
    png = an.render_plot(result, width_px=800)
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert png.startswith(b"\x89PNG")
    assert image.shape[1] == 800


def test_report_files_hold_the_summary_and_one_row_per_frame(demo_folders, tmp_path):
    source, generated = demo_folders
    run_dfi(source, generated, tmp_path / "out")
    result = an.analyze_folders(source, generated, tmp_path / "out")
    files = an.write_report(result, tmp_path / "report", source, generated)
    data = json.loads(files.json.read_text(encoding="utf-8"))
    assert data["summary"]["text"] == result.summary.text
    assert len(data["frames"]) == 10
    assert data["frames"][0]["flicker_output"] is None  # frame 0 has no previous frame
    assert len(files.csv.read_text(encoding="utf-8").splitlines()) == 11
    assert files.heatmap.exists()


def test_report_numbers_frames_from_1_and_keeps_the_0_based_index(demo_folders, tmp_path):
    """JSON/CSV rows carry "frame" (1 = first file) next to the old "index"; the heat map file is named by frame."""
    source, generated = demo_folders
    names = sorted(p.name for p in generated.iterdir())
    result = an.analyze_folders(source, generated, heatmap_frame=4)
    files = an.write_report(result, tmp_path / "report", source, generated)
    data = json.loads(files.json.read_text(encoding="utf-8"))
    assert [(r["frame"], r["index"], r["name"]) for r in data["frames"]] == [(i + 1, i, n) for i, n in enumerate(names)]
    assert (data["heatmap_frame"], data["heatmap_index"]) == (5, 4)
    lines = files.csv.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("frame,index,name,")
    assert lines[1].startswith(f"1,0,{names[0]},")
    assert files.heatmap.name == "heatmap_00005.png"


def test_plot_x_axis_counts_frames_from_1(demo_folders):
    result = an.analyze_folders(*demo_folders)
    axes = an.plot_figure(result).axes
    assert "frame" in axes[-1].get_xlabel()
    for ax in axes:
        x = ax.lines[0].get_xdata()
        assert (x[0], x[-1]) == (1, 10)


def test_report_folder_inside_an_input_is_refused(demo_folders):
    source, generated = demo_folders
    result = an.analyze_folders(source, generated)
    with pytest.raises(InputError, match="inside the input"):
        an.write_report(result, generated / "report", source, generated)


# --- CLI ------------------------------------------------------------------------------------------


def test_cli_analyze_prints_the_table_and_writes_the_report(demo_folders, tmp_path, capsys):
    source, generated = demo_folders
    assert main(["dfi", "--source", str(source), "--generated", str(generated), "--out", str(tmp_path / "o")]) == 0
    capsys.readouterr()
    code = main(
        [
            "analyze",
            "--source",
            str(source),
            "--generated",
            str(generated),
            "--output",
            str(tmp_path / "o"),
            "--report",
            str(tmp_path / "r"),
            "--heatmap-frame",
            "3",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "flicker, motion-compensated" in out
    assert "fidelity" in out
    names = sorted(p.name for p in (tmp_path / "r").iterdir())
    # --heatmap-frame counts from 1: frame 3 is the third file, and the file is named by that number.
    assert names == ["analysis.csv", "analysis.json", "analysis.png", "heatmap_00003.png"]
    data = json.loads((tmp_path / "r" / "analysis.json").read_text(encoding="utf-8"))
    assert (data["heatmap_frame"], data["heatmap_index"]) == (3, 2)
    assert "heat map heatmap_00003.png" in out


def test_cli_analyze_heatmap_frame_1_is_refused_in_frame_numbers(demo_folders, tmp_path, capsys):
    source, generated = demo_folders
    args = ["analyze", "--source", str(source), "--generated", str(generated), "--report", str(tmp_path / "r")]
    assert main([*args, "--heatmap-frame", "1"]) == 2
    assert "Heat map frame 1 is out of range: choose a frame between 2 and 10" in capsys.readouterr().err


def test_cli_analyze_missing_folder_exits_2(tmp_path, capsys):
    code = main(["analyze", "--source", str(tmp_path / "nope"), "--generated", str(tmp_path), "--report", "x"])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_analyze_tiny_frames_exits_2_with_one_line(tmp_path, capsys):
    tiny = [textured(7, 9, seed=t) for t in range(3)]
    source, generated = write_clip(tmp_path / "s", tiny), write_clip(tmp_path / "g", tiny)
    code = main(["analyze", "--source", str(source), "--generated", str(generated), "--report", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2
    assert "at least 16x16 pixels; these are 9x7" in err
    assert "Traceback" not in err
    message = err.rstrip("\n").split("\n")[-1]  # after the progress bar's line
    assert "16x16" in message
    assert err.count("16x16") == 1


def test_analyze_frames_refuses_frames_too_small_to_measure():
    tiny = [textured(7, 9, seed=t) for t in range(3)]
    with pytest.raises(InputError, match="at least 16x16 pixels; these are 9x7"):
        an.analyze_frames(tiny, tiny, tiny)


def test_analyze_folders_refuses_frames_too_small_to_measure(tmp_path):
    tiny = [textured(12, 20, seed=t) for t in range(3)]
    source, generated = write_clip(tmp_path / "s", tiny), write_clip(tmp_path / "g", tiny)
    with pytest.raises(InputError, match="these are 20x12"):
        an.analyze_folders(source, generated)


def test_ssim_refuses_images_smaller_than_its_window():
    image = textured(10, 10)
    with pytest.raises(ValueError, match="at least 11x11"):
        an.ssim(image, image)


def test_heatmap_goes_to_the_frame_with_the_most_flicker_after_a_scene_cut():
    first, second = textured(H, W, seed=1), textured(H, W, seed=2)
    rng = np.random.default_rng(6)
    sources = [first, second, second, second]
    generated = [first, second, noisy(second, 3, rng), noisy(second, 12, rng)]
    result = an.analyze_frames(sources, generated)
    assert math.isnan(result.curves["flicker_generated"][1])  # the cut
    assert result.heatmap.index == 3
