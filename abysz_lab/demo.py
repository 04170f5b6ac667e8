"""A small synthetic clip that shows what DFI does, made on the fly (nothing downloaded).

The SOURCE is a still scene (a textured wall, a window, a lamp) with a ball that
rolls across it (striped, so its inside changes as it turns). The GENERATED frames are a stylised version of each source
frame with the kind of per-frame change img2img adds: brightness and colour
jitter, low-frequency blotches and texture that boils.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from abysz_lab.errors import InputError
from abysz_lab.frames import write_frame
from abysz_lab.video import frame_name

# What the demo names its frames, now and in older versions (frame_0000.png): only these are ever replaced.
_DEMO_FRAME = re.compile(r"frame_\d+\.png")
_OLD_DEMO_FRAME = re.compile(r"frame_\d{4}\.png")  # no extraction writes 4 digits: an older demo's frames
DEMO_MARKER = ".abysz-demo"  # in the demo's root: its frame folders are ours to rewrite


def _demo_frames(folders: tuple[Path, ...]) -> list[Path]:
    return [p for f in folders if f.is_dir() for p in f.iterdir() if _DEMO_FRAME.fullmatch(p.name)]


@dataclass(frozen=True)
class DemoClip:
    """Where the demo's frame folders are."""

    root: Path
    source: Path
    generated: Path
    frames: int


def demo_background(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A still, textured scene: gradient sky, a brick-like wall, a window and a lamp."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    img = np.empty((height, width, 3), np.float32)
    img[..., 0] = 150 + 60 * y + 10 * x  # B
    img[..., 1] = 120 + 40 * y
    img[..., 2] = 90 + 30 * (1 - y)
    texture = cv2.GaussianBlur(rng.normal(0, 18, (height, width)).astype(np.float32), (0, 0), 1.5)
    img += texture[..., None]
    wall_top = int(height * 0.45)
    img[wall_top:, :, :] = (70, 90, 140)
    brick_h = max(4, height // 16)
    brick_w = max(8, width // 10)
    for row, y0 in enumerate(range(wall_top, height, brick_h)):
        offset = (row % 2) * brick_w // 2
        cv2.line(img, (0, y0), (width, y0), (40, 50, 80), 1)
        for x0 in range(-offset, width, brick_w):
            cv2.line(img, (x0, y0), (x0, min(height, y0 + brick_h)), (40, 50, 80), 1)
    img[wall_top:] += texture[wall_top:, :, None] * 0.8
    wx0, wy0 = int(width * 0.62), int(height * 0.12)
    cv2.rectangle(img, (wx0, wy0), (wx0 + width // 5, wy0 + height // 4), (200, 220, 230), -1)
    cv2.rectangle(img, (wx0, wy0), (wx0 + width // 5, wy0 + height // 4), (30, 30, 30), 2)
    lamp_x = int(width * 0.15)
    cv2.line(img, (lamp_x, wall_top), (lamp_x, int(height * 0.1)), (30, 30, 30), max(2, width // 120))
    cv2.circle(img, (lamp_x, int(height * 0.1)), max(4, width // 40), (120, 230, 255), -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def source_frame(background: np.ndarray, t: int, frames: int) -> np.ndarray:
    """Frame ``t`` of the source: the still background with a striped ball rolling left to right."""
    height, width = background.shape[:2]
    frame = background.copy()
    radius = max(6, height // 9)
    progress = t / max(1, frames - 1)
    cx = int(radius + progress * (width - 2 * radius))
    cy = int(height * 0.72 - abs(np.sin(progress * np.pi * 3)) * height * 0.25)
    spin = (cx / radius) * 57.3  # rolling: the stripes turn with the distance travelled
    colours = [(30, 30, 150), (230, 230, 230), (40, 170, 240)]  # brightness unlike the wall: DFI compares grey
    for k in range(6):
        start = spin + k * 60
        cv2.ellipse(frame, (cx, cy), (radius, radius), 0, start, start + 60, colours[k % 3], -1, cv2.LINE_AA)
    cv2.circle(frame, (cx, cy), radius, (30, 30, 30), 1, lineType=cv2.LINE_AA)
    return frame


def stylise(frame: np.ndarray) -> np.ndarray:
    """A deterministic 'painted' look: smoothed, posterised, warmer, with dark edges."""
    smooth = cv2.bilateralFilter(frame, 7, 40, 7)
    poster = (smooth // 24) * 24 + 12
    warm = cv2.addWeighted(poster, 0.85, np.full_like(poster, (40, 90, 160)), 0.15, 0)
    edges = cv2.Canny(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), 60, 140)
    warm[edges > 0] = (warm[edges > 0] * 0.4).astype(np.uint8)
    return warm


def add_ai_flicker(frame: np.ndarray, rng: np.random.Generator, amount: float = 1.0) -> np.ndarray:
    """Per-frame changes like img2img's: exposure/colour jitter, blotches and boiling texture."""
    h, w = frame.shape[:2]
    out = frame.astype(np.float32)
    out *= 1.0 + amount * rng.normal(0, 0.04)
    out += amount * rng.normal(0, 5, 3).astype(np.float32)
    blotches = cv2.resize(rng.normal(0, 14, (4, 6)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    out += amount * blotches[..., None]
    grain = cv2.GaussianBlur(rng.normal(0, 10, (h, w)).astype(np.float32), (0, 0), 1.0)
    out += amount * grain[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def make_demo_clip(
    root: str | os.PathLike[str], *, frames: int = 36, width: int = 384, height: int = 256, seed: int = 7
) -> DemoClip:
    """Write the demo clip under ``root`` (``source/`` and ``generated/``) and return its paths.

    Frames are named as extraction names them, from ``frame_00001.png`` (frame N
    is the N-th file). An existing clip with the same frames is reused; demo frames
    of another length or of an older version (``frame_0000.png``) are replaced, and
    nothing else in the folders is touched.
    """
    root = Path(root)
    source_dir, generated_dir = root / "source", root / "generated"
    names = [frame_name(t) for t in range(frames)]
    found = _demo_frames((source_dir, generated_dir))
    ours = (root / DEMO_MARKER).exists() or all(_OLD_DEMO_FRAME.fullmatch(p.name) for p in found)
    if not ours:  # e.g. --dir pointing at a folder of extracted frames: never overwrite a user's frames
        msg = f"{found[0].parent} holds frames the demo did not make ({found[0].name}); choose another demo folder."
        raise InputError(msg)
    stale = [path for path in found if path.name not in names]
    if not stale and all((source_dir / n).exists() and (generated_dir / n).exists() for n in names):
        return DemoClip(root, source_dir, generated_dir, frames)
    for path in stale:  # the demo's own frames: mixed with the new ones they would make a longer, broken clip
        path.unlink()
    source_dir.mkdir(parents=True, exist_ok=True)
    generated_dir.mkdir(parents=True, exist_ok=True)
    (root / DEMO_MARKER).write_text("Made by Abysz LAB's demo: its frames are rewritten on demand.\n", encoding="utf-8")
    rng = np.random.default_rng(seed)
    background = demo_background(width, height, seed)
    for t, name in enumerate(names):
        src = source_frame(background, t, frames)
        write_frame(source_dir / name, src)
        write_frame(generated_dir / name, add_ai_flicker(stylise(src), rng))
    return DemoClip(root, source_dir, generated_dir, frames)
