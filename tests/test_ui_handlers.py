"""What the DFI tab's buttons call, on real frames (a small demo clip): preview, run, cancel, second click."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from ui_support import dfi_values, needs_gradio, small_clip

pytestmark = [pytest.mark.ui, needs_gradio]


@pytest.fixture
def clip(tmp_path):
    return small_clip(tmp_path / "clip", frames=12)


@pytest.fixture
def handlers():
    from abysz_lab.ui import UISettings
    from abysz_lab.ui.dfi_tab import DFIHandlers

    return DFIHandlers(UISettings(preview_frames=3))


def _is_update(value) -> bool:
    """A gr.update() that leaves the component as it is (3.41 says 'generic_update', 4.x 'update')."""
    return isinstance(value, dict) and str(value.get("__type__", "")).endswith("update") and len(value) == 1


def test_preview_shows_a_mask_and_an_overlay_per_frame_at_frame_size(handlers, clip):
    gallery, status = handlers.preview(dfi_values(clip.source, clip.generated))
    assert len(gallery) == 2 * 3
    for image, caption in gallery:
        assert image.shape == (96, 128, 3)
        assert image.dtype == np.uint8
        assert "frame" in caption
    assert "abysz-msg-info" in status


def test_preview_masks_hold_the_still_background(handlers, clip):
    gallery, _ = handlers.preview(dfi_values(clip.source, clip.generated, preview_frames="5"))
    mask = gallery[0][0]
    assert 50 < 100 * np.count_nonzero(mask == 255) / mask.size < 100
    assert "% held" in gallery[0][1]


def test_preview_captions_count_frames_from_1_and_name_the_file(handlers, clip):
    gallery, status = handlers.preview(dfi_values(clip.source, clip.generated, preview_frames="5"))
    fifth = sorted(p.name for p in clip.generated.glob("*.png"))[4]
    # Counting from 0 would caption the fifth file "frame 4", or show the sixth file as "frame 5".
    assert f"frame 5 ({fifth})" in gallery[0][1]
    assert f"frame 5 ({fifth})" in gallery[1][1]
    assert "Masks for frames 5." in status


def test_preview_writes_nothing(handlers, clip, tmp_path):
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    handlers.preview(dfi_values(clip.source, clip.generated))
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_preview_with_a_bad_frame_number_says_so_and_keeps_the_gallery(handlers, clip):
    gallery, status = handlers.preview(dfi_values(clip.source, clip.generated, preview_frames="3, x"))
    assert _is_update(gallery)
    assert "abysz-msg-error" in status
    assert "whole numbers" in status


def test_preview_with_an_empty_source_box_asks_for_it(handlers, clip):
    _, status = handlers.preview(dfi_values("", clip.generated))
    assert "Enter the DFI source frames folder or video" in status


def test_run_writes_every_frame_and_shows_figures_and_first_last_frames(handlers, clip, tmp_path):
    reports = []
    out = tmp_path / "out"
    status, first, last, last_output, *_ = handlers.run(
        dfi_values(clip.source, clip.generated, out, compare=False, analyze=False),
        lambda *a, **k: reports.append(a[0]),
    )
    assert len(list(out.glob("*.png"))) == 12
    assert "DFI finished" in status
    assert "12 of 12" in status
    assert "frames/s" in status
    assert first.shape == last.shape == (96, 128, 3)
    assert not np.array_equal(first, last)  # the ball moved
    assert last_output == str(out)
    assert reports[-1] == (12, 12)
    assert [done for done, _ in reports] == sorted(done for done, _ in reports)


def test_run_with_no_output_folder_writes_next_to_the_generated_folder(handlers, clip):
    _, _, _, last_output, *_ = handlers.run(dfi_values(clip.source, clip.generated, ""))
    assert last_output == str(clip.generated.parent / "generated_dfi")
    assert len(list((clip.generated.parent / "generated_dfi").glob("*.png"))) == 12


def test_run_with_no_output_folder_uses_the_default_output_root_setting(clip, tmp_path):
    from abysz_lab.ui import UISettings
    from abysz_lab.ui.dfi_tab import DFIHandlers

    root = tmp_path / "renders"
    handlers = DFIHandlers(UISettings(output_root=str(root)))
    _, _, _, last_output, *_ = handlers.run(dfi_values(clip.source, clip.generated, analyze=False))
    assert last_output == str(root / "generated_dfi")


def test_run_frames_limit_stops_early(handlers, clip, tmp_path):
    status, *_ = handlers.run(dfi_values(clip.source, clip.generated, tmp_path / "out", frames_limit=5.0))
    assert "5 of 5" in status
    assert len(list((tmp_path / "out").glob("*.png"))) == 5


def test_run_into_an_input_folder_is_refused_and_writes_nothing(handlers, clip):
    before = sorted(clip.generated.iterdir())
    status, *others = handlers.run(dfi_values(clip.source, clip.generated, clip.generated))
    assert "abysz-msg-error" in status
    assert all(_is_update(o) for o in others)
    assert sorted(clip.generated.iterdir()) == before


def test_cancel_mid_run_stops_with_whole_frames_and_says_how_far(handlers, clip, tmp_path):
    from abysz_lab.frames import read_frame

    out = tmp_path / "out"
    cancel_messages = []

    def progress(done_total, **_):
        if done_total[0] == 4:
            cancel_messages.append(handlers.cancel())

    status, *others = handlers.run(dfi_values(clip.source, clip.generated, out), progress)
    written = sorted(out.glob("*.png"))
    assert "Cancelling" in cancel_messages[0]
    assert "abysz-msg-warning" in status
    assert "Cancelled after" in status
    assert all(_is_update(o) for o in others)
    assert 4 <= len(written) < 12
    assert all(read_frame(p).shape == (96, 128, 3) for p in written)
    assert not handlers.busy


def test_second_click_during_a_run_waits_its_turn_and_says_how_many_are_ahead(handlers, clip, tmp_path):
    """The shared queue: a second run is queued behind the first (not refused) and then runs."""
    reached, release = threading.Event(), threading.Event()
    first_result, second_result, second_descs = [], [], []

    def slow_progress(done_total, **_):
        if done_total[0] == 2:
            reached.set()
            release.wait(timeout=30)

    first = threading.Thread(
        target=lambda: first_result.append(
            handlers.run(dfi_values(clip.source, clip.generated, tmp_path / "a"), slow_progress)
        )
    )
    second = threading.Thread(
        target=lambda: second_result.append(
            handlers.run(
                dfi_values(clip.source, clip.generated, tmp_path / "b"),
                lambda done_total, desc="", **_: second_descs.append(desc),
            )
        )
    )
    first.start()
    try:
        assert reached.wait(timeout=30)
        second.start()
        deadline = time.monotonic() + 30
        while "Queued behind 1 job" not in second_descs:
            assert time.monotonic() < deadline, second_descs
            time.sleep(0.05)
        assert not (tmp_path / "b").exists()  # it waits while the first one holds the clip's folders
    finally:
        release.set()
        first.join(timeout=60)
        second.join(timeout=60)
    assert "12 of 12" in first_result[0][0]
    assert "12 of 12" in second_result[0][0]
    assert not handlers.busy


def test_a_run_into_the_folder_a_queued_run_writes_is_refused_naming_it(handlers, clip, tmp_path):
    reached, release = threading.Event(), threading.Event()

    def slow_progress(done_total, **_):
        if done_total[0] == 2:
            reached.set()
            release.wait(timeout=30)

    values = dfi_values(clip.source, clip.generated, tmp_path / "a")
    first = threading.Thread(target=lambda: handlers.run(values, slow_progress))
    first.start()
    try:
        assert reached.wait(timeout=30)
        status, *others = handlers.run(values)
    finally:
        release.set()
        first.join(timeout=60)
    assert "abysz-msg-error" in status
    assert "writes into" in status and "job " in status
    assert all(_is_update(o) for o in others)


def test_cancel_with_nothing_running_says_so(handlers):
    assert "No DFI run is going" in handlers.cancel()


def test_a_run_after_a_cancelled_one_resumes_and_finishes(handlers, clip, tmp_path):
    out = tmp_path / "out"

    def cancel_at_3(done_total, **_):
        if done_total[0] == 3:
            handlers.cancel()

    handlers.run(dfi_values(clip.source, clip.generated, out), cancel_at_3)
    status, *_ = handlers.run(dfi_values(clip.source, clip.generated, out))
    assert "12 of 12" in status
    assert "Resumed after frame" in status


def test_a_run_whose_analysis_finds_ghosting_says_which_control_to_try(tmp_path):
    """The classic demo with default settings leaves ghost rings: the status must name what to change."""
    from abysz_lab.demo import make_demo_clip
    from abysz_lab.ui import UISettings
    from abysz_lab.ui.dfi_tab import DFIHandlers

    clip = make_demo_clip(tmp_path / "demo", frames=36, width=256, height=192)
    values = dfi_values(clip.source, clip.generated, tmp_path / "out", compare=False)
    status = DFIHandlers(UISettings()).run(values)[0]
    assert "Ghosting found" in status
    assert "raise &#x27;Expand (deghost)&#x27; (e.g. to 5)" in status
    # With a wider expand the same clip measures no ghosting, and the status stays quiet about it.
    wider = dfi_values(clip.source, clip.generated, tmp_path / "out5", compare=False, expand=5)
    assert "Ghosting found" not in DFIHandlers(UISettings()).run(wider)[0]
