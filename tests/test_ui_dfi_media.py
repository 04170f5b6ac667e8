"""The DFI tab with videos: video inputs, the comparison video and the flicker analysis after a run."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from ui_support import dfi_values, needs_gradio, small_clip

pytestmark = [pytest.mark.ui, needs_gradio]

FRAMES = 12


@pytest.fixture
def clip(tmp_path):
    return small_clip(tmp_path / "clip", frames=FRAMES)


@pytest.fixture
def handlers():
    from abysz_lab.ui import UISettings
    from abysz_lab.ui.dfi_tab import DFIHandlers

    return DFIHandlers(UISettings(preview_frames=2))


def encode_clip(frames: Path, video: Path, fps: int = 12) -> Path:
    """Encode a folder of frame_NNNNN.png (the demo's names) as H.264 MP4 with imageio-ffmpeg's ffmpeg."""
    import imageio_ffmpeg

    args = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y"]
    args += ["-framerate", str(fps), "-i", str(frames / "frame_%05d.png")]
    args += ["-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p", str(video)]
    subprocess.run(args, check=True, capture_output=True)
    return video


@pytest.fixture
def videos(clip, tmp_path):
    """The demo clip as two MP4 files: (source video, generated video)."""
    folder = tmp_path / "videos"
    folder.mkdir()
    return encode_clip(clip.source, folder / "source.mp4"), encode_clip(clip.generated, folder / "img2img.mp4")


def video_stream(path: Path) -> tuple[str, int, int, int]:
    """(codec, width, height, frame count) of an MP4's video stream, decoded with PyAV."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        return stream.codec_context.name, stream.codec_context.width, stream.codec_context.height, count


def _is_update(value) -> bool:
    return isinstance(value, dict) and str(value.get("__type__", "")).endswith("update") and len(value) == 1


# --- video inputs --------------------------------------------------------------------------------


def test_run_on_two_videos_extracts_them_next_to_the_output_and_stabilises_every_frame(handlers, videos, tmp_path):
    out = tmp_path / "result"
    status, first, _, last_output, *_ = handlers.run(dfi_values(*videos, out, compare=False, analyze=False))
    assert f"{FRAMES} of {FRAMES}" in status
    assert f"extracted {FRAMES} frames from source.mp4" in status
    assert len(list((tmp_path / "result_work" / "source").glob("*.png"))) == FRAMES
    assert len(list((tmp_path / "result_work" / "generated").glob("*.png"))) == FRAMES
    assert len(list(out.glob("*.png"))) == FRAMES
    assert first.shape == (96, 128, 3)
    assert last_output == str(out)


def test_a_second_run_on_the_same_videos_reuses_the_extracted_frames(handlers, videos, tmp_path):
    values = dfi_values(*videos, tmp_path / "result", compare=False, analyze=False)
    handlers.run(values)
    frame = next((tmp_path / "result_work" / "source").glob("*.png"))
    before = frame.stat().st_mtime_ns
    status, *_ = handlers.run(values)
    assert "re-used the frames extracted earlier from source.mp4" in status
    assert frame.stat().st_mtime_ns == before


def test_a_video_and_a_frame_folder_can_be_mixed(handlers, videos, clip, tmp_path):
    status, *_ = handlers.run(dfi_values(videos[0], clip.generated, tmp_path / "mixed", compare=False, analyze=False))
    assert f"{FRAMES} of {FRAMES}" in status
    assert not (tmp_path / "mixed_work" / "generated").exists()


def test_empty_output_box_with_a_generated_video_writes_beside_it_without_the_extension(handlers, videos):
    _, _, _, last_output, *_ = handlers.run(dfi_values(*videos, "", compare=False, analyze=False))
    assert last_output == str(videos[1].parent / "img2img_dfi")


def test_preview_masks_work_on_video_inputs(handlers, videos, tmp_path):
    gallery, status = handlers.preview(dfi_values(*videos, tmp_path / "result", preview_frames="3, 8"))
    assert len(gallery) == 4
    assert gallery[0][0].shape == (96, 128, 3)
    assert "Masks for frames 3, 8" in status


def test_a_file_that_is_not_a_video_is_reported_and_nothing_is_written(handlers, clip, tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a video", encoding="utf-8")
    status, *others = handlers.run(dfi_values(fake, clip.generated, tmp_path / "out"))
    assert "abysz-msg-error" in status
    assert "notes.mp4 is not a video ffmpeg can read" in status
    assert all(_is_update(o) for o in others)
    assert not (tmp_path / "out").exists()


def test_a_missing_video_is_reported_as_a_missing_video(handlers, clip, tmp_path):
    status, *_ = handlers.run(dfi_values(clip.source, tmp_path / "gone.mp4", tmp_path / "out"))
    assert "video file does not exist" in status


def test_a_work_folder_holding_someone_elses_files_is_refused(handlers, videos, tmp_path):
    work = tmp_path / "result_work"
    work.mkdir()
    (work / "mine.txt").write_text("keep me", encoding="utf-8")
    status, *_ = handlers.run(dfi_values(*videos, tmp_path / "result"))
    assert "was not made by Abysz LAB" in status
    assert (work / "mine.txt").read_text(encoding="utf-8") == "keep me"
    assert not (tmp_path / "result").exists()


def test_a_run_after_a_cancelled_extraction_extracts_again_and_finishes(handlers, videos, tmp_path):
    values = dfi_values(*videos, tmp_path / "result", compare=False, analyze=False)

    def cancel_in_extraction(done_total, desc="", **_):
        if desc.startswith("Extract source") and done_total[0] == 4:
            handlers.cancel()

    status, *_ = handlers.run(values, cancel_in_extraction)
    assert "Cancelled after" in status
    status, *_ = handlers.run(values)
    assert f"extracted {FRAMES} frames from source.mp4" in status
    assert f"{FRAMES} of {FRAMES}" in status


# --- the comparison video ------------------------------------------------------------------------


def test_run_writes_an_h264_comparison_video_of_the_three_clips_beside_the_output(handlers, clip, tmp_path):
    out = tmp_path / "out"
    handlers.run(dfi_values(clip.source, clip.generated, out, analyze=False))
    codec, width, height, count = video_stream(tmp_path / "out_compare.mp4")
    assert codec == "h264"
    assert width == 3 * 128
    assert height > 96  # the label bar sits above the frames
    assert count == FRAMES


def test_the_comparison_video_is_handed_to_gradio_from_its_temp_folder(handlers, clip, tmp_path):
    import gradio as gr

    from abysz_lab.ui import compat

    *_, shown, _, _ = handlers.run(dfi_values(clip.source, clip.generated, tmp_path / "out", analyze=False))
    shown = Path(shown)
    assert shown.resolve().is_relative_to(Path(tempfile.gettempdir()).resolve())
    assert not any(part.startswith(".") for part in shown.parts)  # gradio 3.41 refuses dot-folders
    assert shown.read_bytes() == (tmp_path / "out_compare.mp4").read_bytes()
    assert compat.component(gr.Video, interactive=False).postprocess(str(shown)) is not None


def test_a_rerun_replaces_its_own_comparison_video(handlers, clip, tmp_path):
    values = dfi_values(clip.source, clip.generated, tmp_path / "out", analyze=False, resume=False)
    handlers.run(values)
    handlers.run(values)
    assert sorted(p.name for p in tmp_path.glob("out_compare*.mp4")) == ["out_compare.mp4"]


def test_a_users_file_with_the_comparison_name_is_never_overwritten(handlers, clip, tmp_path):
    users = tmp_path / "out_compare.mp4"
    users.write_bytes(b"the user's own file")
    *_, shown, _, _ = handlers.run(dfi_values(clip.source, clip.generated, tmp_path / "out", analyze=False))
    assert users.read_bytes() == b"the user's own file"
    assert video_stream(tmp_path / "out_compare-2.mp4")[3] == FRAMES
    assert Path(shown).read_bytes() == (tmp_path / "out_compare-2.mp4").read_bytes()
    record = json.loads((tmp_path / "out" / ".compare.abysz.json").read_text(encoding="utf-8"))
    assert record["name"] == "out_compare-2.mp4"


def test_cancel_during_the_comparison_keeps_the_dfi_result_and_skips_the_rest(handlers, clip, tmp_path):
    descs = []

    def cancel_in_comparison(done_total, desc="", **_):
        descs.append(desc)
        if desc.startswith("Comparison video") and done_total[0] == 3:
            handlers.cancel()

    status, first, last, last_output, shown, summary, plot = handlers.run(
        dfi_values(clip.source, clip.generated, tmp_path / "out"), cancel_in_comparison
    )
    assert "DFI finished" in status
    assert "Cancelled: no comparison video and no analysis" in status
    assert first is not None and last is not None
    assert last_output == str(tmp_path / "out")
    assert shown is None and summary == "" and plot is None
    assert not list(tmp_path.glob("*compare*"))  # the half-written video is gone
    assert not any(d.startswith("Analysis") for d in descs)
    assert not handlers.busy


def test_cancel_during_the_analysis_keeps_the_dfi_result_and_the_comparison(handlers, clip, tmp_path):
    def cancel_in_analysis(done_total, desc="", **_):
        if desc.startswith("Analysis") and done_total[0] == 3:
            handlers.cancel()

    status, first, _, last_output, shown, summary, plot = handlers.run(
        dfi_values(clip.source, clip.generated, tmp_path / "out"), cancel_in_analysis
    )
    assert "DFI finished" in status
    assert "Cancelled: no analysis. The DFI output is complete." in status
    assert first is not None
    assert last_output == str(tmp_path / "out")
    assert shown is not None and Path(shown).is_file()
    assert summary == "" and plot is None
    assert not handlers.busy


# --- the flicker analysis --------------------------------------------------------------------------


def test_run_shows_the_flicker_summary_and_plot(handlers, clip, tmp_path):
    *_, summary, plot = handlers.run(dfi_values(clip.source, clip.generated, tmp_path / "out", compare=False))
    match = re.search(r"flicker ([+-]\d+) %, fidelity ([\d.]+) dB, ghosting ([\d.]+) %", summary)
    assert match, summary
    assert int(match.group(1)) < -30  # DFI steadied the flickering demo clip
    assert plot.ndim == 3 and plot.dtype == np.uint8
    assert plot.shape[1] > 500


def test_progress_names_each_phase_in_order(handlers, clip, tmp_path):
    phases = []

    def record(done_total, desc="", **_):
        name = desc.split(" (step")[0]
        if not phases or phases[-1] != name:
            phases.append(name)

    handlers.run(dfi_values(clip.source, clip.generated, tmp_path / "out"), record)
    assert phases == ["DFI", "Comparison video", "Analysis"]


def test_unticked_comparison_and_analysis_are_skipped(handlers, clip, tmp_path):
    descs = []
    *_, shown, summary, plot = handlers.run(
        dfi_values(clip.source, clip.generated, tmp_path / "out", compare=False, analyze=False),
        lambda done_total, desc="", **_: descs.append(desc),
    )
    assert shown is None and summary == "" and plot is None
    assert not list(tmp_path.glob("*compare*"))
    assert all(d.startswith("DFI") for d in descs)
