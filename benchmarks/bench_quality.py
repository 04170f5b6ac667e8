"""Quality benchmark: score DFI settings on clips where the right answer is known.

Each scenario is made from real photographs shipped with scikit-image
(``skimage.data``; ``pip install abysz-lab[bench]``), with the true motion
known:

- locked camera with a moving subject, slow pan, slow zoom,
- a real lighting change (it must survive stabilisation),
- a hard scene cut (the old shot must not leak into the new one).

For each there is the SOURCE, a CLEAN stylised version (a deterministic
per-frame stylisation: what a perfectly consistent img2img would give) and a
GENERATED version (the clean one plus AI-like per-frame changes: brightness
and colour jitter, low-frequency blotches, texture that changes every frame,
small details popping in and out). Every DFI setting runs on the generated
frames and is scored against the clean version (PSNR overall, in the truly
static and the truly moving pixels, luminance error) and with the analysis
metrics that need no ground truth (flicker, fidelity, ghosting). Prints
markdown tables for the README.

    python benchmarks/bench_quality.py [--size 512] [--frames 36] [--smoke] [--synthetic]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from abysz_lab.analysis import analyze_frames, mean_luminance, mse, psnr_from_mse  # noqa: E402
from abysz_lab.demo import add_ai_flicker, demo_background, stylise  # noqa: E402
from abysz_lab.dfi import DFIParams, dfi_step, start_state  # noqa: E402
from abysz_lab.frames import fit_to_size  # noqa: E402

SETTINGS: dict[str, DFIParams | None] = {
    "generated (no DFI)": None,
    "DFI defaults": DFIParams(),
    "DFI tolerance 10": DFIParams(tolerance=10.0),
    "DFI expand 9 (deghost)": DFIParams(expand=9),
    "DFI tolerance 3, smooth 9": DFIParams(tolerance=3.0, smooth=9),
}


# --- pictures ----------------------------------------------------------------------------------


def photos(synthetic: bool) -> dict[str, np.ndarray]:
    """BGR photographs by name: scikit-image's sample data, or drawn scenes with ``synthetic``."""
    if synthetic:
        return {
            "scene": demo_background(640, 480, seed=1),
            "other": cv2.flip(demo_background(640, 480, seed=2), 1),
            "subject": cv2.applyColorMap(demo_background(160, 160, seed=3)[..., 0], cv2.COLORMAP_JET),
            "wide": demo_background(960, 480, seed=4),
        }
    try:
        from skimage import data
    except ImportError as exc:
        msg = "The quality benchmark's photographs come from scikit-image: pip install scikit-image (or --synthetic)."
        raise SystemExit(msg) from exc
    rgb = {
        "scene": data.coffee(),  # 400x600, table top: flat and textured areas
        "other": data.astronaut(),  # 512x512, for the shot after the cut
        "subject": data.chelsea()[40:260, 120:340],  # the cat's face, moved over the scene
        "wide": data.rocket(),  # 427x640, panned and zoomed
    }
    return {k: cv2.cvtColor(np.ascontiguousarray(v), cv2.COLOR_RGB2BGR) for k, v in rgb.items()}


# --- scenarios: source frames and their true motion ----------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """A clip: the source frames and, per frame, where the picture truly moved since the previous frame."""

    name: str
    sources: list[np.ndarray]
    moving: list[np.ndarray]  # bool (H, W); frame 0 is all False


def _affine_motion(size: int, before: np.ndarray, after: np.ndarray, threshold: float = 0.25) -> np.ndarray:
    """Pixels whose position moves more than ``threshold`` px between two 2x3 affine camera maps."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    pts = np.stack([xs, ys, np.ones_like(xs)], axis=-1)
    delta = pts @ (after - before).T
    return np.hypot(delta[..., 0], delta[..., 1]) > threshold


def _camera(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _subject_sprite(photo: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    diameter = max(8, size // 4)
    sprite = cv2.resize(photo, (diameter, diameter), interpolation=cv2.INTER_AREA)
    alpha = np.zeros((diameter, diameter), np.float32)
    cv2.circle(alpha, (diameter // 2, diameter // 2), diameter // 2 - 1, 1.0, -1, lineType=cv2.LINE_AA)
    return sprite, alpha


def _paste(frame: np.ndarray, sprite: np.ndarray, alpha: np.ndarray, x: float, y: float) -> np.ndarray:
    """Composite ``sprite`` with its top-left corner at sub-pixel (x, y); return the covered mask."""
    h, w = frame.shape[:2]
    shift = np.float32([[1, 0, x], [0, 1, y]])
    layer = cv2.warpAffine(sprite, shift, (w, h), flags=cv2.INTER_LINEAR)
    a = cv2.warpAffine(alpha, shift, (w, h), flags=cv2.INTER_LINEAR)[..., None]
    frame[:] = np.clip(frame * (1 - a) + layer * a + 0.5, 0, 255).astype(np.uint8)
    return a[..., 0] > 0.01


def locked_camera(pics: dict, size: int, frames: int, *, background: str = "scene") -> Scenario:
    """A still shot with the subject crossing it (about 1 % of the width per frame)."""
    still = fit_to_size(pics[background], size, size)
    sprite, alpha = _subject_sprite(pics["subject"], size)
    sources, moving, previous = [], [], None
    for t in range(frames):
        frame = still.copy()
        x = size * 0.05 + t * size * 0.012
        y = size * 0.45 + math.sin(t / 4) * size * 0.04
        covered = _paste(frame, sprite, alpha, x, y)
        moving.append(np.zeros_like(covered) if previous is None else covered | previous)
        sources.append(frame)
        previous = covered
    return Scenario("locked camera, moving subject", sources, moving)


def pan(pics: dict, size: int, frames: int) -> Scenario:
    """A slow horizontal pan (0.3 % of the width per frame, sub-pixel)."""
    wide = pics["wide"]
    scale = size / wide.shape[0]
    step = size * 0.003
    matrices = [np.float32([[scale, 0, -t * step], [0, scale, 0]]) for t in range(frames)]
    return _camera_scenario("slow pan", wide, matrices, size)


def zoom(pics: dict, size: int, frames: int) -> Scenario:
    """A slow zoom in on the centre (0.4 % per frame)."""
    wide = pics["wide"]
    base = size / min(wide.shape[:2])
    cx, cy = wide.shape[1] / 2, wide.shape[0] / 2
    matrices = []
    for t in range(frames):
        s = base * (1.004**t)
        matrices.append(np.float32([[s, 0, size / 2 - s * cx], [0, s, size / 2 - s * cy]]))
    return _camera_scenario("slow zoom", wide, matrices, size)


def _camera_scenario(name: str, image: np.ndarray, matrices: list[np.ndarray], size: int) -> Scenario:
    sources = [_camera(image, m, size) for m in matrices]
    moving = [np.zeros((size, size), bool)]
    moving += [_affine_motion(size, a, b) for a, b in zip(matrices, matrices[1:], strict=False)]
    return Scenario(name, sources, moving)


def lighting(pics: dict, size: int, frames: int) -> Scenario:
    """A still shot where the light dims to 60 % and comes back: a real change that must survive."""
    still = fit_to_size(pics["scene"], size, size).astype(np.float32)
    sources = []
    for t in range(frames):
        gain = 1.0 - 0.4 * math.sin(math.pi * t / max(1, frames - 1))
        sources.append(np.clip(still * gain + 0.5, 0, 255).astype(np.uint8))
    # Nothing moves; the light changes everywhere.
    return Scenario("lighting change", sources, [np.zeros((size, size), bool)] * frames)


def scene_cut(pics: dict, size: int, frames: int) -> Scenario:
    """A locked shot with a moving subject, then a hard cut to another locked shot."""
    cut = frames // 2
    first = locked_camera(pics, size, cut)
    second = locked_camera(pics, size, frames - cut, background="other")
    moving = first.moving + [np.ones((size, size), bool)] + second.moving[1:]
    return Scenario("hard scene cut", first.sources + second.sources, moving)


SCENARIOS: list[Callable[[dict, int, int], Scenario]] = [locked_camera, pan, zoom, lighting, scene_cut]


# --- clean and generated versions --------------------------------------------------------------


def pop_in_details(frame: np.ndarray, rng: np.random.Generator, count: int) -> np.ndarray:
    """Small details (specks, sparkles) that appear in one frame and are gone in the next."""
    out = frame.copy()
    h, w = frame.shape[:2]
    radius = max(1, w // 200)
    for _ in range(count):
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.circle(out, centre, int(radius * rng.uniform(1, 3)), colour, -1, lineType=cv2.LINE_AA)
    return out


def make_versions(scenario: Scenario, seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The clean stylised frames and the flickering generated ones."""
    rng = np.random.default_rng(seed)
    clean = [stylise(s) for s in scenario.sources]
    generated = [pop_in_details(add_ai_flicker(c, rng), rng, count=12) for c in clean]
    return clean, generated


def run_dfi_in_memory(sources: list[np.ndarray], generated: list[np.ndarray], params: DFIParams) -> list[np.ndarray]:
    """DFI over in-memory frames (same steps as run_dfi, without the files)."""
    state = start_state(sources[0], generated[0])
    outputs = [generated[0]]
    for src, gen in zip(sources[1:], generated[1:], strict=False):
        state, out, _ = dfi_step(state, src, gen, params)
        outputs.append(out)
    return outputs


# --- scores ------------------------------------------------------------------------------------


def masked_psnr(outputs: list[np.ndarray], clean: list[np.ndarray], masks: list[np.ndarray] | None) -> float:
    """PSNR against the clean frames over the whole clip, in the masked pixels only if masks are given."""
    total, count = 0.0, 0
    for i, (out, ref) in enumerate(zip(outputs, clean, strict=False)):
        if masks is None:
            total += mse(out, ref) * out.shape[0] * out.shape[1]
            count += out.shape[0] * out.shape[1]
            continue
        m = masks[i]
        n = int(np.count_nonzero(m))
        if n:
            diff = out[m].astype(np.float32) - ref[m].astype(np.float32)
            total += float(np.mean(diff * diff)) * n
            count += n
    return psnr_from_mse(total / count) if count else math.nan


def score(scenario: Scenario, clean: list, generated: list, outputs: list) -> dict[str, float]:
    """Scores of one output sequence: against the clean version, and the analysis metrics."""
    static = [~m for m in scenario.moving[1:]]
    moving = scenario.moving[1:]
    result = analyze_frames(scenario.sources, generated, outputs)
    s = result.summary
    luma_error = np.mean([abs(mean_luminance(o) - mean_luminance(c)) for o, c in zip(outputs, clean, strict=False)])
    return {
        "psnr": masked_psnr(outputs, clean, None),
        "psnr_static": masked_psnr(outputs[1:], clean[1:], static),
        "psnr_moving": masked_psnr(outputs[1:], clean[1:], moving),
        "luma_error": float(luma_error),
        "flicker": s.flicker_output,
        "flicker_change": s.flicker_change_pct,
        "fidelity": s.psnr_db,
        "ghosting": s.ghosting_pct,
    }


COLUMNS = [
    ("psnr", "PSNR vs clean dB", ".2f"),
    ("psnr_static", "static px dB", ".2f"),
    ("psnr_moving", "moving px dB", ".2f"),
    ("luma_error", "luma error", ".2f"),
    ("flicker", "flicker", ".2f"),
    ("flicker_change", "flicker change %", "+.0f"),
    ("fidelity", "fidelity dB", ".1f"),
    ("ghosting", "ghosting %", ".1f"),
]


def _cell(value: float, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if value == math.inf:
        return "inf"
    return format(value, spec)


def markdown(rows: list[tuple[str, str, dict[str, float]]], first: str) -> str:
    """A markdown table: one row per (group, setting)."""
    head = f"| {first} | setting | " + " | ".join(label for _, label, _ in COLUMNS) + " |"
    rule = "|" + "---|" * (len(COLUMNS) + 2)
    body = [
        f"| {group} | {setting} | " + " | ".join(_cell(vals[k], spec) for k, _, spec in COLUMNS) + " |"
        for group, setting, vals in rows
    ]
    return "\n".join([head, rule, *body])


def run(size: int, frames: int, synthetic: bool, seed: int = 11) -> tuple[list, float]:
    """Score every setting on every scenario; return the rows and the seconds taken."""
    start = time.perf_counter()
    pics = photos(synthetic)
    rows = []
    for i, make in enumerate(SCENARIOS):
        scenario = make(pics, size, frames)
        clean, generated = make_versions(scenario, seed + i)
        for name, params in SETTINGS.items():
            outputs = generated if params is None else run_dfi_in_memory(scenario.sources, generated, params)
            rows.append((scenario.name, name, score(scenario, clean, generated, outputs)))
    return rows, time.perf_counter() - start


def averages(rows: list) -> list:
    """Per setting, the mean of each score over the scenarios (NaNs left out)."""
    out = []
    for setting in SETTINGS:
        vals = [v for _, s, v in rows if s == setting]
        mean = {}
        for key, _, _ in COLUMNS:
            known = [v[key] for v in vals if not math.isnan(v[key])]
            mean[key] = float(np.mean(known)) if known else math.nan
        out.append(("all scenarios", setting, mean))
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=512, help="frame width and height (default 512)")
    parser.add_argument("--frames", type=int, default=36, help="frames per scenario (default 36)")
    parser.add_argument("--smoke", action="store_true", help="6 frames at 96x96: checks that everything runs")
    parser.add_argument("--synthetic", action="store_true", help="drawn scenes instead of scikit-image photographs")
    args = parser.parse_args(argv)
    size, frames = (96, 6) if args.smoke else (args.size, args.frames)
    cv2.setRNGSeed(0)
    rows, seconds = run(size, frames, args.synthetic)
    pictures = "drawn scenes" if args.synthetic else "scikit-image photographs"
    print(f"## Quality benchmark: {len(SCENARIOS)} scenarios x {frames} frames at {size}x{size} ({pictures})\n")
    print("PSNR columns compare with the clean stylised clip (higher is better); flicker, fidelity and ghosting")
    print("are the `analyze` metrics (flicker in grey levels, motion-compensated; fidelity = PSNR vs generated).\n")
    print(markdown(averages(rows), "clip"))
    print()
    print(markdown(rows, "scenario"))
    print(f"\n{len(rows)} runs scored in {seconds:.1f} s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
