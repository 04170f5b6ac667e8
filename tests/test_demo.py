"""The demo clip's files: named like extracted frames, and a rewrite leaves no stale frame behind."""

from __future__ import annotations

import pytest

from abysz_lab.demo import make_demo_clip
from abysz_lab.errors import InputError
from abysz_lab.video import frame_name


def _names(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_demo_files_are_named_like_extracted_frames_from_frame_00001(tmp_path):
    clip = make_demo_clip(tmp_path, frames=3, width=64, height=48)
    expected = ["frame_00001.png", "frame_00002.png", "frame_00003.png"]
    assert _names(clip.source) == _names(clip.generated) == expected
    assert expected == [frame_name(i) for i in range(3)]  # frame N is the N-th file, as extraction names it


def test_demo_rewrite_replaces_an_older_clip_and_keeps_other_files(tmp_path):
    """A clip made by an older version (frame_0000.png ...) or of another length is replaced, not mixed in."""
    for folder in ("source", "generated"):
        (tmp_path / folder).mkdir()
        for t in range(5):
            (tmp_path / folder / f"frame_{t:04d}.png").write_bytes(b"old demo frame")
        (tmp_path / folder / "notes.txt").write_text("mine", encoding="utf-8")
    clip = make_demo_clip(tmp_path, frames=3, width=64, height=48)
    for folder in (clip.source, clip.generated):
        assert _names(folder) == ["frame_00001.png", "frame_00002.png", "frame_00003.png", "notes.txt"]
    shorter = make_demo_clip(tmp_path, frames=2, width=64, height=48)
    assert _names(shorter.source) == ["frame_00001.png", "frame_00002.png", "notes.txt"]


def test_demo_never_overwrites_frames_it_did_not_make(tmp_path):
    """--dir pointing at extracted frames (frame_00001.png, the demo's names now) is refused, untouched."""
    (tmp_path / "source").mkdir()
    mine = tmp_path / "source" / "frame_00001.png"
    mine.write_bytes(b"a user's extracted frame")
    with pytest.raises(InputError, match=r"holds frames the demo did not make \(frame_00001.png\)"):
        make_demo_clip(tmp_path, frames=3, width=64, height=48)
    assert mine.read_bytes() == b"a user's extracted frame"
    assert not (tmp_path / "generated").exists()
