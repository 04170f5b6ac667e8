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
    assert names == ["mask_0002_frame_002.png", "mask_0005_frame_005.png"] + [
        "overlay_0002_frame_002.png",
        "overlay_0005_frame_005.png",
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


def test_dfi_with_a_broken_video_exits_2(tmp_path, capsys):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all")
    code = main(["dfi", "--source", str(bad), "--generated", str(bad), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "broken.mp4" in capsys.readouterr().err
