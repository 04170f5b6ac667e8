"""DFI on whole folders: behaviour on synthetic clips, bad input, resume and cancel."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from conftest import noisy_copies, read_back, static_scene, tree_digest, write_frames

from abysz_lab.dfi import DFIParams, iter_dfi, iter_dfi_frames, preview_masks, run_dfi
from abysz_lab.errors import Cancelled, CorruptFrameError, InputError
from abysz_lab.jobs import CancelToken


def _frame_change(frames: list[np.ndarray]) -> float:
    """Mean absolute frame-to-frame change of a sequence."""
    return float(np.mean([cv2.absdiff(a, b).mean() for a, b in zip(frames, frames[1:], strict=False)]))


def _outputs(summary) -> list[np.ndarray]:
    return [read_back(p) for p in summary.outputs]


def test_still_source_makes_the_output_at_least_5x_steadier_than_the_generated_frames(still_clip, tmp_path):
    source, generated = still_clip
    summary = run_dfi(source, generated, tmp_path / "out")
    gen_change = _frame_change([read_back(p) for p in sorted(generated.iterdir())])
    out_change = _frame_change(_outputs(summary))
    assert summary.written == 8
    assert out_change * 5 <= gen_change, (out_change, gen_change)


def test_a_moving_object_follows_the_generated_frames(tmp_path):
    scene = static_scene(64, 96)
    sources, gens = [], []
    gen_noise = noisy_copies(scene, 10, sigma=6)
    for t in range(10):
        x = 8 + 7 * t
        src = scene.copy()
        cv2.rectangle(src, (x, 20), (x + 12, 40), (0, 0, 255), -1)
        gen = gen_noise[t].copy()
        cv2.rectangle(gen, (x, 20), (x + 12, 40), (255, 0, 0), -1)  # the "AI" paints it blue
        sources.append(src)
        gens.append(gen)
    write_frames(tmp_path / "src", sources)
    write_frames(tmp_path / "gen", gens)
    summary = run_dfi(tmp_path / "src", tmp_path / "gen", tmp_path / "out", DFIParams(expand=3))
    outs = _outputs(summary)
    for t in (3, 6, 9):
        x = 8 + 7 * t
        inside = outs[t][24:36, x + 2 : x + 10].reshape(-1, 3).mean(axis=0)
        assert inside[0] > 200 and inside[2] < 60, f"frame {t}: object not refreshed ({inside})"
        old_x = 8 + 7 * (t - 2)  # where the object was two frames ago: no frozen copy there
        ghost = outs[t][24:36, old_x + 2 : old_x + 5].reshape(-1, 3).mean(axis=0)
        assert ghost[0] < 200, f"frame {t}: frozen copy left behind ({ghost})"


def test_tolerance_zero_outputs_the_generated_frames(still_clip, tmp_path):
    source, generated = still_clip
    summary = run_dfi(source, generated, tmp_path / "out", DFIParams(tolerance=0))
    for out, gen in zip(summary.outputs, sorted(generated.iterdir()), strict=True):
        assert np.array_equal(read_back(out), read_back(gen))


def test_inputs_are_byte_identical_after_a_run(still_clip, tmp_path):
    source, generated = still_clip
    (generated / "notes.txt").write_text("keep me")
    before = tree_digest(source), tree_digest(generated)
    run_dfi(source, generated, tmp_path / "out")
    assert (tree_digest(source), tree_digest(generated)) == before


def test_outputs_keep_the_generated_names_and_formats(tmp_path):
    scene = static_scene()
    write_frames(tmp_path / "src", [scene] * 3, pattern="src_{:02d}.png")
    write_frames(tmp_path / "gen", noisy_copies(scene, 3), pattern="img2img-{}.jpg")
    summary = run_dfi(tmp_path / "src", tmp_path / "gen", tmp_path / "out")
    names = sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith("."))
    assert names == ["img2img-0.jpg", "img2img-1.jpg", "img2img-2.jpg"]
    assert (tmp_path / "out" / "img2img-1.jpg").read_bytes()[:2] == b"\xff\xd8"  # JPEG magic
    assert summary.written == 3


def test_different_frame_counts_use_the_first_pairs_and_warn(tmp_path):
    scene = static_scene()
    write_frames(tmp_path / "src", [scene] * 6)
    write_frames(tmp_path / "gen", noisy_copies(scene, 4))
    summary = run_dfi(tmp_path / "src", tmp_path / "gen", tmp_path / "out")
    assert summary.written == 4
    assert any("using the first 4 pairs" in w for w in summary.warnings)


def test_non_images_and_subfolders_are_skipped_and_counted(still_clip, tmp_path):
    source, generated = still_clip
    (generated / "prompt.txt").write_text("a castle")
    (generated / "grids").mkdir()
    summary = run_dfi(source, generated, tmp_path / "out")
    assert summary.written == 8
    assert summary.skipped_inputs == 2
    assert any("ignored 1 non-image file(s) and 1 subfolder(s)" in w for w in summary.warnings)


def test_source_of_another_size_and_aspect_is_fitted(tmp_path):
    wide = static_scene(60, 160)
    write_frames(tmp_path / "src", [wide] * 4)
    write_frames(tmp_path / "gen", noisy_copies(static_scene(48, 64), 4))
    summary = run_dfi(tmp_path / "src", tmp_path / "gen", tmp_path / "out")
    assert read_back(summary.outputs[-1]).shape == (48, 64, 3)


def test_generated_frames_of_mixed_sizes_are_refused_with_the_file_name(tmp_path):
    scene = static_scene()
    write_frames(tmp_path / "src", [scene] * 3)
    gens = noisy_copies(scene, 3)
    gens[2] = cv2.resize(gens[2], (32, 24))
    write_frames(tmp_path / "gen", gens)
    with pytest.raises(InputError, match=r"frame_002.png is 32x24 but the first one is 64x48"):
        run_dfi(tmp_path / "src", tmp_path / "gen", tmp_path / "out")


@pytest.mark.parametrize("kind", ["missing", "empty"])
def test_missing_or_empty_input_folder(tmp_path, still_clip, kind):
    source, _ = still_clip
    bad = tmp_path / "bad"
    if kind == "empty":
        bad.mkdir()
    with pytest.raises(InputError, match="generated"):
        run_dfi(source, bad, tmp_path / "out")


@pytest.mark.parametrize("where", ["same", "inside"])
def test_output_equal_to_or_inside_an_input_is_refused(still_clip, where):
    source, generated = still_clip
    out = generated if where == "same" else generated / "dfi"
    before = tree_digest(generated)
    with pytest.raises(InputError, match="Inputs are never modified"):
        run_dfi(source, generated, out)
    assert tree_digest(generated) == before


def test_output_folder_with_other_files_keeps_them(still_clip, tmp_path):
    source, generated = still_clip
    out = tmp_path / "out"
    out.mkdir()
    (out / "my_notes.txt").write_text("mine")
    (out / "other.png").write_bytes(b"not ours")
    run_dfi(source, generated, out)
    assert (out / "my_notes.txt").read_text() == "mine"
    assert (out / "other.png").read_bytes() == b"not ours"


def test_same_named_files_not_written_by_us_are_not_overwritten(still_clip, tmp_path):
    source, generated = still_clip
    out = tmp_path / "out"
    out.mkdir()
    (out / "frame_000.png").write_bytes(b"user's file")
    with pytest.raises(InputError, match="--overwrite"):
        run_dfi(source, generated, out)
    assert (out / "frame_000.png").read_bytes() == b"user's file"
    run_dfi(source, generated, out, overwrite=True)
    assert read_back(out / "frame_000.png") is not None


def test_corrupt_frame_stops_with_its_name_and_written_frames_stay_whole(still_clip, tmp_path):
    source, generated = still_clip
    (generated / "frame_005.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    out = tmp_path / "out"
    with pytest.raises(CorruptFrameError, match="frame_005.png"):
        run_dfi(source, generated, out)
    written = sorted(p for p in out.glob("*.png"))
    assert 1 <= len(written) <= 5
    for p in written:
        assert read_back(p).shape == (48, 64, 3)
    assert not list(out.glob("*.part"))


def test_unicode_and_spaces_in_every_path(tmp_path):
    scene = static_scene()
    write_frames(tmp_path / "orig frames ñ", [scene] * 3)
    write_frames(tmp_path / "gen 生成", noisy_copies(scene, 3), pattern="画像 {}.png")
    summary = run_dfi(tmp_path / "orig frames ñ", tmp_path / "gen 生成", tmp_path / "salida é")
    assert [p.name for p in summary.outputs] == ["画像 0.png", "画像 1.png", "画像 2.png"]
    assert all(read_back(p) is not None for p in summary.outputs)


def test_one_frame_sequence_is_copied(tmp_path):
    scene = static_scene()
    write_frames(tmp_path / "src", [scene])
    write_frames(tmp_path / "gen", noisy_copies(scene, 1))
    summary = run_dfi(tmp_path / "src", tmp_path / "gen", tmp_path / "out")
    assert summary.written == 1
    assert np.array_equal(read_back(summary.outputs[0]), read_back(tmp_path / "gen" / "frame_000.png"))


def test_grayscale_rgba_and_16_bit_inputs_work_together(tmp_path):
    scene = static_scene()
    gray_src = [cv2.cvtColor(scene, cv2.COLOR_BGR2GRAY)] * 4
    write_frames(tmp_path / "src", gray_src)
    gens = noisy_copies(scene, 4)
    gens[1] = cv2.cvtColor(gens[1], cv2.COLOR_BGR2BGRA)
    gens[2] = gens[2].astype(np.uint16) * 257
    write_frames(tmp_path / "gen", gens)
    summary = run_dfi(tmp_path / "src", tmp_path / "gen", tmp_path / "out")
    assert [read_back(p).shape for p in summary.outputs] == [(48, 64, 3)] * 4
    assert all(read_back(p).dtype == np.uint8 for p in summary.outputs)


def test_frames_limit_stops_early(still_clip, tmp_path):
    source, generated = still_clip
    assert run_dfi(source, generated, tmp_path / "out", frames_limit=3).written == 3


def test_progress_is_reported_for_every_frame(still_clip, tmp_path):
    source, generated = still_clip
    seen = []
    run_dfi(source, generated, tmp_path / "out", progress=seen.append)
    assert [p.done for p in seen] == list(range(9))
    assert seen[-1].total == 8
    assert seen[-1].fraction == 1.0


def _cancel_after(n: int, token: CancelToken):
    def on_progress(p):
        if p.done >= n:
            token.cancel()

    return on_progress


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp"])
def test_cancel_stops_between_frames_and_resume_finishes_identically(tmp_path, ext):
    scene = static_scene()
    write_frames(tmp_path / "src", [scene] * 12)
    write_frames(tmp_path / "gen", noisy_copies(scene, 12), pattern="frame_{:03d}" + ext)
    source, generated = tmp_path / "src", tmp_path / "gen"
    reference = run_dfi(source, generated, tmp_path / "reference")
    token = CancelToken()
    out = tmp_path / "out"
    with pytest.raises(Cancelled, match="Cancelled after"):
        run_dfi(source, generated, out, progress=_cancel_after(3, token), cancel=token)
    record = json.loads((out / ".dfi.abysz.json").read_text())
    assert 3 <= record["completed"] < 12
    assert len(list(out.glob("*" + ext))) == record["completed"]
    resumed = run_dfi(source, generated, out)
    assert resumed.resumed_from == record["completed"]
    assert resumed.written == 12
    # Lossy outputs cannot carry the recursion exactly: the earlier frames are recomputed in memory.
    for a, b in zip(reference.outputs, resumed.outputs, strict=True):
        assert np.array_equal(read_back(a), read_back(b)), a.name


def test_changed_parameters_start_over_and_say_so(still_clip, tmp_path):
    source, generated = still_clip
    out = tmp_path / "out"
    run_dfi(source, generated, out)
    again = run_dfi(source, generated, out, DFIParams(tolerance=8))
    assert again.resumed_from == 0
    assert any("dfi run with other settings" in w for w in again.warnings)


def test_finished_run_is_not_redone(still_clip, tmp_path):
    source, generated = still_clip
    run_dfi(source, generated, tmp_path / "out")
    again = run_dfi(source, generated, tmp_path / "out")
    assert again.resumed_from == 8
    assert again.written == 8
    assert "nothing to do" in again.describe()
    assert any("--no-resume" in w for w in again.warnings)


def test_replaced_input_frames_start_over(still_clip, tmp_path):
    source, generated = still_clip
    out = tmp_path / "out"
    run_dfi(source, generated, out, DFIParams(tolerance=0))
    write_frames(generated, [np.full((48, 64, 3), 99, np.uint8)] * 8)  # a new img2img pass, same names
    again = run_dfi(source, generated, out, DFIParams(tolerance=0))
    assert again.resumed_from == 0
    assert read_back(out / "frame_005.png")[0, 0].tolist() == [99, 99, 99]


def test_preview_masks_show_held_and_moving_areas(tmp_path):
    scene = static_scene(48, 64)
    frames = []
    for t in range(4):
        f = scene.copy()
        cv2.rectangle(f, (5 + 10 * t, 10), (15 + 10 * t, 30), (255, 255, 255), -1)
        frames.append(f)
    write_frames(tmp_path / "src", frames)
    write_frames(tmp_path / "gen", noisy_copies(scene, 4))
    before = tree_digest(tmp_path)
    previews = preview_masks(tmp_path / "src", tmp_path / "gen", DFIParams(inter_blur=5), indices=[2])
    assert tree_digest(tmp_path) == before  # nothing written
    (item,) = previews
    assert item.index == 2
    assert item.name == "frame_002.png"
    assert item.mask.shape == (48, 64)
    assert item.overlay.shape == (48, 64, 3)
    assert item.mask[40, 60] == 255  # still corner held
    assert item.mask[20, 20] < 128  # where the box moved
    assert 0 < item.held_pct < 100


def test_preview_masks_reject_out_of_range_frames(still_clip):
    source, generated = still_clip
    with pytest.raises(InputError, match=r"frame\(s\) 1, 9 out of range: choose frames 2 to 8"):
        preview_masks(source, generated, indices=[0, 8])  # 0-based indices; the message counts from 1


def test_iter_dfi_on_arrays_equals_run_dfi_on_the_same_frames_as_png(tmp_path):
    rng = np.random.default_rng(3)
    sources = [static_scene(seed=1) for _ in range(6)]
    sources[3] = sources[3].copy()
    sources[3][10:30, 10:30] = 255 - sources[3][10:30, 10:30]  # something moves on frame 3
    generated = [rng.integers(0, 256, sources[0].shape, dtype=np.uint8) for _ in range(6)]
    write_frames(tmp_path / "src", sources)
    write_frames(tmp_path / "gen", generated)
    summary = run_dfi(tmp_path / "src", tmp_path / "gen", tmp_path / "out", DFIParams())
    in_memory = list(iter_dfi(sources, generated, DFIParams()))
    assert len(in_memory) == 6
    for path, frame in zip(summary.outputs, in_memory, strict=True):
        assert np.array_equal(read_back(path), frame), path.name
    # and it did stabilise: the held frames are not the raw generated ones
    assert not np.array_equal(in_memory[2], generated[2])


def test_iter_dfi_frames_reports_what_was_held(tmp_path):
    still = [static_scene(seed=2)] * 4
    noisy = noisy_copies(still[0], 4, seed=5)
    frames = list(iter_dfi_frames(still, noisy, DFIParams(inter_denoise=0)))
    assert frames[0].held_pct == 0.0 and not frames[0].held.any()
    assert frames[1].held_pct == 100.0 and (frames[1].held == 255).all()
    assert np.array_equal(frames[3].output, noisy[0])  # a still source carries frame 0 forward


def test_iter_dfi_refuses_a_generated_frame_of_another_size():
    a = np.zeros((16, 16, 3), np.uint8)
    b = np.zeros((16, 20, 3), np.uint8)
    with pytest.raises(InputError, match="same size"):
        list(iter_dfi([a, a], [a, b]))
