"""Extract and assemble throughput at 1280x720, against the ffmpeg command line doing the same job.

``assemble``: a folder of PNG frames -> H.264 MP4 (CRF 18, preset medium).
``extract``: that MP4 -> PNG frames at its own rate. The baseline is the same
ffmpeg binary run on its own (``-i frame_%05d.png ... out.mp4`` and
``-i out.mp4 frame_%05d.png``), so the ratio shows what piping raw frames
through Python and writing them with OpenCV costs or saves.

    python benchmarks/bench_video.py [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from abysz_lab.demo import demo_background, source_frame  # noqa: E402
from abysz_lab.frames import write_frame  # noqa: E402
from abysz_lab.video import AssembleParams, assemble_video, extract_frames, ffmpeg_exe  # noqa: E402


def make_frames(folder: Path, frames: int, width: int, height: int) -> None:
    """Write the demo scene (still background, moving ball) as numbered PNGs."""
    folder.mkdir(parents=True)
    background = demo_background(width, height)
    for t in range(frames):
        write_frame(folder / f"frame_{t + 1:05d}.png", source_frame(background, t, frames))


def ffmpeg(*args: str) -> None:
    """Run the bundled ffmpeg quietly; raise if it fails."""
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def timed(fn, *args, **kwargs) -> float:
    """Seconds one call of ``fn(*args, **kwargs)`` takes."""
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def ffmpeg_assemble(frames: Path, out: Path) -> None:
    """The baseline: ffmpeg reads the PNGs itself and encodes with the same settings as ours."""
    x264 = ("-c:v", "libx264", "-preset", "medium", "-crf", "18", "-pix_fmt", "yuv420p", "-movflags", "+faststart")
    ffmpeg("-framerate", "24", "-i", str(frames / "frame_%05d.png"), *x264, str(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="48 frames, one repeat (default: 120 frames, best of 3)")
    parser.add_argument("--frames", type=int, default=0, help="frames in the clip (default 48 quick, 120 full)")
    args = parser.parse_args()
    frames = args.frames or (48 if args.quick else 120)
    repeats = 1 if args.quick else 3
    width, height = 1280, 720

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        src = root / "frames"
        make_frames(src, frames, width, height)
        times: dict[str, list[float]] = {k: [] for k in ("assemble", "assemble ffmpeg", "extract", "extract ffmpeg")}
        for r in range(repeats):  # interleaved, so background load hits every variant alike
            ours, theirs = root / f"ours{r}.mp4", root / f"ffmpeg{r}.mp4"
            times["assemble"].append(timed(assemble_video, src, ours, AssembleParams(fps=24)))
            times["assemble ffmpeg"].append(timed(ffmpeg_assemble, src, theirs))
            out_ours, out_theirs = root / f"x_ours{r}", root / f"x_ffmpeg{r}"
            out_theirs.mkdir()
            times["extract"].append(timed(extract_frames, ours, out_ours))
            times["extract ffmpeg"].append(timed(ffmpeg, "-i", str(ours), str(out_theirs / "frame_%05d.png")))
            shutil.rmtree(out_ours)
            shutil.rmtree(out_theirs)

    fps = {k: frames / min(v) for k, v in times.items()}
    print(f"{frames} frames at {width}x{height}, best of {repeats}")
    print(f"{'operation':<10} {'abysz_lab':>12} {'ffmpeg CLI':>12} {'ratio':>7}")
    for op in ("extract", "assemble"):
        ratio = fps[op] / fps[f"{op} ffmpeg"]
        print(f"{op:<10} {fps[op]:>8.1f} f/s {fps[f'{op} ffmpeg']:>8.1f} f/s {ratio:>6.2f}x")


if __name__ == "__main__":
    main()
