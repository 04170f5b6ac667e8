"""What the Deflicker playground tab's buttons call, on real frames (a small demo clip)."""

from __future__ import annotations

import re
import threading

import numpy as np
import pytest
from conftest import tree_digest
from ui_support import job_on_the_shared_queue, needs_gradio, small_clip, wait_for_desc

pytestmark = [pytest.mark.ui, needs_gradio]

FRAMES = 12


@pytest.fixture(autouse=True)
def user_config(tmp_path, monkeypatch):
    """A user config folder of the test's own, so custom presets never touch the real one."""
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.setenv("APPDATA", str(home))
    return home


@pytest.fixture
def clip(tmp_path):
    return small_clip(tmp_path / "clip", frames=FRAMES)


def make_handlers(tmp_path):
    from abysz_lab.ui import UISettings
    from abysz_lab.ui.playground_tab import PlaygroundHandlers

    return PlaygroundHandlers(UISettings(), temp_root=tmp_path / "served")


@pytest.fixture
def handlers(tmp_path):
    return make_handlers(tmp_path)


def values(input_dir, output="", **overrides) -> dict:
    """What the playground's controls hold by default, with the input folder filled in."""
    from abysz_lab import params as prm
    from abysz_lab import playground as pg

    out = {s.name: s.default for s in prm.specs(pg.PlaygroundParams)}
    out.update(
        preset="Brightness lock",
        input=str(input_dir),
        output=str(output),
        original="",
        measure=True,
        overwrite=False,
        resume=True,
        preview_start=1,
        preview_count=8,
        custom_name="",
        custom_chain="",
    )
    out.update(overrides)
    return out


def _is_update(value) -> bool:
    """A gr.update() that leaves the component as it is (3.41 says 'generic_update', 4.x 'update')."""
    return isinstance(value, dict) and str(value.get("__type__", "")).endswith("update") and len(value) == 1


def _gif_frames(path) -> int:
    from PIL import Image

    with Image.open(path) as gif:
        return gif.n_frames


# --- preview --------------------------------------------------------------------------------


def test_preview_shows_before_and_after_side_by_side_and_an_animation(handlers, clip):
    gallery, animation, status = handlers.preview(values(clip.generated, preview_start=3, preview_count=4))
    assert len(gallery) == 4
    for image, caption in gallery:
        assert image.shape == (96, 2 * 128 + 4, 3)
        assert "before | after" in caption
    before, after = gallery[0][0][:, :128], gallery[0][0][:, -128:]
    assert not np.array_equal(before, after)  # the lock changed the frame
    # Frame N is the N-th file: frame 3 is the third name in the folder (counted from 1, like extraction).
    names = sorted(p.name for p in clip.generated.iterdir())
    assert [c.split(":")[0] for _, c in gallery] == [f"Frame {n} ({names[n - 1]})" for n in (3, 4, 5, 6)]
    assert animation.endswith(".gif")
    assert _gif_frames(animation) == 4
    assert "frames 3 to 6" in status


def test_preview_start_frame_counts_from_1(handlers, clip):
    first, _, _ = handlers.preview(values(clip.generated, preview_start=1, preview_count=1))
    assert first[0][1].startswith("Frame 1 (")
    gallery, _, status = handlers.preview(values(clip.generated, preview_start=0))
    assert _is_update(gallery)
    assert "at least 1" in status
    _, _, status = handlers.preview(values(clip.generated, preview_start=FRAMES + 1))
    assert f"frames 1 to {FRAMES}" in status


def test_preview_writes_only_into_the_served_temp_folder(handlers, clip, tmp_path):
    before = tree_digest(clip.generated.parent)
    _, animation, _ = handlers.preview(values(clip.generated))
    assert tree_digest(clip.generated.parent) == before
    assert (tmp_path / "served") in type(tmp_path)(animation).parents


def test_preview_animations_are_kept_per_session_and_old_ones_removed(handlers, clip, tmp_path):
    paths = [handlers.preview(values(clip.generated, preview_count=2), "session-a")[1] for _ in range(4)]
    other = handlers.preview(values(clip.generated, preview_count=2), "session-b")[1]
    kept = sorted(p.name for p in (tmp_path / "served" / "session-a").glob("*.gif"))
    assert len(kept) == 2
    assert type(tmp_path)(paths[-1]).name in kept
    assert type(tmp_path)(other).parent.name == "session-b"


def test_preview_start_past_the_end_says_so_and_keeps_the_gallery(handlers, clip):
    gallery, animation, status = handlers.preview(values(clip.generated, preview_start=40))
    assert _is_update(gallery)
    assert _is_update(animation)
    assert "abysz-msg-error" in status
    assert "out of range" in status


def test_picking_a_preset_describes_it_and_sets_its_recommended_strength_and_window(handlers):
    info, strength, window = handlers.describe_preset("Temporal median")
    assert "Temporal median" in info
    assert "temporal median" in info  # the chain
    assert window["value"] == 3
    assert strength["value"] == 1.0
    _, strength, _ = handlers.describe_preset("Blend (original)")
    assert strength["value"] == 0.5


def test_engine_line_names_imagemagick(handlers):
    assert "ImageMagick" in handlers.engine_html()
    assert "abysz-msg-ok" in handlers.engine_html()


# --- apply ------------------------------------------------------------------------------------


def test_apply_writes_every_frame_and_reports_figures_and_flicker(handlers, clip, tmp_path):
    out = tmp_path / "out"
    before = tree_digest(clip.generated)
    reports = []
    status, plot, last_output = handlers.apply(values(clip.generated, out), lambda *a, **k: reports.append(k))
    assert len(list(out.glob("*.png"))) == FRAMES
    assert tree_digest(clip.generated) == before
    assert "Deflicker finished" in status
    assert f"{FRAMES} of {FRAMES}" in status
    assert "frames/s" in status
    assert "Brightness pumping" in status
    assert "Fidelity" in status
    assert "Fill in the original frames folder" in status
    assert "Flicker figure" not in status  # it needs the original's motion
    assert plot is None
    assert last_output == str(out)
    assert any("Measuring flicker" in k.get("desc", "") for k in reports)


def test_apply_with_the_original_frames_shows_the_flicker_figure_and_plot(handlers, clip, tmp_path):
    status, plot, _ = handlers.apply(values(clip.generated, tmp_path / "out", original=str(clip.source)))
    assert "Flicker figure: flicker" in status
    assert "original video" in status
    assert plot.ndim == 3
    assert plot.shape[1] > 500


def test_apply_lowers_the_measured_brightness_pumping(handlers, tmp_path):
    from conftest import static_scene, write_frames

    scene = static_scene(64, 96)
    gains = 1.0 + 0.15 * np.sin(np.arange(FRAMES) * 2.1)
    write_frames(tmp_path / "in", [np.clip(scene * g, 0, 255).astype(np.uint8) for g in gains])
    status, _, _ = handlers.apply(values(tmp_path / "in", tmp_path / "out"))
    change = re.search(r"Brightness pumping ([-+]\d+) %", status)
    assert int(change.group(1)) < -80


def test_apply_without_an_output_folder_writes_next_to_the_input(handlers, clip):
    _, _, last_output = handlers.apply(values(clip.generated, measure=False))
    assert last_output == str(clip.generated.parent / "generated_deflicker")
    assert len(list((clip.generated.parent / "generated_deflicker").glob("*.png"))) == FRAMES


def test_cancel_mid_run_stops_with_whole_frames_and_says_how_far(handlers, clip, tmp_path):
    out = tmp_path / "out"
    said = []

    def progress(done_total, **_):
        if done_total[0] == 4 and not said:
            said.append(handlers.cancel())

    status, plot, last_output = handlers.apply(values(clip.generated, out), progress)
    assert "Cancelling" in said[0]
    assert "abysz-msg-warning" in status
    assert "Cancelled after" in status
    assert _is_update(plot)
    assert _is_update(last_output)
    assert 4 <= len(list(out.glob("*.png"))) < FRAMES
    assert not handlers.runs.busy


def test_a_second_apply_waits_its_turn_and_one_into_the_same_folder_is_refused(handlers, clip, tmp_path):
    reached, release = threading.Event(), threading.Event()
    first_result, second_result, second_descs = [], [], []

    def slow_progress(done_total, **_):
        if done_total[0] == 2:
            reached.set()
            release.wait(timeout=30)

    first = threading.Thread(
        target=lambda: first_result.append(
            handlers.apply(values(clip.generated, tmp_path / "a", measure=False), slow_progress)
        )
    )
    second = threading.Thread(
        target=lambda: second_result.append(
            handlers.apply(
                values(clip.generated, tmp_path / "b", measure=False),
                lambda done_total, desc="", **_: second_descs.append(desc),
            )
        )
    )
    first.start()
    try:
        assert reached.wait(timeout=30)
        second.start()
        wait_for_desc(second_descs, "Queued behind 1 job")
        status, *others = handlers.apply(values(clip.generated, tmp_path / "a"))
        assert not (tmp_path / "b").exists()  # it waits while the first one reads the same input
    finally:
        release.set()
        first.join(timeout=60)
        second.join(timeout=60)
    assert "abysz-msg-error" in status
    assert "deflicker (tab) into" in status and "writes into" in status
    assert all(_is_update(o) for o in others)
    assert f"{FRAMES} of {FRAMES}" in first_result[0][0]
    assert f"{FRAMES} of {FRAMES}" in second_result[0][0]
    assert not handlers.runs.busy


def test_apply_behind_a_job_writing_its_input_waits_then_runs(handlers, clip, tmp_path):
    """A job of the API (or another tab) writing the input folder runs first; the apply then reads whole frames."""
    descs, result = [], []
    with job_on_the_shared_queue("dfi", writes=[clip.generated]) as api_job:
        waiting = threading.Thread(
            target=lambda: result.append(
                handlers.apply(
                    values(clip.generated, tmp_path / "out", measure=False),
                    lambda done_total, desc="", **_: descs.append(desc),
                )
            )
        )
        waiting.start()
        wait_for_desc(descs, "Queued behind 1 job")
        assert not (tmp_path / "out").exists()
    waiting.join(timeout=60)
    assert api_job.state == "done"
    assert f"{FRAMES} of {FRAMES}" in result[0][0]


def test_cancel_while_waiting_in_the_queue_writes_nothing(handlers, clip, tmp_path):
    descs, result = [], []
    with job_on_the_shared_queue("dfi", writes=[clip.generated]):
        waiting = threading.Thread(
            target=lambda: result.append(
                handlers.apply(
                    values(clip.generated, tmp_path / "out"), lambda done_total, desc="", **_: descs.append(desc)
                )
            )
        )
        waiting.start()
        wait_for_desc(descs, "Queued behind 1 job")
        said = handlers.cancel()
        waiting.join(timeout=30)
    assert "Cancelled 1 waiting run before it started" in said
    assert "Cancelled before it started; nothing was written." in result[0][0]
    assert not (tmp_path / "out").exists()


def test_cancel_with_nothing_running_says_so(handlers):
    assert "No deflicker run is going" in handlers.cancel()


# --- custom presets ---------------------------------------------------------------------------


def test_custom_preset_from_the_current_controls_saves_lists_describes_and_deletes(handlers, user_config):
    picker, status = handlers.save_custom(
        values("", preset="Temporal median", strength=0.6, window=5, custom_name="My soft median")
    )
    assert "abysz-msg-ok" in status
    assert picker["value"] == "My soft median"
    assert "My soft median" in picker["choices"]
    assert (user_config / "abysz_lab" / "presets" / "my-soft-median.json").is_file()
    _, strength, window = handlers.describe_preset("My soft median")
    assert (strength["value"], window["value"]) == (0.6, 5)
    picker, status = handlers.delete_custom("My soft median")
    assert "Deleted" in status
    assert "My soft median" not in picker["choices"]
    assert not (user_config / "abysz_lab" / "presets" / "my-soft-median.json").exists()


def test_custom_preset_from_a_typed_chain_runs_in_the_preview(handlers, clip):
    picker, status = handlers.save_custom(
        values("", custom_name="Lock then median", custom_chain="brightness_lock -> temporal_median:3")
    )
    assert "abysz-msg-ok" in status
    info, _, _ = handlers.describe_preset("Lock then median")
    assert "brightness lock" in info
    assert "temporal median (k=3" in info
    gallery, _, status = handlers.preview(values(clip.generated, preset="Lock then median", preview_count=2))
    assert len(gallery) == 2
    assert "Lock then median on frames 1 to 2" in status


def test_custom_preset_with_a_bad_chain_says_what_is_wrong(handlers):
    picker, status = handlers.save_custom(values("", custom_name="Bad", custom_chain="brightness_lock -> sharpen"))
    assert _is_update(picker)
    assert "abysz-msg-error" in status
    assert "sharpen&#x27;, is not a step" in status


def test_custom_preset_cannot_replace_a_builtin_or_be_deleted_as_one(handlers):
    _, status = handlers.save_custom(values("", custom_name="Temporal median"))
    assert "built-in preset" in status
    _, status = handlers.delete_custom("Temporal median")
    assert "only your own presets can be deleted" in status


def test_reload_picks_up_preset_files_and_reports_bad_ones(handlers, user_config):
    from abysz_lab import playground as pg

    folder = user_config / "abysz_lab" / "presets"
    pg.save_preset(pg.make_preset("Hand made", pg.parse_chain("blend@0.7")))
    (folder / "broken.json").write_text("{not json", encoding="utf-8")
    picker, status = handlers.reload_presets("Brightness lock")
    assert "Hand made" in picker["choices"]
    assert picker["value"] == "Brightness lock"
    assert "1 custom preset(s) loaded" in status
    assert "broken.json is not valid JSON" in status


# --- without ImageMagick --------------------------------------------------------------------------


def test_without_magickwand_the_tab_says_what_to_install_and_previews_with_numpy(no_magickwand, clip, tmp_path):
    handlers = make_handlers(tmp_path)
    engine_line = handlers.engine_html()
    assert "abysz-msg-warning" in engine_line
    assert "MagickWand" in engine_line
    assert "numpy/OpenCV engine" in engine_line
    gallery, animation, status = handlers.preview(values(clip.generated, preview_count=3))
    assert len(gallery) == 3
    assert animation is None
    assert "numpy engine" in status
    assert "No animated preview" in status
    assert "The stills above are complete" in status


def test_without_magickwand_apply_runs_on_numpy(no_magickwand, clip, tmp_path):
    status, _, _ = make_handlers(tmp_path).apply(values(clip.generated, tmp_path / "out", measure=False))
    assert f"{FRAMES} of {FRAMES}" in status
    assert "numpy" in status


# --- the optional measurement never throws a finished apply away -------------------------------


def test_apply_with_a_missing_original_folder_says_so_before_writing_anything(handlers, clip, tmp_path):
    out = tmp_path / "out"
    status, plot, last_output = handlers.apply(values(clip.generated, out, original=str(tmp_path / "typo")))
    assert "abysz-msg-error" in status
    assert "typo" in status
    assert _is_update(plot)
    assert _is_update(last_output)
    assert not out.exists()


def test_apply_whose_measurement_fails_still_shows_the_finished_deflicker(handlers, clip, tmp_path):
    from conftest import write_frames

    original = tmp_path / "original"
    write_frames(original, [np.zeros((48, 64, 3), np.uint8)] * FRAMES)
    (original / sorted(p.name for p in original.iterdir())[5]).write_bytes(b"not a PNG")
    out = tmp_path / "out"
    status, plot, last_output = handlers.apply(values(clip.generated, out, original=str(original)))
    assert "Deflicker finished" in status
    assert f"{FRAMES} of {FRAMES}" in status
    assert "Measuring flicker failed" in status
    assert plot is None
    assert last_output == str(out)


def test_cancel_while_measuring_keeps_the_finished_deflicker_and_says_no_measurement(handlers, clip, tmp_path):
    out = tmp_path / "out"
    said = []

    def progress(done_total, desc="", **_):
        if desc.startswith("Measuring flicker") and not said:
            said.append(handlers.cancel())

    status, plot, last_output = handlers.apply(values(clip.generated, out), progress)
    assert said
    assert "Deflicker finished" in status
    assert "Cancelled after" not in status
    assert "no flicker measurement" in status
    assert "The deflicker output is complete" in status
    assert plot is None
    assert last_output == str(out)
    assert len(list(out.glob("*.png"))) == FRAMES
