"""locks.py: one writer per folder, across real processes; stale locks taken over; .part leftovers removed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from abysz_lab.errors import InputError
from abysz_lab.locks import LOCK_NAME, file_lock, folder_lock, remove_stale_parts

HOLD = """
import sys, time
from abysz_lab.locks import folder_lock
with folder_lock(sys.argv[1], "DFI"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_second_process_is_refused_naming_the_first(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with (
            pytest.raises(InputError, match=rf"Another Abysz LAB run \(PID {holder.pid}, started .* DFI\)"),
            folder_lock(tmp_path, "deflicker"),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()
    # The holder was killed without releasing: its lock is stale and taken over, with a note.
    warnings: list[str] = []
    with folder_lock(tmp_path, "deflicker", warnings=warnings):
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    assert warnings
    assert f"PID {holder.pid}" in warnings[0]
    assert not (tmp_path / LOCK_NAME).exists()


def test_the_same_process_cannot_take_a_folder_twice(tmp_path):
    with (
        folder_lock(tmp_path, "DFI"),
        pytest.raises(InputError, match="is writing to this folder"),
        folder_lock(tmp_path, "DFI"),
    ):
        pass


def test_a_lock_from_another_host_is_never_taken_over(tmp_path):
    (tmp_path / LOCK_NAME).write_text(
        json.dumps({"pid": 1, "host": "other-box", "started": time.time(), "operation": "DFI"})
    )
    with pytest.raises(InputError, match=f"host other-box.*delete {tmp_path / LOCK_NAME}"):
        folder_lock(tmp_path, "DFI").__enter__()


def test_an_old_unreadable_lock_is_stale_but_a_fresh_one_is_not(tmp_path):
    lock = tmp_path / LOCK_NAME
    lock.write_text("")
    with pytest.raises(InputError, match="starting up"):
        folder_lock(tmp_path, "DFI").__enter__()
    old = time.time() - 60
    os.utime(lock, (old, old))
    warnings: list[str] = []
    with folder_lock(tmp_path, "DFI", warnings=warnings):
        pass
    assert "unreadable" in warnings[0]


def test_stale_part_files_of_our_pattern_go_and_others_stay(tmp_path):
    ours = tmp_path / ".frame_0056.png.ab_c12x9.part"
    video_tmp = tmp_path / ".clip.abcd1234.part.mp4"
    theirs = [tmp_path / "notes.part", tmp_path / ".x.part", tmp_path / "frame.png"]
    for p in [ours, video_tmp, *theirs]:
        p.write_bytes(b"x")
    assert remove_stale_parts(tmp_path) == 1
    assert not ours.exists()
    assert all(p.exists() for p in [video_tmp, *theirs])
    with file_lock(tmp_path / "clip.mp4", "Assemble"):
        assert not video_tmp.exists()
        assert (tmp_path / ".clip.mp4.abysz.lock").exists()
    assert not (tmp_path / ".clip.mp4.abysz.lock").exists()


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="process start times come from Linux's /proc")
def test_a_lock_whose_pid_now_belongs_to_another_process_is_stale(tmp_path):
    """After a crash the PID may be reused: the recorded start time tells the new process apart."""
    from abysz_lab.locks import process_start

    lock = tmp_path / LOCK_NAME
    mine = {"pid": os.getpid(), "host": __import__("socket").gethostname(), "started": time.time()}
    lock.write_text(json.dumps({**mine, "operation": "DFI", "process_start": "1"}))  # "this PID, started at tick 1"
    warnings: list[str] = []
    with folder_lock(tmp_path, "DFI", warnings=warnings):
        pass
    assert "ended without releasing it" in warnings[0]
    lock.write_text(json.dumps({**mine, "operation": "DFI", "process_start": process_start(os.getpid())}))
    with pytest.raises(InputError, match="is writing to this folder"), folder_lock(tmp_path, "DFI"):
        pass
