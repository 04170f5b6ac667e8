"""What the safety checks of issue 11 cost, and what the pixel limit saves.

- ``read_frame`` (header parsed, pixel limit checked, then decoded) against
  ``np.fromfile`` + ``cv2.imdecode`` of the same file: the ratio is the checks' cost.
- ``frame_size`` (header only) against a full decode of the same frame.
- Taking and releasing a folder lock (O_CREAT | O_EXCL, JSON, unlink), per second.
- A 32000x32000 all-black PNG (about 1 MB): refused by ``read_frame`` in a
  child process, against the same child decoding it with OpenCV (time and peak
  memory of each; the decode is skipped with ``--quick``).

    python benchmarks/bench_safe.py [--quick]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from abysz_lab.demo import demo_background, source_frame  # noqa: E402
from abysz_lab.frames import frame_size, read_frame, write_frame  # noqa: E402
from abysz_lab.locks import folder_lock  # noqa: E402


def per_call(fn, items, repeat: int = 3) -> float:
    """Best mean seconds per item over ``repeat`` passes."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, (time.perf_counter() - start) / len(items))
    return best


CHILD = """
import sys, time, resource
import numpy as np, cv2
from abysz_lab.frames import read_frame
from abysz_lab.errors import InputError
start = time.perf_counter()
if sys.argv[2] == "refuse":
    try:
        read_frame(sys.argv[1])
    except InputError:
        pass
else:
    cv2.imdecode(np.fromfile(sys.argv[1], np.uint8), cv2.IMREAD_UNCHANGED)
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def child(path: Path, mode: str) -> tuple[float, float]:
    """(seconds, peak MB) of a child process refusing or decoding ``path``."""
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), mode], capture_output=True, text=True, env=env)
    seconds, peak_kb = out.stdout.split()
    return float(seconds), int(peak_kb) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer frames, and no 1 GB decode")
    args = parser.parse_args()
    count = 10 if args.quick else 40
    print(f"loadavg at start: {' '.join(f'{x:.2f}' for x in __import__('os').getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        background = demo_background(1280, 720)
        paths = []
        for i, suffix in enumerate([".png", ".jpg", ".webp"] * (count // 3 + 1)):
            path = folder / f"f{i:03d}{suffix}"
            write_frame(path, source_frame(background, i, count))
            paths.append(path)
        bare = per_call(lambda p: cv2.imdecode(np.fromfile(p, np.uint8), cv2.IMREAD_UNCHANGED), paths)
        ours = per_call(read_frame, paths)
        header = per_call(frame_size, paths)
        print(f"1280x720 PNG/JPEG/WebP, {len(paths)} frames:")
        print(f"  fromfile+imdecode (base)  {bare * 1e3:7.2f} ms/frame")
        print(f"  read_frame (header+limit) {ours * 1e3:7.2f} ms/frame   ratio {ours / bare:.2f}x the baseline")
        print(f"  frame_size (header only)  {header * 1e3:7.3f} ms/frame   ratio {header / bare:.4f}x the baseline")

        locks = folder / "locked"
        locks.mkdir()

        def lock_once(_):
            with folder_lock(locks, "bench"):
                pass

        per_lock = per_call(lock_once, range(200))
        print(f"folder lock take + release: {per_lock * 1e6:.0f} us ({1 / per_lock:.0f}/s)")

        from test_safe_cli import black_png

        bomb = folder / "bomb.png"
        bomb.write_bytes(black_png(32000))
        seconds, peak = child(bomb, "refuse")
        print(f"32000x32000 black PNG ({bomb.stat().st_size / 1e6:.2f} MB):")
        print(f"  refused by read_frame: {seconds * 1e3:8.1f} ms, peak {peak:7.0f} MB (process)")
        if not args.quick:
            d_seconds, d_peak = child(bomb, "decode")
            print(f"  decoded by OpenCV:     {d_seconds * 1e3:8.1f} ms, peak {d_peak:7.0f} MB (process)")
            print(f"  ratio: {d_seconds / seconds:.0f}x the time, {d_peak / peak:.1f}x the memory")
    print(f"(max RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
