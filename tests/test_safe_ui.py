"""Issue 11 in the tab: the same failures are a red status line, never gradio's bare "Error" or a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from test_safe_cli import REPO, black_png
from test_ui_tools import assemble_values, extract_values
from ui_support import dfi_values, needs_gradio, small_clip

from abysz_lab import access

pytestmark = [pytest.mark.ui, needs_gradio]


@pytest.fixture
def clip(tmp_path):
    return small_clip(tmp_path / "clip", frames=6)


@pytest.fixture
def dfi():
    from abysz_lab.ui import UISettings
    from abysz_lab.ui.dfi_tab import DFIHandlers

    return DFIHandlers(UISettings())


@pytest.fixture
def tools():
    from abysz_lab.ui import UISettings
    from abysz_lab.ui.tools_tab import ToolsHandlers

    return ToolsHandlers(UISettings())


def red(status: str, *needles: str) -> None:
    assert "abysz-msg-error" in status, status
    for needle in needles:
        assert needle in status, status


def test_a_dangling_symlink_frame_is_a_red_status(dfi, clip, tmp_path):
    frame = sorted(clip.generated.iterdir())[2]
    frame.unlink()
    frame.symlink_to(tmp_path / "gone.png")
    status, *_ = dfi.run(dfi_values(clip.source, clip.generated, tmp_path / "out", compare=False, analyze=False))
    red(status, frame.name, "does not exist")


def test_a_frame_over_the_pixel_limit_is_a_red_status(dfi, clip, tmp_path):
    first = sorted(clip.generated.iterdir())[0]
    first.write_bytes(black_png(32000))
    status, *_ = dfi.run(dfi_values(clip.source, clip.generated, tmp_path / "out", compare=False, analyze=False))
    red(status, first.name, "over the limit of 64 megapixels")


HOLD = """
import sys, time
from abysz_lab.locks import folder_lock
with folder_lock(sys.argv[1], "Deflicker"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_folder_another_process_writes_is_a_red_status_naming_it(dfi, clip, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline().strip() == "held"
        status, *_ = dfi.run(dfi_values(clip.source, clip.generated, out, compare=False, analyze=False))
        red(status, f"PID {holder.pid}", "Deflicker", "is writing to this folder")
        assert not list(out.glob("*.png"))
    finally:
        holder.kill()
        holder.wait()


def test_a_path_outside_the_allowed_folders_is_a_red_status(dfi, clip, tmp_path):
    access.set_policy(access.AccessPolicy((clip.source.parent,), reason="testing"))
    status, *_ = dfi.run(dfi_values(clip.source, clip.generated, tmp_path / "elsewhere"))
    red(status, "Refused", str(clip.source.parent.resolve()))
    assert not (tmp_path / "elsewhere").exists()


def test_an_output_derived_outside_the_allowed_folders_is_refused(dfi, clip):
    """An empty output box means '<generated>_dfi' next to it: outside when the generated folder IS the root."""
    access.set_policy(access.AccessPolicy((clip.generated,)))
    status, *_ = dfi.run(dfi_values(clip.source, clip.generated, "", compare=False, analyze=False))
    red(status, "Refused")


def test_assemble_into_its_input_folder_is_a_red_status(tools, clip):
    status, *_ = tools.assemble(assemble_values(frames=clip.generated, output=clip.generated / "inside.mp4"))
    red(status, "inside the input folder")
    assert not (clip.generated / "inside.mp4").exists()


def test_extract_over_another_videos_frames_is_red_until_overwrite_is_ticked(tools, tmp_path):
    from test_safe_cli import _video

    out = tmp_path / "generated"
    first, second = _video(tmp_path / "first.mp4", "red"), _video(tmp_path / "second.mp4", "blue")
    status, *_ = tools.extract(extract_values(video=first, output=out))
    assert "abysz-msg-ok" in status
    status, *_ = tools.extract(extract_values(video=second, output=out))
    red(status, "another video (first.mp4)", "overwrit")
    status, *_ = tools.extract(extract_values(video=second, output=out, overwrite=True))
    assert "abysz-msg-ok" in status


def test_an_output_at_the_allowed_root_itself_is_refused_as_its_work_folder_would_escape(dfi, clip):
    root = clip.source.parent
    access.set_policy(access.AccessPolicy((root,)))
    status, *_ = dfi.run(dfi_values(clip.source, clip.generated, root, compare=False, analyze=False))
    red(status, "Refused", "work folder")


def test_assemble_of_a_folder_outside_the_allowed_folders_is_refused(tools, clip, tmp_path):
    """The issue's second leak: assemble any server image folder, then fetch the MP4 through /file=."""
    access.set_policy(access.AccessPolicy((tmp_path / "clip" / "generated",)))
    status, video, _ = tools.assemble(assemble_values(frames=clip.source, output=tmp_path / "leak.mp4"))
    red(status, "Refused", "outside")
    assert not (tmp_path / "leak.mp4").exists()
    assert tools.served.folder is None  # nothing was handed to gradio to serve
