"""What the Tools tab's buttons call, on real media (an ffmpeg-made clip, demo frames): extract, assemble,
compare, fuse, the served copies of videos, cancel, a second click, bad input."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import write_frames
from ui_support import job_on_the_shared_queue, needs_gradio, small_clip, wait_for_desc

pytestmark = [pytest.mark.ui, needs_gradio]

W, H = 96, 64


def make_video(path: Path, *, seconds: float = 1.0, rate: int = 10) -> Path:
    """A test-pattern H.264 clip rendered by the imageio-ffmpeg binary."""
    from abysz_lab.video import ffmpeg_exe

    args = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"]
    args += ["-i", f"testsrc2=size={W}x{H}:rate={rate}:duration={seconds}", "-c:v", "libx264"]
    args += ["-pix_fmt", "yuv420p", str(path)]
    subprocess.run(args, check=True, capture_output=True)
    return path


def values_for(cls: type, **given) -> dict:
    """What a tool's controls hold by default (sliders give floats, as gradio does), with ``given`` filled in."""
    from abysz_lab import params as prm

    values = {s.name: float(s.default) if s.kind in (int, float) else s.default for s in prm.specs(cls)}
    values["overwrite"] = False
    values.update({k: str(v) if isinstance(v, Path) else v for k, v in given.items()})
    return values


def extract_values(**given) -> dict:
    from abysz_lab.video import ExtractParams

    return values_for(ExtractParams, **({"upload": None, "video": "", "output": ""} | given))


def assemble_values(**given) -> dict:
    from abysz_lab.video import AssembleParams

    base = {"frames": "", "output": "", "timing": "", "audio_from": "", "preset": "ultrafast"}
    return values_for(AssembleParams, **(base | given))


def compare_values(**given) -> dict:
    from abysz_lab.video import CompareParams

    return values_for(CompareParams, **({"original": "", "generated": "", "stabilised": "", "output": ""} | given))


def fuse_values(**given) -> dict:
    from abysz_lab.fuse import FuseParams

    return values_for(FuseParams, **({"frames": "", "style": "", "output": ""} | given))


def _is_update(value) -> bool:
    """A gr.update() that leaves the component as it is (3.41 says 'generic_update', 4.x 'update')."""
    return isinstance(value, dict) and str(value.get("__type__", "")).endswith("update") and len(value) == 1


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("video") / "clip one.mp4")


@pytest.fixture
def clip(tmp_path):
    return small_clip(tmp_path / "clip", frames=12)


@pytest.fixture
def handlers():
    from abysz_lab.ui import UISettings, compat
    from abysz_lab.ui.tools_tab import ToolsHandlers

    served = compat.ServedFiles(prefix="abysz_lab_test_")
    yield ToolsHandlers(UISettings(), served=served)
    if served.folder is not None:
        shutil.rmtree(served.folder, ignore_errors=True)


# --- extract ------------------------------------------------------------------------------------


def test_extract_from_a_typed_path_writes_the_frames_and_shows_count_rate_duration(handlers, video, tmp_path):
    out = tmp_path / "frames"
    status, first, folder = handlers.extract(extract_values(video=video, output=out))
    assert len(list(out.glob("*.png"))) == 10
    assert "Extracted 10 frames from clip one.mp4" in status
    assert "10.000 fps" in status
    assert "1.00 s" in status
    assert first.shape == (H, W, 3)
    assert folder == str(out)


def gradio3_upload(path: Path, scratch: Path):
    """What gradio 3.41's gr.File hands a handler: a NamedTemporaryFile whose ``name`` was set to the upload."""
    file = tempfile.NamedTemporaryFile(delete=False, dir=scratch)  # noqa: SIM115 - gradio leaves it open too
    file.name = str(path)
    file.orig_name = path.name
    return file


@pytest.mark.parametrize("flavour", ["gradio3 tempfile wrapper", "gradio4 path string"])
def test_extract_from_an_upload_of_either_gradio_flavour(handlers, video, tmp_path, flavour):
    uploaded = tmp_path / "upload" / "clip one.mp4"
    uploaded.parent.mkdir()
    shutil.copyfile(video, uploaded)
    upload = gradio3_upload(uploaded, tmp_path) if flavour.startswith("gradio3") else str(uploaded)
    status, _, folder = handlers.extract(extract_values(upload=upload, output=tmp_path / "frames", fps=5.0))
    assert "Extracted 5 frames" in status
    assert len(list((tmp_path / "frames").glob("*.png"))) == 5


def test_extract_of_an_upload_without_an_output_folder_asks_for_one(handlers, video, tmp_path):
    status, first, folder = handlers.extract(extract_values(upload=str(video)))
    assert "abysz-msg-error" in status
    assert "Enter the frames output folder" in status
    assert _is_update(first)
    assert _is_update(folder)


def test_extract_of_a_typed_path_without_an_output_folder_writes_next_to_the_video(handlers, tmp_path):
    local = make_video(tmp_path / "walk.mp4", seconds=0.5)
    _, _, folder = handlers.extract(extract_values(video=local))
    assert folder == str(tmp_path / "walk_frames")
    assert len(list((tmp_path / "walk_frames").glob("*.png"))) == 5


def test_extract_with_both_an_upload_and_a_path_asks_to_clear_one_and_writes_nothing(handlers, video, tmp_path):
    status, *_ = handlers.extract(extract_values(upload=str(video), video=video, output=tmp_path / "frames"))
    assert "clear one of them" in status
    assert not (tmp_path / "frames").exists()


def test_extract_with_no_video_asks_for_one(handlers):
    status, *_ = handlers.extract(extract_values())
    assert "Upload a video or type the path" in status


def test_extract_of_a_file_that_is_not_a_video_says_so(handlers, tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a video")
    status, *_ = handlers.extract(extract_values(video=fake, output=tmp_path / "frames"))
    assert "abysz-msg-error" in status
    assert "notes.mp4" in status
    assert not list(tmp_path.rglob("*.png"))


def test_extract_with_end_before_start_says_so(handlers, video, tmp_path):
    status, *_ = handlers.extract(extract_values(video=video, output=tmp_path / "f", start=0.8, end=0.2))
    assert "must be after start" in status


# --- assemble ------------------------------------------------------------------------------------


def test_assemble_writes_an_h264_mp4_and_returns_a_served_copy_gradio_accepts(handlers, clip, tmp_path):
    import gradio as gr

    from abysz_lab.video import probe_video

    out = tmp_path / "result.mp4"
    status, shown, gif = handlers.assemble(assemble_values(frames=clip.generated, output=out, fps=12.0))
    info = probe_video(out)
    assert (info.codec, info.width, info.height) == ("h264", 128, 96)
    assert "Assemble MP4 finished" in status
    assert "12 of 12" in status
    assert not gif["visible"]
    assert shown["visible"]
    served = Path(shown["value"])
    assert served != out
    assert served.read_bytes() == out.read_bytes()
    assert served.resolve().is_relative_to(Path(tempfile.gettempdir()).resolve())
    assert gr.Video().postprocess(str(served)) is not None


def test_assemble_with_no_output_file_writes_beside_the_frames_folder(handlers, clip):
    handlers.assemble(assemble_values(frames=clip.generated))
    assert (clip.generated.parent / "generated.mp4").is_file()


def test_assemble_a_gif_shows_it_as_an_image_and_no_video(handlers, clip, tmp_path):
    out = tmp_path / "loop.gif"
    status, shown, gif = handlers.assemble(assemble_values(frames=clip.generated, output=out))
    assert "Assemble GIF finished" in status
    assert not shown["visible"]
    assert gif["visible"]
    assert Path(gif["value"]).suffix == ".gif"
    assert Path(gif["value"]).read_bytes()[:6] == b"GIF89a"


def test_assemble_never_replaces_an_existing_file_without_the_overwrite_box(handlers, clip, tmp_path):
    out = tmp_path / "mine.mp4"
    out.write_bytes(b"the user's own file")
    status, shown, _ = handlers.assemble(assemble_values(frames=clip.generated, output=out))
    assert "already exists" in status
    assert _is_update(shown)
    assert out.read_bytes() == b"the user's own file"
    status, _, _ = handlers.assemble(assemble_values(frames=clip.generated, output=out, overwrite=True))
    assert "finished" in status
    assert out.read_bytes()[4:8] == b"ftyp"


def test_a_new_video_replaces_the_previous_served_copy_and_keeps_the_users_file(handlers, clip, tmp_path):
    _, first, _ = handlers.assemble(assemble_values(frames=clip.generated, output=tmp_path / "a.mp4"))
    _, second, _ = handlers.assemble(assemble_values(frames=clip.source, output=tmp_path / "b.mp4"))
    assert not Path(first["value"]).exists()
    assert Path(second["value"]).is_file()
    assert (tmp_path / "a.mp4").is_file()


def test_assemble_of_a_missing_folder_says_which(handlers, tmp_path):
    status, *_ = handlers.assemble(assemble_values(frames=tmp_path / "nowhere", output=tmp_path / "x.mp4"))
    assert "abysz-msg-error" in status
    assert "nowhere" in status
    assert not (tmp_path / "x.mp4").exists()


def test_assemble_with_an_empty_frames_box_asks_for_the_folder(handlers):
    status, *_ = handlers.assemble(assemble_values())
    assert "Enter the frames folder to assemble" in status


def test_assemble_to_a_wrong_extension_says_which_to_use(handlers, clip, tmp_path):
    status, *_ = handlers.assemble(assemble_values(frames=clip.generated, output=tmp_path / "x.avi"))
    assert ".mp4 or .gif" in status


def test_assemble_keeps_the_timing_of_the_extraction_sidecar(handlers, video, tmp_path):
    from abysz_lab.video import probe_video

    frames = tmp_path / "frames"
    handlers.extract(extract_values(video=video, output=frames))
    handlers.assemble(assemble_values(frames=frames, output=tmp_path / "back.mp4"))
    assert probe_video(tmp_path / "back.mp4").fps == 10


# --- compare and fuse ------------------------------------------------------------------------------


def test_compare_three_folders_gives_a_labelled_three_panel_video(handlers, clip, tmp_path):
    from abysz_lab.video import label_height, probe_video

    out = tmp_path / "cmp.mp4"
    values = compare_values(original=clip.source, generated=clip.generated, stabilised=clip.generated, output=out)
    status, shown = handlers.compare(values)
    info = probe_video(out)
    assert (info.width, info.height) == (3 * 128, 96 + label_height(96))
    assert "original | generated | stabilised" in status
    assert Path(shown).read_bytes() == out.read_bytes()


def test_compare_leaves_out_empty_panels(handlers, clip, tmp_path):
    from abysz_lab.video import probe_video

    out = tmp_path / "two.mp4"
    status, _ = handlers.compare(compare_values(generated=clip.generated, stabilised=clip.source, output=out))
    assert probe_video(out).width == 2 * 128
    assert "generated | stabilised" in status


def test_compare_with_no_folder_asks_for_one(handlers):
    status, shown = handlers.compare(compare_values())
    assert "Enter at least one folder to compare" in status
    assert _is_update(shown)


def test_fuse_tints_every_frame_and_shows_the_first(handlers, clip, tmp_path):
    from abysz_lab.frames import read_frame

    style = tmp_path / "style"
    write_frames(style, [np.full((20, 30, 3), (40, 120, 230), np.uint8)] * 3)
    out = tmp_path / "fused"
    status, first, folder = handlers.fuse(fuse_values(frames=clip.generated, style=style, output=out, strength=1.0))
    written = sorted(out.glob("*.png"))
    assert len(written) == 12
    assert "12 of 12" in status
    assert "looped" in status
    assert first.shape == (96, 128, 3)
    assert folder == str(out)
    original = read_frame(sorted(clip.generated.glob("*.png"))[0])
    assert np.abs(read_frame(written[0]).astype(int) - original).mean() > 5


def test_fuse_into_its_input_folder_is_refused(handlers, clip):
    before = sorted(clip.generated.iterdir())
    status, *_ = handlers.fuse(fuse_values(frames=clip.generated, style=clip.source, output=clip.generated))
    assert "abysz-msg-error" in status
    assert sorted(clip.generated.iterdir()) == before


# --- cancel and a second click ------------------------------------------------------------------------


def test_cancel_mid_assemble_writes_no_file(handlers, clip, tmp_path):
    out = tmp_path / "half.mp4"
    said = []

    def progress(done_total, **_):
        if done_total[0] == 4:
            said.append(handlers.cancel("assemble"))

    status, shown, _ = handlers.assemble(assemble_values(frames=clip.generated, output=out), progress)
    assert "Cancelling: Assemble stops" in said[0]
    assert "abysz-msg-warning" in status
    assert "Cancelled after" in status
    assert _is_update(shown)
    assert not out.exists()
    assert list(tmp_path.glob("*.part*")) == []
    assert not handlers.runs["assemble"].busy


def test_cancel_mid_extract_keeps_whole_frames(handlers, video, tmp_path):
    out = tmp_path / "frames"

    def progress(done_total, **_):
        if done_total[0] == 3:
            handlers.cancel("extract")

    status, *_ = handlers.extract(extract_values(video=video, output=out), progress)
    assert "Cancelled after" in status
    assert 3 <= len(list(out.glob("*.png"))) < 10


def test_cancel_mid_compare_writes_no_file(handlers, clip, tmp_path):
    out = tmp_path / "half.mp4"
    said = []

    def progress(done_total, **_):
        if done_total[0] == 4 and not said:
            said.append(handlers.cancel("compare"))

    status, shown = handlers.compare(compare_values(generated=clip.generated, output=out), progress)
    assert "Cancelling: Compare stops" in said[0]
    assert "Cancelled after" in status
    assert _is_update(shown)
    assert not out.exists()
    assert not handlers.runs["compare"].busy


def test_cancel_mid_fuse_keeps_whole_frames(handlers, clip, tmp_path):
    from conftest import read_back

    out = tmp_path / "fused"
    said = []

    def progress(done_total, **_):
        if done_total[0] == 4 and not said:
            said.append(handlers.cancel("fuse"))

    status, first, folder = handlers.fuse(fuse_values(frames=clip.generated, style=clip.source, output=out), progress)
    assert "Cancelling: Style fuse stops" in said[0]
    assert "Cancelled after" in status
    assert _is_update(first) and _is_update(folder)
    written = sorted(out.glob("*.png"))
    assert 4 <= len(written) < 12
    size = read_back(sorted(clip.generated.glob("*.png"))[0]).shape
    assert all(read_back(p).shape == size for p in written)
    assert not handlers.runs["fuse"].busy


def test_a_second_run_waits_behind_the_first_while_a_tool_on_other_folders_runs(handlers, clip, tmp_path):
    """The shared queue: a run on the same folders is queued (not refused), one on other folders runs meanwhile."""
    reached, release = threading.Event(), threading.Event()
    first_result, second_result, second_descs = [], [], []

    def slow_progress(done_total, **_):
        if done_total[0] == 2:
            reached.set()
            release.wait(timeout=30)

    values = compare_values(generated=clip.generated, output=tmp_path / "a.mp4")
    first = threading.Thread(target=lambda: first_result.append(handlers.compare(values, slow_progress)))
    second = threading.Thread(
        target=lambda: second_result.append(
            handlers.compare(
                compare_values(generated=clip.generated, output=tmp_path / "b.mp4"),
                lambda done_total, desc="", **_: second_descs.append(desc),
            )
        )
    )
    first.start()
    try:
        assert reached.wait(timeout=30)
        second.start()
        wait_for_desc(second_descs, "Queued behind 1 job")
        assert "already going (or waiting in the queue)" in handlers.runs["compare"].note_click()
        other, *_ = handlers.assemble(assemble_values(frames=clip.source, output=tmp_path / "c.mp4"))
        assert not (tmp_path / "b.mp4").exists()  # it waits while the first one reads the same frames
    finally:
        release.set()
        first.join(timeout=60)
        second.join(timeout=60)
    assert "finished" in other
    assert "finished" in first_result[0][0]
    assert "finished" in second_result[0][0]
    assert (tmp_path / "b.mp4").stat().st_size > 0


def test_a_run_into_the_file_a_running_run_writes_is_refused_naming_that_job(handlers, clip, tmp_path):
    reached, release = threading.Event(), threading.Event()

    def slow_progress(done_total, **_):
        if done_total[0] == 2:
            reached.set()
            release.wait(timeout=30)

    values = compare_values(generated=clip.generated, output=tmp_path / "a.mp4")
    first = threading.Thread(target=lambda: handlers.compare(values, slow_progress))
    first.start()
    try:
        assert reached.wait(timeout=30)
        status, shown = handlers.compare(compare_values(original=clip.source, output=tmp_path / "a.mp4"))
    finally:
        release.set()
        first.join(timeout=60)
    assert "abysz-msg-error" in status
    assert "compare (tab) into" in status and "a.mp4" in status
    assert _is_update(shown)


def test_the_api_refuses_a_job_into_the_folder_a_tab_run_writes(handlers, clip, tmp_path):
    """Tab runs are on the API's queue: its 409 conflict check names the tab's job."""
    from abysz_lab.job_requests import submit_job
    from abysz_lab.jobqueue import JobConflictError

    reached, release = threading.Event(), threading.Event()
    out = tmp_path / "fused"

    def slow_progress(done_total, **_):
        if done_total[0] == 2:
            reached.set()
            release.wait(timeout=30)

    values = fuse_values(frames=clip.generated, style=clip.source, output=out)
    first = threading.Thread(target=lambda: handlers.fuse(values, slow_progress))
    first.start()
    try:
        assert reached.wait(timeout=30)
        body = {"kind": "deflicker", "in": str(clip.generated), "out": str(out), "preset": "brightness-lock"}
        with pytest.raises(JobConflictError, match="fuse \\(tab\\) into"):
            submit_job(body)
    finally:
        release.set()
        first.join(timeout=60)


def test_a_tool_run_waiting_behind_an_api_job_can_be_cancelled_before_it_starts(handlers, clip, tmp_path):
    descs, result = [], []
    out = tmp_path / "frames.mp4"
    with job_on_the_shared_queue("dfi", writes=[tmp_path / "dfi"], reads=[clip.generated]) as api_job:
        waiting = threading.Thread(
            target=lambda: result.append(
                handlers.assemble(
                    assemble_values(frames=clip.generated, output=out),
                    lambda done_total, desc="", **_: descs.append(desc),
                )
            )
        )
        waiting.start()
        wait_for_desc(descs, "Queued behind 1 job")
        said = handlers.cancel("assemble")
        waiting.join(timeout=30)
        assert api_job.state == "running"  # the other client's job is not this tab's to cancel
    assert "Cancelled 1 waiting run before it started" in said
    status, shown, _ = result[0]
    assert "abysz-msg-warning" in status
    assert "Cancelled before it started; nothing was written." in status
    assert _is_update(shown)
    assert not out.exists()
    assert not handlers.runs["assemble"].busy


def test_cancel_with_nothing_running_says_so(handlers):
    assert "No Style fuse run is going" in handlers.cancel("fuse")


# --- the built tab ----------------------------------------------------------------------------------


def test_the_tools_tab_has_a_control_for_every_parameter_of_every_tool():
    from abysz_lab import params as prm
    from abysz_lab.fuse import FuseParams
    from abysz_lab.ui import build_ui, compat
    from abysz_lab.video import AssembleParams, CompareParams, ExtractParams

    ids = {b.elem_id for b in compat.iter_components(build_ui()) if getattr(b, "elem_id", None)}
    tools = {"extract": ExtractParams, "assemble": AssembleParams, "compare": CompareParams, "fuse": FuseParams}
    for tool, cls in tools.items():
        assert {f"abysz_tools_{tool}_{s.name}" for s in prm.specs(cls)} <= ids
