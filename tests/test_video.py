"""Video in, video out: real ffmpeg (the imageio-ffmpeg binary) on clips the tests make themselves.

Clips are tiny (64x48, 1-2 s) and generated with ffmpeg's lavfi sources; the
results are probed with PyAV, an independent reader (tests that need it skip without it).
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from abysz_lab import cli
from abysz_lab.demo import demo_background, source_frame
from abysz_lab.errors import Cancelled, InputError
from abysz_lab.frames import read_frame, write_frame
from abysz_lab.fuse import FuseParams, fuse_style, overlay_blend
from abysz_lab.jobs import CancelToken, Progress
from abysz_lab.video import (
    SIDECAR_NAME,
    AssembleParams,
    CompareParams,
    ExtractParams,
    assemble_video,
    compare_videos,
    extract_frames,
    ffmpeg_exe,
    prepare_frames,
    probe_video,
    read_timing,
)

W, H = 64, 48


def make_clip(
    path: Path,
    *,
    seconds: float = 2.0,
    rate: str = "25",
    size: tuple[int, int] = (W, H),
    codec: tuple[str, ...] = ("-c:v", "libx264", "-pix_fmt", "yuv420p"),
    audio: bool = False,
    extra: tuple[str, ...] = (),
) -> Path:
    """Render a test pattern clip with ffmpeg's lavfi sources (plus a 440 Hz tone when ``audio``)."""
    args = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"]
    args += ["-i", f"testsrc2=size={size[0]}x{size[1]}:rate={rate}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac", "-shortest"]
    args += [*codec, *extra, str(path)]
    subprocess.run(args, check=True, capture_output=True)
    return path


def write_frames(folder: Path, count: int, size: tuple[int, int] = (W, H), start: int = 1) -> list[Path]:
    """Smooth synthetic frames (a still scene with a moving ball) as PNGs."""
    folder.mkdir(parents=True, exist_ok=True)
    background = demo_background(*size, seed=3)
    paths = []
    for i in range(count):
        path = folder / f"f_{start + i:03d}.png"
        write_frame(path, source_frame(background, i, count))
        paths.append(path)
    return paths


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two 8-bit images."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def pyav():
    """PyAV, the independent reader; a test that needs it is skipped where it is not installed."""
    return pytest.importorskip("av")


def stream_info(path: Path) -> dict:
    """Probe a media file with PyAV: codecs, pix_fmt, size, decoded frame count, audio presence."""
    with pyav().open(str(path)) as container:
        video = container.streams.video[0]
        info = {
            "codec": video.codec_context.name,
            "pix_fmt": video.codec_context.format.name if video.codec_context.format else None,
            "width": video.codec_context.width,
            "height": video.codec_context.height,
            "rate": float(video.average_rate) if video.average_rate else None,
            "audio": len(container.streams.audio),
            "audio_duration": None,
        }
        if container.streams.audio:
            a = container.streams.audio[0]
            info["audio_duration"] = float(a.duration * a.time_base) if a.duration else None
        info["frames"] = sum(1 for _ in container.decode(video=0))
    return info


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A 2.0 s, 25 fps, 64x48 H.264 clip with a sound track."""
    return make_clip(tmp_path_factory.mktemp("clips") / "with sound.mp4", audio=True)


# --- extract -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fps", "expected"), [(10, 20), (5, 10), (0, 50), (12.5, 25), (30, 60)])
def test_extract_samples_on_time_with_exact_counts(clip, tmp_path, fps, expected):
    summary = extract_frames(clip, tmp_path / "frames", ExtractParams(fps=fps))
    assert summary.written == expected
    assert len(list((tmp_path / "frames").glob("frame_*.png"))) == expected


def test_extract_between_start_and_end(clip, tmp_path):
    summary = extract_frames(clip, tmp_path / "frames", ExtractParams(fps=10, start=0.5, end=1.5))
    assert summary.written == 10
    timing = read_timing(tmp_path / "frames")
    assert (timing.start, timing.end) == (0.5, 1.5)


def test_extract_names_are_zero_padded_and_sort_as_text(clip, tmp_path):
    extract_frames(clip, tmp_path / "frames", ExtractParams(fps=10))
    names = [p.name for p in (tmp_path / "frames").glob("frame_*.png")]
    assert sorted(names) == [f"frame_{i:05d}.png" for i in range(1, 21)]


def test_extract_sidecar_records_timing_and_source(clip, tmp_path):
    extract_frames(clip, tmp_path / "frames", ExtractParams(fps=10))
    timing = read_timing(tmp_path / "frames" / SIDECAR_NAME)
    assert float(timing.fps) == 10.0
    assert timing.frame_count == 20
    assert timing.duration == pytest.approx(2.0)
    assert Path(timing.source) == clip.resolve()
    assert timing.has_audio


def test_extract_max_size_scales_the_longer_side(clip, tmp_path):
    extract_frames(clip, tmp_path / "frames", ExtractParams(fps=5, max_size=32))
    frame = read_frame(tmp_path / "frames" / "frame_00001.png")
    assert frame.shape == (24, 32, 3)


@pytest.mark.parametrize(
    ("suffix", "codec"),
    [
        (".mov", ("-c:v", "libx264", "-pix_fmt", "yuv420p")),
        (".webm", ("-c:v", "libvpx-vp9")),
        (".mkv", ("-c:v", "ffv1")),
        (".avi", ("-c:v", "mjpeg", "-q:v", "3")),
        (".gif", ()),
    ],
)
def test_extract_reads_common_containers(tmp_path, suffix, codec):
    video = make_clip(tmp_path / f"clip{suffix}", seconds=1.0, rate="10", codec=codec)
    summary = extract_frames(video, tmp_path / "frames")
    assert summary.written == 10
    assert read_frame(tmp_path / "frames" / "frame_00001.png").shape == (H, W, 3)


def test_extract_keeps_odd_sizes(tmp_path):
    # testsrc2 renders even sizes only, and 4:2:0 crops to even, so crop in RGB (ffv1 stores it as is).
    odd = ("-vf", "format=bgr0,crop=63:47:0:0")
    video = make_clip(tmp_path / "odd.mkv", seconds=1.0, rate="10", codec=("-c:v", "ffv1"), extra=odd)
    extract_frames(video, tmp_path / "frames")
    assert read_frame(tmp_path / "frames" / "frame_00001.png").shape == (47, 63, 3)


def test_extract_evens_out_a_variable_frame_rate(tmp_path):
    # 20 frames 0.05 s apart, then 10 frames 0.1 s apart: 2.0 s of video.
    vfr = "setpts='if(lt(N,20),N*0.05,1+(N-20)*0.1)/TB'"
    video = make_clip(
        tmp_path / "vfr.mp4", seconds=1.5, rate="20", extra=("-vf", vfr, "-fps_mode", "vfr"), codec=("-c:v", "libx264")
    )
    assert probe_video(video).variable_frame_rate
    summary = extract_frames(video, tmp_path / "frames", ExtractParams(fps=10))
    assert summary.written == round(probe_video(video).duration * 10)
    assert any("variable frame rate" in w for w in extract_frames(video, tmp_path / "avg").warnings)


def test_extract_never_touches_the_video(clip, tmp_path):
    before = digest(clip)
    extract_frames(clip, tmp_path / "frames", ExtractParams(fps=5))
    assert digest(clip) == before


def test_extract_again_replaces_its_own_frames_and_removes_surplus(clip, tmp_path):
    out = tmp_path / "frames"
    extract_frames(clip, out, ExtractParams(fps=10))
    extract_frames(clip, out, ExtractParams(fps=5))
    assert len(list(out.glob("frame_*.png"))) == 10


def test_extract_refuses_a_folder_holding_other_images(clip, tmp_path):
    write_frames(tmp_path / "mine", 2)
    with pytest.raises(InputError, match="not extracted here"):
        extract_frames(clip, tmp_path / "mine", ExtractParams(fps=5))
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["f_001.png", "f_002.png"]


def test_extract_handles_spaces_and_non_ascii_paths(tmp_path):
    folder = tmp_path / "vidéo clips ünïcode"
    folder.mkdir()
    video = make_clip(folder / "mon clip é.mp4", seconds=1.0, rate="10")
    summary = extract_frames(video, folder / "images extraites ø", ExtractParams(fps=5))
    assert summary.written == 5


def test_extract_reports_progress_and_ends_complete(clip, tmp_path):
    seen: list[Progress] = []
    extract_frames(clip, tmp_path / "frames", ExtractParams(fps=10), progress=seen.append)
    assert seen[-1].done == seen[-1].total == 20
    assert [p.done for p in seen] == sorted(p.done for p in seen)


def test_extract_cancel_leaves_a_sidecar_marked_unfinished(clip, tmp_path):
    token = CancelToken()

    def cancel_at_five(p: Progress) -> None:
        if p.done >= 5:
            token.cancel()

    with pytest.raises(Cancelled):
        extract_frames(clip, tmp_path / "frames", progress=cancel_at_five, cancel=token)
    assert 5 <= len(list((tmp_path / "frames").glob("frame_*.png"))) < 50
    with pytest.raises(InputError, match="did not finish"):
        read_timing(tmp_path / "frames")


def cancel_after(frames: int) -> tuple[CancelToken, object]:
    """A token and a progress callback that cancels once ``frames`` frames are done."""
    token = CancelToken()

    def callback(p: Progress) -> None:
        if p.done >= frames:
            token.cancel()

    return token, callback


def test_extract_again_after_a_cancel_needs_no_overwrite(clip, tmp_path):
    token, callback = cancel_after(3)
    with pytest.raises(Cancelled):
        extract_frames(clip, tmp_path / "frames", ExtractParams(fps=10), progress=callback, cancel=token)
    assert extract_frames(clip, tmp_path / "frames", ExtractParams(fps=10)).written == 20


def test_prepare_frames_does_not_reuse_a_folder_another_video_was_cancelled_into(clip, tmp_path):
    other = make_clip(tmp_path / "other.mp4", extra=("-vf", "negate"))
    work = tmp_path / "work"
    prepare_frames(clip, work, ExtractParams(fps=10))
    expected = [read_frame(p) for p in sorted(work.glob("frame_*.png"))]
    token, callback = cancel_after(3)
    with pytest.raises(Cancelled):
        extract_frames(other, work, ExtractParams(fps=10), overwrite=True, progress=callback, cancel=token)
    again = prepare_frames(clip, work, ExtractParams(fps=10), overwrite=True)  # a work folder the caller owns
    assert again.summary is not None  # extracted afresh
    frames = [read_frame(p) for p in sorted(work.glob("frame_*.png"))]
    assert len(frames) == len(expected)
    assert all(np.array_equal(a, b) for a, b in zip(frames, expected, strict=True))


def test_assemble_refuses_the_timing_of_an_unfinished_extraction(clip, tmp_path):
    token, callback = cancel_after(3)
    with pytest.raises(Cancelled):
        extract_frames(clip, tmp_path / "frames", ExtractParams(fps=10), progress=callback, cancel=token)
    with pytest.raises(InputError, match="did not finish"):
        assemble_video(tmp_path / "frames", tmp_path / "out.mp4")


def test_prepare_frames_passes_a_folder_through(tmp_path):
    write_frames(tmp_path / "frames", 2)
    prepared = prepare_frames(tmp_path / "frames", tmp_path / "work")
    assert (prepared.folder, prepared.summary) == (tmp_path / "frames", None)
    assert not (tmp_path / "work").exists()


def test_prepare_frames_extracts_a_video_once(clip, tmp_path):
    first = prepare_frames(clip, tmp_path / "work", ExtractParams(fps=5))
    again = prepare_frames(clip, tmp_path / "work", ExtractParams(fps=5))
    other = prepare_frames(clip, tmp_path / "work", ExtractParams(fps=10))
    written = [p.summary.written if p.summary else None for p in (first, again, other)]
    assert written == [10, None, 20]
    assert len(list((tmp_path / "work").glob("frame_*.png"))) == 20


# --- bad video input --------------------------------------------------------------------------------


def test_missing_video_is_reported(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        extract_frames(tmp_path / "nope.mp4", tmp_path / "frames")


def test_text_file_is_not_a_video(tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("these are not pictures\n" * 20)
    with pytest.raises(InputError, match="not a video"):
        extract_frames(fake, tmp_path / "frames")


def test_empty_file_is_reported(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        probe_video(tmp_path / "empty.mp4")


def test_truncated_video_is_reported(clip, tmp_path):
    # Without faststart the index (moov) is at the end, so a cut-off download cannot be read at all.
    whole = make_clip(tmp_path / "whole.mp4", seconds=1.0, rate="10")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(InputError, match="truncated"):
        extract_frames(cut, tmp_path / "frames")


def test_partly_truncated_video_gives_its_frames_and_a_warning(tmp_path):
    whole = make_clip(tmp_path / "whole.mkv", seconds=4.0, rate="10", extra=("-g", "5"), codec=("-c:v", "libx264"))
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.6)])
    summary = extract_frames(cut, tmp_path / "frames")
    assert 5 <= summary.written < 40
    assert any("truncated" in w for w in summary.warnings)


def test_video_with_garbage_in_the_middle_extracts_with_a_clear_warning(tmp_path, capsys):
    whole = make_clip(tmp_path / "whole.mp4", seconds=2.0)
    data = bytearray(whole.read_bytes())
    rng = np.random.default_rng(1)
    middle = slice(len(data) * 2 // 5, len(data) * 3 // 5)
    data[middle] = rng.integers(0, 256, middle.stop - middle.start, dtype=np.uint8).tobytes()
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    # ffmpeg conceals the damage, exits 0 and the frame count is complete: only its error lines tell.
    assert cli.main(["extract", str(damaged), "--out", str(tmp_path / "frames")]) == 0
    err = capsys.readouterr().err
    assert "warning: ffmpeg met" in err
    assert "damaged.mp4: the file is damaged" in err
    assert cli.main(["extract", str(whole), "--out", str(tmp_path / "clean")]) == 0
    assert "warning" not in capsys.readouterr().err


def test_zero_frame_video_is_reported(tmp_path):
    zero = make_clip(tmp_path / "zero.mp4", seconds=1.0, extra=("-frames:v", "0"))
    with pytest.raises(InputError, match="no video frames"):
        extract_frames(zero, tmp_path / "frames")
    assert not (tmp_path / "frames").exists() or not any((tmp_path / "frames").iterdir())


def test_sound_only_file_is_reported(tmp_path):
    sound = tmp_path / "tone.m4a"
    subprocess.run(
        [ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i", "sine=duration=1", str(sound)],
        check=True,
        capture_output=True,
    )
    with pytest.raises(InputError, match="only sound"):
        extract_frames(sound, tmp_path / "frames")


def test_start_past_the_end_is_reported(clip, tmp_path):
    with pytest.raises(InputError, match="past the end"):
        extract_frames(clip, tmp_path / "frames", ExtractParams(start=5.0))


def test_end_before_start_is_rejected():
    with pytest.raises(InputError, match="after start"):
        ExtractParams(start=2.0, end=1.0)


# --- assemble ----------------------------------------------------------------------------------------


def test_round_trip_keeps_count_and_content(tmp_path):
    """Frames -> MP4 -> frames: same count, each frame within 30 dB of its own (a neighbour scores ~22 dB)."""
    # 128x96: at 64x48 the textured scene is nearly all chroma edges, which 4:2:0 cannot hold.
    originals = write_frames(tmp_path / "frames", 12, size=(128, 96))
    video = tmp_path / "clip.mp4"
    assemble_video(tmp_path / "frames", video, AssembleParams(fps=12))
    summary = extract_frames(video, tmp_path / "back")
    assert summary.written == 12
    for original, back in zip(originals, sorted((tmp_path / "back").glob("frame_*.png")), strict=True):
        assert psnr(read_frame(original), read_frame(back)) > 30


def test_mp4_is_h264_yuv420p_with_faststart(tmp_path):
    write_frames(tmp_path / "frames", 6)
    video = tmp_path / "clip.mp4"
    assemble_video(tmp_path / "frames", video)
    info = stream_info(video)
    assert (info["codec"], info["pix_fmt"], info["frames"]) == ("h264", "yuv420p", 6)
    data = video.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")


def test_assemble_uses_the_sidecar_rate(clip, tmp_path):
    extract_frames(clip, tmp_path / "frames", ExtractParams(fps=10))
    assemble_video(tmp_path / "frames", tmp_path / "out.mp4", AssembleParams(audio=False))
    info = stream_info(tmp_path / "out.mp4")
    assert info["rate"] == pytest.approx(10.0)
    assert info["frames"] == 20


def test_assemble_keeps_the_sound_of_the_original(clip, tmp_path):
    extract_frames(clip, tmp_path / "frames", ExtractParams(fps=10))
    write_frames(tmp_path / "processed", 20)  # stands in for img2img + DFI output
    assemble_video(tmp_path / "processed", tmp_path / "out.mp4", timing=tmp_path / "frames")
    info = stream_info(tmp_path / "out.mp4")
    assert info["audio"] == 1
    assert info["audio_duration"] == pytest.approx(2.0, abs=0.1)
    assert (info["rate"], info["frames"]) == (pytest.approx(10.0), 20)


def test_sound_shorter_than_the_frames_drops_no_frame(clip, tmp_path):
    write_frames(tmp_path / "frames", 30)  # 3 s at 10 fps; the clip's sound lasts 2 s
    assemble_video(tmp_path / "frames", tmp_path / "out.mp4", AssembleParams(fps=10), audio_from=clip)
    info = stream_info(tmp_path / "out.mp4")
    assert (info["frames"], info["audio"]) == (30, 1)


def test_sound_longer_than_the_frames_is_cut_at_the_last_frame(clip, tmp_path):
    write_frames(tmp_path / "frames", 10)  # 1 s at 10 fps
    assemble_video(tmp_path / "frames", tmp_path / "out.mp4", AssembleParams(fps=10), audio_from=clip)
    assert stream_info(tmp_path / "out.mp4")["audio_duration"] == pytest.approx(1.0, abs=0.1)


def test_assemble_trims_the_sound_to_the_extracted_span(clip, tmp_path):
    extract_frames(clip, tmp_path / "frames", ExtractParams(fps=10, start=0.5, end=1.5))
    assemble_video(tmp_path / "frames", tmp_path / "out.mp4")
    assert stream_info(tmp_path / "out.mp4")["audio_duration"] == pytest.approx(1.0, abs=0.1)


def test_assemble_without_sound_when_asked(clip, tmp_path):
    extract_frames(clip, tmp_path / "frames", ExtractParams(fps=10))
    assemble_video(tmp_path / "frames", tmp_path / "out.mp4", AssembleParams(audio=False))
    assert stream_info(tmp_path / "out.mp4")["audio"] == 0


def test_assemble_takes_sound_from_a_given_video(clip, tmp_path):
    write_frames(tmp_path / "frames", 10)
    assemble_video(tmp_path / "frames", tmp_path / "out.mp4", AssembleParams(fps=5), audio_from=clip)
    assert stream_info(tmp_path / "out.mp4")["audio"] == 1


def test_assemble_pads_odd_sizes_to_even(tmp_path):
    write_frames(tmp_path / "frames", 4, size=(63, 47))
    summary = assemble_video(tmp_path / "frames", tmp_path / "out.mp4")
    info = stream_info(tmp_path / "out.mp4")
    assert (info["width"], info["height"]) == (64, 48)
    assert any("even" in w for w in summary.warnings)


def test_assemble_fits_mixed_sizes_to_the_first_and_says_so(tmp_path):
    write_frames(tmp_path / "frames", 3)
    write_frames(tmp_path / "frames", 2, size=(80, 80), start=4)
    summary = assemble_video(tmp_path / "frames", tmp_path / "out.mp4")
    info = stream_info(tmp_path / "out.mp4")
    assert (info["width"], info["height"], info["frames"]) == (W, H, 5)
    assert any("2 frame(s)" in w and "fitted" in w for w in summary.warnings)


def test_assemble_refuses_to_overwrite_unless_allowed(tmp_path):
    write_frames(tmp_path / "frames", 3)
    out = tmp_path / "out.mp4"
    out.write_bytes(b"user's file")
    with pytest.raises(InputError, match="already exists"):
        assemble_video(tmp_path / "frames", out)
    assert out.read_bytes() == b"user's file"
    assemble_video(tmp_path / "frames", out, overwrite=True)
    assert stream_info(out)["frames"] == 3


def test_assemble_refuses_to_write_over_its_sound_source(clip, tmp_path):
    write_frames(tmp_path / "frames", 3)
    before = digest(clip)
    with pytest.raises(InputError, match="one of the inputs"):
        assemble_video(tmp_path / "frames", clip, audio_from=clip, overwrite=True)
    assert digest(clip) == before


def test_assemble_handles_spaces_and_non_ascii_paths(tmp_path):
    write_frames(tmp_path / "kaders één", 4)
    out = tmp_path / "résultat final" / "vidéo ø.mp4"
    assemble_video(tmp_path / "kaders één", out)
    assert stream_info(out)["frames"] == 4


def test_assemble_cancel_leaves_no_file(tmp_path):
    write_frames(tmp_path / "frames", 8)
    token = CancelToken()

    def cancel_at_three(p: Progress) -> None:
        if p.done >= 3:
            token.cancel()

    with pytest.raises(Cancelled):
        assemble_video(tmp_path / "frames", tmp_path / "out.mp4", progress=cancel_at_three, cancel=token)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]


def test_gif_loops_and_respects_the_size_cap(tmp_path):
    write_frames(tmp_path / "frames", 6)
    gif = tmp_path / "clip.gif"
    assemble_video(tmp_path / "frames", gif, AssembleParams(fps=10, gif_max_size=32))
    data = gif.read_bytes()
    # NETSCAPE2.0 application block with loop count 0 = loop forever.
    assert b"NETSCAPE2.0\x03\x01\x00\x00" in data
    info = stream_info(gif)
    assert (info["codec"], info["width"], info["height"], info["frames"]) == ("gif", 32, 24, 6)


def test_assemble_rejects_other_extensions(tmp_path):
    write_frames(tmp_path / "frames", 2)
    with pytest.raises(InputError, match=r"\.mp4 or \.gif"):
        assemble_video(tmp_path / "frames", tmp_path / "out.avi")


# --- compare -----------------------------------------------------------------------------------------


def test_side_by_side_has_three_panels_and_shortest_length(tmp_path):
    write_frames(tmp_path / "original", 6)
    write_frames(tmp_path / "generated", 5)
    write_frames(tmp_path / "stabilised", 5)
    out = tmp_path / "compare.mp4"
    summary = compare_videos([tmp_path / "original", tmp_path / "generated", tmp_path / "stabilised"], out)
    info = stream_info(out)
    assert (info["width"], info["frames"], info["codec"], info["pix_fmt"]) == (3 * W, 5, "h264", "yuv420p")
    assert info["height"] > H  # the caption bar sits above the pictures
    assert any("differ in length" in w for w in summary.warnings)


def test_split_view_is_one_frame_wide(tmp_path):
    write_frames(tmp_path / "a", 4)
    write_frames(tmp_path / "b", 4)
    compare_videos([tmp_path / "a", tmp_path / "b"], tmp_path / "split.mp4", CompareParams(layout="split"))
    info = stream_info(tmp_path / "split.mp4")
    assert (info["width"], info["frames"]) == (W, 4)


def test_compare_shows_each_input_in_its_panel(tmp_path):
    for name, value in (("dark", 30), ("light", 220)):
        (tmp_path / name).mkdir()
        for i in range(3):
            write_frame(tmp_path / name / f"{i}.png", np.full((H, W, 3), value, np.uint8))
    compare_videos([tmp_path / "dark", tmp_path / "light"], tmp_path / "c.mp4", labels=["a", "b"])
    with pyav().open(str(tmp_path / "c.mp4")) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="bgr24")
    body = frame[-H // 2 :]
    assert body[:, : W - 4].mean() == pytest.approx(30, abs=4)
    assert body[:, W + 4 :].mean() == pytest.approx(220, abs=4)


def test_compare_split_needs_two_folders(tmp_path):
    write_frames(tmp_path / "a", 2)
    with pytest.raises(InputError, match="exactly 2"):
        compare_videos([tmp_path / "a"] * 3, tmp_path / "s.mp4", CompareParams(layout="split"))


# --- style fuse ---------------------------------------------------------------------------------------


def test_overlay_with_mid_grey_leaves_the_frame_unchanged():
    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    grey = np.full_like(base, 128)
    assert np.abs(overlay_blend(base, grey, 1.0).astype(int) - base).max() <= 1


def test_overlay_strength_scales_the_effect():
    base = np.full((4, 4, 3), 100, np.uint8)
    white = np.full_like(base, 255)
    weak, strong = overlay_blend(base, white, 0.1), overlay_blend(base, white, 1.0)
    assert 100 < weak.mean() < strong.mean()
    assert strong.mean() == pytest.approx(200, abs=1)  # 2 * a * b on the dark side


@pytest.mark.parametrize(("lengths", "expected"), [("loop", 5), ("shortest", 2)])
def test_fuse_loops_or_stops_at_the_shorter(tmp_path, lengths, expected):
    write_frames(tmp_path / "frames", 5)
    write_frames(tmp_path / "style", 2, size=(32, 32))  # another size: fitted
    summary = fuse_style(tmp_path / "frames", tmp_path / "style", tmp_path / "out", FuseParams(lengths=lengths))
    assert summary.written == expected
    outputs = sorted((tmp_path / "out").glob("*.png"))
    assert len(outputs) == expected
    assert read_frame(outputs[0]).shape == (H, W, 3)


def test_fuse_strength_outside_range_is_rejected():
    with pytest.raises(InputError, match="between 0.1 and 1"):
        FuseParams(strength=1.5)


def test_fuse_resumes_an_interrupted_identical_run(tmp_path):
    write_frames(tmp_path / "frames", 6)
    write_frames(tmp_path / "style", 6)
    token, callback = cancel_after(2)
    with pytest.raises(Cancelled):
        fuse_style(
            tmp_path / "frames", tmp_path / "style", tmp_path / "out", progress=callback, cancel=token, workers=1
        )
    summary = fuse_style(tmp_path / "frames", tmp_path / "style", tmp_path / "out")
    assert summary.resumed_from >= 2
    assert summary.written == 6


def test_fuse_with_another_strength_starts_over(tmp_path):
    write_frames(tmp_path / "frames", 6)
    write_frames(tmp_path / "style", 6)
    token, callback = cancel_after(2)
    with pytest.raises(Cancelled):
        fuse_style(
            tmp_path / "frames", tmp_path / "style", tmp_path / "out", progress=callback, cancel=token, workers=1
        )
    stronger = fuse_style(tmp_path / "frames", tmp_path / "style", tmp_path / "out", FuseParams(strength=1.0))
    assert stronger.resumed_from == 0
    assert "other settings" in " ".join(stronger.warnings)
    fresh = fuse_style(tmp_path / "frames", tmp_path / "style", tmp_path / "fresh", FuseParams(strength=1.0))
    for name in (p.name for p in fresh.outputs):
        assert np.array_equal(read_frame(tmp_path / "out" / name), read_frame(tmp_path / "fresh" / name))


def test_fuse_after_the_frames_were_rendered_again_computes_the_new_frames(tmp_path):
    """Re-rendered inputs must not count as "already done": the old fuse kept the stale output."""
    write_frames(tmp_path / "frames", 4)
    write_frames(tmp_path / "style", 4)
    fuse_style(tmp_path / "frames", tmp_path / "style", tmp_path / "out")
    rerendered = [255 - read_frame(p) for p in sorted((tmp_path / "frames").glob("*.png"))]
    for path, image in zip(sorted((tmp_path / "frames").glob("*.png")), rerendered, strict=True):
        write_frame(path, image)
    again = fuse_style(tmp_path / "frames", tmp_path / "style", tmp_path / "out")
    assert "nothing to do" not in again.describe()
    assert again.resumed_from == 0
    fresh = fuse_style(tmp_path / "frames", tmp_path / "style", tmp_path / "fresh")
    for name in (p.name for p in fresh.outputs):  # the stale output would be the inverse image's fuse
        assert np.array_equal(read_frame(tmp_path / "out" / name), read_frame(tmp_path / "fresh" / name))


def test_fuse_never_touches_inputs(tmp_path):
    frames = write_frames(tmp_path / "frames", 3)
    style = write_frames(tmp_path / "style", 3)
    before = [digest(p) for p in frames + style]
    fuse_style(tmp_path / "frames", tmp_path / "style", tmp_path / "out")
    assert [digest(p) for p in frames + style] == before


# --- command line --------------------------------------------------------------------------------------


def test_cli_extract_then_assemble_with_sound(clip, tmp_path, capsys):
    frames, out = tmp_path / "frames dir", tmp_path / "out.mp4"
    assert cli.main(["extract", str(clip), "--out", str(frames), "--fps", "10"]) == 0
    assert cli.main(["assemble", str(frames), "--out", str(out)]) == 0
    assert "wrote 20 of 20" in capsys.readouterr().out
    assert stream_info(out)["audio"] == 1


def test_cli_refuses_existing_output_with_exit_code_2(tmp_path, capsys):
    write_frames(tmp_path / "frames", 2)
    (tmp_path / "out.mp4").write_bytes(b"x")
    assert cli.main(["assemble", str(tmp_path / "frames"), "--out", str(tmp_path / "out.mp4")]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_cli_compare_and_fuse(tmp_path):
    write_frames(tmp_path / "a", 3)
    write_frames(tmp_path / "b", 3)
    assert cli.main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "c.mp4")]) == 0
    assert cli.main(["fuse", str(tmp_path / "a"), "--style", str(tmp_path / "b"), "--out", str(tmp_path / "f")]) == 0
    assert stream_info(tmp_path / "c.mp4")["width"] == 2 * W
    assert len(list((tmp_path / "f").glob("*.png"))) == 3


def test_frames_in_assembled_video_match_frame_order(tmp_path):
    """Natural order: f_2 before f_10, so a brightness ramp stays a ramp."""
    folder = tmp_path / "ramp"
    folder.mkdir()
    for i in range(1, 12):
        write_frame(folder / f"f_{i}.png", np.full((H, W, 3), i * 20, np.uint8))
    assemble_video(folder, tmp_path / "ramp.mp4", AssembleParams(fps=10))
    with pyav().open(str(tmp_path / "ramp.mp4")) as container:
        means = [cv2.mean(f.to_ndarray(format="bgr24"))[0] for f in container.decode(video=0)]
    assert means == sorted(means)
