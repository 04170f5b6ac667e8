"""Analysis speed: frames/s of ``analyze`` on a 512x512 clip, against a decode-only baseline.

Writes a demo-like clip (still scene, moving ball, flickering generated frames)
as PNG, stabilises it with DFI, then times :func:`abysz_lab.analysis.analyze_folders`
on source + generated and on source + generated + output, next to a baseline
that only decodes the same files on the same read-ahead threads. Target:
>= 20 frames/s with the output folder.

    python benchmarks/bench_analysis.py [--quick] [--frames 300] [--size 512]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from abysz_lab.analysis import analyze_folders  # noqa: E402
from abysz_lab.demo import add_ai_flicker, demo_background, source_frame, stylise  # noqa: E402
from abysz_lab.dfi import run_dfi  # noqa: E402
from abysz_lab.frames import list_frames, read_ahead, read_frame, write_frame  # noqa: E402

TARGET_FPS = 20.0


def make_clip(root: Path, frames: int, size: int) -> tuple[Path, Path, Path]:
    """Write source and generated PNG frames and a DFI output; return the three folders."""
    import numpy as np

    src_dir, gen_dir, out_dir = root / "source", root / "generated", root / "output"
    src_dir.mkdir(parents=True)
    gen_dir.mkdir(parents=True)
    rng = np.random.default_rng(0)
    background = demo_background(size, size)
    styled = None
    for t in range(frames):
        src = source_frame(background, t, frames)
        write_frame(src_dir / f"f{t:05d}.png", src)
        if styled is None or t % 10 == 0:  # the exact look does not matter for speed
            styled = stylise(src)
        write_frame(gen_dir / f"f{t:05d}.png", add_ai_flicker(styled, rng))
    run_dfi(src_dir, gen_dir, out_dir)
    return src_dir, gen_dir, out_dir


def decode_only(*folders: Path) -> float:
    """Seconds to decode every frame of the folders on the analysis' read-ahead threads."""
    lists = [list_frames(f).frames for f in folders]
    start = time.perf_counter()
    with contextlib.closing(
        read_ahead(lambda i: [read_frame(paths[i]) for paths in lists], range(len(lists[0])), workers=2, depth=4)
    ) as reader:
        for _ in reader:
            pass
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Time the analysis and print frames/s."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=300, help="clip length (default 300)")
    parser.add_argument("--size", type=int, default=512, help="frame width and height (default 512)")
    parser.add_argument("--repeats", type=int, default=2, help="best of this many timings (default 2)")
    parser.add_argument("--quick", action="store_true", help="60 frames, one timing")
    args = parser.parse_args(argv)
    frames, repeats = (60, 1) if args.quick else (args.frames, args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"Writing a {frames}-frame {args.size}x{args.size} clip and its DFI output...")
        src, gen, out = make_clip(Path(tmp), frames, args.size)
        variants = {
            "decode 3 folders": lambda: decode_only(src, gen, out),
            "analyze src+gen": lambda: analyze_folders(src, gen),
            "analyze src+gen+out": lambda: analyze_folders(src, gen, out),
        }
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
        for _ in range(repeats):  # interleaved, so background load hits every variant alike
            for name, run in variants.items():
                wall, cpu = time.perf_counter(), time.process_time()
                run()
                times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    base = frames / min(t for t, _ in times["decode 3 folders"])
    print(f"\n| {frames} frames {args.size}x{args.size} PNG | frames/s | vs decode-only | CPU ms/frame, all threads |")
    print("|---|---|---|---|")
    for name, runs in times.items():
        wall, cpu = min(runs)
        fps = frames / wall
        print(f"| {name} | {fps:.1f} | {fps / base:.2f} | {1000 * cpu / frames:.1f} |")
    fps = frames / min(times["analyze src+gen+out"])[0]
    verdict = "meets" if fps >= TARGET_FPS else "MISSES"
    print(f"\nanalyze with output: {fps:.1f} frames/s, {verdict} the target of {TARGET_FPS:.0f} frames/s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
