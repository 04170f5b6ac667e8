"""DFI throughput against a codec-only baseline, and peak memory against clip length.

Prints frames/s for classic DFI (defaults), motion mode forward and motion
mode forward+backward, and for a baseline that does
only the unavoidable I/O (decode the source and generated frames, encode one
output) on the same read-ahead/write-behind threads, at 512x512 and 1920x1080
PNG. Targets: classic DFI >= 85 % of the baseline; motion forward >= 25 and
forward+backward >= 12 frames/s at 512x512 on two cores. Then the peak
resident memory of each over 100 and 400 frames, each in a fresh process.
Target: the same for both lengths.
Unix only (peak memory comes from the ``resource`` module).

    python benchmarks/bench_dfi.py [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from abysz_lab.demo import add_ai_flicker, demo_background, source_frame, stylise  # noqa: E402
from abysz_lab.dfi import DFIParams, run_dfi  # noqa: E402
from abysz_lab.frames import WriteBehind, list_frames, read_ahead, read_frame, write_frame  # noqa: E402


def make_clip(root: Path, frames: int, width: int, height: int) -> tuple[Path, Path]:
    """Write a demo-like clip (still scene, moving ball, flickering generated frames)."""
    import numpy as np

    src_dir, gen_dir = root / "source", root / "generated"
    src_dir.mkdir(parents=True, exist_ok=True)
    gen_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    background = demo_background(width, height)
    styled_bg = None
    for t in range(frames):
        src = source_frame(background, t, frames)
        write_frame(src_dir / f"f{t:05d}.png", src)
        if styled_bg is None or t % 10 == 0:  # stylise is slow at 1080p; its exact look does not matter here
            styled_bg = stylise(src)
        write_frame(gen_dir / f"f{t:05d}.png", add_ai_flicker(styled_bg, rng))
    return src_dir, gen_dir


def codec_only(src_dir: Path, gen_dir: Path, out_dir: Path, workers: int = 2) -> float:
    """Decode both inputs and encode one output per frame on the runner's threads; return seconds."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sources, generated = list_frames(src_dir).frames, list_frames(gen_dir).frames
    start = time.perf_counter()
    with (
        WriteBehind(workers=workers, depth=workers + 2) as writer,
        contextlib.closing(
            read_ahead(lambda i: (read_frame(sources[i]), read_frame(generated[i])), range(len(sources)))
        ) as reader,
    ):
        for i, (_, gen) in enumerate(reader):
            writer.submit(i, out_dir / generated[i].name, gen)
    return time.perf_counter() - start


SETTINGS = {
    "defaults": DFIParams(),
    "inter denoise off": DFIParams(inter_denoise=0),
    "motion forward": DFIParams(mode="motion"),
    "motion forward+backward": DFIParams(mode="motion", passes="forward+backward"),
}
CLASSIC = "defaults"
MEMORY_SETTINGS = ("defaults", "motion forward", "motion forward+backward")


def throughput(frames: int, width: int, height: int, repeats: int) -> dict:
    """Best-of-``repeats`` frames/s of the codec-only baseline and of DFI per setting, on one clip."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        src, gen = make_clip(root, frames, width, height)
        times: dict[str, list[float]] = {"base": [], **{name: [] for name in SETTINGS}}
        for r in range(repeats):  # interleaved, so background load hits every variant alike
            times["base"].append(codec_only(src, gen, root / f"base{r}"))
            for i, (name, params) in enumerate(SETTINGS.items()):
                t0 = time.perf_counter()
                run_dfi(src, gen, root / f"dfi{r}-{i}", params)
                times[name].append(time.perf_counter() - t0)
    return {name: frames / min(ts) for name, ts in times.items()}


def _status_mib(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS, VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def peak_memory_child(src: str, gen: str, setting: str) -> None:
    """(Child process) run DFI on an existing clip and print the peak RSS during the run, in MiB."""
    with tempfile.TemporaryDirectory() as tmp:
        try:  # reset the high-water mark, so the imports' own peak does not hide the run's (Linux)
            Path("/proc/self/clear_refs").write_text("5")
            before, peak_of = _status_mib("VmRSS"), lambda: _status_mib("VmHWM")
        except OSError:
            before, peak_of = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, None
        run_dfi(src, gen, Path(tmp) / "out", SETTINGS[setting])
        peak = peak_of() if peak_of else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_mib": peak, "before_run_mib": before}))


def peak_memory(frames: int, width: int, height: int) -> list[dict]:
    """Make the clip here, then run DFI on it in a fresh interpreter per setting so only DFI's peak is measured."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        src, gen = make_clip(Path(tmp), frames, width, height)
        for setting in MEMORY_SETTINGS:
            out = subprocess.run(
                [sys.executable, __file__, "--memory-child", str(src), str(gen), setting],
                check=True,
                capture_output=True,
                text=True,
            )
            results.append({"frames": frames, "setting": setting, **json.loads(out.stdout.strip().splitlines()[-1])})
    return results


def main() -> None:
    """Run the benchmark and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer frames, one repeat")
    parser.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        peak_memory_child(*args.memory_child)
        return

    repeats = 1 if args.quick else 2
    cases = [(40 if args.quick else 80, 512, 512), (8 if args.quick else 24, 1920, 1080)]
    print("| size | frames | DFI setting | codec-only frames/s | DFI frames/s | DFI / codec-only | vs classic |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for frames, w, h in cases:
        fps = throughput(frames, w, h, repeats)
        for name in SETTINGS:
            ratio = fps[name] / fps["base"]
            vs = fps[name] / fps[CLASSIC]
            print(
                f"| {w}x{h} | {frames} | {name} | {fps['base']:.1f} | {fps[name]:.1f} | {ratio:.0%} | {vs:.2f}x |",
                flush=True,
            )

    lengths = (50, 200) if args.quick else (100, 400)
    print()
    print("| DFI setting | frames (512x512) | RSS before the run MiB | peak RSS MiB |")
    print("|---|---:|---:|---:|")
    peaks = [p for n in lengths for p in peak_memory(n, 512, 512)]
    for p in peaks:
        print(f"| {p['setting']} | {p['frames']} | {p['before_run_mib']:.0f} | {p['peak_mib']:.0f} |", flush=True)
    print()
    for setting in MEMORY_SETTINGS:
        short, long = (next(p for p in peaks if p["setting"] == setting and p["frames"] == n) for n in lengths)
        growth = long["peak_mib"] / short["peak_mib"]
        print(f"{setting}: peak memory ratio {lengths[1]} vs {lengths[0]} frames {growth:.2f} (1.00 = flat)")


if __name__ == "__main__":
    main()
