"""The Abysz DFI ComfyUI node: peak memory against its input batches, speed against iter_dfi on numpy frames.

ComfyUI holds whole clips in memory as float32 IMAGE batches, so the node's own
memory is what matters: it converts one frame at a time and writes into a
preallocated output (IMAGE + MASK = 16 bytes a pixel against the inputs' 24).
In a fresh process this builds the two input batches (default 300 frames at
512x512), then reports the peak RSS growth while the node runs, against the
input batches' own size. Target: under 1.5x. Then frames/s of the node against
``iter_dfi_frames`` on the same frames already in 8-bit BGR (the node's
conversion overhead). Needs torch; Linux (peak memory from /proc).

    python benchmarks/bench_comfy.py [--frames 300] [--size 512]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MIB = 1024 * 1024


def _status_mib(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS, VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def _clip_frames(frames: int, size: int):
    """Yield (source, generated) 8-bit BGR frames of a demo-like clip (still scene, moving ball, flicker)."""
    import numpy as np

    from abysz_lab.demo import add_ai_flicker, demo_background, source_frame, stylise

    rng = np.random.default_rng(0)
    background = demo_background(size, size)
    styled = None
    for t in range(frames):
        src = source_frame(background, t, frames)
        if styled is None or t % 10 == 0:  # stylise is slow; its exact look does not matter here
            styled = stylise(src)
        yield src, add_ai_flicker(styled, rng)


def memory_child(frames: int, size: int) -> None:
    """(Child) build the IMAGE batches, run the node, print the figures as JSON."""
    import cv2
    import torch

    from abysz_lab import params as prm
    from abysz_lab.comfy.nodes import AbyszDFI
    from abysz_lab.dfi import DFIParams

    original = torch.empty((frames, size, size, 3), dtype=torch.float32)
    generated = torch.empty_like(original)
    for i, (src, gen) in enumerate(_clip_frames(frames, size)):
        original[i] = torch.from_numpy(cv2.cvtColor(src, cv2.COLOR_BGR2RGB)) / 255.0
        generated[i] = torch.from_numpy(cv2.cvtColor(gen, cv2.COLOR_BGR2RGB)) / 255.0
    input_mib = (original.nbytes + generated.nbytes) / MIB
    Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark to the current RSS
    before = _status_mib("VmRSS")
    start = time.perf_counter()
    stabilised, held = AbyszDFI().stabilise(original, generated, **prm.as_dict(DFIParams()))
    seconds = time.perf_counter() - start
    peak = _status_mib("VmHWM")
    output_mib = (stabilised.nbytes + held.nbytes) / MIB
    print(
        json.dumps(
            {
                "input_mib": input_mib,
                "before_mib": before,
                "peak_mib": peak,
                "output_mib": output_mib,
                "node_fps": frames / seconds,
            }
        )
    )


def speed_child(frames: int, size: int) -> None:
    """(Child) frames/s of the node and of iter_dfi_frames on the same frames, best of two."""
    import cv2
    import torch

    from abysz_lab import params as prm
    from abysz_lab.comfy.nodes import AbyszDFI
    from abysz_lab.dfi import DFIParams, iter_dfi_frames

    pairs = list(_clip_frames(frames, size))
    original = torch.stack([torch.from_numpy(cv2.cvtColor(s, cv2.COLOR_BGR2RGB)) for s, _ in pairs]) / 255.0
    generated = torch.stack([torch.from_numpy(cv2.cvtColor(g, cv2.COLOR_BGR2RGB)) for _, g in pairs]) / 255.0
    values = prm.as_dict(DFIParams())
    best = {"node": 0.0, "iter_dfi": 0.0}
    for _ in range(2):
        t0 = time.perf_counter()
        for _frame in iter_dfi_frames((s for s, _ in pairs), (g for _, g in pairs), DFIParams()):
            pass
        best["iter_dfi"] = max(best["iter_dfi"], frames / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        AbyszDFI().stabilise(original, generated, **values)
        best["node"] = max(best["node"], frames / (time.perf_counter() - t0))
    print(json.dumps(best))


def _child(mode: str, frames: int, size: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, f"--{mode}-child", str(frames), str(size)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Run both measurements in fresh processes and print markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--speed-frames", type=int, default=60)
    parser.add_argument("--memory-child", nargs=2, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--speed-child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return
    if args.speed_child:
        speed_child(*args.speed_child)
        return

    m = _child("memory", args.frames, args.size)
    growth = m["peak_mib"] - m["before_mib"]
    print(f"Abysz DFI node, {args.frames} frames at {args.size}x{args.size} (two float32 IMAGE batches in):")
    print()
    print(
        "| input batches MiB | RSS before MiB | peak RSS MiB | growth while running MiB | of which outputs MiB "
        "| growth / input |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {m['input_mib']:.0f} | {m['before_mib']:.0f} | {m['peak_mib']:.0f} | {growth:.0f} | "
        f"{m['output_mib']:.0f} | {growth / m['input_mib']:.2f}x |"
    )
    print(
        f"\nTarget: growth under 1.5x the input batches: {'met' if growth < 1.5 * m['input_mib'] else 'NOT met'} "
        f"({growth / m['input_mib']:.2f}x; the IMAGE + MASK outputs alone are "
        f"{m['output_mib'] / m['input_mib']:.2f}x)."
    )

    s = _child("speed", args.speed_frames, args.size)
    print()
    print(f"| {args.speed_frames} frames at {args.size}x{args.size} | frames/s |")
    print("|---|---:|")
    print(f"| iter_dfi_frames on 8-bit BGR numpy frames (baseline) | {s['iter_dfi']:.1f} |")
    print(f"| Abysz DFI node on IMAGE batches | {s['node']:.1f} |")
    print(f"\nNode / baseline: {s['node'] / s['iter_dfi']:.0%}")


if __name__ == "__main__":
    main()
