"""Issue 11 on the command line, with real processes: one writer per folder, bounded memory, one-line errors,
never into an input or over another video's frames, nothing left behind, and a kill -9 loop."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import stat
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import noisy_copies, static_scene, write_frames

from abysz_lab.locks import LOCK_NAME

REPO = Path(__file__).resolve().parents[1]
ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0
# Root ignores file permissions; dropping the two capabilities that let it do so makes chmod bite again.
UNPRIVILEGED = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search"]


def cli(*args: str, unprivileged: bool = False, timeout: float = 120, **popen) -> subprocess.CompletedProcess:
    """Run ``python -m abysz_lab ARGS`` in a fresh process (as a user file permissions apply to)."""
    command = [sys.executable, "-m", "abysz_lab", *map(str, args)]
    if unprivileged and ROOT_USER:
        command = UNPRIVILEGED + command
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, check=False, **popen)


def one_line_error(done: subprocess.CompletedProcess, *needles: str) -> str:
    """Assert exit 2 with a single 'error: ...' line containing ``needles``; return it."""
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def clip(tmp_path):
    """A still 64x48 source of 8 frames and 8 noisy generated frames (PNG)."""
    scene = static_scene()
    write_frames(tmp_path / "source", [scene] * 8)
    write_frames(tmp_path / "generated", noisy_copies(scene, 8))
    return tmp_path / "source", tmp_path / "generated"


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


# --- every failure is a sentence -------------------------------------------------------------------------


needs_setpriv = pytest.mark.skipif(
    ROOT_USER and not Path("/usr/bin/setpriv").exists(), reason="as root, permissions bite only without setpriv"
)


@needs_setpriv
@pytest.mark.parametrize("mode", [0, 0o444])  # nothing, or names without access to the files
@pytest.mark.parametrize("command", ["dfi", "deflicker", "analyze", "assemble"])
def test_an_unreadable_input_folder_is_one_line(clip, tmp_path, command, mode):
    source, generated = clip
    generated.chmod(mode)
    try:
        args = {
            "dfi": ["dfi", "--source", source, "--generated", generated, "--out", tmp_path / "o"],
            "deflicker": ["deflicker", "--in", generated, "--out", tmp_path / "o", "--preset", "blend"],
            "analyze": ["analyze", "--source", source, "--generated", generated, "--report", tmp_path / "r"],
            "assemble": ["assemble", generated, "--out", tmp_path / "o.mp4"],
        }[command]
        one_line_error(cli(*args, unprivileged=True), "Cannot list the", str(generated), "Permission denied")
    finally:
        generated.chmod(0o755)


@pytest.mark.parametrize("link", ["dangling", "looping"])
@pytest.mark.parametrize("command", ["dfi", "deflicker"])
def test_a_broken_symlink_frame_is_one_line(clip, tmp_path, link, command):
    source, generated = clip
    bad = generated / "frame_004.png"
    bad.unlink()
    if link == "dangling":
        bad.symlink_to(tmp_path / "gone.png")
    else:
        bad.symlink_to(bad)
    args = {
        "dfi": ["dfi", "--source", source, "--generated", generated, "--out", tmp_path / "o"],
        "deflicker": ["deflicker", "--in", generated, "--out", tmp_path / "o", "--preset", "blend"],
    }[command]
    why = "points to a file that does not exist" if link == "dangling" else "loops back on itself"
    one_line_error(cli(*args), "frame_004.png", why)


@needs_setpriv
@pytest.mark.parametrize("command", ["assemble", "compare"])
def test_writing_a_video_into_a_read_only_folder_is_one_line(clip, tmp_path, command):
    _, generated = clip
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        args = [command, generated, "--out", locked / "v.mp4"]
        one_line_error(cli(*args, unprivileged=True), str(locked), "Permission denied")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


# --- never into an input, never over another video's frames ----------------------------------------------


def test_assemble_and_compare_refuse_an_output_inside_an_input_folder(clip, tmp_path):
    source, generated = clip
    before = digest(generated), digest(source)
    one_line_error(cli("assemble", generated, "--out", generated / "inside.mp4"), "inside the input folder")
    one_line_error(cli("compare", source, generated, "--out", source / "c.mp4"), "inside the input folder")
    assert (digest(generated), digest(source)) == before


def test_fuse_and_analyze_refuse_an_output_inside_an_input_folder(clip, tmp_path):
    source, generated = clip
    before = digest(generated), digest(source)
    one_line_error(cli("fuse", generated, "--style", source, "--out", source / "fused"), "inside the input")
    done = cli("analyze", "--source", source, "--generated", generated, "--report", generated / "report")
    one_line_error(done, "inside the input")
    assert "Analysed" not in done.stdout  # refused before the analysis, not after it
    assert (digest(generated), digest(source)) == before


def _video(path: Path, hue: str) -> Path:
    from abysz_lab.video import ffmpeg_exe

    args = [ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"color=c={hue}:size=64x48:rate=10:d=1"]
    subprocess.run([*args, "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


def test_extract_refuses_a_folder_holding_another_videos_frames_unless_overwrite(tmp_path):
    first, second = _video(tmp_path / "first.mp4", "red"), _video(tmp_path / "orig.mp4", "blue")
    out = tmp_path / "generated"
    assert cli("extract", first, "--out", out).returncode == 0
    before = digest(out)
    one_line_error(cli("extract", second, "--out", out), "another video (first.mp4)", "--overwrite")
    assert digest(out) == before
    assert cli("extract", first, "--out", out).returncode == 0  # the same video again is fine
    assert cli("extract", second, "--out", out, "--overwrite").returncode == 0
    assert json.loads((out / ".video.abysz.json").read_text())["source"].endswith("orig.mp4")


def test_extract_refuses_images_it_did_not_write_even_beside_its_sidecar(tmp_path):
    video = _video(tmp_path / "v.mp4", "red")
    out = tmp_path / "frames"
    assert cli("extract", video, "--out", out).returncode == 0
    cv2.imwrite(str(out / "my_render_001.png"), np.zeros((8, 8, 3), np.uint8))
    one_line_error(cli("extract", video, "--out", out), "my_render_001.png")


# --- bounded memory ---------------------------------------------------------------------------------------


def black_png(side: int) -> bytes:
    """An all-black 8-bit grey PNG of side x side, built without ever holding its pixels (~1 MB for 32000)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = bytes(side + 1)  # filter byte + pixels
    block = row * 64
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    # After a full flush the compressor starts afresh, so the same block compresses to the same bytes.
    deflate.compress(block)
    deflate.flush(zlib.Z_FULL_FLUSH)
    piece = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    count, rest = divmod(side, 64)
    adler = 1
    for _ in range(count):
        adler = zlib.adler32(block, adler)
    adler = zlib.adler32(row * rest, adler)
    stream = b"\x78\xda" + piece * count + deflate.compress(row * rest) + deflate.flush() + struct.pack(">I", adler)
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", stream) + chunk(b"IEND", b"")


MEASURE = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


@pytest.mark.parametrize("where", ["generated", "source"])
def test_a_32000_pixel_png_is_refused_fast_with_little_memory(clip, tmp_path, where):
    source, generated = clip
    bomb = black_png(32000)
    assert len(bomb) < 1_100_000
    ((source if where == "source" else generated) / "frame_000.png").write_bytes(bomb)
    command = [sys.executable, "-c", MEASURE, sys.executable, "-m", "abysz_lab", "dfi"]
    command += ["--source", str(source), "--generated", str(generated), "--out", str(tmp_path / "o")]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
    seconds = time.perf_counter() - started
    peak_mb = int(done.stderr.strip().splitlines()[-1]) / 1024
    done.stderr = "\n".join(done.stderr.strip().splitlines()[:-1])
    one_line_error(done, "frame_000.png", "32000x32000", "over the limit of 64 megapixels", "--max-megapixels")
    assert peak_mb < 600, f"{peak_mb:.0f} MB"  # decoding it would take 1-3 GB
    assert seconds < 30
    assert not list((tmp_path / "o").glob("*.png"))


def test_the_limit_flag_is_honoured(clip, tmp_path):
    source, generated = clip
    done = cli("dfi", "--source", source, "--generated", generated, "--out", tmp_path / "o", "--max-megapixels", "0")
    one_line_error(done, "Largest frame", "between 1 and 1024")
    small = cv2.resize(static_scene(), (1600, 1000))
    cv2.imwrite(str(generated / "frame_000.png"), small)
    done = cli("deflicker", "--in", generated, "--out", tmp_path / "d", "--preset", "blend", "--max-megapixels", "1")
    one_line_error(done, "1600x1000", "over the limit of 1 megapixels")


def test_a_size_mismatch_is_refused_from_the_header_before_decoding(clip, tmp_path):
    """A truncated frame whose header says 8000x8000: named as a size mismatch, not decoded, not resized to."""
    source, generated = clip
    header = struct.pack(">IIBBBBB", 8000, 8000, 8, 2, 0, 0, 0)
    ihdr = struct.pack(">I", 13) + b"IHDR" + header + struct.pack(">I", zlib.crc32(b"IHDR" + header))
    (generated / "frame_003.png").write_bytes(b"\x89PNG\r\n\x1a\n" + ihdr)
    done = cli("dfi", "--source", source, "--generated", generated, "--out", tmp_path / "o")
    one_line_error(done, "frame_003.png is 8000x8000 but the first one is 64x48")


# --- one writer per folder --------------------------------------------------------------------------------


@pytest.fixture
def long_clip(tmp_path):
    """60 frames of 640x480: a DFI run long enough to be caught while it writes."""
    scene = cv2.resize(static_scene(), (640, 480))
    write_frames(tmp_path / "ls", [scene] * 60)
    write_frames(tmp_path / "lg", noisy_copies(scene, 60))
    return tmp_path / "ls", tmp_path / "lg"


def _start_dfi(source: Path, generated: Path, out: Path, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "abysz_lab", "dfi", "--source", str(source), "--generated", str(generated)]
    command += ["--out", str(out), *extra]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _lock_text(folder: Path) -> str:
    try:
        return (folder / LOCK_NAME).read_text()
    except OSError:
        return ""


def test_a_second_run_into_a_busy_folder_is_refused_and_nothing_mixes(long_clip, tmp_path):
    source, generated = long_clip
    out = tmp_path / "out"
    first = _start_dfi(source, generated, out, "--tolerance", "5")
    try:
        # The lock file is made empty (O_EXCL) and then filled in: wait until it names its run.
        _wait_for(lambda: _lock_text(out).strip().endswith("}") or first.poll() is not None)
        first.send_signal(signal.SIGSTOP)  # hold it mid-run, lock taken
        assert first.poll() is None, "the first run ended before it could be caught"
        second = cli("dfi", "--source", source, "--generated", generated, "--out", out, "--tolerance", "12")
        one_line_error(second, f"Another Abysz LAB run (PID {first.pid}", "DFI) is writing to this folder")
    finally:
        first.send_signal(signal.SIGCONT)
    assert first.wait(timeout=120) == 0, first.stderr.read()
    solo = _start_dfi(source, generated, tmp_path / "solo", "--tolerance", "5")
    assert solo.wait(timeout=120) == 0
    frames = {k: v for k, v in digest(out).items() if not k.startswith(".")}
    assert frames == {k: v for k, v in digest(tmp_path / "solo").items() if not k.startswith(".")}
    record = json.loads((out / ".dfi.abysz.json").read_text())
    assert (record["identity"]["params"]["tolerance"], record["finished"]) == (5, True)
    assert not (out / LOCK_NAME).exists()


def test_a_stale_part_file_is_removed_when_a_run_starts(clip, tmp_path):
    source, generated = clip
    out = tmp_path / "o"
    out.mkdir()
    stale = out / ".frame_0056.png.x7k2ab9q.part"
    stale.write_bytes(b"half a frame")
    mine = out / "notes.part"
    mine.write_bytes(b"the user's")
    assert cli("dfi", "--source", source, "--generated", generated, "--out", out).returncode == 0
    assert not stale.exists()
    assert mine.exists()


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_videos_honour_the_umask_like_frames(clip, tmp_path, suffix):
    _, generated = clip
    out = tmp_path / f"v{suffix}"
    done = cli("assemble", generated, "--out", out, umask=0o022)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


# --- kill -9 at random moments, then resume ---------------------------------------------------------------


def test_kill_9_ten_times_then_resume_gives_the_uninterrupted_result(tmp_path):
    """Each run is killed a few frames (and a random instant) after it starts writing; the last one finishes."""
    scene = cv2.resize(static_scene(), (256, 192))
    count = 600  # ten kills land before the end: nine within a few frames, the last after a checkpoint
    source, generated = tmp_path / "s", tmp_path / "g"
    write_frames(source, [scene] * count)
    write_frames(generated, noisy_copies(scene, count))
    reference = _start_dfi(source, generated, tmp_path / "reference")
    assert reference.wait(timeout=120) == 0
    out = tmp_path / "killed"

    def on_disk() -> int:
        return len(list(out.glob("*.png"))) if out.exists() else 0

    def recorded() -> int:
        try:
            return json.loads((out / ".dfi.abysz.json").read_text())["completed"]
        except (OSError, ValueError, KeyError):
            return 0

    rng = random.Random(11)
    progress = []
    for kill in range(10):
        run = _start_dfi(source, generated, out)
        if kill == 9:
            # The record is checkpointed twice a second, so the runs above, killed within a few frames, may
            # all resume from an early record: let the last one reach a checkpoint before it is killed.
            before = recorded()
            _wait_for(lambda before=before, run=run: recorded() > before or run.poll() is not None)
        target = on_disk() + rng.randint(1, 6)
        _wait_for(lambda target=target, run=run: on_disk() >= target or run.poll() is not None)
        time.sleep(rng.uniform(0, 0.05))  # anywhere in a frame: reading, blending, encoding, renaming, recording
        run.kill()
        run.wait()
        progress.append(on_disk())
    print("frames on disk after each kill:", progress)
    assert progress[-1] < count  # every kill landed before the end
    final = _start_dfi(source, generated, out)
    assert final.wait(timeout=120) == 0, final.stderr.read()
    said = final.stdout.read()
    assert "resumed after frame" in said, f"{said}\n{final.stderr.read()}\n{(out / '.dfi.abysz.json').read_text()}"
    expected = {k: v for k, v in digest(tmp_path / "reference").items() if not k.startswith(".")}
    assert {k: v for k, v in digest(out).items() if not k.startswith(".")} == expected
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".dfi.abysz.json"]


OUT_OF_MEMORY = """
import resource, sys
import cv2, numpy as np
from abysz_lab.frames import read_frame
from abysz_lab.errors import InputError
image = np.random.default_rng(0).integers(0, 255, (3000, 3000, 3), np.uint8)  # 27 MB decoded
open(sys.argv[1], "wb").write(cv2.imencode(".png", image)[1].tobytes())
del image
size = int(next(line for line in open("/proc/self/status") if line.startswith("VmSize")).split()[1]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (size + 40_000_000, resource.RLIM_INFINITY))  # too little for it
try:
    read_frame(sys.argv[1])
except InputError as exc:
    print(exc)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc to size the memory limit")
def test_opencv_running_out_of_memory_is_a_clear_message(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", OUT_OF_MEMORY, str(tmp_path / "big.png")],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Not enough memory to decode big.png"), done.stdout
    assert "could not allocate 27 MB" in done.stdout
