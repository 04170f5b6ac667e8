"""The command line: flags from the dataclass, summary, exit codes, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import noisy_copies, read_back, static_scene, write_frames

from abysz_lab.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_dfi_command_writes_frames_and_prints_the_summary(still_clip, tmp_path, capsys):
    source, generated = still_clip
    code = main(["dfi", "--source", str(source), "--generated", str(generated), "--out", str(tmp_path / "o")])
    out = capsys.readouterr().out
    assert code == 0
    assert "wrote 8 of 8 frames" in out
    assert "frames/s" in out
    assert len(list((tmp_path / "o").glob("*.png"))) == 8


def test_every_parameter_has_a_flag(still_clip, tmp_path):
    source, generated = still_clip
    args = ["dfi", "--source", str(source), "--generated", str(generated), "--out", str(tmp_path / "o")]
    args += ["--tolerance", "0", "--expand", "2", "--smooth", "3", "--inter-blur", "2", "--refresh-every", "4"]
    args += ["--refresh-strength", "30", "--map-denoise", "5", "--inter-denoise", "0"]
    args += ["--inter-denoise-size", "4", "--inter-denoise-every", "2"]
    assert main(args) == 0
    # tolerance 0 is pass-through: the output equals the generated frames
    assert np.array_equal(read_back(tmp_path / "o" / "frame_003.png"), read_back(generated / "frame_003.png"))


def test_bad_input_exits_2_with_a_one_line_reason(tmp_path, capsys):
    code = main(["dfi", "--source", str(tmp_path / "nope"), "--generated", str(tmp_path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: ")
    assert "does not exist" in err
    assert len(err.splitlines()) == 1


def test_out_of_range_parameter_exits_2(still_clip, tmp_path, capsys):
    source, generated = still_clip
    code = main(
        ["dfi", "--source", str(source), "--generated", str(generated), "--out", str(tmp_path / "o")]
        + [
            "--tolerance",
            "99",
        ]
    )
    assert code == 2
    assert "between 0 and 20" in capsys.readouterr().err


def test_preview_masks_writes_images_and_processes_nothing(still_clip, tmp_path, capsys):
    source, generated = still_clip
    code = main(
        ["dfi", "--source", str(source), "--generated", str(generated), "--out", str(tmp_path / "o")]
        + ["--preview-masks", str(tmp_path / "masks"), "--preview-frames", "2,5"]
    )
    assert code == 0
    names = sorted(p.name for p in (tmp_path / "masks").iterdir())
    # Frame numbers count from 1: frame 2 is the second file, frame_001.png here.
    assert names == ["mask_0002_frame_001.png", "mask_0005_frame_004.png"] + [
        "overlay_0002_frame_001.png",
        "overlay_0005_frame_004.png",
    ]
    assert not (tmp_path / "o").exists()
    assert "held" in capsys.readouterr().out


def test_demo_runs_end_to_end(tmp_path, capsys):
    assert main(["demo", "--dir", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "Result:" in out
    assert len(list((tmp_path / "demo" / "stabilised").glob("*.png"))) == 36


def test_ctrl_c_exits_130_and_leaves_every_written_frame_whole(tmp_path):
    scene = static_scene(360, 480)
    write_frames(tmp_path / "src", [scene] * 120)
    write_frames(tmp_path / "gen", noisy_copies(scene, 120))
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "abysz_lab", "dfi", "--source", str(tmp_path / "src")]
    cmd += ["--generated", str(tmp_path / "gen"), "--out", str(out)]
    cmd += ["--map-denoise", "25", "--inter-denoise-every", "1"]  # slow enough to interrupt mid-run
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(out.glob("*.png"))) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "cancelled" in err.lower()
    written = sorted(out.glob("*.png"))
    assert 3 <= len(written) < 120
    for p in written:
        assert cv2.imdecode(np.fromfile(p, np.uint8), cv2.IMREAD_COLOR).shape == (360, 480, 3)
    assert not list(out.glob("*.part"))


def test_help_shows_each_parameter_with_its_range(capsys):
    with pytest.raises(SystemExit):
        main(["dfi", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--tolerance" in text
    assert "[0..20, default 5]" in text
    assert "--inter-denoise-every" in text


def _tiny_video(path: Path, frames: int = 10) -> Path:
    """A 64x48 H.264 test-pattern clip made with the ffmpeg that imageio-ffmpeg ships."""
    ffmpeg = pytest.importorskip("imageio_ffmpeg").get_ffmpeg_exe()
    args = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"]
    args += ["-i", f"testsrc2=size=64x48:rate=10:duration={frames / 10}", "-c:v", "libx264", "-pix_fmt", "yuv420p"]
    subprocess.run([*args, str(path)], check=True, capture_output=True)
    return path


def test_dfi_takes_video_files_and_extracts_them_beside_the_output(tmp_path, capsys):
    original = _tiny_video(tmp_path / "original clip.mp4")
    generated = _tiny_video(tmp_path / "img2img.mp4")
    out = tmp_path / "stable"
    assert main(["dfi", "--source", str(original), "--generated", str(generated), "--out", str(out)]) == 0
    assert len(list(out.glob("*.png"))) == 10
    assert len(list((tmp_path / "stable_work" / "source").glob("*.png"))) == 10
    assert "wrote 10 of 10 frames" in capsys.readouterr().out
    # A second run reuses the extraction and finds the DFI run complete.
    assert main(["dfi", "--source", str(original), "--generated", str(generated), "--out", str(out)]) == 0
    assert "nothing to do" in capsys.readouterr().out


def test_dfi_warns_about_a_damaged_video_input(tmp_path, capsys):
    whole = _tiny_video(tmp_path / "whole.mp4", frames=20)
    data = bytearray(whole.read_bytes())
    middle = slice(len(data) * 2 // 5, len(data) * 3 // 5)
    data[middle] = np.random.default_rng(1).integers(0, 256, middle.stop - middle.start, dtype=np.uint8).tobytes()
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    assert main(["dfi", "--source", str(whole), "--generated", str(damaged), "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert "warning: generated video: ffmpeg met" in err
    assert "warning: source video" not in err


def test_dfi_with_a_broken_video_exits_2(tmp_path, capsys):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all")
    code = main(["dfi", "--source", str(bad), "--generated", str(bad), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "broken.mp4" in capsys.readouterr().err


# --- rough edges a new user tripped on (issue 12) ------------------------------------------------


def _numbered_clip(tmp_path: Path, count: int = 6) -> tuple[Path, Path]:
    """Frames named as extraction names them, counted from 1: frame_00001.png ..."""
    scene = static_scene()
    source, generated = tmp_path / "source", tmp_path / "generated"
    write_frames(source, [scene] * count, pattern="frame_{:05d}.png")
    write_frames(generated, noisy_copies(scene, count), pattern="frame_{:05d}.png")
    for folder in (source, generated):  # rename 0-based names to 1-based ones, last first
        for path in sorted(folder.iterdir(), reverse=True):
            path.rename(folder / f"frame_{int(path.stem[6:]) + 1:05d}.png")
    return source, generated


def test_preview_masks_need_no_out_folder(still_clip, tmp_path, capsys):
    source, generated = still_clip
    code = main(["dfi", "--source", str(source), "--generated", str(generated), "--preview-masks", str(tmp_path / "m")])
    assert code == 0, capsys.readouterr().err
    assert len(list((tmp_path / "m").glob("mask_*.png"))) == 4


def test_dfi_without_out_or_preview_asks_for_out(still_clip, capsys):
    source, generated = still_clip
    assert main(["dfi", "--source", str(source), "--generated", str(generated)]) == 2
    assert "dfi needs --out DIR" in capsys.readouterr().err


def test_preview_frame_numbers_match_the_extracted_file_names(tmp_path, capsys):
    source, generated = _numbered_clip(tmp_path)
    args = ["dfi", "--source", str(source), "--generated", str(generated), "--preview-masks", str(tmp_path / "m")]
    assert main([*args, "--preview-frames", "2,6"]) == 0
    out = capsys.readouterr().out
    # Counting from 0 would print "frame 1 (frame_00002.png)".
    assert "frame 2 (frame_00002.png)" in out
    assert "frame 6 (frame_00006.png)" in out
    assert sorted(p.name for p in (tmp_path / "m").glob("mask_*")) == [
        "mask_0002_frame_00002.png",
        "mask_0006_frame_00006.png",
    ]
    assert main([*args, "--preview-frames", "1"]) == 2
    assert "choose frames 2 to 6" in capsys.readouterr().err


def _subcommands():
    import argparse

    from abysz_lab.cli import build_parser

    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def test_help_of_every_command_lists_the_choices_of_every_option(capsys):
    checked = []
    for name, parser in _subcommands().items():
        with pytest.raises(SystemExit):
            main([name, "--help"])
        text = capsys.readouterr().out
        for action in parser._actions:
            if action.choices:
                checked.append(action.option_strings[0])
                assert "{" + ",".join(action.choices) + "}" in text, (name, action.option_strings)
    # --image-format, --engine, --layout, assemble's --preset and fuse's --lengths at least
    assert {"--image-format", "--engine", "--layout", "--preset", "--lengths"} <= set(checked)


def test_deflicker_help_gives_each_presets_own_default_strength(capsys):
    from abysz_lab.playground import BUILTIN_PRESETS

    with pytest.raises(SystemExit):
        main(["deflicker", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    options = text[text.index("preset parameters:") :]
    strength = options[options.index("--strength STRENGTH") : options.index("--window WINDOW")]
    assert "default 1]" not in strength  # blend and overlay default to 0.5
    for preset in BUILTIN_PRESETS:
        if preset.default_strength != 1.0:
            assert f"{preset.default_strength:g} for" in strength
            assert preset.name in strength.replace("- ", "-"), preset.name


def test_deflicker_without_a_preset_names_the_presets(still_clip, tmp_path, capsys):
    source, _ = still_clip
    assert main(["deflicker", "--in", str(source), "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert "needs --preset NAME" in err
    assert "brightness-lock" in err
    assert "blend" in err
    assert not (tmp_path / "d").exists()


def test_window_is_ignored_with_a_note_by_a_preset_without_one(still_clip, tmp_path, capsys):
    source, _ = still_clip
    base = ["deflicker", "--in", str(source), "--preset", "blend", "--engine", "numpy"]
    assert main([*base, "--out", str(tmp_path / "a"), "--window", "4"]) == 0
    assert "--window is ignored" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "b")]) == 0
    for frame in sorted((tmp_path / "b").glob("*.png")):
        assert np.array_equal(read_back(frame), read_back(tmp_path / "a" / frame.name))


def test_an_even_window_is_still_refused_by_a_windowed_preset(still_clip, tmp_path, capsys):
    source, _ = still_clip
    args = ["deflicker", "--in", str(source), "--out", str(tmp_path / "a"), "--preset", "temporal-median"]
    assert main([*args, "--window", "4"]) == 2
    assert "odd" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["dfi", "analyze", "stabilise"])
def test_negative_frames_limit_is_refused(still_clip, tmp_path, capsys, command):
    source, generated = still_clip
    if command == "stabilise":
        args = [command, str(source), str(generated), "--out", str(tmp_path / "o.mp4"), "--frames-limit", "-3"]
    else:
        args = [command, "--source", str(source), "--generated", str(generated), "--frames-limit", "-3"]
        args += ["--out", str(tmp_path / "o")] if command == "dfi" else ["--report", str(tmp_path / "r")]
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert "--frames-limit: must be 0 (all) or more, got -3" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_out_of_range_huge_number_is_shown_readably(still_clip, tmp_path, capsys):
    source, generated = still_clip
    args = ["dfi", "--source", str(source), "--generated", str(generated), "--out", str(tmp_path / "o")]
    assert main([*args, "--refresh-strength", "1e308"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("must be between 0 and 100, got 1e+308.")
    assert len(err) < 150


@pytest.mark.filterwarnings("error")  # numpy's "Mean of empty slice" RuntimeWarning fails the test
def test_analyze_without_output_prints_no_numpy_warning(still_clip, tmp_path, capsys):
    source, generated = still_clip
    assert main(["analyze", "--source", str(source), "--generated", str(generated), "--report", str(tmp_path)]) == 0
    assert "mean luminance" in capsys.readouterr().out


@pytest.mark.filterwarnings("error")
def test_analyze_on_one_frame_says_it_needs_two(still_clip, tmp_path, capsys):
    source, generated = still_clip
    args = ["analyze", "--source", str(source), "--generated", str(generated), "--report", str(tmp_path / "r")]
    assert main([*args, "--frames-limit", "1"]) == 2
    err = capsys.readouterr().err
    assert "needs at least 2 frames" in err
    assert "frames limit" in err
    assert not (tmp_path / "r").exists()


def _dfi_command(source: Path, generated: Path, out: Path) -> list[str]:
    cmd = [sys.executable, "-m", "abysz_lab", "dfi", "--source", str(source), "--generated", str(generated)]
    return [*cmd, "--out", str(out)]


def test_progress_in_a_log_is_one_plain_line_per_phase(still_clip, tmp_path):
    source, generated = still_clip
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    log = tmp_path / "log.txt"
    with log.open("w") as stream:
        done = subprocess.run(_dfi_command(source, generated, tmp_path / "o"), env=env, stderr=stream, check=False)
    assert done.returncode == 0
    text = log.read_text()
    assert "\r" not in text  # no bar redraws
    assert text.splitlines() == ["DFI: 8 frames..."]


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_progress_on_a_terminal_is_a_bar(still_clip, tmp_path):
    import fcntl
    import pty
    import struct
    import termios
    import threading

    source, generated = still_clip
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal 100 columns wide
    chunks: list[bytes] = []

    def drain() -> None:  # read while the command runs, so a full terminal buffer cannot block it
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO once the command has closed its end
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        cmd = _dfi_command(source, generated, tmp_path / "o")
        done = subprocess.run(cmd, env=env, stderr=follower, stdout=subprocess.DEVNULL, check=False)
    finally:
        os.close(follower)
        reader.join(timeout=10)
        os.close(leader)
    assert done.returncode == 0
    text = b"".join(chunks).decode("utf-8", "replace")
    assert "8/8" in text
    assert "\r" in text  # tqdm redraws in place


def test_compare_captions_two_folders_with_their_own_names(tmp_path):
    from abysz_lab.video import _label_bar, iter_video_frames, label_height

    for name in ("before", "after"):
        write_frames(tmp_path / name, [static_scene()] * 3)
    out = tmp_path / "c.mp4"
    args = ["compare", str(tmp_path / "before"), str(tmp_path / "after"), "--out", str(out), "--quality", "0"]
    assert main(args) == 0
    first = next(iter(iter_video_frames(out)))
    bar_h, width = label_height(48), 64
    shown = first[:bar_h, :width].astype(np.float32)

    def distance(text: str) -> float:
        return float(np.abs(shown - _label_bar(width, bar_h, text)).mean())

    # Before the fix two folders were always captioned "generated | stabilised".
    assert distance("before") < distance("generated") / 2


def test_compare_labels_tell_same_named_folders_apart(tmp_path):
    from abysz_lab.video import default_labels

    assert default_labels([tmp_path / "a" / "frames", tmp_path / "b" / "frames"]) == ("a/frames", "b/frames")
    assert default_labels([tmp_path / "source", tmp_path / "out"]) == ("source", "out")
