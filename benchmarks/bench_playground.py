"""Deflicker playground throughput per engine, against a codec-only baseline, and preview latency.

Prints frames/s of ``apply_preset`` for a few presets on the numpy and the Wand
(ImageMagick) engine at 512x512 and 1920x1080 PNG, next to a baseline that only
decodes and encodes each frame on the same read-ahead/write-behind threads
(the ratio is what the preset costs on top of unavoidable I/O). Then the time
of a preview of 8 frames at 512x512 per engine. Target: preview < 2 s.

    python benchmarks/bench_playground.py [--quick]
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

import numpy as np  # noqa: E402

from abysz_lab import playground as pg  # noqa: E402
from abysz_lab.demo import add_ai_flicker, demo_background, stylise  # noqa: E402
from abysz_lab.frames import WriteBehind, list_frames, read_ahead, read_frame, write_frame  # noqa: E402

PRESETS = ["brightness-lock", "temporal-median", "colour-lock", "original-chain", "brightness-lock-median-3"]
QUICK_PRESETS = ["brightness-lock", "temporal-median", "original-chain"]


def make_clip(folder: Path, frames: int, width: int, height: int) -> Path:
    """A still stylised scene with img2img-like flicker, as PNG files."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    styled = stylise(demo_background(width, height))
    for t in range(frames):
        write_frame(folder / f"f{t:05d}.png", add_ai_flicker(styled, rng))
    return folder


def codec_only(src: Path, out: Path, workers: int = 2) -> float:
    """Decode and re-encode every frame on the runner's threads; return seconds."""
    out.mkdir(parents=True, exist_ok=True)
    paths = list_frames(src).frames
    start = time.perf_counter()
    with (
        WriteBehind(workers=workers, depth=workers + 2) as writer,
        contextlib.closing(read_ahead(read_frame, paths, workers=workers)) as reader,
    ):
        for i, image in enumerate(reader):
            writer.submit(i, out / paths[i].name, image)
    return time.perf_counter() - start


def apply_seconds(src: Path, out: Path, preset: str, engine: str) -> float:
    """Seconds of one apply_preset run (fresh output folder)."""
    start = time.perf_counter()
    pg.apply_preset(src, out, pg.params_for_preset(preset, engine=engine), resume=False)
    return time.perf_counter() - start


def throughput(frames: int, width: int, height: int, presets: list[str], engines: list[str]) -> None:
    """Print frames/s for the baseline and each preset x engine at one size."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        src = make_clip(root / "in", frames, width, height)
        base = codec_only(src, root / "base")
        print(f"\n{width}x{height}, {frames} frames: codec-only baseline {frames / base:.1f} frames/s")
        print(f"  {'preset':28s} " + " ".join(f"{e + ' f/s':>12s} {'vs base':>8s}" for e in engines))
        for preset in presets:
            cells = []
            for engine in engines:
                seconds = apply_seconds(src, root / f"{preset}-{engine}", preset, engine)
                cells.append(f"{frames / seconds:12.1f} {base / seconds:7.0%}")
            print(f"  {preset:28s} " + " ".join(cells))


def preview_latency(engines: list[str], repeats: int) -> None:
    """Print the best time of an 8-frame 512x512 preview (from frame 8 of 24) per engine and preset."""
    with tempfile.TemporaryDirectory() as tmp:
        src = make_clip(Path(tmp) / "in", 24, 512, 512)
        print("\npreview of 8 frames at 512x512 (target < 2 s):")
        for preset in ["brightness-lock", "temporal-median", "colour-lock", "original-chain"]:
            cells = []
            for engine in engines:
                params = pg.params_for_preset(preset, engine=engine)
                best = min(_timed(lambda p=params: pg.preview(src, p, start=8, count=8)) for _ in range(repeats))
                cells.append(f"{engine} {best:5.2f} s")
            print(f"  {preset:28s} " + "   ".join(cells))


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer frames and presets (about a minute)")
    args = parser.parse_args()
    status = pg.engine_status()
    engines = ["numpy", "wand"] if status.wand_available else ["numpy"]
    print(status.message)
    presets = QUICK_PRESETS if args.quick else PRESETS
    throughput(24 if args.quick else 60, 512, 512, presets, engines)
    throughput(8 if args.quick else 24, 1920, 1080, presets, engines)
    preview_latency(engines, 1 if args.quick else 3)


if __name__ == "__main__":
    main()
